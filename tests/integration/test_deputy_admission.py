"""No confused deputy at admission: the chart's static ValidatingAdmissionPolicies, rendered by helm
and installed on the real API server, judged for users impersonated with RBAC the test creates."""

from __future__ import annotations

import json
import random
import re
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import yaml

from dataops.api.v1alpha1.datapipeline import DataPipelineSpec
from dataops.api.v1alpha1.dataqualitysuite import DataQualitySuiteSpec
from dataops.devcluster.controlplane import ControlPlane, bin_dir
from dataops.policy.deputy import (
    Allowlists,
    glob_match,
    parse_patterns,
    pipeline_forbidden,
    spark_conf_problem,
    suite_forbidden,
)
from tests.conftest import ROOT
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.cluster

AUTHOR = "alice"


def render(
    *args: str, show_only: str | None = None, namespace: str = "dataops-system"
) -> list[dict[str, Any]]:
    cmd = [
        str(bin_dir() / "helm"),
        "template",
        "dataops",
        str(ROOT / "charts" / "dataops-operator"),
        "--namespace",
        namespace,
        "--kube-version",
        "1.34.4",
        *args,
    ]
    if show_only:
        cmd += ["--show-only", show_only]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.fixture(scope="module")
def admission_policies(control_plane: ControlPlane) -> Iterator[list[dict[str, Any]]]:
    docs = render(show_only="templates/deputy-admission.yaml")
    assert sorted(d["kind"] for d in docs) == [
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingAdmissionPolicyBinding",
    ]
    text = "\n---\n".join(json.dumps(d) for d in docs)
    control_plane.kubectl("apply", "--server-side", "-f", "-", input=text)
    # The API server starts enforcing a new policy within seconds: probe with a server-side dry run.
    probe = json.dumps(_pipeline(name="probe", spark={"sparkConf": {"spark.master": "local"}}))

    def enforced() -> bool:
        result = control_plane.kubectl(
            "-n", "default", "apply", "--dry-run=server", "-f", "-", input=probe, check=False
        )
        return result.returncode != 0 and "sparkConf" in result.stderr

    wait_for(enforced, timeout=30, what="admission policy enforced")
    yield docs
    control_plane.kubectl("delete", "-f", "-", input=text, check=False)
    # The API server stops enforcing a deleted policy only when its informer catches up: later
    # modules share this API server and test the operator's own refusal without the chart's policies.
    wait_for(lambda: not enforced(), timeout=30, what="admission policy no longer enforced")


@pytest.fixture
def ns(control_plane: ControlPlane, admission_policies: list[dict[str, Any]]) -> Iterator[str]:
    """A namespace no operator watches, where AUTHOR may write DataPipelines and suites (no Secrets)."""
    name = f"d-{uuid.uuid4().hex[:8]}"
    cp = control_plane
    cp.kubectl("create", "namespace", name)
    cp.kubectl(
        "-n", name, "create", "role", "author", "--verb=get,list,create,update,patch",
        "--resource=datapipelines.dataops.dev,dataqualitysuites.dataops.dev",
    )  # fmt: skip
    cp.kubectl("-n", name, "create", "rolebinding", "author", "--role=author", f"--user={AUTHOR}")
    yield name
    cp.kubectl("delete", "namespace", name, "--wait=false", check=False)


def _pipeline(name: str = "p", **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sources": [{"name": "orders", "file": {"path": "/data/orders"}}],
        "sinks": [{"name": "out", "from": "orders", "path": "/data/out"}],
    }
    base.update(spec)
    return {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPipeline",
        "metadata": {"name": name},
        "spec": base,
    }


def _jdbc_source(secret: str) -> dict[str, Any]:
    return {
        "name": "db",
        "jdbc": {
            "url": "jdbc:postgresql://attacker.example/x",
            "table": "t",
            "credentials": {"passwordSecretRef": {"name": secret, "key": "password"}},
        },
    }


def _connector_source(*secrets: str) -> dict[str, Any]:
    return {
        "name": "cdc",
        "connector": {
            "connectorClass": "io.debezium.connector.postgresql.PostgresConnector",
            "configFromSecrets": [
                {"configKey": f"k{i}", "secretKeyRef": {"name": s, "key": "password"}}
                for i, s in enumerate(secrets)
            ],
        },
    }


