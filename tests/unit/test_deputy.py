"""No confused deputy: the operator's allowlists and sparkConf denylist, adversarially."""

from __future__ import annotations

from typing import Any

import pytest

from dataops.api.v1alpha1.datapipeline import DataPipelineSpec
from dataops.api.v1alpha1.dataqualitysuite import DataQualitySuiteSpec
from dataops.plan.children import Owner
from dataops.plan.spark_conf import properties_line, read_properties, shared_spark_files
from dataops.plan.spark_driver import Launch, build_native_run, driver_properties
from dataops.policy.deputy import (
    SPARK_CONF_DENYLIST,
    Allowlists,
    bootstrap_problem,
    connect_url_problem,
    glob_match,
    image_problem,
    normalize_url,
    parse_patterns,
    pipeline_forbidden,
    service_account_problem,
    spark_conf_problem,
    suite_forbidden,
)
from dataops.reconcile.config import RunConfig
from dataops.settings import Settings
from tests.conftest import ROOT

RUNTIME = "ghcr.io/dataops-operator/spark-runtime:0.1.0"
ALLOW = Allowlists(
    images=("registry.acme.dev/data/*", "ghcr.io/acme/spark:3.*", "mirror.acme.dev/**"),
    service_accounts=("validator", "team-a/reader-*"),
    connect_urls=("http://connect.kafka.svc:8083", "https://connect-*.acme.dev"),
    kafka_bootstrap=("*.kafka.svc:9092", "broker-1.acme.dev:9093"),
    default_images=(RUNTIME, "ghcr.io/dataops-operator/validator:0.1.0"),
    default_connect_url="http://connect:8083",
    default_kafka_bootstrap="kafka:9092,kafka-2:9092",
)
NONE = Allowlists(default_images=(RUNTIME,))


@pytest.mark.parametrize(
    ("value", "patterns", "expected"),
    [
        ("a/b", ["a/*"], True),
        ("a/b/c", ["a/*"], False),  # * stops at /
        ("a/b/c", ["a/**"], True),
        ("a/b", ["a/?"], True),
        ("a//", ["a/?"], False),
        ("a/[x]", ["a/[x]"], True),  # brackets are literal, not a character class
        ("a/x", ["a/[x]"], False),
        ("a.b", ["a?b"], True),
        ("aXb", ["a.b"], False),  # . is literal
        ("a\nb", ["a*b"], True),  # the glob itself matches anything but / (values are checked first)
        ("", ["*"], True),
        ("x", [], False),
    ],
)
def test_glob(value: str, patterns: list[str], expected: bool) -> None:
    assert glob_match(value, patterns) is expected


@pytest.mark.parametrize(
    ("image", "allowed"),
    [
        (RUNTIME, True),  # the operator's own default
        ("registry.acme.dev/data/spark:1", True),
        ("registry.acme.dev/data/spark@sha256:" + "a" * 64, True),
        ("registry.acme.dev/data/nested/spark:1", False),  # * does not cross /
        ("registry.acme.dev/data/../evil/x:1", False),
        ("registry.acme.dev/data//x", False),
        ("registry.acme.dev.evil.com/data/spark:1", False),
        ("registry.acme.dev:443/data/spark:1", False),
        ("REGISTRY.ACME.DEV/data/spark:1", False),  # case-sensitive
        (" registry.acme.dev/data/spark:1", False),  # whitespace is never trimmed
        ("registry.acme.dev/data/spark:1 ", False),
        ("registry.acme.dev/data/spark:1\n", False),
        ("ghcr.io/acme/spark:3.5.1", True),
        ("ghcr.io/acme/spark:4.0", False),
        ("ghcr.io/acme/spark-evil:3.5", False),
        ("mirror.acme.dev/a/b/c:1", True),
        ("docker.io/library/busybox", False),
        (RUNTIME + " ", False),
    ],
)
def test_images(image: str, allowed: bool) -> None:
    assert (image_problem(image, ALLOW) is None) is allowed


