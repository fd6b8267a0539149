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
