"""Fixture objects for the Argo CD health checks, with the status the operator's own pure status
functions (``dataops.status``) compute for each situation, so the Lua reads the real shape.

    python -m tests.gitops.fixtures           # rewrite the testdata/ files
    python -m tests.gitops.fixtures --check   # exit 1 when a checked-in fixture is out of date

The spec of each fixture is an example manifest (examples/, docs/examples/). Hand-made fixtures
for states the operator never writes (no status yet, an old generation) are in the same folders
and listed in HAND_MADE.
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from dataops.api.v1alpha1.common import ConditionType, Reason
from dataops.api.v1alpha1.datapipeline import (
    DataPipelineSpec,
    DataPipelineStatus,
    RunOutcome,
    RunRecord,
    RunTrigger,
    StreamingStatus,
)
from dataops.api.v1alpha1.datapolicy import DataPolicyStatus, Enforcement
from dataops.api.v1alpha1.dataqualitysuite import (
    ActiveValidation,
    DataQualitySuiteSpec,
    FailedExpectation,
    ValidationResult,
)
from dataops.plan.scheduling import RunDecision
from dataops.plan.validation import ValidationDecision
from dataops.policy.evaluate import PolicyFinding
from dataops.status.conditions import false
from dataops.status.pipeline import PipelineObservation, pipeline_status
from dataops.status.policy import admission_condition, policy_status
from dataops.status.suite import suite_status

ROOT = Path(__file__).resolve().parents[2]
CUSTOMIZATIONS = ROOT / "examples/argocd/resource_customizations/dataops.dev"
NOW = datetime(2026, 11, 20, 2, 5, tzinfo=UTC)
CREATED = datetime(2026, 11, 1, tzinfo=UTC)
EARLIER = NOW - timedelta(minutes=5)
UID = "5f0c8a52-8f7e-4c55-9d0e-2b1f3c4d5e6f"
HAND_MADE = {
    "DataPipeline": ["no-status.yaml", "no-conditions.yaml", "stale-generation.yaml"],
    "DataQualitySuite": ["no-status.yaml", "stale-generation.yaml"],
    "DataPolicy": ["no-status.yaml", "stale-generation.yaml"],
}


def _manifest(path: str) -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all((ROOT / path).read_text()) if d]
    return copy.deepcopy(docs[0])


def _object(manifest: str, *, generation: int, status: dict[str, Any], **spec: Any) -> dict[str, Any]:
    obj = _manifest(manifest)
    obj["metadata"].update(
        {
            "namespace": "dataops",
            "uid": UID,
            "generation": generation,
            "creationTimestamp": "2026-11-01T00:00:00Z",
        }
    )
    obj["spec"].update(spec)
    obj["status"] = status
    return obj


def _run(run_id: str, outcome: RunOutcome, **fields: Any) -> RunRecord:
    done = outcome in (RunOutcome.SUCCEEDED, RunOutcome.FAILED, RunOutcome.CANCELLED)
    return RunRecord(
        id=run_id,
        trigger=fields.pop("trigger", RunTrigger.SCHEDULE),
        outcome=outcome,
        driver_pod=f"orders-daily-{run_id}-1-driver",
        start_time=EARLIER,
        completion_time=NOW if done else None,
        **fields,
    )


# --- DataPipeline -----------------------------------------------------------------------------


def _pipeline(
    *,
    manifest: str = "examples/03-orders-pipeline.yaml",
    generation: int = 2,
    spec: dict[str, Any] | None = None,
    previous: DataPipelineStatus | None = None,
    **observed: Any,
) -> dict[str, Any]:
    obj = _object(manifest, generation=generation, status={}, **(spec or {}))
    parsed = DataPipelineSpec.model_validate(obj["spec"])
    observation = PipelineObservation(
        generation=generation,
        suspended=parsed.suspend,
        spec=parsed,
        created=CREATED,
        plan_config_map=f"{obj['metadata']['name']}-plan",
        plan_hash="3f9a1c0b7d2e4f65",
        **observed,
    )
    obj["status"] = pipeline_status(previous, observation, now=NOW).to_json()
    return obj


def _pipeline_status(**observed: Any) -> DataPipelineStatus:
    return DataPipelineStatus.model_validate(_pipeline(**observed)["status"])


def _finished(run: RunRecord) -> RunDecision:
    return RunDecision(finished=[run], last_schedule_time=EARLIER)


SUCCEEDED = _run("s-7c1d2e3f4a5b", RunOutcome.SUCCEEDED, message="240 rows written")
FAILED = _run(
    "s-8d2e3f4a5b6c",
    RunOutcome.FAILED,
    attempt=3,
    message="AnalysisException: [TABLE_OR_VIEW_NOT_FOUND] orders",
)
RUNNING = _run("m-1a2b3c4d5e6f", RunOutcome.RUNNING, trigger=RunTrigger.MANUAL)
BLOCKING = PolicyFinding(
    policy="sales-governance",
    enforcement=Enforcement.ENFORCE,
    violations=["sink revenue: path /tmp/elsewhere is not in allowedSinks"],
)
AUDITED = PolicyFinding(
    policy="sales-audit",
    enforcement=Enforcement.AUDIT,
    violations=["sink revenue: retentionDays 1000 exceeds retention.maxDays 730"],
)
COMPLIANT = PolicyFinding(policy="sales-governance", enforcement=Enforcement.ENFORCE)
STREAM = "docs/examples/orders-stream.yaml"
CONTINUOUS = _run("c-0a1b2c3d4e5f", RunOutcome.RUNNING, trigger=RunTrigger.CONTINUOUS, plan_key="3f9a/")


def _with_max_age(manifest: str, seconds: int) -> dict[str, Any]:
    """The manifest's sinks, each with a freshness SLO (maxAgeSeconds)."""
    sinks = _manifest(manifest)["spec"]["sinks"]
    return {"sinks": [dict(sink, maxAgeSeconds=seconds) for sink in sinks]}


