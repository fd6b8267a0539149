"""Real streaming services on loopback for tests, benchmarks and `dataops dev up`: a KRaft Kafka
broker, a distributed Kafka Connect worker (Debezium PostgreSQL and FileStream plugins) and a
PostgreSQL server with logical decoding. Installed by ``hack/install-streaming.sh``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dataops.devcluster.controlplane import CACHE, free_port


class ServiceError(RuntimeError):
    pass


def log_tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log file, for error messages."""
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _wait(
    ready: Callable[[], bool], *, what: str, log: Path, proc: subprocess.Popen[bytes] | None, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServiceError(f"{what} exited with code {proc.returncode}:\n{log_tail(log)}")
        try:
            if ready():
                return
        except (OSError, urllib.error.URLError, ValueError):
            pass
        time.sleep(0.3)
    raise ServiceError(f"{what} not ready after {timeout:.0f}s:\n{log_tail(log)}")


def stop_process(proc: subprocess.Popen[bytes] | None, grace: float = 15.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _java(
    classpath: str, main: str, args: list[str], *, heap: str, workdir: Path, log: Path
) -> subprocess.Popen[bytes]:
    """A JVM service logging warnings (and the few INFO lines LOG4J keeps) to ``log``."""
    java = shutil.which("java")
    if java is None:
        raise ServiceError("java not found (Kafka needs Java 17)")
    command = [
        java,
        f"-Xmx{heap}",
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",
        f"-Dlog4j2.configurationFile={_log4j_config(workdir)}",
        "-cp",
        classpath,
        main,
        *args,
    ]
    return subprocess.Popen(
        command,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def _log4j_config(workdir: Path) -> Path:
    path = workdir / "log4j2.yaml"
    path.write_text(LOG4J)
    return path


def kafka_libs() -> Path:
    libs = Path(os.environ.get("DATAOPS_KAFKA_LIBS", str(CACHE / "kafka" / "libs")))
    if not libs.is_dir():
        raise ServiceError(f"{libs} is missing: run ./hack/install.sh (hack/install-streaming.sh) first")
    return libs


LOG4J = """Configuration:
  status: warn
  Appenders:
    Console: {name: out, target: SYSTEM_OUT, PatternLayout: {Pattern: "[%d] %p %m (%c)%n"}}
  Loggers:
    Root: {level: WARN, AppenderRef: [{ref: out}]}
    Logger:
      - {name: kafka.server.KafkaRaftServer, level: INFO}
      - {name: org.apache.kafka.connect.runtime.distributed.DistributedHerder, level: INFO}
      - {name: org.apache.kafka.connect.runtime.WorkerTask, level: ERROR}
"""


@dataclass
class KafkaBroker:
    """A single-node KRaft broker (broker and controller in one process)."""

    workdir: Path
    port: int = 0
    controller_port: int = 0
    heap: str = "512m"
    pod_host: str | None = None
    """An address pods reach (the real node's host address): adds a listener there for pods."""
    pod_port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pod_bootstrap(self) -> str:
        """Bootstrap address for clients in pods (only with ``pod_host``)."""
        if not self.pod_host:
            raise ServiceError("the broker has no listener for pods: start it with pod_host")
        return f"{self.pod_host}:{self.pod_port}"

    @property
    def log(self) -> Path:
        return self.workdir / "broker.log"

    def _configure(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self.controller_port = self.controller_port or free_port()
        listeners = [f"PLAINTEXT://127.0.0.1:{self.port}"]
        if self.pod_host:
            self.pod_port = self.pod_port or free_port()
            listeners.append(f"POD://{self.pod_host}:{self.pod_port}")
        props = self.workdir / "server.properties"
        props.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}",
                    f"listeners={','.join(listeners)},CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners={','.join(listeners)}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,POD:PLAINTEXT",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={self.workdir / 'data'}",
                    "num.partitions=1",
                    "auto.create.topics.enable=false",
                    "offsets.topic.replication.factor=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "log.flush.interval.messages=1000000",
                    "num.network.threads=2",
                    "num.io.threads=4",
                ]
            )
            + "\n"
        )
        return props

    def start(self, timeout: float = 60.0) -> KafkaBroker:
        """Starts (or restarts, on the same data and ports) the broker."""
        props = self._configure()
        classpath = f"{kafka_libs()}/*"
        if not (self.workdir / "data" / "meta.properties").exists():
            fmt = subprocess.run(
                [
                    "java",
                    "-cp",
                    classpath,
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    str(uuid.uuid4())[:22].replace("-", "A"),
                    "-c",
                    str(props),
                    "--standalone",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if fmt.returncode != 0:
                raise ServiceError(f"formatting the KRaft storage failed:\n{fmt.stdout}\n{fmt.stderr}")
        self.proc = _java(
            classpath,
            "kafka.Kafka",
            [str(props)],
            heap=self.heap,
            workdir=self.workdir,
            log=self.log,
        )
        _wait(self._ready, what="Kafka broker", log=self.log, proc=self.proc, timeout=timeout)
        return self

    def _ready(self) -> bool:
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", self.port)) != 0:
                return False
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "socket.timeout.ms": 2000, "log_level": 0})
        try:
            return bool(admin.list_topics(timeout=2).brokers)
        except KafkaException:
            return False

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None


