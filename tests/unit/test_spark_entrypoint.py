"""The Spark image's entrypoint (runtime-images/spark/entrypoint.py): driver, executor and pass-through."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from dataops.api.v1alpha1.datapipeline import SparkSpec
from dataops.plan.children import Owner
from dataops.plan.spark_driver import APP_FILE, Launch, driver_args

ENTRYPOINT = Path(__file__).resolve().parents[2] / "runtime-images" / "spark" / "entrypoint.py"
SPARK_HOME = "/opt/dataops/venv/lib/python3.11/site-packages/pyspark"
JAVA = "/usr/lib/jvm/java-17-openjdk-amd64/bin/java"
PROPS = "/opt/spark/conf/spark.properties"  # the entrypoint still takes properties files
DRIVER_ARGS = [
    "driver",
    "--properties-file",
    PROPS,
    "--class",
    "org.apache.spark.deploy.PythonRunner",
    APP_FILE,
]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("spark_entrypoint", ENTRYPOINT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


ep = _load()


def _command(argv: list[str], env: dict[str, str], **kwargs: object) -> list[str]:
    result: list[str] = ep.command(argv, env, spark_home=SPARK_HOME, java=JAVA, **kwargs)
    return result


def _conf(command: list[str]) -> dict[str, str]:
    pairs = [command[i + 1] for i, arg in enumerate(command) if arg == "--conf"]
    return dict(p.split("=", 1) for p in pairs)


def test_driver_runs_spark_submit_in_client_mode_at_the_pod_ip_under_tini() -> None:
    command = _command(DRIVER_ARGS, {"SPARK_DRIVER_BIND_ADDRESS": "10.244.0.7"})
    assert command[:4] == ["/usr/bin/tini", "-s", "--", f"{SPARK_HOME}/bin/spark-submit"]
    assert command[-7:] == ["--deploy-mode", "client", *DRIVER_ARGS[1:]]
    assert _conf(command) == {
        "spark.driver.bindAddress": "10.244.0.7",
        "spark.executorEnv.SPARK_DRIVER_POD_IP": "10.244.0.7",
        "spark.driver.host": "10.244.0.7",
    }


def test_driver_host_on_the_command_line_precedes_the_properties_file() -> None:
    """spark-submit takes --conf over --properties-file, so the pod IP wins over the driver Service name."""
    command = _command(DRIVER_ARGS, {"SPARK_DRIVER_BIND_ADDRESS": "10.244.0.7"}, tini=None)
    assert command.index("spark.driver.host=10.244.0.7") < command.index("--properties-file")


def test_driver_talks_to_the_api_server_by_the_service_env_unless_configured() -> None:
    env = {"SPARK_DRIVER_BIND_ADDRESS": "10.244.0.7", "KUBERNETES_SERVICE_HOST": "10.0.0.1"}
    env["KUBERNETES_SERVICE_PORT"] = "6443"
    conf = _conf(_command(DRIVER_ARGS, env, read_file={PROPS: "spark.app.id=spark-x\n"}))
    assert conf["spark.kubernetes.driver.master"] == "https://10.0.0.1:6443"

    configured = {PROPS: "# comment\nspark.kubernetes.driver.master = https://api.example:443\n"}
    assert "spark.kubernetes.driver.master" not in _conf(_command(DRIVER_ARGS, env, read_file=configured))
    on_command_line = [
        *DRIVER_ARGS[:1],
        "--conf",
        "spark.kubernetes.driver.master=https://a:1",
        *DRIVER_ARGS[1:],
    ]
    assert _conf(_command(on_command_line, env))["spark.kubernetes.driver.master"] == "https://a:1"

    ipv6 = _conf(_command(DRIVER_ARGS, {"KUBERNETES_SERVICE_HOST": "fd00::1"}))
    assert ipv6["spark.kubernetes.driver.master"] == "https://[fd00::1]:443"


def test_operator_args_keep_the_pod_ip_and_their_api_server() -> None:
    """The operator's driver pods pass every property as --conf: the entrypoint sees their API
    server, adds none of its own, and nothing in them overrides the pod IP it passes first."""
    owner = Owner(kind="DataPipeline", name="p", namespace="n", uid="u")
    launch = Launch(owner=owner, run_id="r", attempt=1, image="i", api_server_url="https://10.0.0.9:6443")
    spark = SparkSpec.model_validate({"sparkConf": {"spark.driver.host": "elsewhere"}})
    env = {"SPARK_DRIVER_BIND_ADDRESS": "10.244.0.7", "KUBERNETES_SERVICE_HOST": "10.0.0.1"}
    command = _command(driver_args(launch, spark), env, tini=None)
    pairs = [command[i + 1] for i, arg in enumerate(command) if arg == "--conf"]
    assert [p for p in pairs if p.startswith("spark.driver.host=")] == ["spark.driver.host=10.244.0.7"]
    masters = [p for p in pairs if p.startswith("spark.kubernetes.driver.master=")]
    assert masters == ["spark.kubernetes.driver.master=https://10.0.0.9:6443"]


def test_driver_without_a_bind_address_passes_no_empty_addresses() -> None:
    command = _command(DRIVER_ARGS, {}, tini=None)
    assert command == [f"{SPARK_HOME}/bin/spark-submit", "--deploy-mode", "client", *DRIVER_ARGS[1:]]


EXECUTOR_ENV = {
    "SPARK_DRIVER_URL": "spark://CoarseGrainedScheduler@10.244.0.7:7078",
    "SPARK_EXECUTOR_ID": "3",
    "SPARK_EXECUTOR_CORES": "2",
    "SPARK_EXECUTOR_MEMORY": "1024m",
    "SPARK_APPLICATION_ID": "spark-orders-r1-1",
    "SPARK_EXECUTOR_POD_IP": "10.244.0.9",
    "SPARK_RESOURCE_PROFILE_ID": "0",
    "SPARK_EXECUTOR_POD_NAME": "orders-r1-1-exec-3",
    "SPARK_CONF_DIR": "/opt/spark/conf",
    "SPARK_DIST_CLASSPATH": "/opt/dataops/jars/*",
    "SPARK_JAVA_OPT_0": "-Dspark.driver.port=7078",
    "SPARK_JAVA_OPT_10": "-Dten",
    "SPARK_JAVA_OPT_2": "-Dtwo",
}


def test_executor_runs_the_kubernetes_executor_backend() -> None:
    command = _command(["executor"], EXECUTOR_ENV, cwd="/tmp", tini=None)
    assert command == [
        JAVA,
        "-Dspark.driver.port=7078",
        "-Dtwo",
        "-Dten",
        "-Xms1024m",
        "-Xmx1024m",
        "-cp",
        f"/opt/spark/conf::{SPARK_HOME}/jars/*:/tmp:/opt/dataops/jars/*",
        "org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend",
        "--driver-url",
        "spark://CoarseGrainedScheduler@10.244.0.7:7078",
        "--executor-id",
        "3",
        "--cores",
        "2",
        "--app-id",
        "spark-orders-r1-1",
        "--hostname",
        "10.244.0.9",
        "--resourceProfileId",
        "0",
        "--podName",
        "orders-r1-1-exec-3",
    ]
    assert _command(["executor"], EXECUTOR_ENV)[:4] == ["/usr/bin/tini", "-s", "--", JAVA]


def test_executor_classpath_like_spark_entrypoint() -> None:
    env = {"SPARK_CLASSPATH": "/x.jar", "SPARK_EXTRA_CLASSPATH": "/extra/*", "HADOOP_CONF_DIR": "/hadoop"}
    assert ep.executor_classpath(env, "/spark", "/work") == (
        "/spark/conf:/hadoop:/x.jar:/spark/jars/*:/extra/*:/work"
    )


def test_executor_without_its_environment_fails_clearly() -> None:
    env = {k: v for k, v in EXECUTOR_ENV.items() if k != "SPARK_DRIVER_URL"}
    with pytest.raises(ep.EntrypointError, match="SPARK_DRIVER_URL"):
        _command(["executor"], env)


def test_other_commands_pass_through_unchanged() -> None:
    argv = ["python3", "-m", "dataops.runtime.validator"]
    assert _command(argv, {"SPARK_DRIVER_BIND_ADDRESS": "10.0.0.1"}) == argv
    with pytest.raises(ep.EntrypointError):
        _command([], {})


def test_properties_reader() -> None:
    text = "a=1\nb = 2\nc:3\nd 4\n! bang\n  # hash\nspark.x=y=z\n"
    assert ep.read_properties(text) == {"a": "1", "b": "2", "c": "3", "d": "4", "spark.x": "y=z"}


def _fake_spark(tmp_path: Path) -> tuple[Path, Path]:
    """A SPARK_HOME whose spark-submit, and a JAVA_HOME whose java, print their arguments."""
    spark_home, java_home = tmp_path / "spark", tmp_path / "jdk"
    for program in (spark_home / "bin" / "spark-submit", java_home / "bin" / "java"):
        program.parent.mkdir(parents=True)
        program.write_text('#!/bin/sh\nfor a in "$0" "$@"; do echo "$a"; done\n')
        program.chmod(0o755)
    return spark_home, java_home


def _run(tmp_path: Path, args: list[str], env: dict[str, str]) -> list[str]:
    spark_home, java_home = _fake_spark(tmp_path)
    base = {"PATH": os.environ["PATH"], "SPARK_HOME": str(spark_home), "JAVA_HOME": str(java_home)}
    result = subprocess.run(
        [sys.executable, str(ENTRYPOINT), *args],
        env={**base, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout.splitlines()


def test_the_script_execs_the_driver_command(tmp_path: Path) -> None:
    props = tmp_path / "spark.properties"
    props.write_text("spark.driver.host=orders-r1-1-svc.default.svc\n")
    args = [
        "driver",
        "--properties-file",
        str(props),
        "--class",
        "org.apache.spark.deploy.PythonRunner",
        APP_FILE,
    ]
    out = _run(
        tmp_path, args, {"SPARK_DRIVER_BIND_ADDRESS": "10.244.0.7", "KUBERNETES_SERVICE_HOST": "10.0.0.1"}
    )
    assert out[0] == str(tmp_path / "spark" / "bin" / "spark-submit")
    assert "spark.driver.host=10.244.0.7" in out
    assert "spark.kubernetes.driver.master=https://10.0.0.1:443" in out
    assert out[-7:] == ["--deploy-mode", "client", *args[1:]]


def test_the_script_execs_the_executor_command(tmp_path: Path) -> None:
    out = _run(tmp_path, ["executor"], EXECUTOR_ENV)
    assert out[0] == str(tmp_path / "jdk" / "bin" / "java")
    assert out[out.index("--podName") + 1] == "orders-r1-1-exec-3"
    assert out[out.index("-cp") + 1].endswith(f":{tmp_path}:/opt/dataops/jars/*")


def test_the_script_passes_other_commands_through_and_reports_missing_env(tmp_path: Path) -> None:
    assert _run(tmp_path, ["echo", "hello"], {}) == ["hello"]
    spark_home, java_home = tmp_path / "s", tmp_path / "j"
    failed = subprocess.run(
        [sys.executable, str(ENTRYPOINT), "executor"],
        env={"PATH": os.environ["PATH"], "SPARK_HOME": str(spark_home), "JAVA_HOME": str(java_home)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert failed.returncode == 64
    assert "SPARK_DRIVER_URL" in failed.stderr
