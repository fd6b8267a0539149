"""Topics, connectors and continuous runs of streaming pipelines. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dataops.api.v1alpha1.datapipeline import (
    ConnectorSource,
    ConnectorStatus,
    DataPipelineSpec,
    DataPipelineStatus,
    FinishedDriverLimits,
    RunOutcome,
    RunRecord,
    RunTrigger,
    TaskStatus,
)
from dataops.plan.connectors import ObservedConnector, desired_config, plan_connector
from dataops.plan.scheduling import DriverState, decide
from dataops.plan.topics import ExistingTopic, desired_topics, plan_topics

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _streaming(**extra: Any) -> DataPipelineSpec:
    return DataPipelineSpec.model_validate(
        {
            "mode": "Streaming",
            "sources": [
                {
                    "name": "orders",
                    "kafka": {
                        "topic": "orders",
                        "partitions": 3,
                        "config": {"retention.ms": "86400000"},
                        "schema": [{"name": "id", "type": "long"}],
                    },
                }
            ],
            "sinks": [{"name": "lake", "from": "orders", "format": "delta", "path": "/lake/orders"}],
            **extra,
        }
    )


def test_topics_are_created_raised_and_never_lowered() -> None:
    spec = _streaming()
    desired = desired_topics(spec)
    assert [(t.name, t.partitions, t.managed) for t in desired] == [
        ("orders", 3, True),
        ("orders.dlq", 1, True),
    ]
    fresh = plan_topics(desired, {}, [])
    assert [t.name for t in fresh.create] == ["orders", "orders.dlq"]
    assert all(s.owned and s.ready for s in fresh.statuses)

    existing = {
        "orders": ExistingTopic("orders", 2, {"retention.ms": "1000"}),
        "orders.dlq": ExistingTopic("orders.dlq", 1),
    }
    raised = plan_topics(desired, existing, fresh.statuses)
    assert raised.create == [] and raised.add_partitions == {"orders": 3}
    assert raised.alter_config == {"orders": {"retention.ms": "86400000"}}
    assert raised.statuses[0].owned  # still ours: we created it

    existing["orders"] = ExistingTopic("orders", 6, {"retention.ms": "86400000"})
    lowered = plan_topics(desired, existing, fresh.statuses)
    assert not lowered.changes
    assert (
        not lowered.statuses[0].ready and "cannot lower partitions from 6 to 3" in lowered.statuses[0].message
    )

    foreign = plan_topics(desired, {"orders": ExistingTopic("orders", 3, {"retention.ms": "86400000"})}, [])
    assert not foreign.statuses[0].owned  # existed before: never deleted by this pipeline


def test_unmanaged_topic_is_only_checked() -> None:
    spec = _streaming()
    spec.sources[0].kafka.managed = False  # type: ignore[union-attr]
    plan = plan_topics(desired_topics(spec)[:1], {}, [])
    assert plan.create == [] and not plan.statuses[0].ready and "does not exist" in plan.statuses[0].message


def _connector(**extra: Any) -> ConnectorSource:
    return ConnectorSource.model_validate(
        {
            "connectorClass": "io.debezium.connector.postgresql.PostgresConnector",
            "config": {"database.hostname": "db"},
            "restart": {"maxRestarts": 2, "backoffSeconds": 10, "maxBackoffSeconds": 60},
            **extra,
        }
    )


def _plan(
    source: ConnectorSource,
    observed: ObservedConnector | None,
    previous: ConnectorStatus | None = None,
    *,
    restart: bool = False,
    now: datetime = NOW,
):  # type: ignore[no-untyped-def]
    desired = desired_config(source, {"database.password": "s3cret"})
    return plan_connector(
        name="ns.p.cdc",
        source_name="cdc",
        source=source,
        desired=desired,
        observed=observed,
        previous=previous,
        restart_requested=restart,
        now=now,
    )


def test_connector_created_updated_paused_and_resumed_without_leaking_secrets() -> None:
    source = _connector()
    created = _plan(source, None)
    assert created.put_config and not created.pause and created.status is not None
    desired = desired_config(source, {"database.password": "s3cret"})
    # Connect returns the stored config with the connector's name added.
    stored = {**desired, "name": "ns.p.cdc"}
    running = ObservedConnector(config=stored, state="RUNNING", tasks=[TaskStatus(id=0, state="RUNNING")])
    steady = _plan(source, running)
    assert not (steady.put_config or steady.pause or steady.resume or steady.restart) and steady.events == []
    changed = _plan(
        source, ObservedConnector(config={**desired, "database.password": "old"}, state="RUNNING")
    )
    assert changed.put_config
    assert "database.password" in changed.events[0].message and "s3cret" not in changed.events[0].message
    paused = _plan(_connector(paused=True), running)
    assert paused.pause
    resumed = _plan(
        source, ObservedConnector(config=desired, state="PAUSED", tasks=[TaskStatus(id=0, state="PAUSED")])
    )
    assert resumed.resume
    everything = repr([created, steady, changed, paused, resumed])
    assert "s3cret" not in everything.replace("'database.password': 's3cret'", "")  # only inside desired


def test_failed_tasks_restart_with_backoff_then_give_up_until_requested() -> None:
    source = _connector()
    desired = desired_config(source, {"database.password": "s3cret"})
    failed = ObservedConnector(
        config=desired,
        state="RUNNING",
        tasks=[
            TaskStatus(
                id=0, state="FAILED", trace="org.postgresql.util.PSQLException: connection refused\n\tat x"
            )
        ],
    )
    first = _plan(source, failed)
    assert first.restart and first.status is not None and first.status.restarts == 1
    assert "task(s) 0 failed: org.postgresql.util.PSQLException: connection refused" in first.status.message
    assert first.status.tasks[0].trace == "org.postgresql.util.PSQLException: connection refused"
    too_soon = _plan(source, failed, first.status, now=NOW + timedelta(seconds=5))
    assert not too_soon.restart and NOW + timedelta(seconds=10) in too_soon.wake_at
    second = _plan(source, failed, first.status, now=NOW + timedelta(seconds=11))
    assert second.restart and second.status is not None and second.status.restarts == 2
    exhausted = _plan(source, failed, second.status, now=NOW + timedelta(hours=1))
    assert (
        not exhausted.restart
        and exhausted.status is not None
        and "gave up after 2" in exhausted.status.message
    )
    requested = _plan(source, failed, exhausted.status, restart=True, now=NOW + timedelta(hours=1))
    assert requested.restart


def _decide(spec: DataPipelineSpec, status: DataPipelineStatus | None, key: str = "plan-1", **kw: Any):  # type: ignore[no-untyped-def]
    args: dict[str, Any] = {
        "name": "p",
        "uid": "u",
        "spec": spec,
        "status": status,
        "drivers": {},
        "annotations": {},
        "created": NOW - timedelta(hours=1),
        "now": NOW,
        "can_start": True,
        "continuous_key": key,
    }
    args.update(kw)
    return decide(**args)


def test_streaming_pipeline_keeps_one_run_of_its_current_plan() -> None:
    spec = _streaming()
    first = _decide(spec, None)
    (run,) = first.launch
    assert run.trigger.value == "Continuous"
    status = DataPipelineStatus(conditions=[], active_runs=first.active)
    again = _decide(
        spec, status, drivers={(run.id, 1): DriverState(run.driver_pod or "", run.id, 1, "Running")}
    )
    assert again.launch == [] and [a.id for a in again.active] == [run.id]
    replaced = _decide(
        spec,
        status,
        key="plan-2",
        drivers={(run.id, 1): DriverState(run.driver_pod or "", run.id, 1, "Running")},
    )
    assert [r.outcome for r in replaced.finished] == [RunOutcome.CANCELLED]
    # Stop first, then start: the new job waits until the old driver is gone (shared checkpoint).
    assert replaced.delete == [run.driver_pod] and replaced.launch == []
    replaced_status = DataPipelineStatus(conditions=[], history=replaced.finished)
    terminating = DriverState(run.driver_pod or "", run.id, 1, "Failed", terminating=True)
    assert _decide(spec, replaced_status, key="plan-2", drivers={(run.id, 1): terminating}).launch == []
    (successor,) = _decide(spec, replaced_status, key="plan-2").launch
    assert successor.id != run.id and successor.plan_key == "plan-2/"
    suspended = _decide(
        spec.model_copy(update={"suspend": True}),
        status,
        drivers={(run.id, 1): DriverState(run.driver_pod or "", run.id, 1, "Running")},
    )
    assert suspended.launch == [] and suspended.delete == [run.driver_pod]
    failed = DataPipelineStatus(
        conditions=[], history=[run.model_copy(update={"outcome": RunOutcome.FAILED})]
    )
    assert _decide(spec, failed).launch == []  # stays failed until the plan changes or run-now
    assert len(_decide(spec, failed, annotations={"dataops.dev/run-now": "x"}).launch) == 1
    assert _decide(spec, None, can_start=False).launch == []


def test_driver_progress_annotation_is_parsed() -> None:
    from dataops.plan.scheduling import driver_state_from_pod

    pod = {
        "metadata": {
            "name": "d",
            "labels": {"dataops.dev/run-id": "c1", "dataops.dev/attempt": "1"},
            "annotations": {"dataops.dev/streaming-progress": '{"batchId": 4, "consumerLag": 10}'},
        },
        "status": {"phase": "Running"},
    }
    state = driver_state_from_pod(pod)
    assert state is not None and state.progress == {"batchId": 4, "consumerLag": 10}
    pod["metadata"]["annotations"] = {"dataops.dev/streaming-progress": "{broken"}  # type: ignore[index]
    state = driver_state_from_pod(pod)
    assert state is not None and state.progress is None


def test_strimzi_objects_reference_secrets_instead_of_copying_them() -> None:
    from dataops.plan.children import Owner
    from dataops.plan.strimzi import build_kafka_connector, build_kafka_topic, connector_status

    owner = Owner(kind="DataPipeline", name="orders", namespace="sales", uid="u-1")
    (topic, _dlq) = desired_topics(_streaming())
    kt = build_kafka_topic(owner, topic, "kafka")
    assert kt["kind"] == "KafkaTopic" and kt["metadata"]["labels"]["strimzi.io/cluster"] == "kafka"
    assert kt["spec"] == {
        "topicName": "orders",
        "partitions": 3,
        "replicas": 1,
        "config": {"retention.ms": "86400000"},
    }
    assert kt["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    source = _connector(
        paused=True,
        configFromSecrets=[
            {"configKey": "database.password", "secretKeyRef": {"name": "pg", "key": "password"}}
        ],
    )
    kc = build_kafka_connector(owner, "sales.orders.cdc", "cdc", source, "connect")
    assert kc["metadata"]["name"] == "sales-orders-cdc" and kc["spec"]["state"] == "paused"
    assert kc["spec"]["config"]["database.password"] == "${secrets:sales/pg:password}"
    assert kc["spec"]["autoRestart"] == {"enabled": True, "maxRestarts": 2}
    live = {
        **kc,
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "connectorStatus": {
                "connector": {"state": "RUNNING"},
                "tasks": [{"id": 0, "state": "FAILED", "trace": "boom"}],
            },
            "autoRestart": {"count": 3},
        },
    }
    status = connector_status(live, "sales.orders.cdc", "cdc")
    assert status.state == "RUNNING" and status.tasks[0].state == "FAILED" and status.restarts == 3


def _settle(spec: DataPipelineSpec, status: DataPipelineStatus | None, **kw: Any) -> DataPipelineStatus:
    """One reconcile: decide and record the decision as the status would."""
    from dataops.status.pipeline import _run_fields

    before = status or DataPipelineStatus(conditions=[])
    decision = _decide(spec, status, **kw)
    return before.model_copy(update=_run_fields(before, decision))


def test_a_streaming_job_comes_back_after_suspend_and_resume() -> None:
    """Issue 11 defect 2: the cancelled run's id used to block every later start of the same plan."""
    spec = _streaming()
    running = _settle(spec, None)
    (run,) = running.active_runs
    suspended = _settle(spec.model_copy(update={"suspend": True}), running)
    assert suspended.active_runs == [] and suspended.history[-1].outcome == RunOutcome.CANCELLED
    resumed = _decide(spec, suspended)
    assert len(resumed.launch) == 1 and resumed.launch[0].id != run.id


