"""The probes: a standby is alive but not ready; the leader is ready once its handlers run; a stuck
event loop fails liveness (issue 11, defect 4: the standby served no /healthz at all)."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from dataops.devcluster.controlplane import free_port
from dataops.handlers.health import Health, serve_probes


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode().strip()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode().strip()


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    running = asyncio.new_event_loop()
    thread = threading.Thread(target=running.run_forever, daemon=True)
    thread.start()
    yield running
    running.call_soon_threadsafe(running.stop)
    thread.join(5)
    running.close()


def test_standby_is_alive_and_ready_then_leads(loop: asyncio.AbstractEventLoop) -> None:
    health = Health(loop_timeout=0.5)
    port = free_port()
    server = serve_probes(port, health, host="127.0.0.1")
    try:
        health.standby()
        assert _get(port, "/healthz") == (200, "ok")
        assert _get(port, "/readyz") == (200, "standby: waiting for the leader lease")
        health.lead()
        assert _get(port, "/readyz") == (503, "starting: the handlers are not running yet")
        health.handlers_started(loop)
        assert _get(port, "/readyz") == (200, "ok")
        assert _get(port, "/healthz") == (200, "ok")
        assert _get(port, "/nope")[0] == 404
    finally:
        server.shutdown()


def test_a_stuck_event_loop_fails_liveness(loop: asyncio.AbstractEventLoop) -> None:
    health = Health(loop_timeout=0.3)
    health.handlers_started(loop)
    assert health.live() == (True, "ok")
    loop.call_soon_threadsafe(time.sleep, 1.5)  # blocks the loop
    time.sleep(0.05)
    ok, message = health.live()
    assert not ok and "has not answered for 0.3s" in message
    time.sleep(1.6)
    assert health.live() == (True, "ok")
