"""Quarantine over time: a failed gate marks what it kept, later gated runs list it while it is
within quarantineRetentionDays and delete it after, and staging a killed run left behind is
deleted once it is a day old (younger may belong to a run still going)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from dataops.runtime.quarantine import MARKER
from tests.runtime.test_write_audit_publish import _input, _run

DAY = 86_400


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


@pytest.mark.parametrize("layout", ["beside-the-sink", "staging-path"])
def test_quarantine_is_listed_then_expires(spark: SparkSession, tmp_path: Path, layout: str) -> None:
    root = tmp_path / "staging" if layout == "staging-path" else None
    bad, good = _input(tmp_path, [5, 500]), _input(tmp_path, [5, 50])

    failed = _run(spark, tmp_path, bad, run_id="r1", staging_path=root)
    assert failed.outcome == "Failed" and failed.quarantine
    kept = Path(failed.quarantine["lake"])
    assert (kept / MARKER).is_file()
    assert sorted(r["amount"] for r in spark.read.parquet(str(kept)).collect()) == [5, 500]  # marker skipped

    abandoned = (root / "r0" / "lake") if root else (tmp_path / "lake.__staging" / "r0")
    young = (root / "r00" / "lake") if root else (tmp_path / "lake.__staging" / "r00")
    for folder in (abandoned, young):
        folder.mkdir(parents=True)
        (folder / "part-0.parquet").write_text("half-written")
    _age(abandoned, 2 * DAY)

    passed = _run(spark, tmp_path, good, run_id="r2", staging_path=root)
    assert passed.outcome == "Succeeded", passed.error
    assert [(q["sink"], q["path"]) for q in passed.quarantined] == [("lake", str(kept))]
    assert not abandoned.exists() and young.exists() and kept.exists()
    assert "kept quarantine: lake -> " in passed.render_table()

    _age(kept / MARKER, 8 * DAY)  # past the default 7 days
    third = _run(spark, tmp_path, good, run_id="r3", staging_path=root)
    assert third.outcome == "Succeeded", third.error
    assert third.quarantined == []
    assert not kept.exists() and young.exists()
    assert (tmp_path / "lake").exists()  # the sink itself is never touched
