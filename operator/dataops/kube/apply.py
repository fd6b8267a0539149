"""Converge a child to its desired manifest with server-side apply, writing only when it differs."""

from __future__ import annotations

from typing import Any

from dataops.kube.client import KubeClient, resource_type_of


def is_subset(desired: Any, actual: Any) -> bool:
    """True when every field of ``desired`` is present in ``actual`` with the same value.

    Lists must match element by element (same length); maps may carry extra keys that other
    controllers or the API server added (defaults, managedFields, uid, ...).
    """
    if isinstance(desired, dict):
        return isinstance(actual, dict) and all(
            k in actual and is_subset(v, actual[k]) for k, v in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(actual, list)
            and len(desired) == len(actual)
            and all(is_subset(d, a) for d, a in zip(desired, actual, strict=True))
        )
    return bool(desired == actual)


def ensure(client: KubeClient, manifest: dict[str, Any]) -> bool:
    """Apply ``manifest`` unless the live object already matches it. Returns whether it wrote."""
    meta = manifest["metadata"]
    live = client.get(resource_type_of(manifest), meta.get("namespace"), meta["name"])
    if live is not None and is_subset(manifest, live):
        return False
    client.apply(manifest)
    return True
