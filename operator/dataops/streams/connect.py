"""The Kafka Connect REST API (create/update, status, pause/resume, restart, delete)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from dataops.api.v1alpha1.datapipeline import TaskStatus
from dataops.plan.connectors import ObservedConnector


class ConnectError(Exception):
    """Connect was unreachable or refused a request. The message never contains config values."""


class ConnectClient:
    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                message = json.loads(raw).get("message", "")
            except ValueError:
                message = raw.decode(errors="replace")[:200]
            if exc.code == 404:
                return 404, None
            raise ConnectError(f"{method} {path}: HTTP {exc.code}: {message[:300]}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise ConnectError(f"Kafka Connect at {self.url} unreachable: {exc}") from exc

    @staticmethod
    def _path(name: str, suffix: str = "") -> str:
        return f"/connectors/{urllib.parse.quote(name, safe='')}{suffix}"

    def observe(self, name: str) -> ObservedConnector | None:
        status, config = self._call("GET", self._path(name, "/config"))
        if status == 404:
            return None
        status, state = self._call("GET", self._path(name, "/status"))
        if status == 404 or state is None:
            return ObservedConnector(config=dict(config), state="UNASSIGNED")
        connector = state.get("connector") or {}
        tasks = [
            TaskStatus(
                id=int(t["id"]),
                state=str(t.get("state", "UNKNOWN")),
                trace=(t.get("trace") or "")[:1000] or None,
            )
            for t in state.get("tasks") or []
        ]
        return ObservedConnector(
            config=dict(config),
            state=str(connector.get("state", "UNKNOWN")),
            tasks=sorted(tasks, key=lambda t: t.id),
            trace=connector.get("trace"),
        )

    def put_config(self, name: str, config: dict[str, str]) -> None:
        """Creates the connector or updates its config (PUT is idempotent)."""
        self._call("PUT", self._path(name, "/config"), {**config, "name": name})

    def pause(self, name: str) -> None:
        self._call("PUT", self._path(name, "/pause"))

    def resume(self, name: str) -> None:
        self._call("PUT", self._path(name, "/resume"))

    def restart(self, name: str) -> None:
        self._call("POST", self._path(name, "/restart?includeTasks=true&onlyFailed=true"))

    def delete(self, name: str) -> bool:
        status, _ = self._call("DELETE", self._path(name))
        return status != 404
