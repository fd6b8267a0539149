"""`dataops diff`: what applying manifests (server-side apply) would change on a live cluster.

Each manifest is applied with ``dryRun=All`` under the given field manager, so the API server
fills defaults, runs admission (CEL rules, the DataPolicies' ValidatingAdmissionPolicies) and
merges by its field-ownership rules exactly as a real apply would; the answer is compared with
the live object. Fields that only the server writes (status, resourceVersion, managedFields, uid,
generation, timestamps) are left out, as ``kubectl diff`` does. Secret values are never shown.
Exit codes follow ``kubectl diff``: 0 no differences, 1 differences, >1 an error.

A DataPipeline's children (its runner ServiceAccount, Role, RoleBinding and run-plan ConfigMap)
are diffed too: the operator would change them right after the apply, so they are part of what
applying changes on the cluster.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import yaml

from dataops.api.v1alpha1.datapipeline import DataPipeline
from dataops.kube.client import (
    DATA_PIPELINE,
    FIELD_MANAGER,
    KubeClient,
    KubeError,
    ResourceType,
    resource_type_of,
)
from dataops.plan.children import Owner, desired_children
from dataops.plan.preview import NamedPolicy, preview

DIFF_FIELD_MANAGER = "dataops-diff"
_SERVER_METADATA = ("managedFields", "resourceVersion", "uid", "generation", "creationTimestamp")


@dataclass
class ObjectDiff:
    label: str
    text: str  # a unified diff; empty when the live object already is what the apply would make
    error: str | None = None


def comparable(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without what only the server writes."""
    out = {k: v for k, v in obj.items() if k != "status"}
    metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _SERVER_METADATA}
    annotations = {
        k: v
        for k, v in (metadata.get("annotations") or {}).items()
        if k != "kubectl.kubernetes.io/last-applied-configuration"
    }
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    out["metadata"] = metadata
    return out


def _mask_secret_values(live: dict[str, Any] | None, merged: dict[str, Any]) -> None:
    """Secret values become ``***``, marked ``(before)``/``(after)`` where they differ, as kubectl does."""
    before = (live or {}).get("data") or {}
    after = merged.get("data") or {}
    for key in set(before) | set(after):
        changed = before.get(key) != after.get(key)
        if live is not None and key in before:
            live["data"][key] = "*** (before)" if changed else "***"
        if key in after:
            merged["data"][key] = "*** (after)" if changed else "***"


def _yaml(obj: dict[str, Any] | None) -> list[str]:
    return [] if obj is None else yaml.safe_dump(obj, sort_keys=True).splitlines(keepends=True)


def diff_object(
    client: KubeClient,
    rt: ResourceType,
    manifest: dict[str, Any],
    *,
    namespace: str,
    field_manager: str = DIFF_FIELD_MANAGER,
) -> ObjectDiff:
    meta = manifest.get("metadata") or {}
    ns = meta.get("namespace") or namespace if rt.namespaced else None
    name = str(meta.get("name") or "")
    label = f"{rt.kind} {ns + '/' if ns else ''}{name}"
    body = {**manifest, "metadata": {**meta, **({"namespace": ns} if ns else {})}}
    try:
        live = client.get(rt, ns, name)
        merged = client.apply(body, rt=rt, field_manager=field_manager, dry_run=True)
    except KubeError as exc:
        return ObjectDiff(label, "", error=f"{label}: {exc}")
    was = comparable(live) if live is not None else None
    will = comparable(merged)
    if rt.kind == "Secret":
        _mask_secret_values(was, will)
    before, after = _yaml(was), _yaml(will)
    where = f"{rt.api_version}.{rt.kind}.{ns or ''}.{name}"
    text = "".join(difflib.unified_diff(before, after, fromfile=f"live/{where}", tofile=f"merged/{where}"))
    return ObjectDiff(label, text)


def diff_new(label: str, manifest: dict[str, Any], where: str) -> ObjectDiff:
    """An object that does not exist yet: all of it is added."""
    text = "".join(
        difflib.unified_diff([], _yaml(manifest), fromfile=f"live/{where}", tofile=f"merged/{where}")
    )
    return ObjectDiff(label, text)


def diff_children(
    client: KubeClient,
    pipeline: DataPipeline,
    policies: list[NamedPolicy],
    suites: dict[str, dict[str, Any]],
) -> list[ObjectDiff]:
    """What the operator would change on a pipeline's children (runner identity and permissions,
    the run-plan ConfigMap) once the manifests are applied: the children it would compute from the
    given policies and suites, dry-run applied under the operator's own field manager. The
    children of a pipeline that does not exist yet are all new."""
    namespace = pipeline.metadata.namespace or "default"
    name = pipeline.metadata.name
    item = preview(pipeline, policies, suites=suites)
    live = client.get(DATA_PIPELINE, namespace, name)
    if live is not None:  # owned by the live pipeline, as the operator applies them
        owner = Owner(kind="DataPipeline", name=name, namespace=namespace, uid=live["metadata"]["uid"])
        children = desired_children(owner=owner, plan=item.plan, spark=pipeline.spec.spark)
    else:
        children = item.children
    found = []
    for child in children:
        rt = resource_type_of(child)
        child_name = child["metadata"]["name"]
        if live is None:
            label = f"{rt.kind} {namespace}/{child_name} (child of DataPipeline {name})"
            where = f"{rt.api_version}.{rt.kind}.{namespace}.{child_name}"
            found.append(diff_new(label, child, where))
        else:
            found.append(diff_object(client, rt, child, namespace=namespace, field_manager=FIELD_MANAGER))
    return found
