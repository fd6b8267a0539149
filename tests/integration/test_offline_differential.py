"""Differential test: `dataops validate`'s offline verdict against the real API server's.

A seeded corpus (tests/integration/manifest_corpus.py) of valid and invalid manifests, written as YAML
text, goes to the real kube-apiserver with ``kubectl apply --dry-run=server`` (the generated CRDs from
crds/ installed) and through the offline reader and validator. They must agree on every manifest:
same verdict, and for a rejection the same field paths.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from dataops.api.validation import validate_document
from dataops.kubeyaml import KubectlYamlError, load_all
from dataops.manifests import objects
from tests.integration.manifest_corpus import Case, generate

pytestmark = pytest.mark.cluster

# The API server's note that CEL rules were skipped after a type error: not a field of the object.
_SKIPPED_RULES = "some validation rules were not checked"
_BULLET = re.compile(r"^\* (?P<path>[^:]+): ", re.MULTILINE)
_SINGLE = re.compile(r" is invalid: (?P<path>[^:\n]+): ")
_UNKNOWN = re.compile(r'unknown field "(?P<path>[^"]+)"')
_GO_FIELD = re.compile(r"Go struct field \w+\.(?P<path>[\w.]+) of type")
# An admission policy's denial (dataops.api.suite_admission): its message starts with the field path.
_DENIED = re.compile(r"denied request: (?P<path>[^:\s]+): ")
_NO_NAME = re.compile(r"resource name may not be empty|cannot use generate name with apply")


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    paths: frozenset[str]
    detail: str


def api_paths(stderr: str) -> frozenset[str]:
    """Field paths the API server (or kubectl's decoding of the JSON) names in an error."""
    paths: set[str] = set()
    for line in stderr.splitlines():
        if _SKIPPED_RULES in line:
            continue
        bullet = _BULLET.match(line)
        if bullet:
            paths.add(bullet["path"])
    denied = _DENIED.search(stderr)
    if denied:
        paths.add(denied["path"])
    single = _SINGLE.search(stderr)
    if single and not paths:
        paths.add(single["path"])
    paths.update(m["path"] for m in _UNKNOWN.finditer(stderr))
    paths.update(m["path"] for m in _GO_FIELD.finditer(stderr))
    if _NO_NAME.search(stderr):
        paths.add("metadata.name")
    return frozenset(paths)


def online(kubectl: Callable[..., Any], case: Case) -> Verdict:
    result = kubectl("apply", "--dry-run=server", "-f", "-", input=case.text, check=False)
    if result.returncode == 0:
        return Verdict(True, frozenset(), result.stdout.strip())
    return Verdict(False, api_paths(result.stderr), result.stderr.strip())


def offline(case: Case) -> Verdict:
    try:
        docs = [obj for d in load_all(case.text) for obj in objects(d)]
    except (KubectlYamlError, ValueError, yaml.YAMLError) as exc:
        return Verdict(False, frozenset(), str(exc))
    errors = [e for doc in docs for e in validate_document(doc)]
    return Verdict(not errors, frozenset(e.path for e in errors), "; ".join(str(e) for e in errors))


def agree(api: Verdict, local: Verdict) -> bool:
    if api.accepted or local.accepted:
        return api.accepted == local.accepted
    return api.paths == local.paths


def test_offline_verdicts_match_the_api_server(control_plane: Any, namespace: str) -> None:
    corpus = generate()
    assert len(corpus) >= 200

    def kubectl(*args: str, input: str | None = None, check: bool = True) -> Any:
        return control_plane.kubectl("-n", namespace, *args, input=input, check=check)

    with ThreadPoolExecutor(max_workers=4) as pool:
        verdicts = list(pool.map(lambda c: online(kubectl, c), corpus))
    disagreements = []
    for case, api in zip(corpus, verdicts, strict=True):
        local = offline(case)
        if not agree(api, local):
            disagreements.append(
                f"{case.id}: API server {'accepted' if api.accepted else 'rejected'} {sorted(api.paths)} "
                f"[{api.detail[:300]}]; offline {'accepted' if local.accepted else 'rejected'} "
                f"{sorted(local.paths)} [{local.detail[:300]}]"
            )
    accepted = sum(v.accepted for v in verdicts)
    print(
        f"\ndifferential: {len(corpus) - len(disagreements)}/{len(corpus)} agree "
        f"({accepted} accepted and {len(corpus) - accepted} rejected by the API server)"
    )
    assert not disagreements, "\n".join(disagreements)
