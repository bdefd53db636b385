{{/*
Names and labels.
*/}}
{{- define "ingestwatch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ingestwatch.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "ingestwatch.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ingestwatch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ingestwatch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ingestwatch.labels" -}}
helm.sh/chart: {{ include "ingestwatch.chart" . }}
{{ include "ingestwatch.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ingestwatch
{{- end -}}

{{/*
The services, in one place: values key, component (the name a service gives itself: the
`service` label of its metrics and the "service" key of its logs), binary (the Prometheus job
name of prometheus/prometheus.yml and prometheus/rules/) and port (its default http.listen).
*/}}
{{- define "ingestwatch.services" -}}
- {key: producer, component: producer, binary: ingest-producer, port: 9464}
- {key: enricher, component: enricher, binary: ingest-enricher, port: 9465}
- {key: alertEvaluator, component: alert-evaluator, binary: ingest-alert-evaluator, port: 9466}
- {key: lokiPusher, component: loki-pusher, binary: ingest-loki-pusher, port: 9467}
{{- end -}}

{{/* Labels of one service's objects: dict "root" $ "svc" <service>. */}}
{{- define "ingestwatch.componentLabels" -}}
{{ include "ingestwatch.labels" .root }}
app.kubernetes.io/component: {{ .svc.component }}
{{- end -}}

{{- define "ingestwatch.componentSelectorLabels" -}}
{{ include "ingestwatch.selectorLabels" .root }}
app.kubernetes.io/component: {{ .svc.component }}
{{- end -}}

{{- define "ingestwatch.componentName" -}}
{{- printf "%s-%s" (include "ingestwatch.fullname" .root | trunc 47 | trimSuffix "-") .svc.component -}}
{{- end -}}

{{- define "ingestwatch.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ingestwatch.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "ingestwatch.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Where credentials are mounted: /etc/ingestwatch/secrets/<volume>/<key>. */}}
{{- define "ingestwatch.secretsDir" -}}/etc/ingestwatch/secrets{{- end -}}

{{/*
One service's configuration file (the service's own keys; docs/CONFIGURATION.md): the settings
the chart manages (log.level, http.listen on the service's port, kafka.bootstrap_servers and
the librdkafka security settings, credentials as *_file entries pointing at mounted Secrets),
then the service's `config` from the values over them.
dict "root" $ "svc" <service>
*/}}
{{- define "ingestwatch.config" -}}
{{- $root := .root -}}
{{- $s := .svc -}}
{{- $v := index $root.Values $s.key -}}
{{- $dir := include "ingestwatch.secretsDir" $root -}}
{{- $k := $root.Values.kafka -}}
{{- $props := dict -}}
{{- if ne $k.securityProtocol "PLAINTEXT" -}}
{{- $_ := set $props "security.protocol" $k.securityProtocol -}}
{{- end -}}
{{- if hasPrefix "SASL_" $k.securityProtocol -}}
{{- if not $k.sasl.existingSecret -}}
{{- fail (printf "kafka.sasl.existingSecret: a Secret with the SASL user name and password is required with kafka.securityProtocol %s" $k.securityProtocol) -}}
{{- end -}}
{{- $_ := set $props "sasl.mechanism" $k.sasl.mechanism -}}
{{- $_ := set $props "sasl.username_file" (printf "%s/kafka-sasl/%s" $dir $k.sasl.usernameKey) -}}
{{- $_ := set $props "sasl.password_file" (printf "%s/kafka-sasl/%s" $dir $k.sasl.passwordKey) -}}
{{- end -}}
{{- if $k.tls.caSecret -}}
{{- $_ := set $props "ssl.ca.location" (printf "%s/kafka-ca/%s" $dir $k.tls.caKey) -}}
{{- end -}}
{{- $props = mustMergeOverwrite $props (deepCopy ($k.properties | default dict)) -}}
{{- $kafka := dict "bootstrap_servers" $k.bootstrapServers -}}
{{- if $props -}}
{{- $_ := set $kafka "properties" $props -}}
{{- end -}}
{{- $config := deepCopy ($v.config | default dict) -}}
{{- if hasKey $config "http" -}}
{{- fail (printf "%s.config.http: the chart sets http.listen (port %d, which its probes, Service and ServiceMonitor use)" $s.key (int $s.port)) -}}
{{- end -}}
{{- $cfg := dict "log" (dict "level" $root.Values.logLevel) "http" (dict "listen" (printf "0.0.0.0:%d" (int $s.port))) "kafka" $kafka -}}
{{- $cfg = mustMergeOverwrite $cfg $config -}}
{{- if and (eq $s.key "lokiPusher") $v.auth.existingSecret -}}
{{- $lp := get $cfg "loki_pusher" | default dict -}}
{{- if eq $v.auth.type "basic" -}}
{{- if not $v.auth.username -}}
{{- fail "lokiPusher.auth.username: required with lokiPusher.auth.type basic" -}}
{{- end -}}
{{- $_ := set $lp "basic_auth" (dict "username" $v.auth.username "password_file" (printf "%s/loki/%s" $dir $v.auth.passwordKey)) -}}
{{- else if eq $v.auth.type "bearer" -}}
{{- $_ := set $lp "bearer_token_file" (printf "%s/loki/%s" $dir $v.auth.tokenKey) -}}
{{- else -}}
{{- fail (printf "lokiPusher.auth.type: basic or bearer, not %q" $v.auth.type) -}}
{{- end -}}
{{- $_ := set $cfg "loki_pusher" $lp -}}
{{- end -}}
{{- if and (eq $s.key "alertEvaluator") $v.alertmanagerAuth.existingSecret -}}
{{- $ae := get $cfg "alert_evaluator" | default dict -}}
{{- $_ := set $ae "alertmanager_bearer_token_file" (printf "%s/alertmanager/%s" $dir $v.alertmanagerAuth.tokenKey) -}}
{{- $_ := set $cfg "alert_evaluator" $ae -}}
{{- end -}}
{{- if and (eq $s.key "producer") (not (dig "producer" "loop" false $cfg)) -}}
{{- fail "producer.config.producer.loop: a Deployment restarts what exits, so the chart's producer loops; run a one-shot replay as a Job instead (docs/DEPLOY.md)" -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/*
The services' tracing environment (docs/TRACING.md), from .Values.tracing: nothing while no
endpoint is set (tracing off, the services' default). OTLP headers come from the Secret
tracing.headersSecret, one env var per key in tracing.headersSecretKeys (its name is the header
name), assembled into OTEL_EXPORTER_OTLP_HEADERS by Kubernetes' $(VAR) expansion: no header
value is ever in the values or the rendered manifests. Helm cannot list a Secret's keys when it
renders (no cluster in `helm template`), hence the key list.
*/}}
{{- define "ingestwatch.tracingEnv" -}}
{{- $t := .Values.tracing -}}
{{- if and $t.headersSecretKeys (not $t.headersSecret) -}}
{{- fail "tracing.headersSecretKeys: needs tracing.headersSecret, the Secret holding them" -}}
{{- end -}}
{{- if or $t.endpoint $t.tracesEndpoint -}}
{{- if $t.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $t.endpoint | quote }}
{{- end }}
{{- if $t.tracesEndpoint }}
- name: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
  value: {{ $t.tracesEndpoint | quote }}
{{- end }}
- name: OTEL_TRACES_SAMPLER
  value: parentbased_traceidratio
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ $t.samplingRatio | toString | quote }}
{{- if and $t.headersSecret $t.headersSecretKeys }}
{{- $pairs := list }}
{{- range $i, $key := $t.headersSecretKeys }}
- name: IW_OTLP_HEADER_{{ $i }}
  valueFrom:
    secretKeyRef:
      name: {{ $t.headersSecret }}
      key: {{ $key }}
{{- $pairs = append $pairs (printf "%s=$(IW_OTLP_HEADER_%d)" $key $i) }}
{{- end }}
- name: OTEL_EXPORTER_OTLP_HEADERS
  value: {{ join "," $pairs | quote }}
{{- end }}
{{- end -}}
{{- end -}}
