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