def test_empty_allowlist_allows_only_defaults() -> None:
    assert image_problem(RUNTIME, NONE) is None
    assert image_problem("ghcr.io/dataops-operator/spark-runtime:0.2.0", NONE) is not None
    assert connect_url_problem("http://connect:8083", NONE) is not None
    assert bootstrap_problem("kafka:9092", NONE) is not None
    assert service_account_problem("default", "ns", NONE) is not None


@pytest.mark.parametrize(
    ("account", "namespace", "allowed"),
    [
        ("validator", "any", True),
        ("reader-1", "team-a", True),
        ("reader-1", "team-b", False),
        ("reader-1", "team-a/x", False),
        ("Validator", "any", False),
        ("validator ", "any", False),
        ("validator-x", "any", False),
        ("default", "any", False),
    ],
)
def test_service_accounts(account: str, namespace: str, allowed: bool) -> None:
    assert (service_account_problem(account, namespace, ALLOW) is None) is allowed


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://connect:8083", True),  # default
        ("http://connect:8083/", True),
        ("HTTP://Connect:8083", True),  # scheme and host are case-insensitive
        ("http://connect.kafka.svc:8083", True),
        ("https://connect-eu.acme.dev", True),
        ("https://connect-eu.acme.dev/", True),
        ("https://connect-eu.evil.com/.acme.dev", False),
        ("https://connect-x.acme.dev.evil.com", False),
        ("http://connect.kafka.svc:8083@evil.com", False),  # userinfo trick
        ("http://evil.com#@connect.kafka.svc:8083", False),
        ("http://evil.com?x=connect.kafka.svc:8083", False),
        ("http://connect.kafka.svc:8083/../x", False),
        ("http://connect.kafka.svc:8083/%2e%2e", False),
        ("http://connect.kafka.svc:8084", False),
        ("http://connect.kafka.svc", False),
        (" http://connect.kafka.svc:8083", False),
        ("http://connect.kafka.svc:8083\t", False),
        ("ftp://connect.kafka.svc:8083", False),
        ("http://connect.kafka.svc:99999", False),
        ("http://evil.com", False),
    ],
)
def test_connect_urls(url: str, allowed: bool) -> None:
    assert (connect_url_problem(url, ALLOW) is None) is allowed


@pytest.mark.parametrize(
    ("servers", "allowed"),
    [
        ("kafka:9092", True),
        ("kafka:9092,kafka-2:9092", True),
        ("kafka:9092, kafka-2:9092", True),  # Kafka clients trim around commas
        ("b0.kafka.svc:9092,broker-1.acme.dev:9093", True),
        ("B0.KAFKA.SVC:9092", True),
        ("kafka:9092,evil.com:9092", False),  # every entry must be allowed
        ("evil.com:1.kafka.svc:9092", False),
        ("kafka:9092,", False),
        ("kafka", False),
        ("x.kafka.svc:9093", False),
        ("PLAINTEXT://kafka:9092", False),
        ("kaf ka:9092", False),
        ("evil.com/.kafka.svc:9092", False),
    ],
)
def test_bootstrap(servers: str, allowed: bool) -> None:
    assert (bootstrap_problem(servers, ALLOW) is None) is allowed


@pytest.mark.parametrize(
    "key",
    [
        "spark.kubernetes.authenticate.driver.serviceAccountName",
        "spark.kubernetes.authenticate.executor.serviceAccountName",
        "Spark.Kubernetes.Authenticate.Driver.ServiceAccountName",
        "spark.kubernetes.authenticate.submission.oauthToken",
        "spark.kubernetes.authenticate",
        "spark.kubernetes.driver.podTemplateFile",
        "spark.kubernetes.executor.podTemplateFile",
        "spark.kubernetes.executor.podTemplateContainerName",
        "spark.kubernetes.driver.pod.featureSteps",
        "spark.kubernetes.container.image",
        "spark.kubernetes.executor.container.image",
        "spark.kubernetes.container.image.pullSecrets",
        "spark.kubernetes.driver.secrets.db",
        "spark.kubernetes.executor.secretKeyRef.PASSWORD",
        "spark.kubernetes.executor.volumes.hostPath.root.mount.path",
        "spark.kubernetes.driver.volumes.nfs.x.options.server",
        "spark.kubernetes.driver.pod.excludedFeatureSteps",
        "spark.kubernetes.executor.pod.excludedFeatureSteps",
        "spark.kubernetes.hadoop.configMapName",
        "spark.kubernetes.namespace",
        "spark.master",
        "spark.kubernetes.driver.master",
        "spark.kubernetes.driverEnv.KUBERNETES_AUTH_TOKEN",
        "spark.executorEnv.AWS_ROLE_ARN",
        "spark.authenticate",
        "spark.authenticate.secret",
        "spark.ssl.enabled",
        "spark.network.crypto.enabled",
        "spark.driver.extraJavaOptions",
        "spark.executor.extraClassPath",
        "spark.jars",
        "spark.jars.packages",
        "spark.files",
        "spark.kubernetes.trust.certificates",
        "spark.kubernetes.kerberos.keytab",
        "spark.kubernetes.driver.pod.name",
        "spark.submit.deployMode",
    ],
)
def test_denied_spark_conf(key: str) -> None:
    assert spark_conf_problem(key, "x") is not None


