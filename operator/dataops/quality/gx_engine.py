"""Great Expectations 1.x as an engine: each expectation validated on a Spark DataFrame batch."""

from __future__ import annotations

import logging
import os
from typing import Any

from pyspark.sql import DataFrame

from dataops.api.v1alpha1.dataqualitysuite import Expectation
from dataops.api.v1alpha1.expectations import NATIVE_ONLY
from dataops.quality.bounds import with_time_bounds
from dataops.quality.map_predicates import NO_SPARK_IN_GX
from dataops.quality.results import ExpectationOutcome
from dataops.quality.value_sets import with_comparable_value_set

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
logging.getLogger("great_expectations").setLevel(logging.WARNING)


def _class_name(expectation_type: str) -> str:
    return "".join(part.capitalize() for part in expectation_type.split("_"))


def _batch(df: DataFrame) -> Any:
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_spark("dataops")
    asset = source.add_dataframe_asset("dataset")
    definition = asset.add_batch_definition_whole_dataframe("whole")
    return definition.get_batch(batch_parameters={"dataframe": df})


def gx_expectation(expectation: Expectation) -> Any:
    import great_expectations as gx

    cls = getattr(gx.expectations, _class_name(str(expectation.type.value)))
    kwargs = expectation.kwargs()
    if expectation.mostly != 1.0:
        kwargs["mostly"] = expectation.mostly
    if expectation.row_condition:
        kwargs["row_condition"] = expectation.row_condition
        kwargs["condition_parser"] = "spark"
    return cls(**kwargs)


def _native(df: DataFrame, expectation: Expectation) -> ExpectationOutcome:
    """An expectation Great Expectations has no class for, by the single-pass engine (a row
    condition filters the rows first, as Great Expectations' own would)."""
    from pyspark.sql import functions as F

    from dataops.quality import single_pass

    if expectation.row_condition:
        df = df.where(F.expr(expectation.row_condition))
        expectation = expectation.model_copy(update={"row_condition": None})
    return single_pass.validate(df, [expectation])[0]


def _exception_text(info: Any) -> str | None:
    """Why Great Expectations could not evaluate an expectation (it then fails it without counts):
    the first exception message, flat or per metric, so the failure says what went wrong."""
    entries = [info] if isinstance(info, dict) and "raised_exception" in info else list((info or {}).values())
    for entry in entries:
        if isinstance(entry, dict) and entry.get("exception_message"):
            return f"error: {str(entry['exception_message']).splitlines()[0][:300]}"
    return None


# Evaluated by the single-pass engine: no Great Expectations class, or none that runs on Spark.
_NATIVE = NATIVE_ONLY | NO_SPARK_IN_GX


def validate(df: DataFrame, expectations: list[Expectation]) -> list[ExpectationOutcome]:
    if any(str(e.type.value) in _NATIVE for e in expectations):
        results: dict[int, ExpectationOutcome] = {}
        rest = [(i, e) for i, e in enumerate(expectations) if str(e.type.value) not in _NATIVE]
        for i, e in enumerate(expectations):
            if str(e.type.value) in _NATIVE:
                results[i] = _native(df, e)
        for (i, _), outcome in zip(rest, validate(df, [e for _, e in rest]) if rest else [], strict=True):
            results[i] = outcome
        return [results[i] for i in range(len(expectations))]
    batch = _batch(df)
    outcomes = []
    for expectation in expectations:
        checked = with_time_bounds(df.schema, with_comparable_value_set(df.schema, expectation))
        result = batch.validate(gx_expectation(checked), result_format="SUMMARY")
        details = result.result or {}
        outcomes.append(
            ExpectationOutcome(
                type=str(expectation.type.value),
                column=expectation.column,
                success=bool(result.success),
                severity=expectation.severity.value,
                observed_value=details.get("observed_value", _exception_text(result.exception_info)),
                element_count=details.get("element_count"),
                unexpected_count=details.get("unexpected_count"),
                unexpected_percent=details.get("unexpected_percent"),
                unexpected_sample=list(details.get("partial_unexpected_list") or [])[:20],
                engine="great_expectations",
            )
        )
    return outcomes
