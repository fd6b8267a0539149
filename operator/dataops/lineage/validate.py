"""Validation of emitted events against the official OpenLineage JSON schemas.

The core schema (OpenLineage.json) checks the event's structure; each facet is then checked
against the facet schema that declares its key (for example ``schema`` -> SchemaDatasetFacet.json).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource


@dataclass(frozen=True)
class EventValidator:
    core: Draft202012Validator
    facets: dict[str, Draft202012Validator]  # facet key -> validator of {key: facet}

    @classmethod
    def from_spec_dir(cls, spec_dir: Path, *extra_facet_dirs: Path) -> EventValidator:
        """The official schemas in ``spec_dir``, plus custom facet schemas (dataops' own)."""
        facet_files = [*sorted((spec_dir / "facets").glob("*.json"))]
        for directory in extra_facet_dirs:
            facet_files += sorted(directory.glob("*.json"))
        documents = [json.loads(p.read_text()) for p in [spec_dir / "OpenLineage.json", *facet_files]]
        registry = Registry().with_resources((d["$id"], Resource.from_contents(d)) for d in documents)
        core = Draft202012Validator(documents[0], registry=registry)
        facets: dict[str, Draft202012Validator] = {}
        for document in documents[1:]:
            for key in document.get("properties", {}):
                facets[key] = Draft202012Validator(document, registry=registry)
        return cls(core, facets)

    def errors(self, event: dict[str, Any]) -> list[str]:
        found = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in self.core.iter_errors(event)]
        for where, facets in _facet_groups(event):
            for key, facet in facets.items():
                validator = self.facets.get(key)
                if validator is None:
                    found.append(f"{where}.{key}: no schema declares this facet")
                    continue
                found += [f"{where}.{key}: {e.message}" for e in validator.iter_errors({key: facet})]
        return found


def _facet_groups(event: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    groups = [
        ("run.facets", event.get("run", {}).get("facets") or {}),
        ("job.facets", event.get("job", {}).get("facets") or {}),
    ]
    for kind in ("inputs", "outputs"):
        for index, dataset in enumerate(event.get(kind) or []):
            groups.append((f"{kind}[{index}].facets", dataset.get("facets") or {}))
            for extra in ("inputFacets", "outputFacets"):
                if dataset.get(extra):
                    groups.append((f"{kind}[{index}].{extra}", dataset[extra]))
    return groups