def pipeline_fixtures() -> dict[str, Callable[[], dict[str, Any]]]:
    old_success = SUCCEEDED.model_copy(
        update={"start_time": NOW - timedelta(hours=26), "completion_time": NOW - timedelta(hours=25)}
    )
    return {
        "stale.yaml": lambda: _pipeline(
            spec=_with_max_age("examples/03-orders-pipeline.yaml", 86400),
            policy_findings=[COMPLIANT],
            runs=_finished(old_success),
        ),
        "running-after-failure.yaml": lambda: _pipeline(
            policy_findings=[COMPLIANT],
            previous=_pipeline_status(runs=_finished(FAILED)),
            runs=RunDecision(active=[RUNNING], last_manual_trigger="1764123456"),
        ),
        "streaming-stale.yaml": lambda: _pipeline(
            manifest=STREAM,
            spec=_with_max_age(STREAM, 600),
            runs=RunDecision(active=[CONTINUOUS]),
            streaming=StreamingStatus(
                state="Running", batch_id=7, last_batch_time=NOW - timedelta(hours=1), consumer_lag=0
            ),
        ),
        "healthy.yaml": lambda: _pipeline(policy_findings=[COMPLIANT], runs=_finished(SUCCEEDED)),
        "never-run.yaml": lambda: _pipeline(generation=1, runs=RunDecision()),
        "running.yaml": lambda: _pipeline(
            policy_findings=[COMPLIANT], runs=RunDecision(active=[RUNNING], last_manual_trigger="1764123456")
        ),
        "failed.yaml": lambda: _pipeline(policy_findings=[COMPLIANT], runs=_finished(FAILED)),
        "blocked-by-policy.yaml": lambda: _pipeline(generation=4, policy_findings=[BLOCKING]),
        "missing-suite.yaml": lambda: _pipeline(missing_suites=["orders-quality"]),
        "audit-violation.yaml": lambda: _pipeline(policy_findings=[AUDITED], runs=_finished(SUCCEEDED)),
        "suspended.yaml": lambda: _pipeline(
            generation=3, spec={"suspend": True}, policy_findings=[COMPLIANT], runs=_finished(SUCCEEDED)
        ),
        "suspended-failed.yaml": lambda: _pipeline(
            generation=3, spec={"suspend": True}, runs=_finished(FAILED)
        ),
        "suspended-blocked.yaml": lambda: _pipeline(
            generation=3, spec={"suspend": True}, policy_findings=[BLOCKING]
        ),
        "streaming-running.yaml": lambda: _pipeline(
            manifest=STREAM,
            runs=RunDecision(active=[CONTINUOUS]),
            streaming=StreamingStatus(
                state="Running",
                batch_id=1412,
                last_batch_time=NOW,
                consumer_lag=37,
                input_rows_per_second=120.5,
            ),
        ),
        "streaming-starting.yaml": lambda: _pipeline(
            manifest=STREAM,
            runs=RunDecision(active=[CONTINUOUS.model_copy(update={"outcome": RunOutcome.PENDING})]),
            streaming=StreamingStatus(state="Starting"),
        ),
        "streaming-stopped.yaml": lambda: _pipeline(
            manifest=STREAM,
            runs=RunDecision(
                finished=[
                    CONTINUOUS.model_copy(
                        update={"outcome": RunOutcome.FAILED, "attempt": 3, "message": "driver exited with 1"}
                    )
                ]
            ),
            streaming=StreamingStatus(state="Failed"),
        ),
    }


# --- DataQualitySuite -------------------------------------------------------------------------

SUITE = "docs/examples/orders-quality-scheduled.yaml"


def _suite(
    *, generation: int = 2, spec: dict[str, Any] | None = None, runs: ValidationDecision | None = None
) -> dict[str, Any]:
    obj = _object(SUITE, generation=generation, status={}, **(spec or {}))
    parsed = DataQualitySuiteSpec.model_validate(obj["spec"])
    status = suite_status(None, parsed, generation=generation, now=NOW, runs=runs)
    obj["status"] = status.to_json()
    return obj


def _recorded(result: ValidationResult) -> ValidationDecision:
    return ValidationDecision(active=None, last_schedule_time=EARLIER, last_run_now=None, recorded=result)


