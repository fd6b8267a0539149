"""DataPolicy -> ValidatingAdmissionPolicy + ValidatingAdmissionPolicyBinding (CEL). Pure.

The API server then refuses (Enforce) or warns about (Audit) a DataPipeline that violates the policy
when it is created or changed, before it is stored. The checks are those of
:mod:`dataops.policy.evaluate` with the same semantics: the write locations are those of
:mod:`dataops.policy.writes` in the same order (``url#table`` for a JDBC sink), normalised as
:mod:`dataops.policy.locations` defines, and matched against the allowedSinks globs compiled to RE2
regular expressions.

The objects are cluster scoped; the binding confines them to the policy's namespace
(``kubernetes.io/metadata.name``) and to the pipelines its ``pipelineSelector`` picks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from dataops.api.v1alpha1.common import GROUP, VERSION, LabelSelector
from dataops.api.v1alpha1.datapolicy import DataPolicySpec, Enforcement
from dataops.policy.locations import HEAD_PATTERN, MAX_SEGMENTS, glob_to_re2

ADMISSION_API_VERSION = "admissionregistration.k8s.io/v1"
NAME_PREFIX = "dataops-policy"
MAX_NAME_LENGTH = 253
MAX_EXPRESSION_SIZE = 90_000
"""The API server compiles CEL expressions of at most 100,000 code points."""
POLICY_NAME_LABEL = f"{GROUP}/policy"
POLICY_NAMESPACE_LABEL = f"{GROUP}/policy-namespace"
COMPONENT = "admission-policy"

# Metadata-only updates (finalizers, annotations such as run-now, deletion) of a pipeline that existed
# before the policy stay possible; the operator keeps reporting it as PolicyCompliant=False. A change
# of the spec or of the labels (which may bring a pipeline under the policy) is checked.
SPEC_OR_LABELS_CHANGED = (
    "request.operation != 'UPDATE' || object.spec != oldObject.spec || "
    "(has(object.metadata.labels) ? object.metadata.labels : {}) != "
    "(has(oldObject.metadata.labels) ? oldObject.metadata.labels : {})"
)


def cel_string(value: str) -> str:
    """A CEL string literal of ``value``."""
    out = []
    for char in value:
        if char in ("\\", "'"):
            out.append("\\" + char)
        elif " " <= char <= "~":
            out.append(char)
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return "'" + "".join(out) + "'"


_QUARANTINED = "has(s.file) && has(s.file.quarantinePath)"
_TRANSFORMS = "(has(object.spec.transforms) ? object.spec.transforms : [])"
_STAGING = "has(object.spec.stagingPath) && object.spec.stagingPath != ''"
_CHECKPOINT = (
    "has(object.spec.streaming) && has(object.spec.streaming.checkpointLocation) && "
    "object.spec.streaming.checkpointLocation != ''"
)

# Every location the pipeline writes and the field that sets it, in the order of
# dataops.policy.writes.write_locations: quarantine, model versions, staging, sinks, checkpoint.
_WRITE_VARIABLES: tuple[tuple[str, str], ...] = (
    (
        "fields",
        f"object.spec.sources.transformList(i, s, {_QUARANTINED}, "
        "'spec.sources[' + string(i) + '].file.quarantinePath') + "
        f"{_TRANSFORMS}.transformList(i, t, has(t.model), 'spec.transforms[' + string(i) + '].model.path') + "
        f"({_STAGING} ? ['spec.stagingPath'] : []) + "
        "object.spec.sinks.transformList(i, s, 'spec.sinks[' + string(i) + '].' + "
        "(has(s.jdbc) ? 'jdbc' : 'path')) + "
        f"({_CHECKPOINT} ? ['spec.streaming.checkpointLocation'] : [])",
    ),
    (
        "locations",
        f"object.spec.sources.filter(s, {_QUARANTINED}).map(s, s.file.quarantinePath) + "
        f"{_TRANSFORMS}.filter(t, has(t.model)).map(t, t.model.path) + "
        f"({_STAGING} ? [object.spec.stagingPath] : []) + "
        "object.spec.sinks.map(s, has(s.jdbc) ? s.jdbc.url + '#' + s.jdbc.table : "
        "(has(s.path) ? s.path : '')) + "
        f"({_CHECKPOINT} ? [object.spec.streaming.checkpointLocation] : [])",
    ),
)

_LEVELS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
"""Depth d as one character, ``_LEVELS[d]``: a location's depths as a string (MAX_SEGMENTS < 62)."""
_RESOLVED = "variables.climbing[i] && !variables.tooDeep[i]"

