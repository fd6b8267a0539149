"""Quality gates inside a pipeline run: validate a dataset with a DataQualitySuite before sinks publish.

The run stages each sink's output first and the gates check the staged data (write-audit-publish,
see ``dataops.runtime.publish``). A failed error-severity expectation of a ``block`` gate stops
the run before anything is published, with the failed expectations in the error; ``warn`` gates
and warn-severity expectations only add warnings to the run summary.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame

from dataops.api.v1alpha1.datapipeline import GateAction, QualityGate
from dataops.api.v1alpha1.dataqualitysuite import DataQualitySuiteSpec, Engine, argument_problems
from dataops.quality import gx_engine, single_pass
from dataops.quality.results import ExpectationOutcome, SuiteOutcome, protect_outcome
from dataops.runtime.errors import QualityGateFailed


class SuiteArgumentError(ValueError):
    """An expectation's free-form argument is wrong (a suite stored before the admission policy that
    checks them, or read from a file): nothing is validated."""


def suite_argument_problems(suite: DataQualitySuiteSpec) -> list[str]:
    return [
        f"expectations[{index}].{problem}"
        for index, expectation in enumerate(suite.expectations)
        for problem in argument_problems(expectation)
    ]


def validate_suite(df: DataFrame, suite: DataQualitySuiteSpec) -> SuiteOutcome:
    problems = suite_argument_problems(suite)
    if problems:
        raise SuiteArgumentError("; ".join(problems))
    if suite.engine == Engine.GREAT_EXPECTATIONS:
        return SuiteOutcome(gx_engine.validate(df, suite.expectations))
    return SuiteOutcome(single_pass.validate(df, suite.expectations))


def describe(outcome: ExpectationOutcome) -> str:
    target = f"({outcome.column})" if outcome.column else ""
    if outcome.unexpected_count is not None:
        sample = ", ".join(repr(v) for v in outcome.unexpected_sample[:5])
        return f"{outcome.type}{target}: {outcome.unexpected_count} unexpected, e.g. {sample}"
    return f"{outcome.type}{target}: observed {outcome.observed_value!r}"


class SuiteGateRunner:
    """The runtime's QualityGateRunner, backed by the suites the pipeline references."""

    def __init__(self, suites: dict[str, DataQualitySuiteSpec]) -> None:
        self.suites = suites
        self.outcomes: dict[str, SuiteOutcome] = {}
        self._last: SuiteOutcome | None = None

    def assertions(self) -> list[tuple[str, bool, str | None, str]]:
        """The last gate's expectations as OpenLineage assertions (type, success, column, severity)."""
        if self._last is None:
            return []
        return [(o.type, o.success, o.column, o.severity) for o in self._last.results]

    def __call__(
        self, gate: QualityGate, dataset: str, df: DataFrame, *, protected: Mapping[str, str] | None = None
    ) -> list[str]:
        """``protected``: columns (-> classification) whose values never leave the run: samples and
        observed values of their checks are replaced before anything reports them."""
        name = gate.suite_ref.name
        suite = self.suites.get(name)
        where = f"{name} on {dataset}"
        if suite is None:
            raise QualityGateFailed(where, f"DataQualitySuite {name!r} is not available to this run")
        try:
            outcome = validate_suite(df, suite)
        except SuiteArgumentError as exc:
            raise QualityGateFailed(where, str(exc)) from exc
        if protected:
            outcome = SuiteOutcome([protect_outcome(o, protected) for o in outcome.results])
        self.outcomes[where] = outcome
        self._last = outcome
        blocking = [o for o in outcome.failed if o.severity == "error"]
        if blocking and gate.action == GateAction.BLOCK:
            raise QualityGateFailed(
                where,
                f"{len(blocking)} expectation(s) failed, nothing was written: "
                + "; ".join(describe(o) for o in blocking),
            )
        return [f"quality gate {where}: {describe(o)}" for o in outcome.failed]
