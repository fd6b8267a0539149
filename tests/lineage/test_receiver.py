"""`dataops lineage serve`: schema validation of every event, and the graph it builds."""

from __future__ import annotations

import copy
import filecmp
import json
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openlineage.client.event_v2 import RunState

from dataops.cli import main
from dataops.lineage.events import DatasetInfo, LineageEmitter, make_transport
from dataops.lineage.receiver import LineageReceiver, LineageStore
from dataops.lineage.validate import SPEC_DIR, EventValidator
from tests.conftest import ROOT


def _post(url: str, body: bytes) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{url}/api/v1/lineage", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _get(url: str, path: str) -> Any:
    with urllib.request.urlopen(f"{url}{path}", timeout=10) as response:
        text = response.read().decode()
    return json.loads(text) if path != "/api/v1/graph/edges" else text


def _event(
    job: str = "orders",
    *,
    inputs: list[tuple[str, str]] = (),  # type: ignore[assignment]
    outputs: list[tuple[str, str]] = (),  # type: ignore[assignment]
    run_id: str = "r1",
) -> dict[str, Any]:
    emitter = LineageEmitter(make_transport("none"), job_namespace="dataops://t", job_name=job)
    return emitter.emit(
        RunState.COMPLETE,
        run_id=run_id,
        inputs=[DatasetInfo(ns, n) for ns, n in inputs],
        outputs=[DatasetInfo(ns, n) for ns, n in outputs],
    )


def test_bundled_schemas_are_the_tested_copies() -> None:
    """The package ships the schemas the test suite validates with (and dataops' own facets)."""
    tested = ROOT / "tests" / "data" / "openlineage-spec"
    compared = filecmp.dircmp(tested, SPEC_DIR)
    assert not compared.left_only and not compared.diff_files
    facets = filecmp.dircmp(tested / "facets", SPEC_DIR / "facets")
    assert not facets.left_only and not facets.right_only and not facets.diff_files
    own = filecmp.dircmp(ROOT / "docs" / "facets", SPEC_DIR / "dataops-facets")
    assert not own.left_only and not own.right_only and not own.diff_files


def test_valid_event_is_accepted_and_becomes_edges(receiver: LineageReceiver) -> None:
    event = _event(inputs=[("file", "/in/orders.csv")], outputs=[("file", "/lake/orders")])
    status, _ = _post(receiver.url, json.dumps(event).encode())
    assert status == 201
    graph = _get(receiver.url, "/api/v1/graph")
    edges = {(e["from"], e["type"], e["to"]) for e in graph["edges"]}
    assert edges == {
        ("dataset:file:/in/orders.csv", "input", "job:dataops://t:orders"),
        ("job:dataops://t:orders", "output", "dataset:file:/lake/orders"),
    }
    assert graph["runs"][0]["state"] == "COMPLETE"
    text = _get(receiver.url, "/api/v1/graph/edges")
    assert "dataset:file:/in/orders.csv -[input]-> job:dataops://t:orders" in text
    assert len(_get(receiver.url, "/api/v1/events")) == 1


def _broken(event: dict[str, Any], change: str) -> dict[str, Any]:
    bad = copy.deepcopy(event)
    if change == "no-run-id":
        del bad["run"]["runId"]
    elif change == "run-id-not-uuid":
        bad["run"]["runId"] = "not-a-uuid"
    elif change == "bad-event-type":
        bad["eventType"] = "FINISHED"
    elif change == "bad-time":
        bad["eventTime"] = "yesterday"
    elif change == "no-producer":
        del bad["producer"]
    elif change == "dataset-without-name":
        del bad["outputs"][0]["name"]
    elif change == "facet-breaks-its-schema":
        bad["outputs"][0]["facets"] = {
            "schema": {"_producer": "x", "_schemaURL": "https://x", "fields": "not-a-list"}
        }
    elif change == "undeclared-facet":
        bad["run"]["facets"] = {"madeUp": {"_producer": "x", "_schemaURL": "https://x"}}
    elif change == "parent-without-run-id":
        bad["run"]["facets"] = {
            "parent": {
                "_producer": "x",
                "_schemaURL": "https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json",
                "run": {},
                "job": {"namespace": "n", "name": "p"},
            }
        }
    elif change == "facets-not-an-object":
        bad["outputs"][0]["facets"] = ["schema"]
    return bad


