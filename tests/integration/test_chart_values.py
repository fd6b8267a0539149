"""The chart's values: values.schema.json types every value (helm refuses typos and wrong types with
the field's path), stays in sync with values.yaml and docs/chart.md, and the optional objects
(metrics Service, ServiceMonitor, NetworkPolicy, PodDisruptionBudget, dashboard ConfigMap) render
what their values say. Rendering only: `helm` with no cluster (test_chart.py and
test_helm_lifecycle.py take these objects to the API server)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from dataops.devcluster.controlplane import bin_dir
from tests.conftest import ROOT

CHART = ROOT / "charts" / "dataops-operator"
SCHEMA: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
VALUES: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
SELECTOR = {"app.kubernetes.io/name": "dataops-operator", "app.kubernetes.io/instance": "dataops"}


def helm(command: str, *args: str, chart: Path = CHART) -> subprocess.CompletedProcess[str]:
    release = ["dataops"] if command == "template" else []
    return subprocess.run(
        [str(bin_dir() / "helm"), command, *release, str(chart), "--kube-version", "1.34.4", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def render(*args: str, chart: Path = CHART) -> list[dict[str, Any]]:
    result = helm("template", "--namespace", "ops", *args, chart=chart)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def only(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"{len(found)} {kind} objects"
    return found[0]


def kinds(docs: list[dict[str, Any]]) -> list[str]:
    return sorted(d["kind"] for d in docs)


# -- schema ------------------------------------------------------------------------------------


def test_lint_passes_with_defaults_and_with_every_option_on() -> None:
    for extra in (
        [],
        [
            "--set",
            "networkPolicy.enabled=true,serviceMonitor.enabled=true,dashboard.enabled=true",
            "--set",
            "prometheusRule.enabled=true,podDisruptionBudget.enabled=true",
        ],
    ):
        result = helm("lint", "--strict", *extra)
        assert result.returncode == 0 and "0 chart(s) failed" in result.stdout, result.stdout + result.stderr


def test_schema_is_valid_draft_07_and_accepts_the_defaults() -> None:
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    jsonschema.Draft7Validator(SCHEMA).validate(VALUES)


@pytest.mark.parametrize(
    ("args", "field", "cause"),
    [
        (["--set", "replicaCount=two"], "/replicaCount", "want integer"),
        (["--set", "replicaCount=-1"], "/replicaCount", "minimum"),
        (["--set", "replicaCoutn=2"], "additional properties 'replicaCoutn'", "not allowed"),
        (["--set", "streamsBackend=kafka"], "/streamsBackend", "'direct', 'strimzi'"),
        (["--set", "image.pullPolicy=Sometimes"], "/image/pullPolicy", "IfNotPresent"),
        (["--set", "image.registry=x"], "/image", "'registry' not allowed"),
        (["--set", "lineageTransport=syslog"], "/lineageTransport", "does not match pattern"),
        (["--set", "lineageTransport=file:"], "/lineageTransport", "does not match pattern"),
        (["--set", "kafkaBootstrap=kafka"], "/kafkaBootstrap", "does not match pattern"),
        (["--set", "connectUrl=connect:8083"], "/connectUrl", "does not match pattern"),
        (["--set", "apiServer.url=10.0.0.1:6443"], "/apiServer/url", "does not match pattern"),
        (["--set", "leaderElection=maybe"], "/leaderElection", "want boolean"),
        (["--set", "workers=0"], "/workers", "minimum"),
        (["--set", "resyncSeconds=0"], "/resyncSeconds", "exclusiveMinimum"),
        (["--set", "metrics.port=70000"], "/metrics/port", "maximum"),
        (["--set", "resources.request.cpu=1"], "/resources", "'request' not allowed"),
        (["--set", "strategy.type=BlueGreen"], "/strategy/type", "Recreate"),
        (["--set", "tolerations[0].operator=Maybe"], "/tolerations/0/operator", "Exists"),
        (["--set", "nodeSelector.disk=1"], "/nodeSelector/disk", "want string"),
        (["--set", "podDisruptionBudget.minAvailable=half"], "/podDisruptionBudget/minAvailable", "oneOf"),
        (
            ["--set", "podDisruptionBudget.enabled=yes"],
            "/podDisruptionBudget/enabled",
            "want null or boolean",
        ),
        (
            ["--set-string", "serviceMonitor.interval=30sec"],
            "/serviceMonitor/interval",
            "does not match pattern",
        ),
        (["--set", "serviceMonitor.enable=true"], "/serviceMonitor", "'enable' not allowed"),
        (
            ["--set", "networkPolicy.apiServer.cidrs[0]=10.0.0.1"],
            "/networkPolicy/apiServer/cidrs/0",
            "pattern",
        ),
        (
            ["--set", "networkPolicy.metricsFrom.podSelector.matchLabel.a=b"],
            "/networkPolicy/metricsFrom/podSelector",
            "'matchLabel' not allowed",
        ),
        (
            ["--set", "dashboard.labels.grafana_dashboard=1"],
            "/dashboard/labels/grafana_dashboard",
            "want string",
        ),
        (["--set", "allowed.image[0]=x"], "/allowed", "'image' not allowed"),
        (["--set", "admissionPolicy.maxSecretChecks=1000"], "/admissionPolicy/maxSecretChecks", "maximum"),
    ],
)
def test_wrong_values_are_refused_naming_the_field(args: list[str], field: str, cause: str) -> None:
    result = helm("template", *args)
    assert result.returncode != 0, f"{args} rendered"
    assert "values don't meet the specifications of the schema" in result.stderr
    assert field in result.stderr and cause in result.stderr, result.stderr


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = SCHEMA["definitions"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _walk(
    values: dict[str, Any], schema: dict[str, Any], path: str = "", via_ref: bool = False
) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(path, its schema, documented) for every key of values, recursively. documented: a leaf the chart
    declares itself (not an entry of a free map, not inside a shared definition such as a
    LabelSelector), so docs/chart.md has a row for it."""
    node = _resolve(schema)
    properties: dict[str, Any] = node.get("properties") or {}
    for key, value in values.items():
        child = f"{path}.{key}" if path else key
        if key in properties:
            sub = properties[key]
            # A row in the docs for each leaf: a scalar, a list, a free map or a shared definition.
            leaf = "$ref" in sub or "properties" not in _resolve(sub)
            yield child, _resolve(sub), leaf and not via_ref
            if isinstance(value, dict):
                yield from _walk(value, sub, child, via_ref or "$ref" in sub)
        else:
            free = node.get("additionalProperties")
            assert isinstance(free, dict), f"{child} (in values.yaml) is not described by values.schema.json"
            yield child, _resolve(free), False


