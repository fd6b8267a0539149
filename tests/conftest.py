"""Shared test fixtures."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture
def example_pipeline() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((EXAMPLES / "03-orders-pipeline.yaml").read_text())
    return copy.deepcopy(doc)


@pytest.fixture
def example_suite() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((EXAMPLES / "01-quality-suite.yaml").read_text())
    return copy.deepcopy(doc)


@pytest.fixture
def example_policy() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((EXAMPLES / "02-policy.yaml").read_text())
    return copy.deepcopy(doc)