def _create(
    cp: ControlPlane, ns: str, doc: dict[str, Any], *, user: str | None = AUTHOR
) -> subprocess.CompletedProcess[str]:
    as_user = [f"--as={user}"] if user else []
    return cp.kubectl("-n", ns, "apply", "-f", "-", *as_user, input=json.dumps(doc), check=False)


def _grant_secret(cp: ControlPlane, ns: str, *names: str) -> None:
    role = f"read-{uuid.uuid4().hex[:6]}"
    cp.kubectl(
        "-n",
        ns,
        "create",
        "role",
        role,
        "--verb=get",
        "--resource=secrets",
        *(f"--resource-name={n}" for n in names),
    )
    cp.kubectl("-n", ns, "create", "rolebinding", role, f"--role={role}", f"--user={AUTHOR}")


def _denied(cp: ControlPlane, ns: str, doc: dict[str, Any]) -> str:
    result = _create(cp, ns, doc)
    assert result.returncode != 0, f"{doc['metadata']['name']} was admitted"
    return result.stderr


def test_secret_the_author_cannot_get_is_denied(control_plane: ControlPlane, ns: str) -> None:
    cp = control_plane
    doc = _pipeline(sources=[_jdbc_source("prod-db")], sinks=[{"name": "out", "from": "db", "path": "/o"}])
    message = _denied(cp, ns, doc)
    assert "prod-db" in message and AUTHOR in message and "may not get" in message
    _grant_secret(cp, ns, "prod-db")
    wait_for(lambda: _create(cp, ns, doc).returncode == 0, timeout=10, what="allowed once alice may get it")


def test_connector_secrets_and_sink_credentials(control_plane: ControlPlane, ns: str) -> None:
    cp = control_plane
    doc = _pipeline(
        sources=[{"name": "orders", "file": {"path": "/d"}}, _connector_source("s-ok", "s-hidden")],
        sinks=[
            {
                "name": "out",
                "from": "orders",
                "format": "jdbc",
                "jdbc": {
                    "url": "jdbc:postgresql://db/x",
                    "table": "t",
                    "credentials": {"userSecretRef": {"name": "sink-user", "key": "u"}},
                },
            }
        ],
    )
    _grant_secret(cp, ns, "s-ok", "sink-user")
    message = _denied(cp, ns, doc)
    assert "s-hidden" in message and "s-ok" not in message
    _grant_secret(cp, ns, "s-hidden")
    wait_for(lambda: _create(cp, ns, doc).returncode == 0, timeout=10, what="allowed")
    denied_sink = json.loads(json.dumps(doc))
    denied_sink["metadata"]["name"] = "p2"
    denied_sink["spec"]["sinks"][0]["jdbc"]["credentials"] = {
        "passwordSecretRef": {"name": "sink-pw", "key": "p"}
    }
    assert "sink-pw" in _denied(cp, ns, denied_sink)


def test_unchanged_spec_is_not_rechecked(control_plane: ControlPlane, ns: str) -> None:
    """Annotations (run-now), labels and finalizers may change after the author lost the Secret; a spec
    edit may not."""
    cp = control_plane
    cp.kubectl(
        "-n", ns, "create", "role", "annotate", "--verb=get,patch", "--resource=datapipelines.dataops.dev"
    )
    cp.kubectl("-n", ns, "create", "rolebinding", "annotate", "--role=annotate", "--user=bob")
    doc = _pipeline(sources=[_jdbc_source("db")], sinks=[{"name": "out", "from": "db", "path": "/o"}])
    assert _create(cp, ns, doc, user=None).returncode == 0  # the admin may get every Secret
    run_now = cp.kubectl("-n", ns, "annotate", "dp", "p", "dataops.dev/run-now=1", "--as=bob", check=False)
    assert run_now.returncode == 0, run_now.stderr
    edit = cp.kubectl(
        "-n",
        ns,
        "patch",
        "dp",
        "p",
        "--type=merge",
        "-p",
        '{"spec":{"suspend":true}}',
        "--as=bob",
        check=False,
    )
    assert edit.returncode != 0 and "db" in edit.stderr and "bob" in edit.stderr


