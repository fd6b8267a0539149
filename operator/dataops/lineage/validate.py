"""Validation of emitted events against the official OpenLineage JSON schemas.

The core schema (OpenLineage.json) checks the event's structure; each facet is then checked
against the facet schema that declares its key (for example ``schema`` -> SchemaDatasetFacet.json).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _date_time(value: object) -> bool:
    """RFC 3339 date-time with an offset (jsonschema checks it only with an optional package)."""
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    try:
        datetime.fromisoformat(value.replace("z", "+00:00").replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


FORMATS = FormatChecker(["uuid"])
"""The formats the schemas use that are checked: run ids are UUIDs, times RFC 3339 date-times."""
FORMATS.checks("date-time")(_date_time)

SPEC_DIR = Path(__file__).parent / "spec"
"""The official OpenLineage schemas (a copy of tests/data/openlineage-spec; a test keeps them equal)
and, under ``dataops-facets``, dataops' own facet schemas (a copy of docs/facets)."""


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
        core = Draft202012Validator(documents[0], registry=registry, format_checker=FORMATS)
        facets: dict[str, Draft202012Validator] = {}
        for document in documents[1:]:
            for key in document.get("properties", {}):
                facets[key] = Draft202012Validator(document, registry=registry, format_checker=FORMATS)
        return cls(core, facets)

    @classmethod
    def bundled(cls) -> EventValidator:
        """The schemas shipped with the package: what ``dataops lineage serve`` validates against."""
        return cls.from_spec_dir(SPEC_DIR, SPEC_DIR / "dataops-facets")

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


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _facet_groups(event: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every facet map of the event (malformed parts, which the core schema reports, are skipped)."""
    groups = [
        ("run.facets", _dict(_dict(event.get("run")).get("facets"))),
        ("job.facets", _dict(_dict(event.get("job")).get("facets"))),
    ]
    for kind in ("inputs", "outputs"):
        datasets = event.get(kind)
        for index, dataset in enumerate(datasets if isinstance(datasets, list) else []):
            groups.append((f"{kind}[{index}].facets", _dict(_dict(dataset).get("facets"))))
            for extra in ("inputFacets", "outputFacets"):
                if _dict(dataset).get(extra):
                    groups.append((f"{kind}[{index}].{extra}", _dict(dataset[extra])))
    return groups