@pytest.mark.parametrize(
    "key",
    [
        "spark.sql.shuffle.partitions",
        "spark.kubernetes.executor.deleteOnTermination",
        "spark.kubernetes.executor.volumes.persistentVolumeClaim.data.options.claimName",
        "spark.kubernetes.executor.label.team",
        "spark.kubernetes.node.selector.app.kubernetes.io/zone",
        "spark.executor.memoryOverhead",
        "spark.masterx",  # whole-key match: a prefix of a denied key is not denied
        "spark.jarsx",
    ],
)
def test_allowed_spark_conf(key: str) -> None:
    assert spark_conf_problem(key, "1") is None


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("spark.sql.x\nspark.master", "1"),
        ("spark.sql.x=spark.master", "1"),
        ("spark.sql.x spark.master", "1"),
        (" spark.master", "1"),
        ("spark.master ", "1"),
        ("spark.sql.x", "1\nspark.kubernetes.authenticate.driver.serviceAccountName=admin"),
        ("spark.sql.x", "1\r"),
    ],
)
def test_spark_conf_injection(key: str, value: str) -> None:
    assert spark_conf_problem(key, value) is not None


def test_properties_lines_cannot_add_properties() -> None:
    """Even where a key or value slips past the checks (labels, annotations), the spark.properties line
    stays one property: newlines, separators, comments and continuations are escaped."""
    for key, value in [
        ("spark.kubernetes.executor.annotation.a", "x\nspark.master=evil"),
        ("spark.kubernetes.executor.label.a=b", "c"),
        ("k", "ends with backslash\\"),
        ("#comment", "v"),
        ("k", " leading"),
        ("k", "a\u2028b\x85c"),
    ]:
        line = properties_line(key, value)
        assert line.count("\n") == 1 and line.endswith("\n") and "\r" not in line
        assert not line.rstrip("\n").endswith("\\") or line.rstrip("\n").endswith("\\\\")
        assert read_properties(line) == {key: value}


def test_driver_arguments_cannot_add_properties() -> None:
    """The spec's text is in the properties file; what the operator passes as ``--conf`` arguments is
    its own, so the spec cannot override an identity property through an annotation."""
    values = ["x\nspark.master=evil", "a=b", "ends with backslash\\", "#comment", " leading", "--conf"]
    spec = _pipeline()
    spec.spark.pod_annotations = {f"a{i}": value for i, value in enumerate(values)}
    owner = Owner(kind="DataPipeline", name="p", namespace="n", uid="u")
    (pod,) = build_native_run(Launch(owner=owner, run_id="r", attempt=1, image="i"), spec)
    props = driver_properties(pod, shared_spark_files(spec.spark))
    assert {k: v for k, v in props.items() if ".annotation." in k} == {
        f"spark.kubernetes.executor.annotation.a{i}": value for i, value in enumerate(values)
    }
    assert props["spark.master"] == "k8s://https://kubernetes.default.svc:443"
    args = pod["spec"]["containers"][0]["args"]
    assert not [a for a in args if "annotation" in a]


