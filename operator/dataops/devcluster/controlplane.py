"""A real Kubernetes control plane on loopback: etcd, kube-apiserver, controller-manager, scheduler, KWOK.

Started the way controller-runtime's envtest starts it, plus the controller-manager (garbage
collection) and KWOK (fake nodes and pod lifecycles, since no kubelet runs here). Binaries
come from ``hack/install-binaries.sh`` (cached under ``~/.cache/dataops``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dataops.devcluster import certs

CACHE = Path(os.environ.get("DATAOPS_CACHE", str(Path.home() / ".cache" / "dataops")))
FAKE_NODE_NAME = "kwok-node-0"


class ControlPlaneError(RuntimeError):
    pass


def bin_dir() -> Path:
    return Path(os.environ.get("DATAOPS_BIN_DIR", str(CACHE / "bin")))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ControlPlane:
    workdir: Path
    with_kwok: bool = True
    node_ip: str | None = None
    """The host's address on the real node's pod bridge. When set, the API server listens there
    (pods reach it; the serving certificate covers it), authorizes kubelets (Node authorizer),
    mounts service account tokens into pods and can reach the kubelet for logs and exec."""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    etcd_port: int = 0
    peer_port: int = 0
    api_port: int = 0

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def host(self) -> str:
        return self.node_ip or "127.0.0.1"

    @property
    def server(self) -> str:
        return f"https://{self.host}:{self.api_port}"

    @property
    def certs_dir(self) -> Path:
        return self.workdir / "pki"

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> ControlPlane:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        pki = certs.generate(self.certs_dir, extra_ips=(self.node_ip,) if self.node_ip else ())
        self.etcd_port, self.peer_port, self.api_port = free_port(), free_port(), free_port()
        deadline = time.monotonic() + timeout
        try:
            self._start_etcd(self.peer_port)
            self._start_apiserver(pki)
            self._write_kubeconfig(pki)
            self._wait_ready(pki, deadline)
            self._start_controller_manager(pki)
            self._start_scheduler()
            if self.with_kwok:
                self._start_kwok()
            self._write_state()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for name in reversed(list(self.processes)):
            proc = self.processes[name]
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.processes.clear()
        state = self.workdir / "state.json"
        if state.exists():
            state.unlink()

    def restart_storage_and_apiserver(self, *, down_seconds: float = 0.0, timeout: float = 60.0) -> None:
        """Fault injection: stop kube-apiserver and etcd (SIGKILL, as a crashed node would), keep them
        down for ``down_seconds``, then start both again on the same ports and data."""
        for name in ("kube-apiserver", "etcd"):
            proc = self.processes.pop(name)
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        time.sleep(down_seconds)
        pki = certs.paths_in(self.certs_dir)
        self._start_etcd(self.peer_port)
        self._start_apiserver(pki)
        self._wait_ready(pki, time.monotonic() + timeout)

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- components -----------------------------------------------------------------------------

    def _spawn(self, name: str, args: list[str]) -> None:
        binary = bin_dir() / args[0]
        if not binary.exists():
            raise ControlPlaneError(f"{binary} is missing: run hack/install-binaries.sh first")
        log = (self.workdir / "logs" / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [str(binary), *args[1:]],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def _start_etcd(self, peer_port: int) -> None:
        client = f"http://127.0.0.1:{self.etcd_port}"
        peer = f"http://127.0.0.1:{peer_port}"
        self._spawn(
            "etcd",
            [
                "etcd",
                "--name=dev",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=dev={peer}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
        )

    def _start_apiserver(self, pki: certs.CertPaths) -> None:
        if self.node_ip:
            # Real pods: tokens mounted by the ServiceAccount admission plugin, kubelets authorized as
            # nodes, and the API server calls the kubelet (logs, exec) with the admin identity.
            node_flags = [
                "--authorization-mode=Node,RBAC",
                "--enable-admission-plugins=NodeRestriction",
                f"--kubelet-client-certificate={pki.admin_cert}",
                f"--kubelet-client-key={pki.admin_key}",
                "--kubelet-preferred-address-types=InternalIP",
            ]
        else:
            node_flags = ["--authorization-mode=RBAC", "--disable-admission-plugins=ServiceAccount"]
        self._spawn(
            "kube-apiserver",
            [
                "kube-apiserver",
                f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
                f"--cert-dir={self.certs_dir}",
                f"--secure-port={self.api_port}",
                f"--bind-address={self.host}",
                f"--advertise-address={self.host}",
                f"--tls-cert-file={pki.serving_cert}",
                f"--tls-private-key-file={pki.serving_key}",
                f"--client-ca-file={pki.ca_cert}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki.sa_pub}",
                f"--service-account-signing-key-file={pki.sa_key}",
                *node_flags,
                "--service-cluster-ip-range=10.0.0.0/24",
                "--allow-privileged=true",
                "--endpoint-reconciler-type=none",
            ],
        )

    def _write_kubeconfig(self, pki: certs.CertPaths) -> None:
        write_kubeconfig(
            self.kubeconfig, server=self.server, ca=pki.ca_cert, cert=pki.admin_cert, key=pki.admin_key
        )

    def _wait_ready(self, pki: certs.CertPaths, deadline: float) -> None:
        context = ssl.create_default_context(cafile=str(pki.ca_cert))
        context.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
        last_error = ""
        while time.monotonic() < deadline:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise ControlPlaneError(
                        f"{name} exited with {proc.returncode}; see {self.workdir}/logs/{name}.log"
                    )
            try:
                with urllib.request.urlopen(f"{self.server}/readyz", context=context, timeout=5) as resp:
                    if resp.status == 200:
                        return
            except OSError as exc:
                last_error = str(exc)
            time.sleep(0.25)
        raise ControlPlaneError(f"kube-apiserver not ready in time: {last_error}")

    def _start_controller_manager(self, pki: certs.CertPaths) -> None:
        self._spawn(
            "kube-controller-manager",
            [
                "kube-controller-manager",
                f"--kubeconfig={self.kubeconfig}",
                "--leader-elect=false",
                "--secure-port=0",
                f"--service-account-private-key-file={pki.sa_key}",
                f"--root-ca-file={pki.ca_cert}",
                "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller",
                "--concurrent-gc-syncs=5",
            ],
        )

    def _start_scheduler(self) -> None:
        self._spawn(
            "kube-scheduler",
            [
                "kube-scheduler",
                f"--kubeconfig={self.kubeconfig}",
                "--leader-elect=false",
                "--secure-port=0",
            ],
        )

    def _start_kwok(self) -> None:
        stages = CACHE / "kwok-stages.yaml"
        extra = Path(__file__).with_name("kwok-stages.yaml")
        configs = [f"--config={stages}"] + ([f"--config={extra}"] if extra.exists() else [])
        self._spawn(
            "kwok",
            [
                "kwok",
                f"--kubeconfig={self.kubeconfig}",
                *configs,
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                "--cidr=10.244.0.0/16",
                "--node-ip=10.244.0.1",
                f"--server-address=127.0.0.1:{free_port()}",
            ],
        )
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": FAKE_NODE_NAME,
                "annotations": {"kwok.x-k8s.io/node": "fake"},
                "labels": {
                    "type": "kwok",
                    "kubernetes.io/hostname": FAKE_NODE_NAME,
                    "kubernetes.io/os": "linux",
                },
            },
            "spec": {"taints": []},
        }
        self.kubectl("apply", "-f", "-", input=json.dumps(node))

    def _write_state(self) -> None:
        state = {
            "kubeconfig": str(self.kubeconfig),
            "server": self.server,
            "pids": {name: proc.pid for name, proc in self.processes.items()},
        }
        (self.workdir / "state.json").write_text(json.dumps(state, indent=2))

    # -- helpers --------------------------------------------------------------------------------

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(bin_dir() / "kubectl"), f"--kubeconfig={self.kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise ControlPlaneError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result


def write_kubeconfig(
    path: Path, *, server: str, ca: Path, cert: Path, key: Path, user: str = "admin"
) -> None:
    """A kubeconfig with one cluster, one client-certificate user and one context."""

    def b64(file: Path) -> str:
        return base64.b64encode(file.read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "dataops-dev", "cluster": {"server": server, "certificate-authority-data": b64(ca)}}
        ],
        "users": [
            {"name": user, "user": {"client-certificate-data": b64(cert), "client-key-data": b64(key)}}
        ],
        "contexts": [
            {
                "name": "dataops-dev",
                "context": {"cluster": "dataops-dev", "user": user, "namespace": "default"},
            }
        ],
        "current-context": "dataops-dev",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)


def stop_from_state(workdir: Path) -> bool:
    """Stop a control plane started by another process (``dataops dev down``)."""
    state_file = workdir / "state.json"
    if not state_file.exists():
        return False
    state = json.loads(state_file.read_text())
    for pid in reversed(list(state["pids"].values())):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for pid in state["pids"].values():
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    state_file.unlink()
    return True
