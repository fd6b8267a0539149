"""Errors of a run, each naming the part of the pipeline that failed."""

from __future__ import annotations


class RunError(Exception):
    """A run failed; ``where`` names the source, step or sink."""

    kind = "run"

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{self.kind} {where!r}: {message}")
        self.where = where
        self.message = message


class SourceError(RunError):
    kind = "source"


class StepError(RunError):
    kind = "step"


class SinkError(RunError):
    kind = "sink"


class SchemaMismatchError(SinkError):
    pass


class QualityGateFailed(RunError):
    kind = "quality gate"