PASSED = ValidationResult(
    run_id="s-2b3c4d5e6f7a",
    time=NOW,
    success=True,
    success_percent=100,
    evaluated=5,
    failed=0,
    duration_seconds=4.2,
)
FAILED_RESULT = ValidationResult(
    run_id="s-3c4d5e6f7a8b",
    time=NOW,
    success=False,
    success_percent=60,
    evaluated=5,
    failed=2,
    failed_expectations=[
        FailedExpectation(type="expect_column_values_to_not_be_null", column="order_id", observed_value="3"),
        FailedExpectation(type="expect_column_values_to_be_unique", column="order_id"),
    ],
)
ERRORED = ValidationResult(
    run_id="s-4d5e6f7a8b9c",
    time=NOW,
    success=False,
    success_percent=0,
    evaluated=0,
    failed=0,
    error="Path does not exist: /tmp/dataops-lake/curated/revenue_by_country",
)


def suite_fixtures() -> dict[str, Callable[[], dict[str, Any]]]:
    active = ActiveValidation(
        run_id="m-5e6f7a8b9c0d", pod="revenue-quality-m-5e6f7a8b9c0d", trigger="Manual", start_time=EARLIER
    )
    return {
        "passed.yaml": lambda: _suite(runs=_recorded(PASSED)),
        "failed.yaml": lambda: _suite(runs=_recorded(FAILED_RESULT)),
        "error.yaml": lambda: _suite(runs=_recorded(ERRORED)),
        "not-yet-validated.yaml": lambda: _suite(generation=1),
        "running.yaml": lambda: _suite(
            runs=ValidationDecision(active=active, last_schedule_time=EARLIER, last_run_now="1")
        ),
        "suspended.yaml": lambda: _suite(generation=3, spec={"suspend": True}, runs=_recorded(PASSED)),
    }


# --- DataPolicy -------------------------------------------------------------------------------

POLICY = "examples/02-policy.yaml"


def _policy(
    *, generation: int = 1, spec: dict[str, Any] | None = None, findings: dict[str, list[str]], admission: Any
) -> dict[str, Any]:
    obj = _object(POLICY, generation=generation, status={}, **(spec or {}))
    status: DataPolicyStatus = policy_status(
        None, findings, generation=generation, now=NOW, admission=admission
    )
    obj["status"] = status.to_json()
    return obj


def policy_fixtures() -> dict[str, Callable[[], dict[str, Any]]]:
    vap = "dataops-dpol-dataops-sales-governance"
    enforced = admission_condition(name=vap, enforcement=Enforcement.ENFORCE)
    audited = admission_condition(name=vap, enforcement=Enforcement.AUDIT)
    violations = {
        "orders-daily": ["sink revenue: path /tmp/elsewhere is not in allowedSinks"],
        "orders-hourly": [],
    }
    return {
        "active.yaml": lambda: _policy(
            findings={"orders-daily": [], "orders-hourly": []}, admission=enforced
        ),
        "violated-enforce.yaml": lambda: _policy(findings=violations, admission=enforced),
        "violated-audit.yaml": lambda: _policy(
            generation=2, spec={"enforcement": "Audit"}, findings=violations, admission=audited
        ),
        "admission-failed.yaml": lambda: _policy(
            findings={"orders-daily": []},
            admission=admission_condition(
                name=None,
                enforcement=Enforcement.ENFORCE,
                error="applying ValidatingAdmissionPolicy: forbidden",
            ),
        ),
        "no-selected-pipelines.yaml": lambda: _policy(findings={}, admission=enforced),
        "ready-false.yaml": lambda: _with_ready_false(_policy(findings={}, admission=enforced)),
    }


def _with_ready_false(obj: dict[str, Any]) -> dict[str, Any]:
    """A Ready=False the policy status function does not produce today, built with the same
    condition helpers, so the check's generic Ready handling is exercised on this kind too."""
    want = false(ConditionType.READY, Reason.INVALID_SPEC, "pipelineSelector: invalid label selector")
    for c in obj["status"]["conditions"]:
        if c["type"] == "Ready":
            c.update({"status": want.status.value, "reason": want.reason.value, "message": want.message})
    return obj


@dataclass(frozen=True)
class Kind:
    name: str
    fixtures: Callable[[], dict[str, Callable[[], dict[str, Any]]]]


KINDS = [
    Kind("DataPipeline", pipeline_fixtures),
    Kind("DataQualitySuite", suite_fixtures),
    Kind("DataPolicy", policy_fixtures),
]


def render(obj: dict[str, Any]) -> str:
    header = "# Generated by `python -m tests.gitops.fixtures` from dataops.status; do not edit.\n"
    return header + yaml.safe_dump(obj, sort_keys=False, width=120)


def generated() -> dict[Path, str]:
    files = {}
    for kind in KINDS:
        for name, build in kind.fixtures().items():
            files[CUSTOMIZATIONS / kind.name / "testdata" / name] = render(build())
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a fixture is out of date")
    args = parser.parse_args(argv)
    stale = []
    for path, text in generated().items():
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    for path in stale:
        print(f"{'out of date' if args.check else 'wrote'}: {path.relative_to(ROOT)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
