"""An in-memory stand-in for KubeClient, for reconcile tests that need no API server.

It keeps objects by (kind, namespace, name), answers get/list by label, applies manifests whole,
merges status patches, and can refuse objects the way admission does (a 403 with the server's
message). Integration tests check the same behaviour against the real kube-apiserver.
"""

from __future__ import annotations

import builtins
import copy
from collections import Counter
from collections.abc import Callable
from typing import Any

from dataops.kube.client import KubeError, ResourceType, resource_type_of

Key = tuple[str, str | None, str]


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _selected(obj: dict[str, Any], selector: str | None) -> bool:
    if not selector:
        return True
    labels = obj.get("metadata", {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in (part.split("=", 1) for part in selector.split(",")))


class FakeKube:
    def __init__(self) -> None:
        self.objects: dict[Key, dict[str, Any]] = {}
        self.requests: Counter[str] = Counter()
        self.applied: list[tuple[str, str]] = []  # (kind, name) of every apply, refused ones too
        self.refuse: Callable[[dict[str, Any]], str | None] = lambda manifest: None
        self._version = 0

    def _stamp(self, obj: dict[str, Any]) -> dict[str, Any]:
        self._version += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self._version)
        return copy.deepcopy(obj)

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        key = (obj["kind"], meta.get("namespace"), meta["name"])
        self.objects[key] = copy.deepcopy(obj)
        return self._stamp(self.objects[key])

    # -- the KubeClient methods reconciles use --------------------------------------------------

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any] | None:
        self.requests["GET"] += 1
        found = self.objects.get((rt.kind, namespace, name))
        return copy.deepcopy(found) if found is not None else None

    def list(
        self, rt: ResourceType, namespace: str | None = None, *, label_selector: str | None = None
    ) -> builtins.list[dict[str, Any]]:
        self.requests["GET"] += 1
        return [
            copy.deepcopy(o)
            for (kind, ns, _), o in sorted(self.objects.items(), key=lambda kv: str(kv[0]))
            if kind == rt.kind and (namespace is None or ns == namespace) and _selected(o, label_selector)
        ]

    def list_recent(
        self, rt: ResourceType, namespace: str | None, *, max_age: float
    ) -> builtins.list[dict[str, Any]]:
        return self.list(rt, namespace)

    def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        self.requests["PATCH"] += 1
        self.applied.append((manifest["kind"], manifest["metadata"]["name"]))
        message = self.refuse(manifest)
        if message is not None:
            raise KubeError(403, "Forbidden", message)
        resource_type_of(manifest)  # a kind the real client knows
        return self.put(manifest)

    def create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        self.requests["POST"] += 1
        meta = manifest["metadata"]
        if (manifest["kind"], meta.get("namespace"), meta["name"]) in self.objects:
            raise KubeError(409, "AlreadyExists", f"{meta['name']} already exists")
        return self.put(manifest)

    def patch_status(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        status: dict[str, Any],
        *,
        resource_version: str | None = None,
    ) -> dict[str, Any]:
        self.requests["PATCH"] += 1
        obj = self.objects[(rt.kind, namespace, name)]
        current = obj.get("metadata", {}).get("resourceVersion")
        if resource_version is not None and current is not None and resource_version != current:
            raise KubeError(409, "Conflict", "the object has been modified; please apply your changes")
        obj["status"] = merge_patch(obj.get("status") or {}, status)
        return self._stamp(obj)

    def patch(
        self, rt: ResourceType, namespace: str | None, name: str, patch: dict[str, Any]
    ) -> dict[str, Any]:
        self.requests["PATCH"] += 1
        key = (rt.kind, namespace, name)
        self.objects[key] = merge_patch(self.objects[key], patch)
        return self._stamp(self.objects[key])

    def delete(self, rt: ResourceType, namespace: str | None, name: str) -> bool:
        self.requests["DELETE"] += 1
        return self.objects.pop((rt.kind, namespace, name), None) is not None

    def forget(self, rt: ResourceType, namespace: str | None) -> None:
        pass

    # -- helpers for tests ----------------------------------------------------------------------

    def of_kind(self, kind: str) -> builtins.list[dict[str, Any]]:
        return [copy.deepcopy(o) for (k, _, _), o in self.objects.items() if k == kind]
