"""Delta rebuilds a table's state (files, ``txnAppId`` versions) in one wave of the session's task
slots, not in its default 50 partitions: an idempotent append (a streaming micro-batch's) on 2 cores
ran two jobs of 51-52 tasks, 2.5 s of 3 s."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import SparkSession

from dataops.plan.job_conf import DELTA_SNAPSHOT_PARTITIONS
from dataops.runtime.session import local_session


def _widest_stage_of(spark: SparkSession, group: str) -> int:
    tracker = spark.sparkContext.statusTracker()
    widths = [0]
    for job in tracker.getJobIdsForGroup(group):
        info = tracker.getJobInfo(job)
        for stage in info.stageIds if info else []:
            stage_info = tracker.getStageInfo(stage)
            if stage_info is not None:
                widths.append(stage_info.numTasks)
    return max(widths)


def test_idempotent_delta_appends_rebuild_state_in_the_sessions_task_slots(
    spark: SparkSession, tmp_path: Path
) -> None:
    slots = spark.sparkContext.defaultParallelism
    assert spark.conf.get(DELTA_SNAPSHOT_PARTITIONS) == str(slots)
    rows = spark.range(700).selectExpr("id", "id * 2.0 AS doubled")
    table = str(tmp_path / "t")
    for version in range(3):
        group = f"append-{tmp_path.name}-{version}"
        spark.sparkContext.setJobGroup(group, "idempotent append")
        try:
            rows.write.format("delta").option("txnAppId", "app").option("txnVersion", version).mode(
                "append"
            ).save(table)
        finally:
            spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
        # Each write reads the table's state to look up txnVersion: no stage wider than the slots
        # (plus the log files' own split), where Delta's default made 50 tasks.
        assert _widest_stage_of(spark, group) <= slots + 2, version
    rows.write.format("delta").option("txnAppId", "app").option("txnVersion", 1).mode("append").save(table)
    assert spark.read.format("delta").load(table).count() == 3 * 700  # a replayed version is skipped


def test_a_value_the_caller_passes_wins(spark: SparkSession) -> None:
    before = spark.conf.get(DELTA_SNAPSHOT_PARTITIONS)
    try:
        session = local_session(master="local[2]", conf={DELTA_SNAPSHOT_PARTITIONS: "7"})
        assert session.conf.get(DELTA_SNAPSHOT_PARTITIONS) == "7"
    finally:
        spark.conf.set(DELTA_SNAPSHOT_PARTITIONS, before)