def test_a_reverted_spec_edit_ends_with_one_job_of_the_original_plan() -> None:
    spec = _streaming()
    first = _settle(spec, None, key="plan-A")
    (a_run,) = first.active_runs
    alive = {(a_run.id, 1): DriverState("a", a_run.id, 1, "Running")}
    edited = _settle(spec, first, key="plan-B", drivers=alive)
    assert edited.active_runs == []  # A stopped; B starts once A's driver is gone
    edited = _settle(spec, edited, key="plan-B")
    (b_run,) = edited.active_runs
    reverted = _settle(
        spec, edited, key="plan-A", drivers={(b_run.id, 1): DriverState("b", b_run.id, 1, "Running")}
    )
    assert reverted.active_runs == []
    back = _decide(spec, reverted, key="plan-A")
    (a_again,) = back.launch
    ids = {r.id for r in reverted.history}
    assert a_again.plan_key == "plan-A/" and a_again.id not in ids


def test_reusing_an_old_run_now_token_starts_a_new_run() -> None:
    """Issue 11 defect 5: token A, then B, then A again re-applied onto A's finished driver."""
    spec = DataPipelineSpec.model_validate(
        {
            "sources": [{"name": "s", "file": {"path": "/in", "format": "parquet"}}],
            "sinks": [{"name": "k", "from": "s", "format": "parquet", "path": "/out"}],
        }
    )
    status: DataPipelineStatus | None = None
    seen: list[str] = []
    for token in ["A", "B", "A", "A", "B"]:
        decision = _decide(spec, status, annotations={"dataops.dev/run-now": token})
        before = status or DataPipelineStatus(conditions=[])
        from dataops.status.pipeline import _run_fields

        status = before.model_copy(update=_run_fields(before, decision))
        if not decision.launch:
            continue
        (run,) = decision.launch
        assert run.id not in seen
        seen.append(run.id)
        # the run finishes before the next token
        drivers = {(run.id, 1): DriverState(run.driver_pod or "", run.id, 1, "Succeeded", finish_time=NOW)}
        decision = _decide(spec, status, drivers=drivers, annotations={"dataops.dev/run-now": token})
        status = status.model_copy(update=_run_fields(status, decision))
    assert len(seen) == 4  # A, B, A, B: the repeated A in a row is the same trigger


