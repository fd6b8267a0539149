"""The operator's probes, served from process start, before and while a standby waits for the lease.

``/healthz`` (liveness): 200 while the process serves requests and, once the handlers run, their
event loop answers within a few seconds; 503 when that loop is stuck. A standby waiting for the
lease is alive (kopf's own liveness endpoint only starts with kopf, so a standby had none and was
killed by its liveness probe).

``/readyz`` (readiness): 200 on a standby waiting for the lease (body ``standby: ...``) and on the
replica that reconciles once its handlers have started; 503 while the leader is still starting. A
standby must count as ready: with readiness tied to leadership a Deployment rollout (and
``helm --wait``, Argo CD health) would wait forever for the new standby. Leadership is the
``dataops_leader`` gauge.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger(__name__)

LOOP_TIMEOUT = 5.0


class Health:
    """What the probes report; updated by the leader election and the kopf startup handler."""

    def __init__(self, *, loop_timeout: float = LOOP_TIMEOUT) -> None:
        self.loop_timeout = loop_timeout
        self.leading = True
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def standby(self) -> None:
        with self._lock:
            self.leading = False

    def lead(self) -> None:
        with self._lock:
            self.leading = True

    def handlers_started(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            self._loop = loop

    def loop_answers(self) -> bool:
        with self._lock:
            loop = self._loop
        if loop is None:
            return True  # not started yet: nothing that could hang
        answered = threading.Event()
        try:
            loop.call_soon_threadsafe(answered.set)
        except RuntimeError:  # the loop is closed
            return False
        return answered.wait(self.loop_timeout)

    def live(self) -> tuple[bool, str]:
        if not self.loop_answers():
            return False, f"the operator's event loop has not answered for {self.loop_timeout:g}s"
        return True, "ok"

    def ready(self) -> tuple[bool, str]:
        with self._lock:
            leading, started = self.leading, self._loop is not None
        if not leading:
            return True, "standby: waiting for the leader lease"
        if not started:
            return False, "starting: the handlers are not running yet"
        return True, "ok"


HEALTH = Health()


def _handler(health: Health) -> type[BaseHTTPRequestHandler]:
    class ProbeHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                ok, message = health.live()
            elif path == "/readyz":
                ok, message = health.ready()
            else:
                self.send_error(404)
                return
            body = (message + "\n").encode()
            self.send_response(200 if ok else 503)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # probes every few seconds: quiet
            log.debug("probe %s", format % args)

    return ProbeHandler


def serve_probes(port: int, health: Health = HEALTH, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    """Serve /healthz and /readyz on ``port`` from a daemon thread."""
    server = ThreadingHTTPServer((host, port), _handler(health))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="dataops-probes", daemon=True).start()
    return server
