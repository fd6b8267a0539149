"""Fixtures of the runtime tests (the shared SparkSession is in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataops.lineage.validate import EventValidator
from tests.conftest import ROOT

# The official OpenLineage JSON schemas, copied into the repository (Apache-2.0, LICENSE beside them).
SPEC_DIR = ROOT / "tests" / "data" / "openlineage-spec"


@pytest.fixture(scope="session")
def lineage_validator() -> EventValidator:
    assert SPEC_DIR.is_dir(), f"OpenLineage schemas expected at {SPEC_DIR}"
    return EventValidator.from_spec_dir(SPEC_DIR, ROOT / "docs" / "facets")  # + dataops' own facets


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent.name == "runtime":
            item.add_marker(pytest.mark.spark)
