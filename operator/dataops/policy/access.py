"""DataPolicy.spec.access -> Roles and RoleBindings in the policy's namespace. Pure.

RBAC cannot select objects by label, so the Roles name the pipelines the policy selects right now
(``resourceNames``) and the suites their quality gates reference; the operator recomputes them
whenever a pipeline, its labels or the policy change. An empty ``resourceNames`` would grant every
object of the resource, so a rule whose name list is empty is left out, never emitted empty.

Readers may get/list/watch those pipelines and suites and the namespace's Events; writers may also
patch the pipelines (the dataops.dev/run-now and paused annotations, spec.suspend). RBAC cannot
restrict a patch to some fields: a writer may patch the whole pipeline object.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dataops.api.v1alpha1 import API_VERSION, GROUP
from dataops.api.v1alpha1.datapolicy import AccessRule, Subject, SubjectKind

POLICY_LABEL = "dataops.dev/policy"
MANAGED_BY = "dataops-operator"
RBAC_GROUP = "rbac.authorization.k8s.io"
READ = ["get", "list", "watch"]
WRITE = ["patch"]

Manifest = dict[str, Any]


def access_object_name(policy: str, role: str) -> str:
    """``<policy>-readers`` / ``<policy>-writers``: the Role and its RoleBinding share the name."""
    return f"{policy}-{role}"


def _labels(policy: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "dataops-policy-access",
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/component": "access",
        POLICY_LABEL: policy,
    }


def _metadata(policy: str, namespace: str, uid: str, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "labels": _labels(policy),
        "ownerReferences": [
            {
                "apiVersion": API_VERSION,
                "kind": "DataPolicy",
                "name": policy,
                "uid": uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }


def access_rules(pipelines: Iterable[str], suites: Iterable[str], *, write: bool) -> list[dict[str, Any]]:
    """RBAC rules for the named objects; no rule with an empty resourceNames (that would mean all)."""
    pipeline_names = sorted(set(pipelines))
    suite_names = sorted(set(suites))
    rules: list[dict[str, Any]] = []
    if pipeline_names:
        rules.append(
            {
                "apiGroups": [GROUP],
                "resources": ["datapipelines"],
                "resourceNames": pipeline_names,
                "verbs": READ + WRITE if write else READ,
            }
        )
    if suite_names:
        rules.append(
            {
                "apiGroups": [GROUP],
                "resources": ["dataqualitysuites"],
                "resourceNames": suite_names,
                "verbs": READ,
            }
        )
    rules.append({"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": READ})
    return rules


def rbac_subject(subject: Subject, policy_namespace: str) -> dict[str, str]:
    if subject.kind == SubjectKind.SERVICE_ACCOUNT:
        return {
            "kind": "ServiceAccount",
            "name": subject.name,
            "namespace": subject.namespace or policy_namespace,
        }
    return {"kind": subject.kind.value, "apiGroup": RBAC_GROUP, "name": subject.name}


def _unique_subjects(subjects: list[Subject], namespace: str) -> list[dict[str, str]]:
    seen: dict[tuple[str, str, str], dict[str, str]] = {}
    for subject in subjects:
        rbac = rbac_subject(subject, namespace)
        seen.setdefault((rbac["kind"], rbac.get("namespace", ""), rbac["name"]), rbac)
    return [seen[k] for k in sorted(seen)]


def desired_access(
    *,
    policy: str,
    namespace: str,
    uid: str,
    access: AccessRule | None,
    pipelines: Iterable[str],
    suites: Iterable[str],
) -> list[Manifest]:
    """The Roles and RoleBindings ``access`` asks for (none without access or subjects)."""
    if access is None:
        return []
    pipelines, suites = list(pipelines), list(suites)
    manifests: list[Manifest] = []
    for role, subjects, write in (("readers", access.readers, False), ("writers", access.writers, True)):
        if not subjects:
            continue
        name = access_object_name(policy, role)
        manifests.append(
            {
                "apiVersion": f"{RBAC_GROUP}/v1",
                "kind": "Role",
                "metadata": _metadata(policy, namespace, uid, name),
                "rules": access_rules(pipelines, suites, write=write),
            }
        )
        manifests.append(
            {
                "apiVersion": f"{RBAC_GROUP}/v1",
                "kind": "RoleBinding",
                "metadata": _metadata(policy, namespace, uid, name),
                "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": name},
                "subjects": _unique_subjects(subjects, namespace),
            }
        )
    return manifests


def stale_access(live: Iterable[Manifest], desired: Iterable[Manifest], uid: str) -> list[tuple[str, str]]:
    """(kind, name) of live access objects this policy controls that are no longer desired."""
    wanted = {(m["kind"], m["metadata"]["name"]) for m in desired}
    stale = []
    for obj in live:
        meta = obj["metadata"]
        refs = meta.get("ownerReferences") or []
        owned = any(ref.get("uid") == uid and ref.get("controller") for ref in refs)
        key = (obj["kind"], meta["name"])
        if owned and key not in wanted:
            stale.append(key)
    return sorted(stale)
