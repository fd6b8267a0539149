"""The lineage graph built from OpenLineage run events. Pure (no I/O).

Nodes are jobs (by job namespace + name) and datasets (by :func:`canonical_dataset` of their
namespace + name, so one table or topic is one node whoever reports it). Edges:

- ``input``: dataset -> job (a run of the job read the dataset),
- ``output``: job -> dataset (a run of the job wrote it),
- ``parent``: parent job -> child job (a run's ParentRunFacet: a pipeline run and its quality gates,
  a pipeline and its connectors).

Runs are kept by run id with their job, latest state and parent run, so a client can follow one
pipeline run to its children.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dataops.lineage.datasets import canonical_dataset

JOB = "job"
DATASET = "dataset"


def node_id(kind: str, namespace: str, name: str) -> str:
    """``job:dataops://default:orders``, ``dataset:file:/data/orders`` (Marquez's node id form)."""
    return f"{kind}:{namespace}:{name}"


@dataclass(frozen=True, order=True)
class Node:
    kind: str  # JOB or DATASET
    namespace: str
    name: str

    @property
    def id(self) -> str:
        return node_id(self.kind, self.namespace, self.name)

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "kind": self.kind, "namespace": self.namespace, "name": self.name}


@dataclass(frozen=True, order=True)
class Edge:
    source: Node
    target: Node
    type: str  # input, output or parent

    def to_json(self) -> dict[str, str]:
        return {"from": self.source.id, "to": self.target.id, "type": self.type}

    def __str__(self) -> str:
        return f"{self.source.id} -[{self.type}]-> {self.target.id}"


@dataclass
class RunInfo:
    run_id: str
    job: Node
    state: str
    event_time: str
    parent_run_id: str | None = None
    parent_job: Node | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "runId": self.run_id,
            "job": self.job.id,
            "state": self.state,
            "eventTime": self.event_time,
        }
        if self.parent_run_id is not None and self.parent_job is not None:
            out["parent"] = {"runId": self.parent_run_id, "job": self.parent_job.id}
        return out


def dataset_node(dataset: dict[str, Any]) -> Node:
    namespace, name = canonical_dataset(str(dataset["namespace"]), str(dataset["name"]))
    return Node(DATASET, namespace, name)


@dataclass
class LineageGraph:
    nodes: set[Node] = field(default_factory=set)
    edges: set[Edge] = field(default_factory=set)
    runs: dict[str, RunInfo] = field(default_factory=dict)

    def add(self, event: dict[str, Any]) -> None:
        """Add one run event (already validated against the OpenLineage schema)."""
        job = Node(JOB, str(event["job"]["namespace"]), str(event["job"]["name"]))
        self.nodes.add(job)
        for dataset in event.get("inputs") or []:
            node = dataset_node(dataset)
            self.nodes.add(node)
            self.edges.add(Edge(node, job, "input"))
        for dataset in event.get("outputs") or []:
            node = dataset_node(dataset)
            self.nodes.add(node)
            self.edges.add(Edge(job, node, "output"))
        run = event["run"]
        parent = (run.get("facets") or {}).get("parent")
        parent_job: Node | None = None
        if parent:
            parent_job = Node(JOB, str(parent["job"]["namespace"]), str(parent["job"]["name"]))
            self.nodes.add(parent_job)
            self.edges.add(Edge(parent_job, job, "parent"))
        known = self.runs.get(run["runId"])
        state = str(event.get("eventType") or "OTHER")
        if known is None:
            self.runs[run["runId"]] = RunInfo(
                run["runId"],
                job,
                state,
                str(event["eventTime"]),
                parent["run"]["runId"] if parent else None,
                parent_job,
            )
        else:
            if str(event["eventTime"]) >= known.event_time:  # the latest event tells the run's state
                known.state, known.event_time = state, str(event["eventTime"])
            if parent and known.parent_run_id is None:
                known.parent_run_id, known.parent_job = parent["run"]["runId"], parent_job

    def edge_lines(self) -> list[str]:
        return [str(e) for e in sorted(self.edges)]

    def to_json(self) -> dict[str, Any]:
        return {
            "nodes": [n.to_json() for n in sorted(self.nodes)],
            "edges": [e.to_json() for e in sorted(self.edges)],
            "runs": [r.to_json() for r in sorted(self.runs.values(), key=lambda r: (r.event_time, r.run_id))],
        }


def graph_of(events: list[dict[str, Any]]) -> LineageGraph:
    graph = LineageGraph()
    for event in events:
        graph.add(event)
    return graph