def test_finished_drivers_beyond_the_limits_are_retired_newest_kept() -> None:
    spec = _streaming().model_copy(update={"finished_drivers": FinishedDriverLimits(succeeded=1, failed=2)})
    drivers = {
        (f"r{i}", 1): DriverState(
            f"p-r{i}-1-driver", f"r{i}", 1, "Failed" if i % 2 else "Succeeded", finish_time=NOW + timedelta(i)
        )
        for i in range(8)
    }
    drivers[("live", 1)] = DriverState("p-live-1-driver", "live", 1, "Running")
    active = RunRecord(id="r7", trigger=RunTrigger.CONTINUOUS, outcome=RunOutcome.RUNNING, plan_key="x")
    status = DataPipelineStatus(conditions=[], active_runs=[active])
    decision = _decide(spec.model_copy(update={"suspend": True}), status, drivers=drivers)
    retired = sorted(s.run_id for s in decision.retire)
    # r7 was being recorded (kept); failed kept: r5, r3; succeeded kept: r6
    assert retired == ["r0", "r1", "r2", "r4"]


def test_lost_offsets_fail_the_job_unless_the_spec_says_continue() -> None:
    """Issue 11 defect 7: failOnDataLoss=false skipped deleted offsets silently, always."""
    from dataops.api.v1alpha1.datapipeline import StreamingSpec
    from dataops.runtime.streaming import kafka_reader_options

    kafka = _streaming().sources[0].kafka
    assert kafka is not None
    default = kafka_reader_options(StreamingSpec(), kafka, "k:9092")
    assert default["failOnDataLoss"] == "true" and "maxOffsetsPerTrigger" not in default
    opted = StreamingSpec.model_validate({"onDataLoss": "Continue", "maxOffsetsPerTrigger": 500})
    options = kafka_reader_options(opted, kafka, "k:9092")
    assert options["failOnDataLoss"] == "false" and options["maxOffsetsPerTrigger"] == "500"
