"""How secret values reach a run: as environment variables named after the Secret and key. Pure."""

from __future__ import annotations

import re

from dataops.api.v1alpha1.common import SecretKeySelector


def secret_env_name(ref: SecretKeySelector) -> str:
    return "DATAOPS_SECRET_" + re.sub(r"[^A-Z0-9]", "_", f"{ref.name}_{ref.key}".upper())