# The normal form of every write location, step by step (see dataops.policy.locations), in string
# operations where possible: CEL charges them a tenth per character but list elements one each, and
# the API server evaluates every variable under a cost limit. A location whose rest (after its head)
# has no empty, '.' or '..' segment but perhaps a trailing '/' is *plain*: its normal form is itself
# without that '/'. The others are split into segments and resolved.
_LOCATION_VARIABLES: tuple[tuple[str, str], ...] = (
    *_WRITE_VARIABLES,
    ("heads", f"variables.locations.map(l, l.find({cel_string(HEAD_PATTERN)}))"),
    ("rests", "variables.locations.transformList(i, l, l.substring(size(variables.heads[i])))"),
    # the rest without one leading and one trailing '/'
    (
        "inner",
        "variables.rests.map(r, r.startsWith('/') ? r.substring(1) : r)"
        ".map(r, r.endsWith('/') ? r.substring(0, size(r) - 1) : r)",
    ),
    ("climbing", "variables.inner.map(r, ('/' + r + '/').contains('/../'))"),
    (
        "plain",
        "variables.inner.transformList(i, r, !variables.climbing[i] && r != '' && r != '.' && "
        "!r.startsWith('/') && !r.startsWith('./') && !r.endsWith('/') && !r.endsWith('/.') && "
        "!r.contains('//') && !r.contains('/./'))",
    ),
    ("segments", "variables.rests.transformList(i, r, variables.plain[i] ? [] : r.split('/'))"),
    (
        "tooDeep",
        f"variables.segments.transformList(i, segs, variables.climbing[i] && size(segs) > {MAX_SEGMENTS})",
    ),
    # Empty and '.' segments never count: without '..' the rest is the normal form.
    ("steps", "variables.segments.map(segs, segs.filter(t, t != '' && t != '.'))"),
    # Each step as 'd' (descends) or 'u' ('..' climbs), for locations with '..' (hence MAX_SEGMENTS).
    (
        "moves",
        f"variables.steps.transformList(i, ts, {_RESOLVED} ? ts.map(t, t == '..' ? 'u' : 'd').join('') : '')",
    ),
    # the depth after each step: the steps so far less twice the climbs among them.
    (
        "depths",
        f"variables.steps.transformList(i, ts, {_RESOLVED} ? ts.transformList(k, t, "
        "k + 1 - 2 * size(variables.moves[i].substring(0, k + 1).replace('d', ''))) : [])",
    ),
    # a depth below zero: a '..' climbed above the root.
    ("escapes", "variables.depths.map(ds, ds.exists(d, d < 0))"),
    (
        "levels",
        f"variables.depths.transformList(i, ds, {_RESOLVED} && !variables.escapes[i] ? "
        f"ds.map(d, {cel_string(_LEVELS)}.charAt(d)).join('') : '')",
    ),
    # A descending step is kept unless a later depth drops below its own; the depth moves by one at a
    # time, so unless a later depth is exactly one less.
    (
        "kept",
        "variables.steps.transformList(i, ts, !variables.climbing[i] ? ts : "
        f"({_RESOLVED} && !variables.escapes[i] ? ts.transformList(k, t, t != '..' && "
        "!variables.levels[i].substring(k + 1)"
        f".contains({cel_string(_LEVELS)}.charAt(variables.depths[i][k] - 1)), t) : []))",
    ),
    (
        "normal",
        "variables.segments.transformList(i, segs, variables.heads[i] + (variables.plain[i] ? "
        "(variables.rests[i].startsWith('/') ? '/' : '') + variables.inner[i] : "
        "((size(segs) > 1 && segs[0] == '' && (size(variables.kept[i]) > 0 || variables.heads[i] == '')) "
        "? '/' : '') + variables.kept[i].join('/')))",
    ),
)


