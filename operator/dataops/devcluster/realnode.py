"""A real worker node beside the dev control plane: containerd + runc + CNI bridge + kubelet.

Pods get their own network namespace and an address from ``POD_CIDR`` on the ``dataops0`` bridge;
the host holds ``HOST_IP`` on that bridge, which is the node's address, the API server's address
for pods and the gateway of the pods. All traffic stays between this host and its own pods.
The node carries a taint, so only pods that tolerate it run here; KWOK's fake nodes keep serving
every other pod (scale tests) in the same cluster.

Binaries: containerd, runc and the CNI plugins are Debian packages unpacked by
``hack/install-node.sh``; the kubelet is built by ``hack/install-binaries.sh`` from the same
Kubernetes version as the control plane. containerd's image store is kept in the cache, so images
imported once (``import_image``) survive between sessions.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

from dataops.devcluster import certs
from dataops.devcluster.controlplane import CACHE, ControlPlane, bin_dir, free_port, write_kubeconfig
from dataops.devcluster.services import log_tail

POD_CIDR = "10.245.0.0/16"
HOST_IP = "10.245.0.1"
BRIDGE = "dataops0"
NODE_NAME = "real-node-0"
NODE_LABEL = ("dataops.dev/node", "real")
TAINT = {"key": "dataops.dev/real-node", "value": "true", "effect": "NoSchedule"}
PAUSE_IMAGE = "localhost/dataops-pause:1"
CRI_NAMESPACE = "k8s.io"


class NodeError(RuntimeError):
    pass


def node_dir() -> Path:
    return Path(os.environ.get("DATAOPS_NODE_DIR", str(CACHE / "node")))


def scheduling_for_real_node() -> dict[str, Any]:
    """The pod spec fields (nodeSelector, tolerations) that place a pod on the real node."""
    return {
        "nodeSelector": {NODE_LABEL[0]: NODE_LABEL[1]},
        "tolerations": [{**TAINT, "operator": "Equal"}],
    }


def _run(
    args: list[str], *, check: bool = True, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, input=input, timeout=300, check=False)
    if check and result.returncode != 0:
        raise NodeError(f"{' '.join(args)} failed: {(result.stderr or result.stdout).strip()}")
    return result


def ensure_host_network(*, bridge: str = BRIDGE, host_ip: str = HOST_IP, prefix: int = 16) -> None:
    """The pod bridge with the host's address on it (idempotent; needs root)."""
    if _run(["ip", "link", "show", bridge], check=False).returncode != 0:
        _run(["ip", "link", "add", bridge, "type", "bridge"])
    addresses = _run(["ip", "-o", "-4", "addr", "show", "dev", bridge]).stdout
    if f" {host_ip}/" not in addresses:
        _run(["ip", "addr", "add", f"{host_ip}/{prefix}", "dev", bridge])
    _run(["ip", "link", "set", bridge, "up"])
    forwarding = Path("/proc/sys/net/ipv4/ip_forward")
    with contextlib.suppress(OSError):
        if forwarding.read_text().strip() != "1":
            forwarding.write_text("1")