def _schema_paths(schema: dict[str, Any], values: Any, path: str = "") -> Iterator[str]:
    """Properties the schema declares where values.yaml has an object to hold them."""
    for key, sub in (_resolve(schema).get("properties") or {}).items():
        child = f"{path}.{key}" if path else key
        if child == "global":  # a parent chart's shared values, never in values.yaml
            continue
        yield child
        shared = "$ref" in sub  # a definition (LabelSelector, quantities): optional fields by nature
        if not shared and isinstance(values, dict) and isinstance(values.get(key), dict) and values[key]:
            yield from _schema_paths(sub, values[key], child)


def test_every_value_is_typed_by_the_schema_and_every_schema_property_has_a_default() -> None:
    assert SCHEMA["additionalProperties"] is False
    seen = set()
    for path, node, _ in _walk(VALUES, SCHEMA):
        seen.add(path)
        assert {"type", "enum", "oneOf"} & node.keys(), f"{path} has no type in values.schema.json"
    # The other way round: nothing in the schema that values.yaml lacks (a stale or misspelt entry).
    missing = [p for p in _schema_paths(SCHEMA, VALUES) if p not in seen]
    assert missing == [], f"in values.schema.json but not in values.yaml: {missing}"


def test_docs_describe_every_value() -> None:
    docs = (ROOT / "docs" / "chart.md").read_text()
    undocumented = [
        path for path, _, documented in _walk(VALUES, SCHEMA) if documented and f"`{path}`" not in docs
    ]
    assert undocumented == [], f"values missing from docs/chart.md: {undocumented}"


# -- the metrics Service and the ServiceMonitor ---------------------------------------------------


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_metrics_service_selects_the_operator_pods_on_named_ports() -> None:
    docs = render("--set", "metrics.port=9090,health.port=9091")
    service = only(docs, "Service")
    deployment = only(docs, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert _matches(service["spec"]["selector"], pod_labels)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]} == {
        "metrics": (9090, "metrics"),
        "health": (9091, "health"),
    }
    assert container_ports == {"metrics": 9090, "health": 9091}


def test_metrics_and_health_ports_must_differ() -> None:
    result = helm("template", "--set", "health.port=8080")
    assert result.returncode != 0 and "metrics.port and health.port must differ" in result.stderr