@dataclass(frozen=True)
class AdmissionObjects:
    policy: dict[str, Any]
    binding: dict[str, Any]


def admission_name(namespace: str, name: str) -> str:
    """Deterministic and unique per policy: namespaces hold no dots, so ``<ns>.<name>`` is unambiguous.
    Too long a name is cut and made unique again by a hash of the full one."""
    full = f"{NAME_PREFIX}.{namespace}.{name}"
    if len(full) <= MAX_NAME_LENGTH:
        return full
    digest = hashlib.sha256(f"{namespace}/{name}".encode()).hexdigest()[:12]
    return f"{full[: MAX_NAME_LENGTH - len(digest) - 1].rstrip('.-')}-{digest}"


def object_selector(selector: LabelSelector) -> dict[str, Any]:
    """The pipelineSelector as a metav1.LabelSelector (empty parts left out: the API server drops them)."""
    out: dict[str, Any] = {}
    if selector.match_labels:
        out["matchLabels"] = dict(selector.match_labels)
    if selector.match_expressions:
        out["matchExpressions"] = [
            {"key": r.key, "operator": r.operator.value, **({"values": list(r.values)} if r.values else {})}
            for r in selector.match_expressions
        ]
    return out


def _match_term(pattern: str) -> str:
    """``n`` matches ``pattern``: equality without wildcards, a prefix test when the only wildcard is a
    trailing ``*`` (it matches any characters, ``/`` included), else a cheap prefix test before the
    regex (CEL charges regex matching by the product of the lengths, under a per-call limit)."""
    cut = min((i for i, c in enumerate(pattern) if c in "*?["), default=None)
    if cut is None:
        return f"n == {cel_string(pattern)}"
    if not pattern[cut:].strip("*"):
        return f"n.startsWith({cel_string(pattern[:cut])})"
    regex = f"n.matches({cel_string(glob_to_re2(pattern))})"
    return f"(n.startsWith({cel_string(pattern[:cut])}) && {regex})" if cut else regex


def _pattern_variables(patterns: list[str]) -> list[tuple[str, str]]:
    """``allowed<k>[i]``: the normal location of sink i matches one of a share of the patterns. The
    patterns are shared out so that no expression exceeds the API server's size limit."""
    chunks: list[list[str]] = [[]]
    size = 0
    for pattern in patterns:
        term = _match_term(pattern)
        if chunks[-1] and size + len(term) > MAX_EXPRESSION_SIZE:
            chunks.append([])
            size = 0
        chunks[-1].append(term)
        size += len(term) + 4
    return [
        (f"allowed{k}", f"variables.normal.map(n, {' || '.join(terms)})") for k, terms in enumerate(chunks)
    ]


def _sink_violations(chunks: int) -> str:
    """One message per write location whose normal form matches no pattern (or which has none)."""
    allowed = " || ".join(f"variables.allowed{k}[i]" for k in range(chunks))
    field = "variables.fields[i]"
    quoted = '"\'" + variables.locations[i] + "\'"'
    normalised = '" (normalised \'" + n + "\')"'
    describe = (
        f"{field} + ' ' + {quoted} + "
        f"(variables.tooDeep[i] ? ' has more than {MAX_SEGMENTS} segments to normalise' : "
        "variables.escapes[i] ? ' climbs above its root with ..' : "
        f"((n != variables.locations[i] ? {normalised} : '') + ' matches no allowedSinks pattern'))"
    )
    return (
        "variables.normal.transformList(i, n, "
        f"variables.tooDeep[i] || variables.escapes[i] || !({allowed}), {describe})"
    )