def pause_image_archive(pause_binary: Path, target: Path, *, ref: str = PAUSE_IMAGE) -> Path:
    """A docker-archive image holding only the static pause binary (the pod sandbox)."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        info = tar.gettarinfo(str(pause_binary), arcname="pause")
        info.mode, info.uid, info.gid, info.uname, info.gname, info.mtime = 0o755, 0, 0, "", "", 0
        with pause_binary.open("rb") as fh:
            tar.addfile(info, fh)
    layer_bytes = layer.getvalue()
    diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": ["/pause"], "User": "65535:65535"},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": [ref], "Layers": ["layer.tar"]}]
    with tarfile.open(target, mode="w") as tar:
        for name, data in (
            ("layer.tar", layer_bytes),
            (config_name, config_bytes),
            ("manifest.json", json.dumps(manifest).encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return target


@dataclass
class RealNode:
    """A kubelet + containerd node registered with ``control_plane`` (which must have ``node_ip``)."""

    control_plane: ControlPlane
    workdir: Path
    name: str = NODE_NAME
    pod_cidr: str = POD_CIDR
    max_pods: int = 30
    store: Path = field(default_factory=lambda: CACHE / "node-store")
    """containerd's root (image store), kept between runs; one node at a time uses it."""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _store_lock: IO[str] | None = None

    @property
    def host_ip(self) -> str:
        if not self.control_plane.node_ip:
            raise NodeError("the control plane was started without node_ip: pods could not reach it")
        return self.control_plane.node_ip

    @property
    def socket(self) -> Path:
        return self.workdir / "containerd" / "containerd.sock"

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> RealNode:
        for need in (node_dir() / "bin" / "containerd", node_dir() / "pause", bin_dir() / "kubelet"):
            if not need.exists():
                raise NodeError(f"{need} is missing: run hack/install.sh (hack/install-node.sh) first")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        deadline = time.monotonic() + timeout
        try:
            self._lock_store()
            self._start_containerd(deadline)
            remove_containers(self.socket)
            self._ensure_pause_image()
            self._start_kubelet()
            self._wait_ready(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        kubelet = self.processes.pop("kubelet", None)
        if kubelet is not None:
            _terminate(kubelet)
        if "containerd" in self.processes:
            with contextlib.suppress(NodeError, subprocess.TimeoutExpired):
                remove_containers(self.socket)
            _terminate(self.processes.pop("containerd"))
        remove_pod_namespaces()
        unmount_below(self.workdir)
        if self._store_lock is not None:
            self._store_lock.close()
            self._store_lock = None

    def __enter__(self) -> RealNode:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- images ---------------------------------------------------------------------------------

    def ctr(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _run(ctr_command(self.socket, *args), check=check)

    def images(self) -> set[str]:
        return set(self.ctr("images", "ls", "-q").stdout.split())

    def import_image(self, archive: Path, ref: str | None = None) -> None:
        """Import an OCI or docker archive (skipped when ``ref`` is already in the store)."""
        if ref and ref in self.images():
            return
        self.ctr("images", "import", "--no-unpack=false", str(archive))
        if ref and ref not in self.images():
            raise NodeError(
                f"importing {archive} did not yield the image {ref}; the store has {self.images()}"
            )

    # -- components -----------------------------------------------------------------------------

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        env = {**os.environ, "PATH": f"{node_dir() / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
        proc = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        self.processes[name] = proc
        return proc

    def _crashed(self, name: str) -> str | None:
        proc = self.processes.get(name)
        if proc is not None and proc.poll() is not None:
            return (
                f"{name} exited with code {proc.returncode}; last lines of {self.logs / name}.log:\n"
                + log_tail(self.logs / f"{name}.log")
            )
        return None

    def _lock_store(self) -> None:
        self.store.mkdir(parents=True, exist_ok=True)
        lock = (self.store / ".lock").open("w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise NodeError(
                f"another real node uses {self.store}; stop it first (dataops dev down)"
            ) from None
        self._store_lock = lock

    def _cni_config(self) -> Path:
        conf_dir = self.workdir / "cni" / "net.d"
        conf_dir.mkdir(parents=True, exist_ok=True)
        conflist = {
            "cniVersion": "0.4.0",
            "name": "dataops",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": BRIDGE,
                    "isGateway": True,
                    "ipMasq": False,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": self.pod_cidr, "gateway": self.host_ip}]],
                        "dataDir": str(self.workdir / "cni" / "ipam"),
                    },
                },
                {"type": "loopback"},
            ],
        }
        (conf_dir / "10-dataops.conflist").write_text(json.dumps(conflist, indent=2))
        return conf_dir

    def _containerd_config(self) -> Path:
        root = node_dir() / "root"
        runc = root / "usr" / "sbin" / "runc"
        config = f"""version = 2
root = "{self.store / "root"}"
state = "{self.workdir / "containerd" / "state"}"

[grpc]
  address = "{self.socket}"

[plugins."io.containerd.internal.v1.opt"]
  path = "{self.workdir / "containerd" / "opt"}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  max_concurrent_downloads = 1
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "{runc}"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{node_dir() / "cni"}"
    conf_dir = "{self._cni_config()}"
    max_conf_num = 1
"""
        path = self.workdir / "containerd" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(config)
        return path

    def _start_containerd(self, deadline: float) -> None:
        config = self._containerd_config()
        self._spawn("containerd", [str(node_dir() / "bin" / "containerd"), "--config", str(config)])
        while time.monotonic() < deadline:
            if crash := self._crashed("containerd"):
                raise NodeError(crash)
            if self.socket.exists() and self.ctr("version", check=False).returncode == 0:
                return
            time.sleep(0.2)
        raise NodeError("containerd did not answer in time:\n" + log_tail(self.logs / "containerd.log"))

    def _ensure_pause_image(self) -> None:
        if PAUSE_IMAGE in self.images():
            return
        with tempfile.TemporaryDirectory() as tmp:
            archive = pause_image_archive(node_dir() / "pause", Path(tmp) / "pause.tar")
            self.import_image(archive, PAUSE_IMAGE)

    def _kubelet_config(self, pki: certs.CertPaths) -> Path:
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": self.host_ip,
            "port": free_port(),
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": free_port(),
            "cgroupDriver": "cgroupfs",
            "cgroupsPerQOS": False,
            "enforceNodeAllocatable": [],
            "failSwapOn": False,
            "failCgroupV1": False,
            "localStorageCapacityIsolation": False,
            "containerRuntimeEndpoint": f"unix://{self.socket}",
            "resolvConf": "",
            "podLogsDir": str(self.workdir / "pod-logs"),
            "maxPods": self.max_pods,
            "serializeImagePulls": False,
            "registerWithTaints": [TAINT],
            "evictionHard": {
                "memory.available": "100Mi",
                "nodefs.available": "1%",
                "imagefs.available": "1%",
            },
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True},
                "x509": {"clientCAFile": str(pki.ca_cert)},
            },
            "authorization": {"mode": "Webhook"},
            "nodeStatusReportFrequency": "10s",
            "shutdownGracePeriod": "0s",
        }
        path = self.workdir / "kubelet-config.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    def _start_kubelet(self) -> None:
        cp = self.control_plane
        pki = certs.paths_in(cp.certs_dir)
        cert, key = certs.issue_client_cert(
            pki, f"kubelet-{self.name}", common_name=f"system:node:{self.name}", organization="system:nodes"
        )
        kubeconfig = self.workdir / "kubelet.kubeconfig"
        write_kubeconfig(kubeconfig, server=cp.server, ca=pki.ca_cert, cert=cert, key=key, user=self.name)
        self._spawn(
            "kubelet",
            [
                str(bin_dir() / "kubelet"),
                f"--config={self._kubelet_config(pki)}",
                f"--kubeconfig={kubeconfig}",
                f"--root-dir={self.workdir / 'kubelet'}",
                f"--cert-dir={self.workdir / 'kubelet' / 'pki'}",
                f"--hostname-override={self.name}",
                f"--node-ip={self.host_ip}",
                f"--node-labels={NODE_LABEL[0]}={NODE_LABEL[1]}",
                "--v=1",
            ],
        )

    def _wait_ready(self, deadline: float) -> None:
        status = ""
        while time.monotonic() < deadline:
            for name in ("containerd", "kubelet"):
                if crash := self._crashed(name):
                    raise NodeError(crash)
            result = self.control_plane.kubectl("get", "node", self.name, "-o", "json", check=False)
            if result.returncode == 0:
                conditions = json.loads(result.stdout).get("status", {}).get("conditions", [])
                ready = [c for c in conditions if c["type"] == "Ready"]
                status = ready[0].get("message", "") if ready else "no Ready condition"
                if ready and ready[0]["status"] == "True":
                    return
            time.sleep(0.5)
        raise NodeError(
            f"node {self.name} not Ready in time ({status}); kubelet log tail:\n"
            f"{log_tail(self.logs / 'kubelet.log')}\n"
            f"containerd log tail:\n{log_tail(self.logs / 'containerd.log', 10)}"
        )


