"""DataPolicy -> ValidatingAdmissionPolicy + ValidatingAdmissionPolicyBinding (CEL). Pure.

The API server then refuses (Enforce) or warns about (Audit) a DataPipeline that violates the policy
when it is created or changed, before it is stored. The checks are those of
:mod:`dataops.policy.evaluate` with the same semantics: the sink location is built the same way
(``url#table`` for JDBC), normalised as :mod:`dataops.policy.locations` defines, and matched against
the allowedSinks globs compiled to RE2 regular expressions.

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


_WEIGHT = "(t == '..' ? -1 : ((t == '' || t == '.') ? 0 : 1))"
"""A segment's effect on the depth: ``..`` climbs, empty and ``.`` stay, any other descends."""

# The normal form of every sink location, step by step (see dataops.policy.locations). Locations
# already in normal form take no further step; the others are resolved segment by segment.
_LOCATION_VARIABLES: tuple[tuple[str, str], ...] = (
    (
        "locations",
        "object.spec.sinks.map(s, has(s.jdbc) ? s.jdbc.url + '#' + s.jdbc.table : "
        "(has(s.path) ? s.path : ''))",
    ),
    ("heads", f"variables.locations.map(l, l.find({cel_string(HEAD_PATTERN)}))"),
    (
        "segments",
        "variables.locations.transformList(i, l, l.substring(size(variables.heads[i])).split('/'))",
    ),
    ("climbing", "variables.segments.map(segs, segs.exists(t, t == '..'))"),
    (
        "tooDeep",
        f"variables.segments.transformList(i, segs, variables.climbing[i] && size(segs) > {MAX_SEGMENTS})",
    ),
    # Only locations with '..' need the depth of every segment (quadratic, hence MAX_SEGMENTS).
    (
        "weights",
        "variables.segments.transformList(i, segs, variables.climbing[i] && !variables.tooDeep[i] ? "
        f"segs.map(t, {_WEIGHT}) : [])",
    ),
    # the depth after each segment: the sum of the weights up to it.
    (
        "depths",
        "variables.weights.map(ws, ws.transformList(k, w, ws.transformList(j, v, j <= k ? v : 0).sum()))",
    ),
    # a depth below zero: a '..' climbed above the root.
    ("escapes", "variables.depths.map(ds, ds.exists(d, d < 0))"),
    # Without '..', every segment but the empty and '.' ones is kept; with '..', a descending
    # segment is kept unless a later depth drops below its own.
    (
        "kept",
        "variables.depths.transformList(i, ds, variables.climbing[i] ? "
        "ds.transformList(k, dk, variables.weights[i][k] == 1 && ds.all(j, d, j <= k || d >= dk), "
        "variables.segments[i][k]) : variables.segments[i].filter(t, t != '' && t != '.'))",
    ),
    (
        "normal",
        "variables.segments.transformList(i, segs, variables.heads[i] + "
        "((size(segs) > 1 && segs[0] == '' && (size(variables.kept[i]) > 0 || variables.heads[i] == '')) "
        "? '/' : '') + variables.kept[i].join('/'))",
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
    """``n`` matches ``pattern``: equality without wildcards, else a cheap prefix test before the regex
    (CEL charges regex matching by length, under a per-request budget)."""
    cut = min((i for i, c in enumerate(pattern) if c in "*?["), default=None)
    if cut is None:
        return f"n == {cel_string(pattern)}"
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
    """One message per sink whose normal location matches no pattern (or has none)."""
    allowed = " || ".join(f"variables.allowed{k}[i]" for k in range(chunks))
    field = "'spec.sinks[' + string(i) + '].' + (has(object.spec.sinks[i].jdbc) ? 'jdbc' : 'path')"
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
    within = f"has(s.retentionDays) && s.retentionDays <= {max_days}"
    describe = (
        "'spec.sinks[' + string(i) + '].retentionDays ' + (has(s.retentionDays) ? "
        f"'is ' + string(s.retentionDays) + '; policy allows at most {max_days}' : "
        f"'is not set; policy requires at most {max_days}')"
    )
    return f"object.spec.sinks.transformList(i, s, !({within}), {describe})"


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