def test_service_monitor_is_off_by_default_and_scrapes_the_metrics_service() -> None:
    assert "ServiceMonitor" not in kinds(render())
    docs = render(
        "--set",
        "serviceMonitor.enabled=true,serviceMonitor.interval=15s,serviceMonitor.scrapeTimeout=5s",
        "--set",
        "serviceMonitor.labels.release=kube-prometheus-stack",
    )
    monitor = only(docs, "ServiceMonitor")
    service = only(docs, "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["namespace"] == "ops"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert _matches(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["ops"]}
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert (endpoint["path"], endpoint["interval"], endpoint["scrapeTimeout"]) == ("/metrics", "15s", "5s")
    # Prometheus's job label comes from the Service's label that jobLabel names: the alerts query it.
    job = service["metadata"]["labels"][monitor["spec"]["jobLabel"]]
    alerts = (CHART / "files" / "alerts.yaml").read_text()
    assert f'job="{job}"' in alerts


# -- NetworkPolicy -------------------------------------------------------------------------------


def _policy(*args: str) -> tuple[dict[str, Any], dict[str, Any]]:
    docs = render("--set", "networkPolicy.enabled=true", *args)
    return only(docs, "NetworkPolicy"), only(docs, "Deployment")


def _egress_ports(policy: dict[str, Any]) -> set[tuple[int, str]]:
    return {(p["port"], p["protocol"]) for rule in policy["spec"]["egress"] for p in rule.get("ports") or []}


def test_network_policy_is_off_by_default() -> None:
    assert "NetworkPolicy" not in kinds(render())


def test_network_policy_admits_only_scrapes_and_probes_of_the_operator_pods() -> None:
    policy, deployment = _policy()
    pod = deployment["spec"]["template"]
    assert _matches(policy["spec"]["podSelector"]["matchLabels"], pod["metadata"]["labels"])
    assert sorted(policy["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    [ingress] = policy["spec"]["ingress"]
    named = {p["name"] for p in pod["spec"]["containers"][0]["ports"]}
    assert {p["port"] for p in ingress["ports"]} == named == {"metrics", "health"}
    assert "from" not in ingress  # no selector configured: any scraper
    # Defaults: API server (443, 6443) and DNS only; no Kafka configured, so no Kafka port.
    assert _egress_ports(policy) == {(443, "TCP"), (6443, "TCP"), (53, "UDP"), (53, "TCP")}
    dns = next(r for r in policy["spec"]["egress"] if any(p["port"] == 53 for p in r["ports"]))
    assert dns["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ]


def test_network_policy_ingress_from_selectors() -> None:
    policy, _ = _policy(
        "--set",
        "networkPolicy.metricsFrom.namespaceSelector.matchLabels.team=monitoring",
        "--set",
        "networkPolicy.metricsFrom.podSelector.matchLabels.app=prometheus",
    )
    # One peer with both selectors: pods labelled app=prometheus in namespaces labelled team=monitoring.
    assert policy["spec"]["ingress"][0]["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"team": "monitoring"}},
            "podSelector": {"matchLabels": {"app": "prometheus"}},
        }
    ]
    only_pods, _ = _policy("--set", "networkPolicy.metricsFrom.podSelector.matchLabels.app=prometheus")
    assert only_pods["spec"]["ingress"][0]["from"] == [
        {"podSelector": {"matchLabels": {"app": "prometheus"}}}
    ]


def test_network_policy_egress_follows_the_streaming_configuration() -> None:
    policy, _ = _policy(
        "--set",
        "kafkaBootstrap=b-1.kafka:9092\\,b-2.kafka:9093",
        "--set",
        "connectUrl=http://connect.kafka.svc:8083",
        "--set",
        "allowed.kafkaBootstrap={*.other:19092,*.globbed:*}",
        "--set",
        "allowed.connectUrls={https://connect.example.com,http://[fd00::1]:8084/,http://c-*:*}",
        "--set",
        "apiServer.url=https://10.245.0.1:16443",
        "--set",
        "networkPolicy.apiServer.cidrs={10.245.0.1/32}",
    )
    ports = _egress_ports(policy)
    assert ports == {
        (443, "TCP"),
        (6443, "TCP"),
        (16443, "TCP"),  # API server, apiServer.url's port added
        (53, "UDP"),
        (53, "TCP"),
        (9092, "TCP"),
        (9093, "TCP"),
        (19092, "TCP"),  # brokers with numeric ports
        (8083, "TCP"),
        (443, "TCP"),
        (8084, "TCP"),  # Connect URLs (https without port: 443)
    }
    api = policy["spec"]["egress"][0]
    assert api["to"] == [{"ipBlock": {"cidr": "10.245.0.1/32"}}]
    assert {p["port"] for p in api["ports"]} == {443, 6443, 16443}
    # strimzi: topics and connectors are objects on the API server, the operator opens no Kafka port.
    strimzi, _ = _policy("--set", "kafkaBootstrap=b-1.kafka:9092,streamsBackend=strimzi")
    assert _egress_ports(strimzi) == {(443, "TCP"), (6443, "TCP"), (53, "UDP"), (53, "TCP")}


def test_network_policy_extra_egress_and_open_dns(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(
        yaml.safe_dump(
            {
                "networkPolicy": {
                    "enabled": True,
                    "dns": {"namespaceSelector": None, "podSelector": None},
                    "extraEgress": [
                        {"to": [{"ipBlock": {"cidr": "10.1.0.0/16"}}], "ports": [{"port": 19094}]}
                    ],
                }
            }
        )
    )
    policy = only(render("--values", str(values)), "NetworkPolicy")
    egress = policy["spec"]["egress"]
    assert egress[-1] == {"to": [{"ipBlock": {"cidr": "10.1.0.0/16"}}], "ports": [{"port": 19094}]}
    dns = next(r for r in egress if any(p["port"] == 53 for p in r["ports"]))
    assert "to" not in dns


def test_network_policy_needs_an_api_server_port() -> None:
    result = helm(
        "template", "--set", "networkPolicy.enabled=true", "--set", "networkPolicy.apiServer.ports=null"
    )
    assert result.returncode != 0 and "networkPolicy.apiServer.ports" in result.stderr, result.stderr


# -- PodDisruptionBudget ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], {"minAvailable": 1}),  # replicaCount 2: on by default
        (["--set", "replicaCount=1"], None),
        (["--set", "replicaCount=1,podDisruptionBudget.enabled=true"], {"minAvailable": 1}),
        (["--set", "replicaCount=3,podDisruptionBudget.enabled=false"], None),
        (
            ["--set", "podDisruptionBudget.minAvailable=null,podDisruptionBudget.maxUnavailable=1"],
            {"maxUnavailable": 1},
        ),
        (["--set", "replicaCount=4,podDisruptionBudget.minAvailable=50%"], {"minAvailable": "50%"}),
    ],
)
def test_pod_disruption_budget(args: list[str], expected: dict[str, Any] | None) -> None:
    docs = render(*args)
    budgets = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    if expected is None:
        assert budgets == []
        return
    [pdb] = budgets
    assert pdb["apiVersion"] == "policy/v1"
    spec = dict(pdb["spec"])
    selector = spec.pop("selector")
    assert spec == expected
    assert _matches(
        selector["matchLabels"], only(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    )


def test_pod_disruption_budget_takes_one_bound() -> None:
    both = helm("template", "--set", "podDisruptionBudget.maxUnavailable=1")
    assert both.returncode != 0 and "not both" in both.stderr, both.stderr
    neither = helm("template", "--set", "podDisruptionBudget.minAvailable=null")
    assert neither.returncode != 0 and "set one of minAvailable or maxUnavailable" in neither.stderr


# -- pod placement and metadata -------------------------------------------------------------------


def test_pod_values_reach_the_deployment(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    placement = {
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}],
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "topologyKey": "kubernetes.io/hostname",
                            "labelSelector": {"matchLabels": SELECTOR},
                        },
                    }
                ]
            }
        },
    }
    values.write_text(
        yaml.safe_dump(
            {
                "image": {
                    "repository": "registry.example.com/dataops",
                    "tag": "1.2.3",
                    "pullPolicy": "Always",
                },
                "imagePullSecrets": [{"name": "regcred"}],
                "podAnnotations": {"example.com/owner": "data"},
                "podLabels": {"team": "data"},
                "priorityClassName": "system-cluster-critical",
                **placement,
            }
        )
    )
    deployment = only(render("--values", str(values)), "Deployment")
    template = deployment["spec"]["template"]
    pod = template["spec"]
    container = pod["containers"][0]
    assert (container["image"], container["imagePullPolicy"]) == (
        "registry.example.com/dataops:1.2.3",
        "Always",
    )
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert template["metadata"]["annotations"]["example.com/owner"] == "data"
    assert template["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert template["metadata"]["labels"] == {**SELECTOR, "team": "data"}
    for key, value in placement.items():
        assert pod[key] == value
    # Defaults: none of these keys.
    default_pod = only(render(), "Deployment")["spec"]["template"]["spec"]
    assert (
        not {"imagePullSecrets", "priorityClassName", "nodeSelector", "tolerations", "affinity"}
        & default_pod.keys()
    )


# -- the Grafana dashboard ConfigMap -----------------------------------------------------------------

TINY_DASHBOARD = {"title": "DataOps test", "uid": "dataops-test", "panels": [], "schemaVersion": 39}


@pytest.fixture
def chart_with_dashboard(tmp_path: Path) -> Path:
    """A copy of the chart whose files/dashboard.json is a tiny valid dashboard."""
    chart = tmp_path / "dataops-operator"
    shutil.copytree(CHART, chart, symlinks=False)
    (chart / "files" / "dashboard.json").write_text(json.dumps(TINY_DASHBOARD, indent=2))
    return chart


def test_dashboard_configmap_carries_the_dashboard_with_the_sidecar_label(chart_with_dashboard: Path) -> None:
    assert "ConfigMap" not in kinds(render(chart=chart_with_dashboard))  # off by default
    docs = render("--set", "dashboard.enabled=true", chart=chart_with_dashboard)
    config_map = only(docs, "ConfigMap")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["namespace"] == "ops"
    assert json.loads(config_map["data"]["dataops-operator.json"]) == TINY_DASHBOARD
    relabelled = only(
        render(
            "--set",
            "dashboard.enabled=true,dashboard.namespace=monitoring",
            "--set",
            "dashboard.labels.grafana_dashboard=null,dashboard.labels.dashboards=dataops",
            "--set",
            "dashboard.annotations.grafana_folder=DataOps",
            chart=chart_with_dashboard,
        ),
        "ConfigMap",
    )
    assert relabelled["metadata"]["namespace"] == "monitoring"
    assert relabelled["metadata"]["labels"]["dashboards"] == "dataops"
    assert "grafana_dashboard" not in relabelled["metadata"]["labels"]
    assert relabelled["metadata"]["annotations"] == {"grafana_folder": "DataOps"}


def test_dashboard_that_is_not_json_is_refused(chart_with_dashboard: Path) -> None:
    (chart_with_dashboard / "files" / "dashboard.json").write_text('{"title": "broken",')
    result = helm("template", "--set", "dashboard.enabled=true", chart=chart_with_dashboard)
    assert result.returncode != 0 and "files/dashboard.json is not valid JSON" in result.stderr, result.stderr


def test_dashboard_without_a_file_renders_nothing(chart_with_dashboard: Path) -> None:
    (chart_with_dashboard / "files" / "dashboard.json").unlink()
    assert "ConfigMap" not in kinds(render("--set", "dashboard.enabled=true", chart=chart_with_dashboard))


def test_the_chart_dashboard_is_shipped_as_valid_json() -> None:
    shipped = CHART / "files" / "dashboard.json"
    if not shipped.exists():
        pytest.skip("files/dashboard.json is not in this checkout yet")
    dashboard = json.loads(shipped.read_text())
    config_map = only(render("--set", "dashboard.enabled=true"), "ConfigMap")
    assert json.loads(config_map["data"]["dataops-operator.json"]) == dashboard
    assert dashboard.get("panels") or dashboard.get("rows")


def test_chart_crds_are_the_generated_crds() -> None:
    """charts/dataops-operator/crds is a link to crds/ (which `dataops crds generate --check` keeps in
    step with the models); should it become a copy, it must still be byte-identical."""
    chart_crds = {p.name: p.read_bytes() for p in (CHART / "crds").glob("*.yaml")}
    generated = {p.name: p.read_bytes() for p in (ROOT / "crds").glob("*.yaml")}
    assert chart_crds == generated and len(generated) == 4  # 3 CRDs and the expectation-arguments policy


def test_extra_labels_and_annotations_cannot_break_selectors_or_scraping() -> None:
    docs = render(
        "--set", "podLabels.app\\.kubernetes\\.io/name=other,podLabels.team=data",
        "--set-string", "podAnnotations.prometheus\\.io/port=1,podAnnotations.prometheus\\.io/scrape=false",
        "--set", "serviceMonitor.enabled=true,serviceMonitor.labels.app\\.kubernetes\\.io/name=other",
    )  # fmt: skip
    template = only(docs, "Deployment")["spec"]["template"]
    assert template["metadata"]["labels"] == {**SELECTOR, "team": "data"}
    assert template["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "8080",
    }
    assert only(docs, "ServiceMonitor")["metadata"]["labels"]["app.kubernetes.io/name"] == "dataops-operator"


def test_replicas_need_leader_election() -> None:
    result = helm("template", "--set", "leaderElection=false")
    assert result.returncode != 0 and "replicaCount: 2 replicas without leaderElection" in result.stderr
    single = only(render("--set", "leaderElection=false,replicaCount=1"), "Deployment")
    env = {e["name"]: e.get("value") for e in single["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DATAOPS_LEADER_ELECTION"] == "false"