def _terminate(proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def ctr_command(socket: Path, *args: str) -> list[str]:
    """``ctr`` against a node's containerd, in the namespace the kubelet's containers live in."""
    return [str(node_dir() / "bin" / "ctr"), "--address", str(socket), "-n", CRI_NAMESPACE, *args]


def _ctr(socket: Path, *args: str) -> list[str]:
    return _run(ctr_command(socket, *args), check=False).stdout.split()


def remove_containers(socket: Path) -> None:
    """Kill and delete every task and container in containerd's CRI namespace (shims outlive containerd,
    so a node that stopped uncleanly leaves them behind)."""
    for task in _ctr(socket, "tasks", "ls", "-q"):
        _ctr(socket, "tasks", "kill", "-s", "SIGKILL", task)
    deadline = time.monotonic() + 20
    while (tasks := _ctr(socket, "tasks", "ls", "-q")) and time.monotonic() < deadline:
        for task in tasks:
            _ctr(socket, "tasks", "delete", task)
        time.sleep(0.3)
    if containers := _ctr(socket, "containers", "ls", "-q"):
        _ctr(socket, "containers", "delete", *containers)


def remove_pod_namespaces() -> None:
    """Network namespaces of sandboxes that were killed rather than torn down through CNI."""
    for line in _run(["ip", "netns", "list"], check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith("cni-"):
            _run(["ip", "netns", "delete", name], check=False)


def unmount_below(path: Path) -> None:
    """Unmount what the kubelet and containerd mounted under ``path`` (pod volumes, sandbox /dev/shm),
    deepest first, so the work directory can be removed."""
    prefix = str(path.resolve()) + "/"
    mounts = [
        line.split()[1] for line in Path("/proc/mounts").read_text().splitlines() if len(line.split()) > 1
    ]
    targets = sorted(
        {m.encode().decode("unicode_escape") for m in mounts if m.startswith(prefix)}, reverse=True
    )
    for target in targets:
        _run(["umount", "-l", target], check=False)


def stop_node_from_state(state: dict[str, Any]) -> None:
    """``dataops dev down``: stop the kubelet, remove the pods' containers; containerd stops after."""
    pids: dict[str, int] = state.get("pids", {})
    if "kubelet" in pids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pids["kubelet"], signal.SIGTERM)
    remove_containers(Path(state["node"]["socket"]))
    remove_pod_namespaces()
    unmount_below(Path(state["node"]["workdir"]))
    shutil.rmtree(Path(state["node"]["workdir"]) / "cni" / "ipam", ignore_errors=True)