@pytest.mark.parametrize(
    "change",
    [
        "no-run-id",
        "run-id-not-uuid",
        "bad-event-type",
        "bad-time",
        "no-producer",
        "dataset-without-name",
        "facet-breaks-its-schema",
        "undeclared-facet",
        "parent-without-run-id",
        "facets-not-an-object",
    ],
)
def test_invalid_event_is_refused_with_400_and_not_stored(receiver: LineageReceiver, change: str) -> None:
    event = _event(outputs=[("file", "/lake/orders")])
    status, body = _post(receiver.url, json.dumps(_broken(event, change)).encode())
    assert status == 400
    assert body["errors"], body
    assert _get(receiver.url, "/api/v1/graph") == {"nodes": [], "edges": [], "runs": []}
    assert _get(receiver.url, "/api/v1/events") == []


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'"text"', b"\xff\xfe"])
def test_malformed_bodies_are_refused(receiver: LineageReceiver, body: bytes) -> None:
    status, reply = _post(receiver.url, body)
    assert status == 400 and reply["errors"]


def test_unknown_paths_are_404(receiver: LineageReceiver) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        _get(receiver.url, "/api/v1/nothing")
    assert caught.value.code == 404
    request = urllib.request.Request(f"{receiver.url}/api/v1/other", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as posted:
        urllib.request.urlopen(request, timeout=10)
    assert posted.value.code == 404


def test_spellings_of_one_dataset_land_on_one_node(receiver: LineageReceiver) -> None:
    """A writer reports /lake/t, readers report /lake/t/ and file:/lake/t: one node, one path."""
    writes = _event("writer", inputs=[("file", "/in/x.csv")], outputs=[("file", "/lake/t")])
    slash = _event("reader-a", inputs=[("file", "/lake/t/")], outputs=[("file", "/lake/a")])
    scheme = _event("reader-b", inputs=[("file", "file:/lake/t")], outputs=[("file", "file:///lake/b/")])
    for event in (writes, slash, scheme):
        assert _post(receiver.url, json.dumps(event).encode())[0] == 201
    graph = _get(receiver.url, "/api/v1/graph")
    datasets = sorted(n["id"] for n in graph["nodes"] if n["kind"] == "dataset")
    assert datasets == [
        "dataset:file:/in/x.csv",
        "dataset:file:/lake/a",
        "dataset:file:/lake/b",
        "dataset:file:/lake/t",
    ]
    edges = {(e["from"], e["type"], e["to"]) for e in graph["edges"]}
    assert ("dataset:file:/lake/t", "input", "job:dataops://t:reader-a") in edges
    assert ("dataset:file:/lake/t", "input", "job:dataops://t:reader-b") in edges
    assert ("job:dataops://t:writer", "output", "dataset:file:/lake/t") in edges


def test_parent_facet_becomes_a_parent_edge_and_links_the_runs(receiver: LineageReceiver) -> None:
    pipeline = LineageEmitter(make_transport(receiver.url), job_namespace="dataops://t", job_name="p")
    pipeline.emit(RunState.START, run_id="r7", inputs=[], outputs=[DatasetInfo("file", "/lake/p")])
    gate = pipeline.child("p.suite", run_id="r7", job_type="VALIDATION")
    gate.emit(RunState.COMPLETE, run_id="r7", inputs=[DatasetInfo("file", "/lake/p")], outputs=[])
    pipeline.emit(RunState.COMPLETE, run_id="r7", inputs=[], outputs=[DatasetInfo("file", "/lake/p")])
    graph = _get(receiver.url, "/api/v1/graph")
    edges = {(e["from"], e["type"], e["to"]) for e in graph["edges"]}
    assert ("job:dataops://t:p", "parent", "job:dataops://t:p.suite") in edges
    assert ("dataset:file:/lake/p", "input", "job:dataops://t:p.suite") in edges
    runs = {r["job"]: r for r in graph["runs"]}
    assert runs["job:dataops://t:p.suite"]["parent"] == {
        "runId": runs["job:dataops://t:p"]["runId"],
        "job": "job:dataops://t:p",
    }
    assert runs["job:dataops://t:p"]["state"] == "COMPLETE"  # START then COMPLETE: the latest wins
    assert len(pipeline.events) == 3  # the child's events are kept with the parent's


def test_store_file_is_replayed_and_graph_cli_prints_edges(
    tmp_path: Path, bundled_validator: EventValidator, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "events.jsonl"
    first = LineageReceiver(LineageStore(bundled_validator, store)).start()
    try:
        event = _event(inputs=[("file", "/in/a")], outputs=[("file", "/lake/b")])
        assert _post(first.url, json.dumps(event).encode())[0] == 201
        assert _post(first.url, b"{}")[0] == 400  # not stored
    finally:
        first.stop()
    assert len(store.read_text().splitlines()) == 1
    again = LineageStore(bundled_validator, store)
    assert again.edge_lines() == [
        "dataset:file:/in/a -[input]-> job:dataops://t:orders",
        "job:dataops://t:orders -[output]-> dataset:file:/lake/b",
    ]
    assert main(["lineage", "graph", "--file", str(store)]) == 0
    assert capsys.readouterr().out.splitlines() == again.edge_lines()
    store.write_text(store.read_text() + '{"eventType": "START"}\n')
    with pytest.raises(ValueError, match=r"events.jsonl:2: stored event is invalid"):
        LineageStore(bundled_validator, store)


def test_graph_cli_against_an_unreachable_receiver_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lineage", "graph", "--url", "http://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: http://127.0.0.1:9:") and err.count("\n") == 1


def test_serve_command_receives_and_graph_command_reads(tmp_path: Path) -> None:
    """`dataops lineage serve` in its own process, fed by the OpenLineage HTTP transport."""
    store = tmp_path / "served.jsonl"
    server = subprocess.Popen(
        [sys.executable, "-m", "dataops.cli", "lineage", "serve", "--port", "0", "--store", str(store)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()
        url = banner.split(" on ", 1)[1].split("/api/v1/lineage", 1)[0]
        emitter = LineageEmitter(make_transport(url), job_namespace="dataops://t", job_name="served")
        emitter.emit(RunState.COMPLETE, run_id="r", inputs=[DatasetInfo("file", "/in/")], outputs=[])
        printed = subprocess.run(
            [sys.executable, "-m", "dataops.cli", "lineage", "graph", "--url", url],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert printed.returncode == 0, printed.stderr
        assert printed.stdout == "dataset:file:/in -[input]-> job:dataops://t:served\n"
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert json.loads(store.read_text())["job"]["name"] == "served"


def test_an_event_the_receiver_refuses_is_reported_not_raised(
    receiver: LineageReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run must not fail because its lineage could not be delivered: the emitter keeps the
    failure (execute_plan turns it into a run warning) and says so on stderr."""
    emitter = LineageEmitter(make_transport(receiver.url), job_namespace="dataops://t", job_name="p")
    child = emitter.child("p.s", run_id="r", job_type="VALIDATION")
    naive = datetime(2026, 11, 26, 12, 0, 0)
    child.emit(RunState.COMPLETE, run_id="r", inputs=[], outputs=[], when=naive)
    assert len(emitter.send_errors) == 1 and emitter.send_errors[0].startswith("p.s COMPLETE: 400")
    assert "warning: lineage event not sent: p.s COMPLETE" in capsys.readouterr().err
    assert _get(receiver.url, "/api/v1/events") == []
    assert len(emitter.events) == 1  # kept for inspection all the same