def test_many_secrets_need_namespace_wide_get(control_plane: ControlPlane, ns: str) -> None:
    cp = control_plane
    names = [f"s{i}" for i in range(17)]
    doc = _pipeline(sources=[{"name": "orders", "file": {"path": "/d"}}, _connector_source(*names)])
    _grant_secret(cp, ns, *names)
    message = _denied(cp, ns, doc)
    assert "17 Secrets" in message
    fewer = _pipeline(
        name="p16", sources=[{"name": "orders", "file": {"path": "/d"}}, _connector_source(*names[:16])]
    )
    assert _create(cp, ns, fewer).returncode == 0
    cp.kubectl("-n", ns, "create", "role", "all-secrets", "--verb=get", "--resource=secrets")
    cp.kubectl("-n", ns, "create", "rolebinding", "all-secrets", "--role=all-secrets", f"--user={AUTHOR}")
    wait_for(lambda: _create(cp, ns, doc).returncode == 0, timeout=10, what="allowed with namespace-wide get")


SPARK_KEYS = [
    "spark.kubernetes.authenticate.driver.serviceAccountName",
    "SPARK.KUBERNETES.AUTHENTICATE.DRIVER.SERVICEACCOUNTNAME",
    "spark.kubernetes.executor.podTemplateFile",
    "spark.kubernetes.driver.secrets.db",
    "spark.kubernetes.executor.volumes.hostPath.root.mount.path",
    "spark.kubernetes.container.image",
    "spark.kubernetes.driverEnv.KUBERNETES_AUTH_TOKEN",
    "spark.jars.packages",
    "spark.driver.extraJavaOptions",
    "spark.authenticate.secret",
    "spark.master",
    "spark.sql.x=y",
    "spark.sql.shuffle.partitions",
    "spark.kubernetes.executor.deleteOnTermination",
    "spark.kubernetes.executor.volumes.persistentVolumeClaim.d.options.claimName",
    "spark.masterx",
]


def test_spark_conf_denylist_matches_the_operators(control_plane: ControlPlane, ns: str) -> None:
    """The admission policy and the operator's reconcile-time check give the same verdict on every key,
    for every user (the admin too: these keys are the operator's, not a matter of permission)."""
    cp = control_plane
    for i, key in enumerate(SPARK_KEYS):
        doc = _pipeline(name=f"c{i}", spark={"sparkConf": {key: "x"}})
        result = cp.kubectl(
            "-n", ns, "apply", "--dry-run=server", "-f", "-", input=json.dumps(doc), check=False
        )
        denied_by_operator = spark_conf_problem(key, "x") is not None
        assert (result.returncode != 0) is denied_by_operator, (key, result.stderr)
        if denied_by_operator:
            assert "sparkConf" in result.stderr and key in result.stderr


def test_validator_service_account_needs_token_rights(control_plane: ControlPlane, ns: str) -> None:
    cp = control_plane
    suite = {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataQualitySuite",
        "metadata": {"name": "s"},
        "spec": {
            "expectations": [{"type": "expect_column_to_exist", "column": "id"}],
            "validator": {"serviceAccountName": "warehouse-admin"},
        },
    }
    message = _denied(cp, ns, suite)
    assert "warehouse-admin" in message and AUTHOR in message
    cp.kubectl(
        "-n", ns, "create", "role", "token", "--verb=create", "--resource=serviceaccounts/token",
        "--resource-name=warehouse-admin",
    )  # fmt: skip
    cp.kubectl("-n", ns, "create", "rolebinding", "token", "--role=token", f"--user={AUTHOR}")
    wait_for(lambda: _create(cp, ns, suite).returncode == 0, timeout=10, what="allowed")
    plain = {**suite, "metadata": {"name": "plain"}, "spec": {**suite["spec"], "validator": {}}}
    assert _create(cp, ns, plain).returncode == 0


# -- allowlists (images, Kafka Connect URLs, Kafka bootstrap servers) -----------------------------

