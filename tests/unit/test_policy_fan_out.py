"""A DataPolicy edit reconciles the pipelines it selected before or selects after, and no others."""

from __future__ import annotations

from typing import Any

import pytest

from dataops.handlers.runner import Reconciler
from tests.unit.fake_kube import FakeKube

TEAMS = ("sales", "ops", "finance")


def _pipeline(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPipeline",
        "metadata": {"name": name, "namespace": "ns", "labels": labels},
        "spec": {},
    }


def _team(team: str) -> dict[str, Any]:
    return {"pipelineSelector": {"matchLabels": {"team": team}}}


@pytest.fixture
def runner() -> Any:
    kube = FakeKube()
    for i in range(30):
        kube.put(_pipeline(f"p{i}", {"team": TEAMS[i % 3]} if i % 5 else {}))
    kube.put({**_pipeline("elsewhere", {"team": "sales"}), "metadata": {"name": "x", "namespace": "other"}})
    reconciler = Reconciler(kube)  # type: ignore[arg-type]
    reconciler.enqueued = []  # type: ignore[attr-defined]
    reconciler.enqueue = lambda kind, ns, name, **_: reconciler.enqueued.append(name)  # type: ignore[method-assign,attr-defined]
    return reconciler


def _selected(team: str | None) -> set[str]:
    return {f"p{i}" for i in range(30) if i % 5 and (team is None or TEAMS[i % 3] == team)}


def _everything() -> set[str]:
    return {f"p{i}" for i in range(30)}


def _fan_out(runner: Any, spec: dict[str, Any] | None, *, deleted: bool = False) -> set[str]:
    runner.enqueued.clear()
    runner.pipelines_of_policy("ns", "gov", spec, deleted=deleted)
    names = list(runner.enqueued)
    assert len(names) == len(set(names)), "a pipeline enqueued twice"
    return set(names)


def test_a_new_policy_reconciles_only_what_it_selects(runner: Any) -> None:
    assert _fan_out(runner, _team("sales")) == _selected("sales")


def test_a_selector_edit_reconciles_the_old_and_the_new_selection(runner: Any) -> None:
    _fan_out(runner, _team("sales"))
    assert _fan_out(runner, _team("ops")) == _selected("sales") | _selected("ops")
    # Another field changes: the same selection, once.
    assert _fan_out(runner, {**_team("ops"), "enforcement": "Audit"}) == _selected("ops")


def test_deleting_a_policy_reconciles_what_it_selected(runner: Any) -> None:
    _fan_out(runner, _team("finance"))
    assert _fan_out(runner, None, deleted=True) == _selected("finance")
    # Created again later: it selected nothing in between.
    assert _fan_out(runner, _team("sales")) == _selected("sales")


def test_an_empty_selector_selects_every_pipeline_of_the_namespace(runner: Any) -> None:
    assert _fan_out(runner, {}) == _everything()


def test_a_spec_that_does_not_parse_reconciles_every_pipeline(runner: Any) -> None:
    _fan_out(runner, _team("sales"))
    assert (
        _fan_out(runner, {"pipelineSelector": {"matchLabels": {"team": "sales"}}, "bogus": 1})
        == _everything()
    )
    # And the edit after it, since what the broken spec selected is unknown.
    assert _fan_out(runner, _team("ops")) == _everything()


def test_match_expressions_are_honoured(runner: Any) -> None:
    spec = {
        "pipelineSelector": {"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["sales"]}]}
    }
    expected = {f"p{i}" for i in range(30) if not (i % 5 and TEAMS[i % 3] == "sales")}
    assert _fan_out(runner, spec) == expected
