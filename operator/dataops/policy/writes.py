"""Every place a pipeline's manifest tells it to write data, with the field that names it. Pure.

A DataPolicy's ``allowedSinks`` applies to all of them, not only to ``spec.sinks``: raw records of a
source (``quarantinePath``), model versions (``model.path``), staged output (``stagingPath``) and
streaming state (``checkpointLocation``) are data written outside the sinks. The order here (the
order of the spec: sources, transforms, staging, sinks, streaming) is the order violations are
listed in, by the operator and by the API server (:mod:`dataops.policy.admission` builds the same
list in CEL).

An empty ``stagingPath`` or ``checkpointLocation`` is treated as unset, as the runtime treats it.
"""

from __future__ import annotations

from dataclasses import dataclass

from dataops.api.v1alpha1.datapipeline import DataPipelineSpec, Sink


@dataclass(frozen=True)
class WriteLocation:
    field: str
    """The field that sets it, e.g. ``spec.transforms[2].model.path``; the admission policy names the
    same one."""
    writer: str
    """What writes there, for messages: ``sink 'out'``; other writers name their field too
    (``model step 'train' (spec.transforms[2].model.path)``)."""
    location: str


def sink_location(sink: Sink) -> str:
    """A sink's location as policies match it: its path, or ``url#table`` for a JDBC sink."""
    if sink.jdbc is not None:
        return f"{sink.jdbc.url}#{sink.jdbc.table}"
    return sink.path or ""


def sink_field(index: int, sink: Sink) -> str:
    return f"spec.sinks[{index}].{'jdbc' if sink.jdbc is not None else 'path'}"


def write_locations(pipeline: DataPipelineSpec) -> list[WriteLocation]:
    """The locations in spec order."""
    found: list[WriteLocation] = []
    for index, source in enumerate(pipeline.sources):
        if source.file is not None and source.file.quarantine_path is not None:
            found.append(
                WriteLocation(
                    f"spec.sources[{index}].file.quarantinePath",
                    f"source {source.name!r} quarantine (spec.sources[{index}].file.quarantinePath)",
                    source.file.quarantine_path,
                )
            )
    for index, step in enumerate(pipeline.transforms):
        if step.model is not None:
            found.append(
                WriteLocation(
                    f"spec.transforms[{index}].model.path",
                    f"model step {step.name!r} (spec.transforms[{index}].model.path)",
                    step.model.path,
                )
            )
    if pipeline.staging_path:
        found.append(WriteLocation("spec.stagingPath", "staging (spec.stagingPath)", pipeline.staging_path))
    for index, sink in enumerate(pipeline.sinks):
        found.append(WriteLocation(sink_field(index, sink), f"sink {sink.name!r}", sink_location(sink)))
    if pipeline.streaming is not None and pipeline.streaming.checkpoint_location:
        found.append(
            WriteLocation(
                "spec.streaming.checkpointLocation",
                "streaming checkpoint (spec.streaming.checkpointLocation)",
                pipeline.streaming.checkpoint_location,
            )
        )
    return found