RUNTIME = "ghcr.io/dataops-operator/spark-runtime:0.1.0"
VALIDATOR = "ghcr.io/dataops-operator/validator:0.1.0"


def _apply_policies(cp: ControlPlane, docs: list[dict[str, Any]]) -> None:
    text = "\n---\n".join(json.dumps(d) for d in docs)
    cp.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=text)


def _dry_run(cp: ControlPlane, ns: str, doc: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return cp.kubectl("-n", ns, "apply", "--dry-run=server", "-f", "-", input=json.dumps(doc), check=False)


def _suite(name: str = "s", **validator: Any) -> dict[str, Any]:
    return {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataQualitySuite",
        "metadata": {"name": name},
        "spec": {
            "expectations": [{"type": "expect_column_to_exist", "column": "id"}],
            "validator": validator,
        },
    }


def _kafka_source(name: str, bootstrap: str) -> dict[str, Any]:
    return {"name": name, "kafka": {"topic": "orders", "bootstrapServers": bootstrap}}


def _connect_source(name: str, url: str) -> dict[str, Any]:
    return {"name": name, "connector": {"connectorClass": "io.x.Source", "connectUrl": url, "topics": ["t"]}}


@contextmanager
def _policies_with(cp: ControlPlane, ns: str, values: dict[str, Any]) -> Iterator[Allowlists]:
    """The chart's policies rendered with these values (plus a sentinel image), enforced; the operator's
    Allowlists for the same values (as deployment.yaml hands them over); defaults restored after."""
    sentinel = f"sentinel.example/{uuid.uuid4().hex[:8]}"
    images = [*values.get("images", []), sentinel]
    args: list[str] = []
    for key in ("connectUrl", "kafkaBootstrap"):
        if key in values:
            args += ["--set-string", f"{key}={values[key]}".replace(",", "\\,")]
    allowed = {
        "images": images,
        "connectUrls": values.get("connectUrls", []),
        "kafkaBootstrap": values.get("allowedKafkaBootstrap", []),
    }
    args += ["--set-json", "allowed=" + json.dumps(allowed)]
    _apply_policies(cp, render(*args, show_only="templates/deputy-admission.yaml"))
    probe_p = _pipeline(name="probe", spark={"image": sentinel})
    probe_s = _suite(name="probe", image=sentinel)
    wait_for(
        lambda: _dry_run(cp, ns, probe_p).returncode == 0 and _dry_run(cp, ns, probe_s).returncode == 0,
        timeout=30,
        what="policies with these allowlists enforced",
    )
    try:
        yield Allowlists(
            images=parse_patterns(",".join(images)),
            connect_urls=parse_patterns(",".join(values.get("connectUrls", []))),
            kafka_bootstrap=parse_patterns(",".join(values.get("allowedKafkaBootstrap", []))),
            default_images=(RUNTIME, VALIDATOR),
            default_connect_url=values.get("connectUrl") or None,
            default_kafka_bootstrap=values.get("kafkaBootstrap") or None,
        )
    finally:
        _apply_policies(cp, render(show_only="templates/deputy-admission.yaml"))
        wait_for(lambda: _dry_run(cp, ns, probe_p).returncode != 0, timeout=30, what="defaults restored")


IMAGES = [
    RUNTIME,
    VALIDATOR,
    "ghcr.io/acme/spark-3:1.0",
    "ghcr.io/acme/spark-3/evil:1.0",  # * stops at /
    "ghcr.io/acme/spark-:x",
    "GHCR.IO/acme/spark-3:1.0",  # images are case-sensitive
    "registry.acme.dev/data/a/b/c:1",  # ** crosses /
    "registry.acme.dev/data",
    "registry.acme.dev/data/",
    "registry.acme.dev/data/../x:1",
    "registry.acme.dev/data//x:1",
    "registry.acme.dev/data/x:1 ",
    "lit[x].io/a:1",  # brackets literal in the pattern, but not an image
    "q.io/ab",
    "q.io/a/b",  # ? stops at /
    "q.io/abc",
    "back\\slash.io/x",
    "-ghcr.io/acme/spark-3:1.0",
    "docker.io/library/busybox",
    "ghcr.io/dataops-operator/spark-runtime:0.1.0x",
    "meta.io/a",
    "meta.io/aa",
]
IMAGE_GLOBS = [
    "ghcr.io/acme/spark-*:*",
    "registry.acme.dev/data/**",
    " q.io/a?, lit[x].io/* ",  # one values entry holding two comma-separated globs
    "back\\slash.io/*",
    "meta.io/(a|**)+$",  # regex metacharacters are literal
]

CONNECT_URLS = [
    "http://connect.kafka.svc:8083",
    "http://CONNECT.kafka.svc:8083/",  # host case and trailing slash normalised
    "HTTP://connect.kafka.svc:8083",
    "http://connect.kafka.svc:8083//",
    "http://connect.kafka.svc:80830",
    "http://connect.kafka.svc",
    "https://connect.kafka.svc:8083",
    "http://connect.kafka.svc:8083/api",
    "http://connect.kafka.svc:8083/api/./x",
    "http://connect.kafka.svc:8083/a//b",
    "http://connect.kafka.svc:8083@evil:80",
    "http://evil/x?http://connect.kafka.svc:8083",
    "http://c-1.team:8083/",
    "http://c-1.team:8083/v1/connectors",
    "http://c-1.team/x:8083",
    "http://c-1xteam:8083",  # . is literal
    "http://c-1.team.evil:8083",
    "http://c-9.team:99999",
    "http://c-9.team:65536",
    "http://[fd00::1]:8084",
    "http://[FD00::1]:8084/",
    "http://[fd00::2]:8084",
    "http://[fd00:::1]:8084",
    "http://[1.2.3.4]:8084",
    "http://a]b:8084",
    "http://[::1]junk:8084",  # urllib accepts it, admission is stricter
    "http://c-2.team:",  # urllib accepts an empty port, admission is stricter
    "https://ANY.example.com/base/",
    "https://any.example.com/base/deeper",
]
URL_GLOBS = ["http://c-*.team:*/**", "http://[fd00::1]:8084/", "HTTPS://*.EXAMPLE.com/base//"]
# Admission refuses these although the operator would accept them (documented as stricter).
STRICTER_URLS = {"http://[::1]junk:8084", "http://c-2.team:"}

BOOTSTRAPS = [
    "b-1.kafka:9092",
    "B-1.KAFKA:9092",
    " b-1.kafka:9092 , b-2.kafka:9093",
    "b-1.kafka:9092,evil:9092",
    "b-3.kafka:9092",
    "x.other:19092",
    "x.other:19093",
    "a/b.other:19092",
    "x.globbed:1,y.globbed:22222",
    "[fd00::1]:9092",
    "[fd00::9]:9092",
    "b-1.kafka",
    "",
    "b-1.kafka:9092,",
    "b-1.kafka:123456",
    "b_1.kafka:9092",
]
BOOTSTRAP_GLOBS = ["*.other:19092", "*.GLOBBED:*", "[fd00::1]:9092"]


def _verdicts(result: subprocess.CompletedProcess[str], field: str) -> bool:
    if result.returncode == 0:
        return False
    assert field in result.stderr, result.stderr  # refused for this field, with a message naming it
    return True


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({}, id="defaults-only"),
        pytest.param(
            {
                "images": IMAGE_GLOBS,
                "connectUrl": "http://Connect.Kafka.svc:8083/",
                "connectUrls": URL_GLOBS,
                "kafkaBootstrap": "b-1.kafka:9092, B-2.kafka:9093",
                "allowedKafkaBootstrap": BOOTSTRAP_GLOBS,
            },
            id="allowlists",
        ),
        pytest.param(
            {"images": ["**"], "connectUrls": ["**"], "allowedKafkaBootstrap": ["*"]},
            id="everything-valid",
        ),
    ],
)
def test_allowlists_give_the_operators_verdict(
    control_plane: ControlPlane, ns: str, values: dict[str, Any]
) -> None:
    """Differential: for each value, the API server's dry-run verdict equals pipeline_forbidden /
    suite_forbidden for that field, except where admission is documented as stricter."""
    cp = control_plane
    with _policies_with(cp, ns, values) as allow:
        for i, image in enumerate(IMAGES):
            doc = _pipeline(name=f"i{i}", spark={"image": image})
            spec = DataPipelineSpec.model_validate(doc["spec"])
            operator_refuses = any(f.path == "spec.spark.image" for f in pipeline_forbidden(spec, allow))
            assert _verdicts(_dry_run(cp, ns, doc), "spec.spark.image") is operator_refuses, image
            suite = _suite(name=f"i{i}", image=image)
            suite_spec = DataQualitySuiteSpec.model_validate(suite["spec"])
            operator_refuses = bool(suite_forbidden(suite_spec, ns, allow))
            assert _verdicts(_dry_run(cp, ns, suite), "spec.validator.image") is operator_refuses, image
        for i, url in enumerate(CONNECT_URLS):
            sources = [{"name": "orders", "file": {"path": "/d"}}, _connect_source("cdc", url)]
            doc = _pipeline(name=f"u{i}", sources=sources)
            if not url.startswith(("http://", "https://")):  # the CRD's own pattern refuses these
                assert _dry_run(cp, ns, doc).returncode != 0
                continue
            spec = DataPipelineSpec.model_validate(doc["spec"])
            operator_refuses = any("connectUrl" in f.path for f in pipeline_forbidden(spec, allow))
            admission_refuses = _verdicts(_dry_run(cp, ns, doc), "spec.sources[1].connector.connectUrl")
            if url in STRICTER_URLS:
                assert admission_refuses, url
            else:
                assert admission_refuses is operator_refuses, url
        for i, bootstrap in enumerate(BOOTSTRAPS):
            doc = _pipeline(name=f"b{i}", sources=[_kafka_source("orders", bootstrap)])
            spec = DataPipelineSpec.model_validate(doc["spec"])
            operator_refuses = any("bootstrapServers" in f.path for f in pipeline_forbidden(spec, allow))
            admitted = _verdicts(_dry_run(cp, ns, doc), "spec.sources[0].kafka.bootstrapServers")
            assert admitted is operator_refuses, repr(bootstrap)


