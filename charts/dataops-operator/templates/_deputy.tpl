{{- /*
No confused deputy at admission: the operator's allowlists (policy/deputy.py) as CEL for the
ValidatingAdmissionPolicies in deputy-admission.yaml. Every helper renders CEL text; helpers taking
`expr` apply their check to that CEL expression (a field, or a JSON-quoted constant). Admission gives
the operator's verdict or refuses more (docs/governance-access.md lists where), never admits what the
operator refuses.
*/ -}}

{{- /* ASCII-only lower case (CEL lowerAscii()); the operator's str.lower() also folds non-ASCII
     letters, which can only make admission stricter (allowed values are ASCII). */ -}}
{{- define "dataops.deputy.lowerAscii" -}}
{{- $s := . -}}
{{- range $c := splitList "" "ABCDEFGHIJKLMNOPQRSTUVWXYZ" -}}
{{- $s = replace $c (lower $c) $s -}}
{{- end -}}
{{- $s -}}
{{- end -}}

{{- /* An allowlist (dict "patterns" LIST "kind" image|url|bootstrap) as one RE2 regex, JSON-quoted
     for CEL, or `` when no pattern remains. The operator receives the list joined with "," and splits
     it again (parse_patterns: entries trimmed, blanks dropped); URL patterns are lower-cased and lose
     trailing "/", bootstrap patterns are lower-cased (connect_url_problem, bootstrap_problem). Globs as
     deputy._glob: "**" -> .*, "*" -> [^/]*, "?" -> [^/], every other character literal, whole value.
     After regexQuoteMeta each glob character is preceded by exactly its own backslash, so the
     replacements (** before *) cannot touch an escaped literal backslash. */ -}}
{{- define "dataops.deputy.globRegex" -}}
{{- $kind := .kind -}}
{{- $alternatives := list -}}
{{- range $entry := splitList "," (join "," .patterns) -}}
{{- $pattern := trim $entry -}}
{{- if $pattern -}}
{{- if ne $kind "image" -}}
{{- $pattern = include "dataops.deputy.lowerAscii" $pattern -}}
{{- end -}}
{{- if eq $kind "url" -}}
{{- $pattern = regexReplaceAll "/+$" $pattern "" -}}
{{- end -}}
{{- $alternatives = append $alternatives (regexQuoteMeta $pattern | replace "\\*\\*" ".*" | replace "\\*" "[^/]*" | replace "\\?" "[^/]") -}}
{{- end -}}
{{- end -}}
{{- if $alternatives -}}
{{- printf "(?s)^(?:%s)$" (join "|" $alternatives) | toJson -}}
{{- end -}}
{{- end -}}

{{- /* `expr.matches(<allowlist regex>)`, or false for an empty allowlist. (dict "expr" "kind" "patterns") */ -}}
{{- define "dataops.deputy.celGlob" -}}
{{- $regex := include "dataops.deputy.globRegex" . -}}
{{- if $regex -}}{{ .expr }}.matches({{ $regex }}){{- else -}}false{{- end -}}
{{- end -}}

{{- /* Images (image_problem): the operator's two default images verbatim, otherwise a valid reference
     (no empty, . or .. segment) matching allowed.images. (dict "expr" "root") */ -}}
{{- define "dataops.deputy.celImageValid" -}}
({{ . }}.matches('^[A-Za-z0-9][A-Za-z0-9._/:@-]*$') && !{{ . }}.matches('(^|/)[.]{0,2}(/|$)'))
{{- end -}}
{{- define "dataops.deputy.celImageAllowed" -}}
{{- $values := .root.Values -}}
({{ .expr }} == {{ toJson $values.runtimeImage }} || {{ .expr }} == {{ toJson $values.validatorImage }}
  || ({{ include "dataops.deputy.celImageValid" .expr }}
  && {{ include "dataops.deputy.celGlob" (dict "expr" .expr "kind" "image" "patterns" $values.allowed.images) }}))
{{- end -}}

{{- /* Kafka Connect URLs (normalize_url): http(s)://host[:port][/path] from a small alphabet, no
     empty or dot path segment before trailing slashes, port <= 65535, a bracketed host an IPv6
     address. Stricter than urllib: no empty port, at most 5 port digits, nothing after "]" but the
     port, no IPvFuture. Normal form: scheme and authority in lower case, trailing "/" dropped. (expr) */ -}}
{{- define "dataops.deputy.celUrlValid" -}}
({{ . }}.matches('^[hH][tT][tT][pP][sS]?://(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9._-]+)(:[0-9]{1,5})?(/[A-Za-z0-9._:\\[\\]-]+)*/*$')
  && !{{ . }}.substring(size({{ . }}.find('^[^/]*//[^/]*'))).matches('/[.][.]?(/|$)')
  && !{{ . }}.find('^[^/]*//[^/]*').matches(':([7-9][0-9]{4}|6[6-9][0-9]{3}|65[6-9][0-9]{2}|655[4-9][0-9]|6553[6-9])$')
  && (!{{ . }}.matches('^[^/]*//\\[')
    || (isIP({{ . }}.find('^[^/]*//\\[[0-9A-Fa-f:.]+').split('[')[1])
      && ip({{ . }}.find('^[^/]*//\\[[0-9A-Fa-f:.]+').split('[')[1]).family() == 6)))
{{- end -}}
{{- define "dataops.deputy.celUrlNormal" -}}
({{ . }}.find('^[^/]*//[^/]*').lowerAscii()
  + ({{ . }}.substring(size({{ . }}.find('^[^/]*//[^/]*'))).matches('^/*$') ? ''
    : {{ . }}.substring(size({{ . }}.find('^[^/]*//[^/]*'))).find('^.*[^/]')))
{{- end -}}
{{- /* (dict "expr" "root"); variables.defaultConnectUrl is the normal form of connectUrl (or ''). */ -}}
{{- define "dataops.deputy.celUrlAllowed" -}}
({{ include "dataops.deputy.celUrlValid" .expr }}
  && ({{ include "dataops.deputy.celUrlNormal" .expr }} == variables.defaultConnectUrl
    || {{ include "dataops.deputy.celGlob" (dict "expr" (include "dataops.deputy.celUrlNormal" .expr) "kind" "url" "patterns" .root.Values.allowed.connectUrls) }}))
{{- end -}}

{{- /* Kafka bootstrap servers (bootstrap_entries): comma-separated, each entry trimmed and
     lower-cased must be host:port; allowed when it is an entry of kafkaBootstrap
     (variables.defaultBootstrap) or matches allowed.kafkaBootstrap. */ -}}
{{- define "dataops.deputy.celBootstrapEntries" -}}
{{ . }}.split(',').map(e, e.trim().lowerAscii())
{{- end -}}
{{- define "dataops.deputy.celHostPort" -}}
{{ . }}.matches('^(\\[[0-9a-f:.]+\\]|[a-z0-9._-]+):[0-9]{1,5}$')
{{- end -}}
{{- /* (dict "expr" ENTRY "root") */ -}}
{{- define "dataops.deputy.celBootstrapEntryAllowed" -}}
({{ .expr }} in variables.defaultBootstrap
  || {{ include "dataops.deputy.celGlob" (dict "expr" .expr "kind" "bootstrap" "patterns" .root.Values.allowed.kafkaBootstrap) }})
{{- end -}}
