"""A small OpenLineage receiver (``dataops lineage serve``): validates every event, builds the graph.

``POST /api/v1/lineage`` (the path OpenLineage's HTTP transport and Marquez use) takes one run
event. It is checked against the OpenLineage JSON schemas shipped with the package (the core
schema and every facet's schema, plus dataops' own facets); an invalid event is answered with 400
and the list of problems and is not stored. A valid one is answered with 201, added to the graph
and, with a store file, appended to it (JSON lines; replayed on start).

``GET /api/v1/graph`` returns the graph (nodes, edges, runs), ``GET /api/v1/graph/edges`` the edges
as text lines, ``GET /api/v1/events`` the accepted events, ``GET /healthz`` ``ok``.
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from dataops.lineage.graph import LineageGraph
from dataops.lineage.validate import EventValidator

LINEAGE_PATH = "/api/v1/lineage"
MAX_EVENT_BYTES = 16 * 1024 * 1024


class LineageStore:
    """The accepted events and their graph; thread-safe."""

    def __init__(self, validator: EventValidator, store: Path | None = None) -> None:
        self.validator = validator
        self.store = store
        self.events: list[dict[str, Any]] = []
        self.graph = LineageGraph()
        self.lock = threading.Lock()
        if store is not None and store.exists():
            for number, line in enumerate(store.read_text().splitlines(), 1):
                if not line.strip():
                    continue
                problems = self.accept(_parse(line.encode()), persist=False)
                if problems:
                    raise ValueError(f"{store}:{number}: stored event is invalid: {problems[0]}")

    def accept(self, event: Any, *, persist: bool = True) -> list[str]:
        """The event's problems (then nothing is stored), or [] when it was added."""
        if not isinstance(event, dict):
            return [f"a run event is a JSON object, not {type(event).__name__}"]
        problems = self.validator.errors(event)
        if "eventType" not in event and not problems:
            problems = ["eventType: a run event needs one (dataset and job events are not accepted)"]
        if problems:
            return problems
        with self.lock:
            self.graph.add(event)
            self.events.append(event)
            if persist and self.store is not None:
                with self.store.open("a") as out:
                    out.write(json.dumps(event, separators=(",", ":")) + "\n")
        return []

    def graph_json(self) -> dict[str, Any]:
        with self.lock:
            return self.graph.to_json()

    def edge_lines(self) -> list[str]:
        with self.lock:
            return self.graph.edge_lines()


class _NotJson(ValueError):
    pass


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _NotJson(f"body is not JSON: {exc}") from exc


def _handler(store: LineageStore) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "dataops-lineage"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the graph is the record

        def _send(self, status: HTTPStatus, body: Any, content_type: str = "application/json") -> None:
            data = (json.dumps(body, indent=1) if content_type == "application/json" else str(body)).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            if self.path.split("?", 1)[0].rstrip("/") != LINEAGE_PATH:
                self._send(HTTPStatus.NOT_FOUND, {"error": f"POST {LINEAGE_PATH} only"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0 or length > MAX_EVENT_BYTES:
                self._send(HTTPStatus.BAD_REQUEST, {"errors": [f"body of {length} bytes"]})
                return
            if (self.headers.get("Content-Encoding") or "identity") != "identity":
                refusal = {"errors": ["compressed bodies are not accepted"]}
                self._send(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, refusal)
                return
            try:
                problems = store.accept(_parse(self.rfile.read(length)))
            except _NotJson as exc:
                problems = [str(exc)]
            if problems:
                self._send(HTTPStatus.BAD_REQUEST, {"errors": problems})
            else:
                self._send(HTTPStatus.CREATED, {})

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/")
            if path == "/api/v1/graph":
                self._send(HTTPStatus.OK, store.graph_json())
            elif path == "/api/v1/graph/edges":
                self._send(HTTPStatus.OK, "".join(f"{line}\n" for line in store.edge_lines()), "text/plain")
            elif path == "/api/v1/events":
                with store.lock:
                    self._send(HTTPStatus.OK, list(store.events))
            elif path == "/healthz":
                self._send(HTTPStatus.OK, "ok\n", "text/plain")
            else:
                self._send(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: {path}"})

    return Handler


class LineageReceiver:
    """The HTTP server; ``port=0`` picks a free port (see :attr:`url`)."""

    def __init__(self, store: LineageStore, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.store = store
        self.server = ThreadingHTTPServer((host, port), _handler(store))
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LineageReceiver:
        self.thread = threading.Thread(target=self.server.serve_forever, name="lineage-receiver", daemon=True)
        self.thread.start()
        return self

    def serve_forever(self) -> None:
        self.server.serve_forever()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self.thread is not None:
            self.thread.join()