def test_allowlist_messages_name_the_field_and_value(control_plane: ControlPlane, ns: str) -> None:
    cp = control_plane
    with _policies_with(cp, ns, {"allowedKafkaBootstrap": ["*.kafka:9092"]}):
        file_source = {"name": "orders", "file": {"path": "/d"}}
        message = _denied(cp, ns, _pipeline(spark={"image": "evil.example/x:1"}))
        assert "spec.spark.image: image 'evil.example/x:1' is not allowed" in message
        sources = [file_source, _kafka_source("k", "a.kafka:9092,evil.example:9092")]
        message = _denied(cp, ns, _pipeline(sources=sources))
        assert "spec.sources[1].kafka.bootstrapServers: bootstrap server(s) evil.example:9092 not" in message
        assert "a.kafka" not in message
        sources = [
            file_source,
            _connect_source("c", "http://evil.example:8083"),
            _connect_source("d", "http://e:1"),
        ]
        message = _denied(cp, ns, _pipeline(sources=sources))
        assert "spec.sources[1].connector.connectUrl: Kafka Connect URL 'http://evil.example:8083'" in message
        assert "(and 1 more source(s))" in message
        message = _denied(cp, ns, _pipeline(sources=[file_source, _connect_source("d", "http://a/../b")]))
        assert "spec.sources[1].connector.connectUrl" in message and "not a plain http(s)" in message
        bad = _denied(cp, ns, _pipeline(name="q", spark={"image": "a/../b"}))
        assert "is not a valid image reference" in bad
        suite = _denied(cp, ns, _suite(image="evil.example/v:1"))
        assert "spec.validator.image: image 'evil.example/v:1' is not allowed" in suite


