"""The envelope every kind shares: apiVersion, kind, metadata."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dataops.api.v1alpha1.base import CelRule

MAX_NAME_LENGTH = 40


class ObjectMeta(BaseModel):
    """The parts of ObjectMeta the operator reads; everything else is kept as is."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    name: str = ""
    namespace: str | None = None
    uid: str | None = None
    generation: int | None = None
    resource_version: str | None = Field(default=None, alias="resourceVersion")
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    deletion_timestamp: str | None = Field(default=None, alias="deletionTimestamp")


def name_length_rule(kind: str) -> CelRule:
    """Names are bounded and start with a letter, so derived child names (pods, services) stay valid
    DNS labels under 63 characters."""
    return CelRule(
        rule=f"size(self.metadata.name) <= {MAX_NAME_LENGTH} && self.metadata.name.matches('^[a-z]')",
        message=f"metadata.name of a {kind} must start with a letter and be at most "
        f"{MAX_NAME_LENGTH} characters",
        # A missing name is reported on its own (metadata.name: Required value).
        check=lambda obj: (
            not obj.metadata.name
            or (
                len(obj.metadata.name) <= MAX_NAME_LENGTH and re.match("[a-z]", obj.metadata.name) is not None
            )
        ),
    )


def parse_time(value: object) -> datetime | None:
    """A Kubernetes timestamp ("2026-11-25T10:00:00Z"), or None when absent."""
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def object_reference(body: dict[str, Any]) -> dict[str, Any]:
    """A v1 ObjectReference to ``body`` (for Events)."""
    meta = body.get("metadata", {})
    return {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "uid": meta.get("uid"),
        "resourceVersion": meta.get("resourceVersion"),
    }
