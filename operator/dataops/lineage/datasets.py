"""OpenLineage dataset naming (namespace + name) for sources and sinks. Pure."""

from __future__ import annotations

import os
import re

from dataops.api.v1alpha1.datapipeline import Sink, Source

DEFAULT_KAFKA = "kafka"


def path_identity(path: str) -> tuple[str, str]:
    """``s3a://bucket/a/b`` -> (``s3a://bucket``, ``/a/b``); a local path -> (``file``, absolute path)."""
    match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://([^/]*)(/.*)?$", path)
    if match:
        scheme, authority, rest = match.groups()
        if scheme == "file":
            return "file", rest or "/"
        return f"{scheme}://{authority}", rest or "/"
    return "file", os.path.abspath(path)


def jdbc_identity(url: str, table: str) -> tuple[str, str]:
    without = url[len("jdbc:") :] if url.startswith("jdbc:") else url
    return without.split("?", 1)[0], table


def source_identity(source: Source) -> tuple[str, str]:
    if source.file is not None:
        return path_identity(source.file.path)
    if source.jdbc is not None:
        return jdbc_identity(source.jdbc.url, source.jdbc.table or f"query:{source.name}")
    if source.kafka is not None:
        return f"kafka://{source.kafka.bootstrap_servers or DEFAULT_KAFKA}", source.kafka.topic
    topics = source.connector.topics if source.connector else []
    return "kafka://connect", ",".join(topics) or source.name


def sink_identity(sink: Sink) -> tuple[str, str]:
    if sink.jdbc is not None:
        return jdbc_identity(sink.jdbc.url, sink.jdbc.table)
    return path_identity(sink.path or "")
