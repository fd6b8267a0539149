"""A local SparkSession (real PySpark, Delta Lake, JDBC drivers) shared by the runtime tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from dataops.lineage.validate import EventValidator
from dataops.runtime.session import local_session
from tests.conftest import ROOT

SPEC_DIR = ROOT.parent / "shared" / "openlineage-spec"


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = local_session(master="local[2]", app_name="dataops-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def lineage_validator() -> EventValidator:
    assert SPEC_DIR.is_dir(), f"OpenLineage schemas expected at {SPEC_DIR}"
    return EventValidator.from_spec_dir(SPEC_DIR)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent.name == "runtime":
            item.add_marker(pytest.mark.spark)
