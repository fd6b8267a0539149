"""What every pod the operator launches shares. Pure.

Driver, executor and validation pods meet the ``restricted`` Pod Security Standard: they run as the
Spark images' non-root user with the runtime's default seccomp profile, no privilege escalation,
no capabilities and a read-only root filesystem. Everything that writes (Spark's local dirs, HOME,
Ivy, Python caches) writes to an emptyDir mounted at /tmp.

Without kube-proxy (or in clusters where pods cannot reach ``kubernetes.default.svc``) pods reach
the API server at the address the operator is configured with: the Kubernetes clients in the pods
(fabric8 in the Spark driver, the Python client, the progress reporter) read it from
``KUBERNETES_SERVICE_HOST``/``KUBERNETES_SERVICE_PORT``, which a container's own env overrides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dataops.api.v1alpha1.datapipeline import PodResources, PodVolume

RUNTIME_UID = 185  # the user (and group) of the official Spark images and of runtime-images/*
TMP_VOLUME = "tmp"
TMP_DIR = "/tmp"
WORKING_DIR = TMP_DIR  # Spark creates spark-warehouse/ (the default database) in the working directory
SPARK_LOCAL_DIR = "/tmp/spark-local"
SPARK_WAREHOUSE_DIR = "/tmp/spark-warehouse"
IVY_DIR = "/tmp/.ivy2"  # the JVM's user.home is the passwd entry's, not HOME
IN_CLUSTER_API_SERVER = "https://kubernetes.default.svc:443"

Manifest = dict[str, Any]


def pod_security_context() -> Manifest:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUNTIME_UID,
        "runAsGroup": RUNTIME_UID,
        "fsGroup": RUNTIME_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> Manifest:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
    }


def tmp_volume() -> Manifest:
    return {"name": TMP_VOLUME, "emptyDir": {}}


def tmp_mount() -> Manifest:
    return {"name": TMP_VOLUME, "mountPath": TMP_DIR}


def writable_dirs_env() -> list[Manifest]:
    """HOME (Ivy's ~/.ivy2, pip and Python caches) and Spark's scratch space under /tmp."""
    return [
        {"name": "HOME", "value": TMP_DIR},
        {"name": "SPARK_LOCAL_DIRS", "value": SPARK_LOCAL_DIR},
        {"name": "PYTHONPYCACHEPREFIX", "value": f"{TMP_DIR}/pycache"},
    ]


def api_server_address(url: str) -> tuple[str, int]:
    """(host, port) of an API server URL such as https://10.245.0.1:6443; IPv6 hosts without brackets."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"not an API server URL (https://host[:port]): {url!r}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not an API server URL (https://host[:port]): {url!r}") from exc
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def api_server_env(url: str | None) -> list[Manifest]:
    """KUBERNETES_SERVICE_HOST/PORT for in-cluster clients; nothing when the default service is used."""
    if not url:
        return []
    host, port = api_server_address(url)
    return [
        {"name": "KUBERNETES_SERVICE_HOST", "value": host},
        {"name": "KUBERNETES_SERVICE_PORT", "value": str(port)},
    ]


def cpu_request(resources: PodResources) -> str:
    """What the pod asks the scheduler for: ``requestCores`` when set, else the cores it runs."""
    return resources.request_cores or str(resources.cores)


def claim_volumes(volumes: list[PodVolume]) -> list[Manifest]:
    return [{"name": v.name, "persistentVolumeClaim": {"claimName": v.claim_name}} for v in volumes]


def claim_mounts(volumes: list[PodVolume]) -> list[Manifest]:
    return [{"name": v.name, "mountPath": v.mount_path, "readOnly": v.read_only} for v in volumes]


def executor_volume_properties(volumes: list[PodVolume]) -> dict[str, str]:
    """Spark's own way to mount the claims into the executors it creates."""
    props: dict[str, str] = {}
    for v in volumes:
        prefix = f"spark.kubernetes.executor.volumes.persistentVolumeClaim.{v.name}"
        props |= {
            f"{prefix}.mount.path": v.mount_path,
            f"{prefix}.mount.readOnly": str(v.read_only).lower(),
            f"{prefix}.options.claimName": v.claim_name,
        }
    return props


@dataclass(frozen=True)
class Termination:
    message: str  # the termination message; for a failed exit without one, its reason and code
    finished: str | None  # finishedAt, as the API server wrote it


def container_termination(pod_status: dict[str, Any]) -> Termination | None:
    """The terminated container of a pod (the last one listed): the one reading of termination
    messages, for driver and validation pods alike."""
    found = None
    for container in pod_status.get("containerStatuses") or []:
        terminated = (container.get("state") or {}).get("terminated")
        if not terminated:
            continue
        message = terminated.get("message") or ""
        if not message and terminated.get("exitCode") not in (None, 0):
            message = f"{terminated.get('reason', 'Error')} (exit code {terminated.get('exitCode')})"
        found = Termination(message or terminated.get("reason") or "", terminated.get("finishedAt"))
    return found
