"""Standalone validation runs: when they start, how they end, what status says. Pure."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from dataops.api.v1alpha1.common import ConditionStatus, ConditionType, Reason
from dataops.api.v1alpha1.dataqualitysuite import (
    ActiveValidation,
    DataQualitySuiteSpec,
    DataQualitySuiteStatus,
    DatasetMetrics,
    FailedExpectation,
    ValidationResult,
)
from dataops.plan.children import Owner
from dataops.plan.validation import (
    ValidatorState,
    build_validation_plan,
    build_validator_pod,
    decide_validation,
    validator_state_from_pod,
)
from dataops.quality import anomaly
from dataops.quality.summarize import compact_json
from dataops.status.suite import HISTORY_LIMIT, suite_status

NOW = datetime(2026, 11, 25, 12, 0, 30, tzinfo=UTC)
CREATED = NOW - timedelta(days=1)


def _spec(**extra: object) -> DataQualitySuiteSpec:
    return DataQualitySuiteSpec.model_validate(
        {
            "dataset": {"path": "s3a://lake/orders"},
            "expectations": [{"type": "expect_column_values_to_not_be_null", "column": "id"}],
            **extra,
        }
    )


def _decide(spec: DataQualitySuiteSpec, status: DataQualitySuiteStatus | None = None, **kw: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        "name": "orders-quality",
        "uid": "u-1",
        "spec": spec,
        "status": status,
        "pod": None,
        "annotations": {},
        "created": CREATED,
        "now": NOW,
    }
    args.update(kw)
    return decide_validation(**args)  # type: ignore[arg-type]


def _result(run_id: str, success: bool = True, **extra: object) -> ValidationResult:
    return ValidationResult.model_validate(
        {
            "runId": run_id,
            "success": success,
            "successPercent": 100 if success else 50,
            "evaluated": 2,
            "failed": 0 if success else 1,
            **extra,
        }
    )


def test_run_now_launches_once_with_a_deterministic_run() -> None:
    first = _decide(_spec(), annotations={"dataops.dev/run-now": "a"})
    assert first.launch is not None and first.active == first.launch
    assert first.launch.pod == f"orders-quality-{first.launch.run_id}-validator"
    assert first.last_run_now == "a" and first.launch.trigger == "Manual"
    again = _decide(_spec(), annotations={"dataops.dev/run-now": "a"})
    assert again.launch is not None and again.launch.run_id == first.launch.run_id
    status = DataQualitySuiteStatus(conditions=[], active=first.launch, last_run_now="a")
    running = _decide(_spec(), status, annotations={"dataops.dev/run-now": "a"}, pod=None)
    # the pod is gone without a result: an error result, no new launch for the same value
    assert running.launch is None and running.recorded is not None and running.recorded.error
    assert "disappeared" in running.recorded.error


def test_cron_schedule_launches_the_due_slot_and_wakes_for_the_next() -> None:
    spec = _spec(schedule={"cron": "*/10 * * * *"})
    status = DataQualitySuiteStatus(conditions=[], last_schedule_time=NOW - timedelta(minutes=15))
    d = _decide(spec, status)
    assert d.launch is not None and d.launch.trigger == "Schedule"
    assert d.last_schedule_time == datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert datetime(2026, 11, 25, 12, 10, tzinfo=UTC) in d.wake_at
    suspended = _decide(spec.model_copy(update={"suspend": True}), status)
    assert suspended.launch is None
    no_dataset = _decide(
        DataQualitySuiteSpec.model_validate(
            {"expectations": [{"type": "expect_column_to_exist", "column": "id"}]}
        )
    )
    assert no_dataset.launch is None and no_dataset.wake_at == []


def test_finished_pod_result_is_recorded_and_a_busy_suite_skips() -> None:
    active = ActiveValidation(run_id="v1", pod="p1", trigger="Manual", start_time=NOW - timedelta(seconds=20))
    status = DataQualitySuiteStatus(conditions=[], active=active, last_run_now="a")
    busy = _decide(
        _spec(), status, annotations={"dataops.dev/run-now": "b"}, pod=ValidatorState("p1", "v1", "Running")
    )
    assert busy.launch is None and busy.active == active
    assert [e.reason for e in busy.events] == ["ValidationSkipped"]
    message = compact_json(_result("v1", success=False))
    done = _decide(_spec(), status, pod=ValidatorState("p1", "v1", "Succeeded", message=message))
    assert done.active is None and done.recorded is not None
    assert done.recorded.run_id == "v1" and not done.recorded.success and done.recorded.error is None
    crashed = _decide(
        _spec(), status, pod=ValidatorState("p1", "v1", "Failed", message="OOMKilled (exit code 137)")
    )
    assert crashed.recorded is not None and crashed.recorded.error == "OOMKilled (exit code 137)"
    assert [e.reason for e in crashed.events] == ["ValidationError"]
    garbage = _decide(_spec(), status, pod=ValidatorState("p1", "v1", "Succeeded", message="{not json"))
    assert garbage.recorded is not None and "unreadable" in (garbage.recorded.error or "")


def test_a_hanging_validation_times_out_and_its_pod_is_deleted() -> None:
    spec = _spec(validator={"timeoutSeconds": 60})
    active = ActiveValidation(run_id="v1", pod="p1", trigger="Manual", start_time=NOW - timedelta(seconds=61))
    status = DataQualitySuiteStatus(conditions=[], active=active)
    d = _decide(spec, status, pod=ValidatorState("p1", "v1", "Running"))
    assert d.recorded is not None and "timed out" in (d.recorded.error or "")
    assert d.delete_pods == ["p1"] and d.active is None


def test_status_records_results_history_and_quality_condition() -> None:
    spec = _spec()
    status = suite_status(None, spec, generation=1, now=NOW)
    quality = next(c for c in status.conditions if c.type == ConditionType.QUALITY_PASSED)
    assert quality.status == ConditionStatus.UNKNOWN
    active = ActiveValidation(run_id="v1", pod="p1", trigger="Manual", start_time=NOW)
    status = status.model_copy(update={"active": active})
    failing = _result(
        "v1",
        success=False,
        failedExpectations=[
            FailedExpectation(type="expect_x", column="id", unexpectedSample=["a"]).to_json()
        ],
        metrics={"rowCount": 5, "columns": ["id:long"]},
    )
    d = _decide(spec, status, pod=ValidatorState("p1", "v1", "Succeeded", message=compact_json(failing)))
    after = suite_status(status, spec, generation=1, now=NOW, runs=d)
    quality = next(c for c in after.conditions if c.type == ConditionType.QUALITY_PASSED)
    assert quality.status == ConditionStatus.FALSE and quality.reason == Reason.VALIDATION_FAILED
    assert "expect_x(id)" in quality.message
    assert after.phase == "Failed" and after.active is None
    assert after.last_result is not None and after.last_result.failed_expectations[0].unexpected_sample == [
        "a"
    ]
    assert after.history[0].failed_expectations == [] and after.history[0].metrics is not None
    assert after.history[0].metrics.columns is None  # only the last result keeps the column list
    plan = build_validation_plan(name="s", namespace="n", spec=spec, status=after)
    assert plan.history_metrics()[0].columns == ["id:long"]
    many = after.model_copy(update={"history": [_result(f"v{i}") for i in range(30)]})
    assert len(suite_status(many, spec, generation=1, now=NOW, runs=d).history) == HISTORY_LIMIT


def test_validator_pod_is_non_root_owned_and_labelled() -> None:
    owner = Owner(kind="DataQualitySuite", name="orders-quality", namespace="sales", uid="u-1")
    active = ActiveValidation(
        run_id="v1", pod="orders-quality-v1-validator", trigger="Manual", start_time=NOW
    )
    pod = build_validator_pod(
        owner, active, _spec(validator={"podAnnotations": {"a": "b"}}), image="img", lineage_transport="none"
    )
    assert pod["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert pod["metadata"]["labels"]["dataops.dev/suite"] == "orders-quality"
    assert pod["metadata"]["annotations"] == {"a": "b"}
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["restartPolicy"] == "Never" and pod["spec"]["activeDeadlineSeconds"] == 3600
    state = validator_state_from_pod(
        {
            **pod,
            "status": {
                "phase": "Succeeded",
                "containerStatuses": [
                    {"state": {"terminated": {"exitCode": 0, "message": json.dumps({"x": 1})}}}
                ],
            },
        }
    )
    assert (
        state is not None
        and state.run_id == "v1"
        and state.phase == "Succeeded"
        and state.message == '{"x": 1}'
    )


def test_validator_pod_placement_pull_policy_and_api_server() -> None:
    owner = Owner(kind="DataQualitySuite", name="orders-quality", namespace="sales", uid="u-1")
    active = ActiveValidation(
        run_id="v1", pod="orders-quality-v1-validator", trigger="Manual", start_time=NOW
    )
    validator = {
        "imagePullPolicy": "Never",
        "nodeSelector": {"dataops.dev/node": "real"},
        "tolerations": [
            {"key": "dataops.dev/real-node", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
        ],
    }
    pod = build_validator_pod(
        owner,
        active,
        _spec(validator=validator),
        image="img",
        lineage_transport="none",
        api_server_url="https://10.245.0.1:6443",
    )
    assert pod["spec"]["nodeSelector"] == {"dataops.dev/node": "real"}
    assert pod["spec"]["tolerations"] == validator["tolerations"]
    (container,) = pod["spec"]["containers"]
    assert container["imagePullPolicy"] == "Never" and container["workingDir"] == "/tmp"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert (env["KUBERNETES_SERVICE_HOST"], env["KUBERNETES_SERVICE_PORT"]) == ("10.245.0.1", "6443")
    assert env["HOME"] == "/tmp"
    plain = build_validator_pod(owner, active, _spec(), image="img", lineage_transport="none")
    assert "nodeSelector" not in plain["spec"] and "tolerations" not in plain["spec"]
    assert not {"KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"} & {
        e["name"] for e in plain["spec"]["containers"][0]["env"]
    }


def test_anomaly_checks_without_history_pass_and_say_so() -> None:
    spec = _spec(anomalies=[{"type": "rowCountChange"}, {"type": "schemaDrift"}])
    current = DatasetMetrics(row_count=10, schema_hash="a", columns=["id:long"])
    outcomes = anomaly.evaluate(spec.anomalies, current, [], now=NOW)
    assert [(o.type, o.success) for o in outcomes] == [
        ("anomaly:rowCountChange", True),
        ("anomaly:schemaDrift", True),
    ]
    previous = DatasetMetrics(row_count=10, schema_hash="b", columns=["id:long", "name:string"])
    drift = anomaly.evaluate(spec.anomalies, current, [previous], now=NOW)
    assert drift[0].success and not drift[1].success and "-name:string" in str(drift[1].observed_value)


def test_the_validation_plan_carries_the_namespaces_classified_columns() -> None:
    """A suite is not selected by DataPolicies: the piiColumns of every policy of its namespace go
    into the validation plan (entries that parse; other namespaces' policies do not count)."""
    import json as json_

    from dataops.kube.client import CONFIG_MAP, DATA_QUALITY_SUITE
    from dataops.reconcile.suite import reconcile_suite
    from tests.unit.fake_kube import FakeKube

    kube = FakeKube()

    def policy(namespace: str, name: str, pii: list[dict[str, object]]) -> dict[str, object]:
        return {
            "apiVersion": "dataops.dev/v1alpha1",
            "kind": "DataPolicy",
            "metadata": {"name": name, "namespace": namespace, "uid": f"p-{name}"},
            "spec": {"pipelineSelector": {"matchLabels": {"team": "x"}}, "piiColumns": pii},
        }

    kube.put(policy("sales", "crm", [{"column": "email", "classification": "email", "masking": "redact"}]))
    kube.put(policy("sales", "broken", [{"column": "phone", "classification": "phone"}, {"column": 7}]))
    kube.put(policy("other", "elsewhere", [{"column": "ssn", "classification": "nationalId"}]))
    kube.put(
        {
            "apiVersion": "dataops.dev/v1alpha1",
            "kind": "DataQualitySuite",
            "metadata": {
                "name": "q",
                "namespace": "sales",
                "uid": "u-1",
                "generation": 1,
                "creationTimestamp": "2026-11-25T09:00:00Z",
                "annotations": {"dataops.dev/run-now": "1"},
            },
            "spec": {
                "dataset": {"path": "/data/users"},
                "expectations": [{"type": "expect_column_values_to_not_be_null", "column": "email"}],
            },
        }
    )
    live = kube.get(DATA_QUALITY_SUITE, "sales", "q")
    assert live is not None
    reconcile_suite(kube, live, now=NOW)  # type: ignore[arg-type]
    (config_map,) = [c for c in kube.list(CONFIG_MAP, "sales")]
    plan = json_.loads(next(iter(config_map["data"].values())))
    assert sorted(c["column"] for c in plan["pii_columns"]) == ["email", "phone"]