@dataclass
class ConnectWorker:
    """A Kafka Connect worker in distributed mode, REST on loopback."""

    workdir: Path
    bootstrap: str
    port: int = 0
    heap: str = "768m"
    group: str = "dataops-connect"
    proc: subprocess.Popen[bytes] | None = None
    plugin_path: Path = field(
        default_factory=lambda: Path(
            os.environ.get("DATAOPS_CONNECT_PLUGINS", str(CACHE / "connect-plugins"))
        )
    )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "connect.log"

    def start(self, timeout: float = 90.0) -> ConnectWorker:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        if not self.plugin_path.is_dir():
            raise ServiceError(
                f"{self.plugin_path} is missing: run ./hack/install.sh (hack/install-streaming.sh) first"
            )
        props = self.workdir / "connect.properties"
        props.write_text(
            "\n".join(
                [
                    f"bootstrap.servers={self.bootstrap}",
                    f"group.id={self.group}",
                    f"listeners=http://127.0.0.1:{self.port}",
                    "rest.advertised.host.name=127.0.0.1",
                    f"rest.advertised.port={self.port}",
                    "key.converter=org.apache.kafka.connect.json.JsonConverter",
                    "value.converter=org.apache.kafka.connect.json.JsonConverter",
                    "key.converter.schemas.enable=false",
                    "value.converter.schemas.enable=false",
                    f"config.storage.topic={self.group}-configs",
                    f"offset.storage.topic={self.group}-offsets",
                    f"status.storage.topic={self.group}-status",
                    "config.storage.replication.factor=1",
                    "offset.storage.replication.factor=1",
                    "status.storage.replication.factor=1",
                    "offset.storage.partitions=1",
                    "status.storage.partitions=1",
                    "offset.flush.interval.ms=1000",
                    "scheduled.rebalance.max.delay.ms=0",
                    f"plugin.path={self.plugin_path.resolve()}",
                    "plugin.discovery=only_scan",
                ]
            )
            + "\n"
        )
        self.proc = _java(
            f"{kafka_libs()}/*",
            "org.apache.kafka.connect.cli.ConnectDistributed",
            [str(props)],
            heap=self.heap,
            workdir=self.workdir,
            log=self.log,
        )
        _wait(self._ready, what="Kafka Connect", log=self.log, proc=self.proc, timeout=timeout)
        return self

    def plugins(self) -> list[str]:
        with urllib.request.urlopen(f"{self.url}/connector-plugins", timeout=5) as response:
            return [p["class"] for p in json.loads(response.read())]

    def _ready(self) -> bool:
        return "io.debezium.connector.postgresql.PostgresConnector" in self.plugins()

    def kill(self) -> None:
        """SIGKILL, as a crashed or OOM-killed worker: no graceful rebalance, no offset flush."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(30)
        self.proc = None

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None


def postgres_bin() -> Path:
    path = Path(os.environ.get("DATAOPS_POSTGRES_BIN", str(CACHE / "postgres-bin"))).resolve()
    if not (path / "postgres").exists():
        raise ServiceError(
            f"{path}/postgres is missing: run ./hack/install.sh (hack/install-streaming.sh) first"
        )
    return path


@dataclass
class Postgres:
    """PostgreSQL with logical decoding (for Debezium), on loopback with password authentication."""

    workdir: Path
    port: int = 0
    database: str = "shop"
    user: str = "dataops"
    password: str = "dataops-secret"
    proc_user: str | None = None

    @property
    def data(self) -> Path:
        return self.workdir / "data"

    @property
    def log(self) -> Path:
        return self.workdir / "postgres.log"

    @property
    def jdbc_url(self) -> str:
        return f"jdbc:postgresql://127.0.0.1:{self.port}/{self.database}"

    def _as_owner(self, args: list[str]) -> list[str]:
        """PostgreSQL refuses to run as root: run its programs as the postgres user then."""
        if os.geteuid() == 0:
            return ["runuser", "-u", self.proc_user or "postgres", "--", *args]
        return args

    def _run(self, args: list[str], *, input: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self._as_owner(args), input=input, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise ServiceError(
                f"{' '.join(args[:2])} failed ({result.returncode}): {result.stderr.strip()[-2000:]}"
            )
        return result

    def start(self, timeout: float = 60.0) -> Postgres:
        bin_dir = postgres_bin()
        if os.geteuid() == 0 and not self.workdir.exists():
            # The postgres user must reach the data folder: a private temporary parent would not do.
            self.workdir = Path(tempfile.mkdtemp(prefix="dataops-postgres-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        if os.geteuid() == 0:
            self.workdir.chmod(0o755)
            shutil.chown(self.workdir, user=self.proc_user or "postgres")
        if not (self.data / "PG_VERSION").exists():
            self._run(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                ]
            )
            with (self.data / "postgresql.conf").open("a") as conf:
                conf.write(
                    f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                    f"unix_socket_directories = '{self.workdir}'\n"
                    "wal_level = logical\nmax_replication_slots = 8\nmax_wal_senders = 8\nfsync = off\n"
                    "synchronous_commit = off\nfull_page_writes = off\n"
                )
        self._run(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-w",
                "-t",
                str(int(timeout)),
                "start",
            ]
        )
        self.sql(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{self.user}') THEN "
            f"CREATE ROLE {self.user} LOGIN REPLICATION SUPERUSER PASSWORD '{self.password}'; "
            "END IF; END $$;",
            database="postgres",
        )
        exists = self.sql(f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'", database="postgres")
        if not exists.strip():
            self.sql(f"CREATE DATABASE {self.database} OWNER {self.user}", database="postgres")
        return self

    def debezium_config(self, *, prefix: str, table: str, slot: str) -> dict[str, str]:
        """Kafka Connect config of a Debezium connector capturing ``public.<table>`` of this server
        (pgoutput, its own slot and publication; Connect creates the topics with one partition)."""
        return {
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "plugin.name": "pgoutput",
            "database.hostname": "127.0.0.1",
            "database.port": str(self.port),
            "database.user": self.user,
            "database.password": self.password,
            "database.dbname": self.database,
            "topic.prefix": prefix,
            "table.include.list": f"public.{table}",
            "slot.name": slot,
            "publication.name": f"{slot}_publication",
            "publication.autocreate.mode": "filtered",
            "topic.creation.default.replication.factor": "1",
            "topic.creation.default.partitions": "1",
        }

    def sql(self, statement: str, *, database: str | None = None) -> str:
        """Runs SQL with psql (unaligned, tuples only) and returns its output."""
        args = [
            str(postgres_bin() / "psql"),
            "-h",
            str(self.workdir),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database or self.database,
            "-v",
            "ON_ERROR_STOP=1",
            "-A",
            "-t",
            "-q",
        ]
        return self._run(args, input=statement).stdout

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run([str(postgres_bin() / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])
