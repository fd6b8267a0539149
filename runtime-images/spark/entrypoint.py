#!/usr/bin/env python3
"""Entrypoint of the dataops Spark image (driver and executor pods).

Mirrors Apache Spark's ``resource-managers/kubernetes/docker/src/main/dockerfiles/spark/entrypoint.sh``
(as shipped in the official 4.0 images), with Spark taken from the pyspark package:

* ``driver ARGS...`` (the operator's driver pods): ``spark-submit --deploy-mode client ARGS...`` with the
  pod IP as bind address. The pod IP is also the advertised ``spark.driver.host`` (there may be no cluster
  DNS to resolve the driver Service a properties file names; command-line ``--conf`` wins over
  ``--properties-file``), and, unless configured, ``spark.kubernetes.driver.master`` is the API server from
  ``KUBERNETES_SERVICE_HOST``/``_PORT`` instead of ``https://kubernetes.default.svc``.
* ``executor`` (pods Spark's KubernetesClusterSchedulerBackend creates): ``java ...
  KubernetesExecutorBackend`` with memory, classpath and identity from the environment Spark sets.
* anything else runs as given.

Driver and executor run under tini (reaps the Python workers). Standard library only: it runs before
anything else in the container. ``command()`` is pure (unit-tested); ``main()`` only execs.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

EXECUTOR_BACKEND = "org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend"
DRIVER_MASTER_KEY = "spark.kubernetes.driver.master"
TINI = "/usr/bin/tini"
NSS_WRAPPER_LIBS = (
    "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so",
    "/usr/lib/aarch64-linux-gnu/libnss_wrapper.so",
    "/usr/lib/libnss_wrapper.so",
    "/lib/libnss_wrapper.so",
)
REQUIRED_EXECUTOR_ENV = (
    "SPARK_DRIVER_URL",
    "SPARK_EXECUTOR_ID",
    "SPARK_EXECUTOR_CORES",
    "SPARK_APPLICATION_ID",
    "SPARK_EXECUTOR_POD_IP",
    "SPARK_EXECUTOR_MEMORY",
)


class EntrypointError(Exception):
    """The container was started without what its role needs."""


def read_properties(text: str) -> dict[str, str]:
    """Keys and values of a Java properties file (the subset spark-submit's files use)."""
    props: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        cut = min(
            (i for i in (line.find("="), line.find(":"), line.find(" "), line.find("\t")) if i > 0),
            default=len(line),
        )
        props[line[:cut].strip()] = line[cut + 1 :].strip().lstrip("=:").strip()
    return props


def configured_keys(args: Sequence[str], read_file: Mapping[str, str] | None = None) -> set[str]:
    """Spark properties a spark-submit command line sets (``--conf k=v`` and its ``--properties-file``)."""
    keys: set[str] = set()
    for i, arg in enumerate(args):
        value = args[i + 1] if i + 1 < len(args) else ""
        if arg == "--conf":
            keys.add(value.split("=", 1)[0])
        elif arg.startswith("--conf="):
            keys.add(arg[len("--conf=") :].split("=", 1)[0])
        elif arg == "--properties-file" and read_file is not None and value in read_file:
            keys |= set(read_properties(read_file[value]))
    return keys


def java_options(env: Mapping[str, str]) -> list[str]:
    """SPARK_JAVA_OPT_<n> in numeric order (Spark numbers the executor's JVM options from 0)."""
    numbered = []
    for key, value in env.items():
        suffix = key.removeprefix("SPARK_JAVA_OPT_")
        if suffix != key and suffix.isdigit():
            numbered.append((int(suffix), value))
    return [value for _, value in sorted(numbered)]


def executor_classpath(env: Mapping[str, str], spark_home: str, cwd: str) -> str:
    classpath = f"{env.get('SPARK_CLASSPATH', '')}:{spark_home}/jars/*"
    if env.get("SPARK_EXTRA_CLASSPATH"):
        classpath = f"{classpath}:{env['SPARK_EXTRA_CLASSPATH']}"
    if "HADOOP_CONF_DIR" in env:
        classpath = f"{env['HADOOP_CONF_DIR']}:{classpath}"
    if "SPARK_CONF_DIR" in env:
        classpath = f"{env['SPARK_CONF_DIR']}:{classpath}"
    else:
        classpath = f"{spark_home}/conf:{classpath}"
    # SPARK-43540: the working directory is on the executor's classpath.
    return f"{classpath}:{cwd}"


def api_server_url(env: Mapping[str, str]) -> str | None:
    host = env.get("KUBERNETES_SERVICE_HOST")
    if not host:
        return None
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"https://{host}:{env.get('KUBERNETES_SERVICE_PORT', '443')}"


def driver_command(
    args: Sequence[str], env: Mapping[str, str], spark_home: str, read_file: Mapping[str, str] | None = None
) -> list[str]:
    command = [f"{spark_home}/bin/spark-submit"]
    bind = env.get("SPARK_DRIVER_BIND_ADDRESS", "")
    if bind:
        command += [
            "--conf",
            f"spark.driver.bindAddress={bind}",
            "--conf",
            f"spark.executorEnv.SPARK_DRIVER_POD_IP={bind}",
            # Executors reach the driver at its pod IP, not at a Service name that needs cluster DNS.
            "--conf",
            f"spark.driver.host={bind}",
        ]
    master = api_server_url(env)
    if master and DRIVER_MASTER_KEY not in configured_keys(args, read_file):
        command += ["--conf", f"{DRIVER_MASTER_KEY}={master}"]
    return [*command, "--deploy-mode", "client", *args]


def executor_command(env: Mapping[str, str], spark_home: str, java: str, cwd: str) -> list[str]:
    missing = [name for name in REQUIRED_EXECUTOR_ENV if not env.get(name)]
    if missing:
        raise EntrypointError(f"executor: environment variables not set: {', '.join(missing)}")
    memory = env["SPARK_EXECUTOR_MEMORY"]
    classpath = executor_classpath(env, spark_home, cwd)
    command = [
        java,
        *java_options(env),
        f"-Xms{memory}",
        f"-Xmx{memory}",
        "-cp",
        f"{classpath}:{env.get('SPARK_DIST_CLASSPATH', '')}",
        EXECUTOR_BACKEND,
        "--driver-url",
        env["SPARK_DRIVER_URL"],
        "--executor-id",
        env["SPARK_EXECUTOR_ID"],
        "--cores",
        env["SPARK_EXECUTOR_CORES"],
        "--app-id",
        env["SPARK_APPLICATION_ID"],
        "--hostname",
        env["SPARK_EXECUTOR_POD_IP"],
        "--resourceProfileId",
        env.get("SPARK_RESOURCE_PROFILE_ID") or "0",
    ]
    if env.get("SPARK_EXECUTOR_POD_NAME"):
        command += ["--podName", env["SPARK_EXECUTOR_POD_NAME"]]
    return command


def command(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    spark_home: str,
    java: str,
    cwd: str = "/tmp",
    tini: str | None = TINI,
    read_file: Mapping[str, str] | None = None,
) -> list[str]:
    """The command a container started with ``argv`` runs (pure: no I/O)."""
    if not argv:
        raise EntrypointError("no command: expected driver, executor or a program to run")
    role, rest = argv[0], list(argv[1:])
    if role == "driver":
        run = driver_command(rest, env, spark_home, read_file)
    elif role == "executor":
        run = executor_command(env, spark_home, java, cwd)
    else:
        return list(argv)
    return [tini, "-s", "--", *run] if tini else run


def find_spark_home(env: Mapping[str, str]) -> str:
    if env.get("SPARK_HOME"):
        return env["SPARK_HOME"]
    spec = importlib.util.find_spec("pyspark")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise EntrypointError("SPARK_HOME is not set and pyspark is not installed")
    return str(next(iter(spec.submodule_search_locations)))


def find_java(env: Mapping[str, str]) -> str:
    if env.get("JAVA_HOME"):
        return f"{env['JAVA_HOME']}/bin/java"
    return shutil.which("java") or "java"


def properties_files(args: Sequence[str]) -> dict[str, str]:
    files: dict[str, str] = {}
    for i, arg in enumerate(args[:-1]):
        if arg == "--properties-file":
            with contextlib.suppress(OSError):
                files[args[i + 1]] = Path(args[i + 1]).read_text()
    return files


def passwd_wrapper(env: Mapping[str, str]) -> dict[str, str]:
    """An /etc/passwd entry for an anonymous UID through nss_wrapper (Spark's own images do the same)."""
    uid, gid = os.getuid(), os.getgid()
    try:
        pwd.getpwuid(uid)
        return {}
    except KeyError:
        pass
    library = next((lib for lib in NSS_WRAPPER_LIBS if os.path.isfile(lib)), None)
    if library is None:
        return {}
    home = env.get("SPARK_HOME", "/tmp")
    with tempfile.NamedTemporaryFile("w", prefix="passwd.", delete=False) as passwd:
        passwd.write(f"spark:x:{uid}:{gid}:{env.get('SPARK_USER_NAME', 'anonymous uid')}:{home}:/bin/false\n")
    with tempfile.NamedTemporaryFile("w", prefix="group.", delete=False) as group:
        group.write(f"spark:x:{gid}:\n")
    return {"LD_PRELOAD": library, "NSS_WRAPPER_PASSWD": passwd.name, "NSS_WRAPPER_GROUP": group.name}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ)
    try:
        spark_home = find_spark_home(env)
        run = command(
            args,
            env,
            spark_home=spark_home,
            java=find_java(env),
            cwd=os.getcwd(),
            tini=TINI if os.access(TINI, os.X_OK) else None,
            read_file=properties_files(args[1:]) if args[:1] == ["driver"] else None,
        )
    except EntrypointError as exc:
        print(f"entrypoint: {exc}", file=sys.stderr)
        return 64
    if args[:1] in (["driver"], ["executor"]):
        os.environ["SPARK_HOME"] = spark_home
        os.environ.update(passwd_wrapper(env))
    sys.stdout.flush()
    os.execvp(run[0], run)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main())
