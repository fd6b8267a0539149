{{- define "dataops.name" -}}dataops-operator{{- end -}}
{{- define "dataops.labels" -}}
app.kubernetes.io/name: {{ include "dataops.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}
{{- define "dataops.selector" -}}
app.kubernetes.io/name: {{ include "dataops.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- /* Host and port of an API server URL (the context), as DATAOPS_API_SERVER_URL parses it:
     https://10.245.0.1:6443 -> 10.245.0.1 and 6443; no port -> 443 (https) or 80 (http). */ -}}
{{- define "dataops.apiServerHost" -}}
{{- $u := urlParse . -}}
{{- if not (and (has $u.scheme (list "https" "http")) $u.hostname) -}}
{{- fail (printf "apiServer.url must look like https://host:port, not %q" .) -}}
{{- end -}}
{{- $u.hostname -}}
{{- end -}}
{{- define "dataops.apiServerPort" -}}
{{- $u := urlParse . -}}
{{- $port := trimPrefix ":" (trimPrefix (printf "[%s]" $u.hostname) (trimPrefix $u.hostname $u.host)) -}}
{{- $port | default (ternary "443" "80" (eq $u.scheme "https")) -}}
{{- end -}}

{{- /* The watched namespaces when RBAC is namespaced (watchNamespaces), as a JSON list; [] means
     cluster-wide (then watchNamespace, a name or globs, only narrows what the operator watches). */ -}}
{{- define "dataops.rbacNamespaces" -}}
{{- range .Values.watchNamespaces -}}
{{- if or (contains "*" .) (contains "?" .) (contains "[" .) (contains "," .) -}}
{{- fail (printf "watchNamespaces must be exact namespace names (one Role each), not %q; globs need the cluster-wide watchNamespace" .) -}}
{{- end -}}
{{- end -}}
{{- .Values.watchNamespaces | default list | uniq | toJson -}}
{{- end -}}

{{- /* What the operator does inside a namespace it serves. Each verb is used by reconcile/ or kopf;
     the runner Roles it creates (pods, configmaps, persistentvolumeclaims) and the access Roles of
     DataPolicies (datapipelines, dataqualitysuites, events: get/list/watch/patch) grant only verbs
     listed here, because RBAC forbids granting what one does not hold (no bind/escalate). */ -}}
{{- define "dataops.namespacedRules" -}}
- apiGroups: ["dataops.dev"]
  resources: ["datapipelines", "dataqualitysuites", "datapolicies"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["dataops.dev"]
  resources: ["datapipelines/status", "dataqualitysuites/status", "datapolicies/status"]
  verbs: ["get", "patch"]
# Runner ServiceAccounts, plan ConfigMaps, driver/validation pods; pods and configmaps also
# because the runner Role grants them to Spark drivers.
- apiGroups: [""]
  resources: ["configmaps", "serviceaccounts", "pods"]
  verbs: ["get", "list", "watch", "create", "patch", "delete", "deletecollection"]
# Only held to grant it in runner Roles (Spark's on-demand executor volumes).
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  verbs: ["get", "list", "create", "delete", "deletecollection"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["roles", "rolebindings"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# create/patch: the operator's Events; get/list/watch: held to grant them to DataPolicy readers.
- apiGroups: ["", "events.k8s.io"]
  resources: ["events"]
  verbs: ["get", "list", "watch", "create", "patch"]
# Only used by pipelines with spec.spark.backend: SparkOperator (Kubeflow Spark Operator installed).
- apiGroups: ["sparkoperator.k8s.io"]
  resources: ["sparkapplications"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# Only used with DATAOPS_STREAMS_BACKEND=strimzi (Strimzi installed): topics and connectors as objects.
- apiGroups: ["kafka.strimzi.io"]
  resources: ["kafkatopics", "kafkaconnectors"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
{{- end -}}

{{- /* Values of the Secrets that connector sources' configFromSecrets name; read only. */ -}}
{{- define "dataops.secretRules" -}}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
{{- end -}}

{{- /* TCP ports the operator itself opens to Kafka and Kafka Connect (streamsBackend direct only;
     strimzi manages topics and connectors as objects through the API server), as a JSON list:
     the numeric ports of kafkaBootstrap and allowed.kafkaBootstrap (host:port) and of connectUrl and
     allowed.connectUrls (a URL without a port: 80 or 443). Glob ports are left to extraEgress. */ -}}
{{- define "dataops.streamPorts" -}}
{{- $ports := list -}}
{{- if eq .Values.streamsBackend "direct" -}}
{{- $brokers := concat (splitList "," (.Values.kafkaBootstrap | default "")) (.Values.allowed.kafkaBootstrap | default list) -}}
{{- range $brokers -}}
{{- $port := regexReplaceAll "^.*:([0-9]+)$" (trim .) "${1}" -}}
{{- if regexMatch "^[0-9]+$" $port -}}{{- $ports = append $ports (int $port) -}}{{- end -}}
{{- end -}}
{{- $urls := concat (compact (list (.Values.connectUrl | default ""))) (.Values.allowed.connectUrls | default list) -}}
{{- range $urls -}}
{{- $authority := regexReplaceAll "^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*).*$" (trim .) "${1}" -}}
{{- if regexMatch ":[0-9]+$" $authority -}}
{{- $ports = append $ports (int (regexReplaceAll "^.*:([0-9]+)$" $authority "${1}")) -}}
{{- else if not (contains ":" (regexReplaceAll "^\\[.*\\]" $authority "")) -}}
{{- $ports = append $ports (ternary 443 80 (hasPrefix "https://" (trim .))) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $ports | uniq | toJson -}}
{{- end -}}

{{- /* One NetworkPolicyPeer from {namespaceSelector, podSelector} (both must match); empty when both
     selectors are empty (then the rule names no peer: any source or destination). */ -}}
{{- define "dataops.peer" -}}
{{- $peer := dict -}}
{{- with .namespaceSelector }}{{ $_ := set $peer "namespaceSelector" . }}{{ end -}}
{{- with .podSelector }}{{ $_ := set $peer "podSelector" . }}{{ end -}}
{{- with $peer }}{{ toYaml . }}{{ end -}}
{{- end -}}