def _retention_violations(max_days: int) -> str:
    """Only sinks that can declare retentionDays (dataops.policy.evaluate.retention_enforceable): not
    JDBC sinks, not the sinks of a Streaming pipeline."""
    streaming = "has(object.spec.mode) && object.spec.mode == 'Streaming'"
    enforceable = "!(has(s.format) && s.format == 'jdbc')"
    within = f"has(s.retentionDays) && s.retentionDays <= {max_days}"
    describe = (
        "'spec.sinks[' + string(i) + '].retentionDays ' + (has(s.retentionDays) ? "
        f"'is ' + string(s.retentionDays) + '; policy allows at most {max_days}' : "
        f"'is not set; policy requires at most {max_days}')"
    )
    return (
        f"{streaming} ? [] : object.spec.sinks.transformList(i, s, {enforceable} && !({within}), {describe})"
    )


def _gate_violations(min_gates: int, blocking: bool) -> str:
    gates = "(has(object.spec.qualityGates) ? object.spec.qualityGates : [])"
    counted = f"{gates}.filter(g, !has(g.action) || g.action == 'block')" if blocking else gates
    kind = "blocking quality gate(s)" if blocking else "quality gate(s)"
    return (
        f"size({counted}) >= {min_gates} ? [] : "
        f"['spec.qualityGates has ' + string(size({counted})) + "
        f"' {kind}; policy requires at least {min_gates}']"
    )


def _variables(spec: DataPolicySpec) -> list[dict[str, str]]:
    """The CEL variables; ``violations`` lists every violation as ``<field> <what is wrong>``."""
    variables: list[tuple[str, str]] = []
    parts: list[str] = []
    if spec.allowed_sinks:
        patterns = _pattern_variables(spec.allowed_sinks)
        variables += [*_LOCATION_VARIABLES, *patterns, ("sinkViolations", _sink_violations(len(patterns)))]
        parts.append("variables.sinkViolations")
    if spec.retention is not None:
        variables.append(("retentionViolations", _retention_violations(spec.retention.max_days)))
        parts.append("variables.retentionViolations")
    if spec.required_quality_gates is not None:
        requirement = spec.required_quality_gates
        variables.append(("gateViolations", _gate_violations(requirement.min_gates, requirement.blocking)))
        parts.append("variables.gateViolations")
    if not parts:
        return []
    variables.append(("violations", " + ".join(parts)))
    return [{"name": name, "expression": expression} for name, expression in variables]


def compile_admission(
    namespace: str, name: str, spec: DataPolicySpec, *, labels: dict[str, str] | None = None
) -> AdmissionObjects | None:
    """The admission objects for one DataPolicy, or None when it has no rule the API server can check
    (piiColumns and access are enforced elsewhere)."""
    variables = _variables(spec)
    if not variables:
        return None
    title = f"DataPolicy {namespace}/{name}"
    object_name = admission_name(namespace, name)
    object_labels = {
        **(labels or {}),
        "app.kubernetes.io/component": COMPONENT,
        POLICY_NAMESPACE_LABEL: namespace,
        POLICY_NAME_LABEL: name,
    }
    policy: dict[str, Any] = {
        "apiVersion": ADMISSION_API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": object_name, "labels": object_labels},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [GROUP],
                        "apiVersions": [VERSION],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["datapipelines"],
                    }
                ]
            },
            "matchConditions": [{"name": "spec-or-labels-changed", "expression": SPEC_OR_LABELS_CHANGED}],
            "variables": variables,
            "validations": [
                {
                    "expression": "size(variables.violations) == 0",
                    "messageExpression": f"{cel_string(title + ': ')} + variables.violations.join('; ')",
                    "message": f"{title}: the pipeline violates the policy",
                    "reason": "Invalid",
                }
            ],
        },
    }
    binding: dict[str, Any] = {
        "apiVersion": ADMISSION_API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": object_name, "labels": dict(object_labels)},
        "spec": {
            "policyName": object_name,
            "validationActions": ["Deny"] if spec.enforcement == Enforcement.ENFORCE else ["Warn", "Audit"],
            "matchResources": {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
                "objectSelector": object_selector(spec.pipeline_selector),
            },
        },
    }
    return AdmissionObjects(policy=policy, binding=binding)
