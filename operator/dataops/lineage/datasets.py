"""OpenLineage dataset identities (namespace + name) for sources, sinks, suites and topics. Pure.

One dataset has one identity wherever it appears, so a table written by one job and read by another
(or validated by a suite) is one node of the lineage graph. The rules follow the OpenLineage naming
conventions (https://openlineage.io/docs/spec/naming):

- local files: namespace ``file``, name the absolute path. ``/data/t``, ``/data/t/``, ``/data//t``,
  ``/data/./t``, ``file:/data/t``, ``file:///data/t`` and ``file://localhost/data/t`` are the same;
  a relative path is made absolute against the working directory.
- object stores: namespace ``scheme://authority`` (scheme lower-cased, ``s3a``/``s3n`` read as
  ``s3``), name the normalised path (segments as :func:`dataops.policy.locations.normalize_location`
  keeps them, no trailing slash).
- Kafka: namespace ``kafka://host:port`` of the *first* bootstrap server (host lower-cased, port
  9092 when none is given, a ``PLAINTEXT://``-style listener prefix dropped), name the topic.
- JDBC: namespace the URL without ``jdbc:`` and without its ``?query``, name the table.
"""

from __future__ import annotations

import os
import posixpath
import re

from dataops.api.v1alpha1.datapipeline import Sink, Source
from dataops.policy.locations import normalize_location

DEFAULT_KAFKA = "kafka"
DEFAULT_KAFKA_PORT = 9092
SCHEME_ALIASES = {"s3a": "s3", "s3n": "s3"}

_URL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://([^/]*)(/.*)?$")
_FILE_URI = re.compile(r"^file:(//[^/]*)?(/.*)?$", re.IGNORECASE)
_LISTENER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*://")


def _normal_path(path: str) -> str:
    """An absolute, slash-normalised path: ``//`` and ``.`` collapse, ``..`` resolves, no trailing ``/``."""
    normal = normalize_location(path).text
    if normal is None:  # climbs above the root: resolve it the way the file system would
        normal = posixpath.normpath(path)
    return normal or "/"


def path_identity(path: str) -> tuple[str, str]:
    """``s3a://bucket/a/b/`` -> (``s3://bucket``, ``/a/b``); a local path or ``file:`` URI ->
    (``file``, absolute normalised path)."""
    text = path.strip()
    file_uri = _FILE_URI.match(text)
    if file_uri:
        authority = (file_uri.group(1) or "")[2:]
        rest = file_uri.group(2) or "/"
        # file://relative/x is not a local absolute path: keep the authority as the first segment.
        local = rest if authority.lower() in ("", "localhost") else f"/{authority}{rest}"
        return "file", _normal_path(local)
    match = _URL.match(text)
    if match:
        scheme, authority, rest = match.groups()
        scheme = SCHEME_ALIASES.get(scheme.lower(), scheme.lower())
        return f"{scheme}://{authority}", _normal_path(rest or "/")
    return "file", _normal_path(os.path.abspath(text))


def kafka_namespace(bootstrap: str | None) -> str:
    """``kafka://host:port`` of the first bootstrap server (host ``kafka`` when none is known)."""
    servers = [s.strip() for s in (bootstrap or "").split(",") if s.strip()] or [DEFAULT_KAFKA]
    first = _LISTENER.sub("", servers[0]).rstrip("/")
    host, _, port = first.rpartition(":") if ":" in first.lstrip("[").split("]")[-1] else (first, "", "")
    return f"kafka://{host.lower()}:{port or DEFAULT_KAFKA_PORT}"


def topic_identity(bootstrap: str | None, topic: str) -> tuple[str, str]:
    return kafka_namespace(bootstrap), topic


def jdbc_identity(url: str, table: str) -> tuple[str, str]:
    without = url[len("jdbc:") :] if url.startswith("jdbc:") else url
    return without.split("?", 1)[0], table


def source_identity(source: Source, *, bootstrap: str | None = None) -> tuple[str, str]:
    """``bootstrap``: the Kafka servers of a topic that names none (the operator's default)."""
    if source.file is not None:
        return path_identity(source.file.path)
    if source.jdbc is not None:
        return jdbc_identity(source.jdbc.url, source.jdbc.table or f"query:{source.name}")
    if source.kafka is not None:
        return topic_identity(source.kafka.bootstrap_servers or bootstrap, source.kafka.topic)
    topics = source.connector.topics if source.connector else []
    return kafka_namespace(bootstrap), ",".join(topics) or source.name


def sink_identity(sink: Sink) -> tuple[str, str]:
    if sink.jdbc is not None:
        return jdbc_identity(sink.jdbc.url, sink.jdbc.table)
    return path_identity(sink.path or "")


FILE_LIKE_SCHEMES = frozenset({"file", "s3", "gs", "hdfs", "abfs", "abfss", "wasb", "wasbs", "oss", "cos"})


def canonical_dataset(namespace: str, name: str) -> tuple[str, str]:
    """The identity of a dataset as any producer may have written it (a receiver's view): file and
    object-store identities are re-normalised as :func:`path_identity` does (``/t/`` and ``/t``,
    ``file:/t`` under namespace ``file``, ``s3a://b`` and ``s3://b`` are one dataset), Kafka
    namespaces as :func:`kafka_namespace` does; any other identity is kept as it is."""
    ns, text = namespace.strip(), name.strip()
    if ns.lower() == "file":
        if _FILE_URI.match(text) or _URL.match(text) or text.startswith("/"):
            return path_identity(text)
        return "file", normalize_location(text).text or text  # relative: nothing to anchor it to
    if ns.lower().startswith("kafka://"):
        return kafka_namespace(ns[len("kafka://") :]), text
    match = _URL.match(ns)
    if match and SCHEME_ALIASES.get(match.group(1).lower(), match.group(1).lower()) in FILE_LIKE_SCHEMES:
        scheme, authority = match.group(1), match.group(2)
        return path_identity(f"{scheme}://{authority}/{text.lstrip('/')}")
    return ns, text