def _pipeline(**spark: Any) -> DataPipelineSpec:
    return DataPipelineSpec.model_validate(
        {
            "sources": [
                {"name": "a", "kafka": {"topic": "t", "bootstrapServers": "evil.com:9092"}},
                {"name": "b", "connector": {"connectorClass": "x.Y", "connectUrl": "http://evil.com:8083"}},
                {"name": "c", "file": {"path": "/data"}},
            ],
            "sinks": [{"name": "out", "from": "c", "path": "/out"}],
            "spark": spark,
        }
    )


def test_pipeline_names_every_forbidden_field() -> None:
    spec = _pipeline(image="evil/image:1", sparkConf={"spark.jars": "http://x", "spark.sql.ok": "1"})
    paths = [f.path for f in pipeline_forbidden(spec, ALLOW)]
    assert paths == [
        "spec.spark.image",
        "spec.spark.sparkConf['spark.jars']",
        "spec.sources[0].kafka.bootstrapServers",
        "spec.sources[1].connector.connectUrl",
    ]


def test_unset_fields_are_the_operators_defaults() -> None:
    spec = DataPipelineSpec.model_validate(
        {
            "sources": [
                {"name": "a", "kafka": {"topic": "t"}},
                {"name": "b", "connector": {"connectorClass": "x.Y"}},
            ],
            "sinks": [{"name": "out", "from": "a", "path": "/out"}],
        }
    )
    assert pipeline_forbidden(spec, NONE) == []


def test_suite_image_and_service_account() -> None:
    spec = DataQualitySuiteSpec.model_validate(
        {
            "expectations": [{"type": "expect_column_to_exist", "column": "id"}],
            "validator": {"image": "evil/v:1", "serviceAccountName": "admin"},
        }
    )
    assert [f.path for f in suite_forbidden(spec, "ns", ALLOW)] == [
        "spec.validator.image",
        "spec.validator.serviceAccountName",
    ]
    ok = spec.model_copy(
        update={
            "validator": spec.validator.model_copy(
                update={"image": None, "service_account_name": "validator"}
            )
        }
    )
    assert suite_forbidden(ok, "ns", ALLOW) == []


def test_settings_to_allowlists() -> None:
    settings = Settings.from_env(
        {
            "DATAOPS_ALLOWED_IMAGES": " a/* , ,b/** ",
            "DATAOPS_ALLOWED_CONNECT_URLS": "http://c:1",
            "DATAOPS_CONNECT_URL": "http://connect:8083",
        }
    )
    assert parse_patterns(settings.allowed_images) == ("a/*", "b/**")
    allow = RunConfig(
        allowed_images=parse_patterns(settings.allowed_images), connect_url=settings.connect_url
    ).allowlists()
    assert image_problem("a/x", allow) is None and image_problem("c/x", allow) is not None
    assert connect_url_problem("http://connect:8083", allow) is None
    assert parse_patterns(None) == ()


def test_chart_admission_policy_carries_the_same_denylist() -> None:
    chart_copy = (ROOT / "charts/dataops-operator/files/spark-conf-denylist.re").read_text().strip()
    assert chart_copy == SPARK_CONF_DENYLIST
    assert (
        "files/spark-conf-denylist.re"
        in (ROOT / "charts/dataops-operator/templates/deputy-admission.yaml").read_text()
    )


def test_redaction_settings_cannot_be_overridden() -> None:
    """The masking key travels in Spark expressions kept out of plans, the UI and event logs by
    redaction settings; a pipeline must not be able to turn them off."""
    import re

    for key in ("spark.redaction.regex", "spark.sql.redaction.string.regex", "SPARK.REDACTION.REGEX"):
        assert re.fullmatch(SPARK_CONF_DENYLIST, key.lower()), key


@pytest.mark.parametrize("url", ["http://a]b", "http://[abc]:80", "http://[1.2.3.4]", "http://a[b]c"])
def test_urls_urllib_cannot_split_are_refused_not_raised(url: str) -> None:
    assert normalize_url(url) is None
    problem = connect_url_problem(url, Allowlists(connect_urls=("**",)))
    assert problem is not None and "not a plain" in problem