def test_allowlists_within_cel_cost_at_the_models_maximum(control_plane: ControlPlane, ns: str) -> None:
    """32 sources (the model's maximum), 31 of them Kafka with a 1024-character bootstrap list, one
    connector with 16 Secrets the author may get (17 authorizer checks), 40 allowlist globs: admitted,
    and one bad entry at the end of the last list is still found."""
    cp = control_plane
    entries = ",".join(f"b{i:03d}.kafka.svc:9092" for i in range(60))[:1000]
    entries = entries[: entries.rfind(",")]
    globs = [f"*.team{i}.example:*" for i in range(39)] + ["*.kafka.svc:9092"]
    url_globs = [f"http://connect-{i}.example:*/**" for i in range(40)]
    image_globs = [f"ghcr.io/team{i}/**" for i in range(40)]
    names = [f"s{i}" for i in range(16)]
    _grant_secret(cp, ns, *names)
    connector = _connector_source(*names)
    connector["connector"]["connectUrl"] = "http://connect-39.example:8083/a/b"
    sources = [connector] + [_kafka_source("orders" if i == 0 else f"k{i}", entries) for i in range(31)]
    values = {"images": image_globs, "connectUrls": url_globs, "allowedKafkaBootstrap": globs}
    with _policies_with(cp, ns, values):
        doc = _pipeline(name="big", sources=sources, spark={"image": "ghcr.io/team39/a/b:1"})
        result = _create(cp, ns, doc)
        assert result.returncode == 0, result.stderr
        sources[-1] = _kafka_source("k30", entries + ",evil:9092")
        big2 = _pipeline(name="big2", sources=sources, spark={"image": "ghcr.io/team39/a:1"})
        message = _denied(cp, ns, big2)
        assert "spec.sources[31].kafka.bootstrapServers" in message and "evil:9092" in message


