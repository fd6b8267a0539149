"""Fuzzed manifests (issue 11): whatever a user or a broken tool sends, `dataops validate` answers
with error lines (never a traceback) and reconcile never crashes; one broken object never stops
the others.

Manifests are the examples with random damage: values replaced by junk of any type, keys deleted,
unknown keys added, plus raw text that may not even be YAML.
"""

from __future__ import annotations

import contextlib
import copy
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataops.api.validation import validate_document
from dataops.cli import main as dataops_main
from dataops.handlers.runner import Reconciler
from dataops.kube.client import DATA_PIPELINE, DATA_POLICY, DATA_QUALITY_SUITE
from dataops.reconcile.config import RunConfig
from dataops.reconcile.pipeline import reconcile_pipeline
from dataops.reconcile.policy import reconcile_policy
from dataops.reconcile.suite import reconcile_suite
from tests.conftest import EXAMPLES
from tests.unit.fake_kube import FakeKube

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
EXAMPLE_DOCS = [d for f in sorted(EXAMPLES.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["", "y", "off", "1e400", "*", "../..", "a" * 3000, "\u0000", "🙂", "-1"]),
)
_junk = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def damaged_documents(draw: st.DrawFn) -> dict[str, Any]:
    doc = copy.deepcopy(draw(st.sampled_from(EXAMPLE_DOCS)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        parent: Any = doc
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        with contextlib.suppress(KeyError, IndexError, TypeError):
            if action == "replace":
                parent[path[-1]] = draw(_junk)
            elif action == "delete":
                del parent[path[-1]]
            elif isinstance(parent[path[-1]], dict):
                parent[path[-1]][draw(st.text(min_size=1, max_size=10))] = draw(_junk)
    return doc


FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(doc=damaged_documents())
def test_offline_validation_never_crashes(doc: dict[str, Any]) -> None:
    errors = validate_document(doc)
    assert all(str(e) for e in errors)


def _run_cli(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = dataops_main(list(args))
    return code, out.getvalue() + err.getvalue()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    text=st.one_of(
        damaged_documents().map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
        st.text(max_size=300),
        st.sampled_from(
            ["{", "- a\n- : b", "kind: [", "\t\tbad", "---\n---\n", "!!python/object:os.system x"]
        ),
    )
)
def test_dataops_validate_answers_every_file_with_lines_not_a_traceback(tmp_path: Path, text: str) -> None:
    manifest = tmp_path / "fuzzed.yaml"
    manifest.write_text(text)
    code, output = _run_cli("validate", "-f", str(manifest))
    assert code in (0, 1, 2), output
    assert "Traceback" not in output
    assert output.strip(), "no verdict printed"


def _body(doc: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(doc)
    if not isinstance(body.get("metadata"), dict):
        body["metadata"] = {}
    meta = body["metadata"]
    meta.update(
        name=str(meta.get("name") or "fuzzed")[:60] or "fuzzed",
        namespace="fuzz",
        uid="0000-fuzz",
        generation=1,
        creationTimestamp="2026-11-26T09:00:00Z",
    )
    # The API server guarantees the metadata's shape (string maps); the spec is what may be anything.
    for field in ("labels", "annotations"):
        values = meta.get(field) if isinstance(meta.get(field), dict) else {}
        meta[field] = {str(k): str(v) for k, v in values.items()}
    return body


RECONCILERS = {
    "DataPipeline": lambda kube, body: reconcile_pipeline(kube, body, config=RunConfig(), now=NOW),
    "DataQualitySuite": lambda kube, body: reconcile_suite(kube, body, config=RunConfig(), now=NOW),
    "DataPolicy": lambda kube, body: reconcile_policy(kube, body),
}


@FUZZ
@given(doc=damaged_documents())
def test_reconcile_never_crashes_on_a_damaged_object(doc: dict[str, Any]) -> None:
    kind = doc.get("kind")
    if not isinstance(kind, str) or kind not in RECONCILERS:
        return
    kube = FakeKube()
    for example in EXAMPLE_DOCS:  # the valid neighbours: suites, policies, pipelines
        kube.put(_body(example))
    body = _body(doc)
    body["kind"] = kind
    kube.put(body)
    RECONCILERS[kind](kube, kube.get(_resource(kind), "fuzz", body["metadata"]["name"]))


def _resource(kind: str) -> Any:
    return {"DataPipeline": DATA_PIPELINE, "DataQualitySuite": DATA_QUALITY_SUITE, "DataPolicy": DATA_POLICY}[
        kind
    ]


def test_a_crash_in_one_object_never_stops_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner contains a reconcile's exception (and retries it later); the rest go on."""
    kube = FakeKube()
    pipeline = next(d for d in EXAMPLE_DOCS if d["kind"] == "DataPipeline")
    for name in ("a", "boom", "c"):
        body = _body(pipeline)
        body["metadata"]["name"] = name
        kube.put(body)
    import dataops.handlers.runner as runner_module

    real = runner_module.reconcile_pipeline

    def exploding(client: Any, body: dict[str, Any], **kw: Any) -> Any:
        if body["metadata"]["name"] == "boom":
            raise RuntimeError("unexpected")
        return real(client, body, **kw)

    monkeypatch.setattr(runner_module, "reconcile_pipeline", exploding)
    runner = Reconciler(kube)  # type: ignore[arg-type]
    runner.start_workers(2)
    try:
        runner.pipelines_of_policy("fuzz", "everything", {}, deleted=False)  # selects all
        assert runner.queue.join()
    finally:
        runner.stop()
    reconciled = {
        o["metadata"]["name"]
        for o in kube.of_kind("DataPipeline")
        if (o.get("status") or {}).get("conditions")
    }
    assert reconciled == {"a", "c"}
