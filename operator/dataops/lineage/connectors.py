"""Kafka Connect connectors in the lineage graph, emitted by the operator when it puts a config.

A connector is a job ``<namespace>.<pipeline>.<source>`` (its Connect name) in
``dataops://<namespace>``, whose outputs are its topics, with the identities the streaming job
reads them under (``kafka://<first bootstrap server>``, the topic). Each config the operator puts is
one run (its id derived from the config), START while the connector runs it; its parent is the
pipeline's job, with a run id derived from the DataPipeline object's uid.
"""

from __future__ import annotations

import hashlib
import json
import logging

from openlineage.client.event_v2 import RunState

from dataops.lineage.datasets import topic_identity
from dataops.lineage.events import (
    DatasetInfo,
    LineageEmitter,
    ParentRun,
    job_namespace,
    make_transport,
    run_uuid,
)

log = logging.getLogger(__name__)


def pipeline_object_run(namespace: str, pipeline: str, uid: str) -> ParentRun:
    """The pipeline object as a parent run: what its connectors belong to."""
    return ParentRun(job_namespace(namespace), pipeline, run_uuid(pipeline, f"object:{uid}"))


def connector_emitter(
    transport: str, *, namespace: str, pipeline: str, uid: str, connector: str, connector_class: str
) -> LineageEmitter:
    return LineageEmitter(
        make_transport(transport),
        job_namespace=job_namespace(namespace),
        job_name=connector,
        job_type=f"CONNECTOR {connector_class}"[:256],
        processing_type="STREAMING",
        integration="KAFKA_CONNECT",
        parent=pipeline_object_run(namespace, pipeline, uid),
    )


def config_run_id(config: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def emit_connector_run(
    emitter: LineageEmitter, *, config: dict[str, str], topics: list[str], bootstrap: str | None
) -> bool:
    """START of the connector's run with ``config``; a transport failure is logged, never raised (a
    lineage server that is down must not stop the reconcile). True when the event was sent."""
    outputs = [DatasetInfo(*topic_identity(bootstrap, topic)) for topic in topics]
    failed_before = len(emitter.send_errors)
    emitter.emit(RunState.START, run_id=config_run_id(config), inputs=[], outputs=outputs)
    if len(emitter.send_errors) > failed_before:
        log.warning("lineage of connector %s not sent: %s", emitter.job_name, emitter.send_errors[-1])
        return False
    return True
