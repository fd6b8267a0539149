"""A status written by another operator version is read without forgetting runs (issue 11, defect 6)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dataops.api.v1alpha1.datapipeline import DataPipelineStatus, RunOutcome
from dataops.api.v1alpha1.dataqualitysuite import DataQualitySuiteStatus
from dataops.reconcile.common import parse_status
from dataops.status.tolerant import read_status

ACTIVE = {
    "id": "p-20261126-0900",
    "trigger": "Schedule",
    "attempt": 1,
    "outcome": "Running",
    "driverPod": "p-20261126-0900-1-driver",
    "startTime": "2026-11-26T09:00:00Z",
}


def _stored() -> dict[str, Any]:
    return {
        "observedGeneration": 3,
        "phase": "Running",
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "Reconciled",
                "message": "",
                "lastTransitionTime": "2026-11-26T08:00:00Z",
                "observedGeneration": 3,
            }
        ],
        "currentRun": dict(ACTIVE),
        "activeRuns": [dict(ACTIVE)],
        "history": [
            {"id": "p-1", "trigger": "Manual", "outcome": "Succeeded"},
            {"id": "p-2", "trigger": "Schedule", "outcome": "Failed", "message": "boom"},
        ],
        "lastScheduleTime": "2026-11-26T09:00:00Z",
    }


def test_a_clean_status_reads_as_before() -> None:
    status = read_status(DataPipelineStatus, _stored())
    assert status == DataPipelineStatus.model_validate(_stored())


def test_fields_a_newer_version_added_are_ignored_and_nothing_is_forgotten() -> None:
    raw = _stored()
    raw["newTopLevel"] = {"x": 1}
    raw["activeRuns"][0]["queuePosition"] = 4
    raw["history"][0]["costEstimate"] = "3.2"
    status = parse_status(DataPipelineStatus, {"status": raw})
    assert status is not None
    assert [r.id for r in status.active_runs] == [ACTIVE["id"]]
    assert status.current_run is not None and status.current_run.id == ACTIVE["id"]
    assert [r.id for r in status.history] == ["p-1", "p-2"]
    assert status.last_schedule_time is not None


def test_a_value_that_no_longer_validates_is_dropped_alone() -> None:
    raw = _stored()
    raw["phase"] = "Hibernating"  # removed or renamed enum value: phase has a default
    raw["history"][0]["outcome"] = "Abandoned"  # a required field: that history entry goes
    raw["activeRuns"][0]["rowsRead"] = "lots"  # optional list: the field goes, the run stays
    raw["lastScheduleTime"] = "not a time"
    status = read_status(DataPipelineStatus, raw)
    assert status is not None
    assert [r.id for r in status.active_runs] == [ACTIVE["id"]]
    assert status.active_runs[0].outcome == RunOutcome.RUNNING
    assert status.active_runs[0].driver_pod == ACTIVE["driverPod"]
    assert [r.id for r in status.history] == ["p-2"]
    assert status.last_schedule_time is None
    assert status.observed_generation == 3 and status.conditions[0].type == "Ready"


def test_absent_status_is_none_and_garbage_is_an_empty_status() -> None:
    assert read_status(DataPipelineStatus, None) is None
    assert read_status(DataPipelineStatus, {}) is None
    garbage = read_status(DataPipelineStatus, {"activeRuns": "x", "conditions": 7, "phase": 1})
    assert garbage is not None and garbage.active_runs == [] and garbage.conditions == []
    assert read_status(DataQualitySuiteStatus, {"unknown": True}) is not None


_junk = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2))


@settings(max_examples=300, deadline=None)
@given(
    where=st.lists(
        st.tuples(
            st.sampled_from(["top", "history", "active", "current"]),
            st.sampled_from(
                ["phase", "outcome", "attempt", "message", "startTime", "rowsRead", "brandNew", "trigger"]
            ),
            _junk,
        ),
        max_size=6,
    )
)
def test_valid_active_runs_survive_any_damage_elsewhere(where: list[tuple[str, str, Any]]) -> None:
    raw = copy.deepcopy(_stored())
    damaged_active = False
    for place, key, value in where:
        if place == "top":
            raw[key] = value
        elif place == "history":
            raw["history"][0][key] = value
        elif place == "current":
            raw["currentRun"][key] = value
        else:
            raw["activeRuns"][0][key] = value
            damaged_active |= key in ("outcome", "trigger")
    status = read_status(DataPipelineStatus, raw)
    assert status is not None
    if not damaged_active:
        assert [r.id for r in status.active_runs] == [ACTIVE["id"]]