def _rendered_image_regex(patterns: list[str]) -> re.Pattern[str]:
    docs = render(
        "--set-json", "allowed.images=" + json.dumps(patterns), show_only="templates/deputy-admission.yaml"
    )
    expression = next(
        v["expression"]
        for d in docs
        if d["kind"] == "ValidatingAdmissionPolicy"
        for v in d["spec"]["validations"]
        if 'object.spec.spark.image.matches("' in v["expression"]
    )
    literal = expression.split('object.spec.spark.image.matches("', 1)[1]
    regex, _ = json.JSONDecoder().raw_decode('"' + literal)
    return re.compile(regex)


def test_rendered_glob_regex_equals_the_operators_glob() -> None:
    """Random globs over an alphabet of glob, regex and path characters: the regex the chart renders
    (what CEL's RE2 runs; these constructs mean the same in Python's re) matches exactly the values
    deputy's glob_match does, several patterns per list."""
    rng = random.Random(19)
    alphabet = ["a", "b", "/", "*", "**", "?", ".", "\\", "[", "]", "(", "|", "$", "+", "{1}", " ", ","]
    value_alphabet = ["a", "b", "/", "*", "?", ".", "\\", "[", "]", "(", "|", "$", "+", "{", "1", "}", "\n"]
    for _ in range(8):
        patterns = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))) for _ in range(4)]
        allowed = parse_patterns(",".join(patterns))
        if not allowed:
            continue
        regex = _rendered_image_regex(patterns)
        for _ in range(400):
            value = "".join(rng.choice(value_alphabet) for _ in range(rng.randint(0, 8)))
            assert (regex.fullmatch(value) is not None) is glob_match(value, allowed), (patterns, value)


def test_narrowed_allowlist_blocks_spec_edits_not_annotations(control_plane: ControlPlane, ns: str) -> None:
    """An image allowed when the pipeline was created and dropped from allowed.images since: run-now
    annotations still pass (the operator refuses it at reconcile), a spec edit is checked again."""
    cp = control_plane
    doc = _pipeline(name="keep", spark={"image": "ghcr.io/acme/x:1"})
    with _policies_with(cp, ns, {"images": ["ghcr.io/acme/*"]}):
        result = _create(cp, ns, doc)
        assert result.returncode == 0, result.stderr
    annotate = cp.kubectl(
        "-n", ns, "annotate", "dp", "keep", "dataops.dev/run-now=1", f"--as={AUTHOR}", check=False
    )
    assert annotate.returncode == 0, annotate.stderr
    edit = cp.kubectl(
        "-n", ns, "patch", "dp", "keep", "--type=merge", "-p", '{"spec":{"suspend":true}}',
        f"--as={AUTHOR}", check=False,
    )  # fmt: skip
    assert edit.returncode != 0 and "spec.spark.image" in edit.stderr
