{{/* The chart's name, at most 63 characters (a DNS label). */}}
{{- define "ibdb.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: the release name, with the chart's name unless it is in there already. */}}
{{- define "ibdb.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Labels every object carries. */}}
{{- define "ibdb.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "ibdb.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ibdb
{{- end }}

{{/* The labels the Deployment selects its pods by, and the Service too. */}}
{{- define "ibdb.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ibdb.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The image, with a pinned tag. */}}
{{- define "ibdb.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* The CNPG cluster; its credentials are in the secret <name>-app. */}}
{{- define "ibdb.databaseCluster" -}}
{{- .Values.database.clusterName | default (printf "%s-db" (include "ibdb.fullname" .)) }}
{{- end }}
