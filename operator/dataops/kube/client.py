"""The only code that talks to the API server: a small REST client over the official library.

Writes go through :meth:`KubeClient.apply` (server-side apply under one field manager),
:meth:`KubeClient.patch_status` (the status subresource) and :meth:`KubeClient.create_event`.
Every request is counted by verb, which tests use to prove that an unchanged object costs no writes.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config

from dataops.api.v1alpha1 import GROUP, VERSION

FIELD_MANAGER = "dataops-operator"


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
        if subresource:
            base += f"/{subresource}"
        return base


CONFIG_MAP = ResourceType("", "v1", "configmaps", "ConfigMap")
SERVICE_ACCOUNT = ResourceType("", "v1", "serviceaccounts", "ServiceAccount")
SERVICE = ResourceType("", "v1", "services", "Service")
POD = ResourceType("", "v1", "pods", "Pod")
SECRET = ResourceType("", "v1", "secrets", "Secret")
EVENT = ResourceType("", "v1", "events", "Event")
NAMESPACE = ResourceType("", "v1", "namespaces", "Namespace", namespaced=False)
SPARK_APPLICATION = ResourceType("sparkoperator.k8s.io", "v1beta2", "sparkapplications", "SparkApplication")
LEASE = ResourceType("coordination.k8s.io", "v1", "leases", "Lease")
ROLE = ResourceType("rbac.authorization.k8s.io", "v1", "roles", "Role")
ROLE_BINDING = ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding")
KAFKA_TOPIC = ResourceType("kafka.strimzi.io", "v1beta2", "kafkatopics", "KafkaTopic")
KAFKA_CONNECTOR = ResourceType("kafka.strimzi.io", "v1beta2", "kafkaconnectors", "KafkaConnector")
DATA_PIPELINE = ResourceType(GROUP, VERSION, "datapipelines", "DataPipeline")
DATA_QUALITY_SUITE = ResourceType(GROUP, VERSION, "dataqualitysuites", "DataQualitySuite")
DATA_POLICY = ResourceType(GROUP, VERSION, "datapolicies", "DataPolicy")
VALIDATING_ADMISSION_POLICY = ResourceType(
    "admissionregistration.k8s.io", "v1", "validatingadmissionpolicies", "ValidatingAdmissionPolicy", False
)
VALIDATING_ADMISSION_POLICY_BINDING = ResourceType(
    "admissionregistration.k8s.io",
    "v1",
    "validatingadmissionpolicybindings",
    "ValidatingAdmissionPolicyBinding",
    False,
)

RESOURCE_TYPES = {
    rt.kind: rt
    for rt in (
        CONFIG_MAP,
        SERVICE_ACCOUNT,
        SERVICE,
        POD,
        EVENT,
        NAMESPACE,
        LEASE,
        SPARK_APPLICATION,
        KAFKA_TOPIC,
        KAFKA_CONNECTOR,
        ROLE,
        ROLE_BINDING,
        DATA_PIPELINE,
        DATA_QUALITY_SUITE,
        DATA_POLICY,
        VALIDATING_ADMISSION_POLICY,
        VALIDATING_ADMISSION_POLICY_BINDING,
    )
}


def resource_type_of(manifest: dict[str, Any]) -> ResourceType:
    return RESOURCE_TYPES[manifest["kind"]]


class KubeError(Exception):
    """A non-2xx answer of the API server."""

    def __init__(self, status: int, reason: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.retry_after = retry_after
        """Seconds the server asked us to wait (429/503 ``details.retryAfterSeconds``)."""

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409

    @property
    def refused(self) -> bool:
        """The API server refused the request itself (admission: PodSecurity, ResourceQuota, a webhook;
        validation; authorization): sending it again unchanged gives the same answer. Conflicts,
        rate limiting and timeouts (409, 429, 408) and our own credentials (401) are not refusals."""
        return 400 <= self.status < 500 and self.status not in (401, 408, 409, 429)


_WRITE_VERBS = {"POST", "PUT", "PATCH", "DELETE"}


class KubeClient:
    """Thread-safe; one per process."""

    def __init__(self, api_client: k8s.ApiClient, *, field_manager: str = FIELD_MANAGER) -> None:
        self._api = api_client
        self.field_manager = field_manager
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._lists: dict[tuple[str, str | None], tuple[float, list[dict[str, Any]]]] = {}

    @classmethod
    def from_kubeconfig(cls, path: str | None = None) -> KubeClient:
        """Kubeconfig at ``path``; without one, the in-cluster service account, else ~/.kube/config."""
        configuration = k8s.Configuration()
        if path:
            k8s_config.load_kube_config(config_file=path, client_configuration=configuration)
        else:
            try:
                k8s_config.load_incluster_config(client_configuration=configuration)
            except k8s_config.ConfigException:
                k8s_config.load_kube_config(client_configuration=configuration)
        return cls(k8s.ApiClient(configuration))

    def request_counts(self) -> dict[str, int]:
        """Requests sent so far, by HTTP verb."""
        with self._lock:
            return dict(self.requests)

    @property
    def write_count(self) -> int:
        with self._lock:
            return sum(n for verb, n in self.requests.items() if verb in _WRITE_VERBS)

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        with self._lock:
            self.requests[method] += 1
        if query:
            path = f"{path}?{urllib.parse.urlencode(query)}"
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        _, url, headers, body, _ = self._api.param_serialize(
            method, path, header_params=headers, body=body, auth_settings=["BearerToken"]
        )
        try:
            response = self._api.call_api(method, url, header_params=headers, body=body, _request_timeout=30)
            response.read()
        except k8s.ApiException as exc:  # raised by older transports for non-2xx
            raise _error(exc.status or 0, exc.body) from exc
        if not 200 <= response.status < 300:
            raise _error(response.status, response.data)
        return json.loads(response.data) if response.data else None

    # -- reads --------------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = self.request("GET", rt.path(namespace, name))
        except KubeError as exc:
            if exc.not_found:
                return None
            raise
        return result

    def list_recent(self, rt: ResourceType, namespace: str | None, *, max_age: float) -> list[dict[str, Any]]:
        """A LIST answer at most ``max_age`` seconds old. The caller must :meth:`forget` the entry
        whenever a watch reports a change of that resource type in that namespace."""
        key = (rt.plural, namespace)
        now = time.monotonic()
        with self._lock:
            cached = self._lists.get(key)
        if cached is not None and now - cached[0] <= max_age:
            return copy.deepcopy(cached[1])
        items = self.list(rt, namespace)
        with self._lock:
            self._lists[key] = (now, items)
        return copy.deepcopy(items)

    def forget(self, rt: ResourceType, namespace: str | None) -> None:
        with self._lock:
            self._lists.pop((rt.plural, namespace), None)

    def list(
        self, rt: ResourceType, namespace: str | None = None, *, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        query = {"labelSelector": label_selector} if label_selector else None
        result = self.request("GET", rt.path(namespace), query=query)
        items: list[dict[str, Any]] = result.get("items", [])
        for item in items:  # list items carry no apiVersion/kind
            item.setdefault("apiVersion", rt.api_version)
            item.setdefault("kind", rt.kind)
        return items

    # -- writes -------------------------------------------------------------------------------

    def apply(
        self,
        manifest: dict[str, Any],
        *,
        rt: ResourceType | None = None,
        field_manager: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Server-side apply (by default with this client's field manager), taking ownership of
        conflicting fields; ``dry_run``: what the server would make of it, nothing stored."""
        rt = rt or resource_type_of(manifest)
        meta = manifest["metadata"]
        query = {"fieldManager": field_manager or self.field_manager, "force": "true"}
        if dry_run:
            query["dryRun"] = "All"
        result: dict[str, Any] = self.request(
            "PATCH",
            rt.path(meta.get("namespace"), meta["name"]),
            query=query,
            body=manifest,
            content_type="application/apply-patch+yaml",
        )
        return result

    def patch_status(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        status: dict[str, Any],
        *,
        resource_version: str | None = None,
    ) -> dict[str, Any]:
        """Merge-patch the status. With ``resource_version`` the write is conditional (409 when the
        object changed since it was read), so a status decided from an old read never lands."""
        body: dict[str, Any] = {"status": status}
        if resource_version:
            body["metadata"] = {"resourceVersion": resource_version}
        result: dict[str, Any] = self.request(
            "PATCH",
            rt.path(namespace, name, "status"),
            query={"fieldManager": self.field_manager},
            body=body,
            content_type="application/merge-patch+json",
        )
        return result

    def patch(
        self, rt: ResourceType, namespace: str | None, name: str, patch: dict[str, Any]
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "PATCH",
            rt.path(namespace, name),
            query={"fieldManager": self.field_manager},
            body=patch,
            content_type="application/merge-patch+json",
        )
        return result

    def create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        rt = resource_type_of(manifest)
        result: dict[str, Any] = self.request(
            "POST",
            rt.path(manifest["metadata"].get("namespace")),
            query={"fieldManager": self.field_manager},
            body=manifest,
        )
        return result

    def replace(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """PUT: optimistic concurrency through metadata.resourceVersion (a stale one gives 409)."""
        rt = resource_type_of(manifest)
        meta = manifest["metadata"]
        result: dict[str, Any] = self.request(
            "PUT",
            rt.path(meta.get("namespace"), meta["name"]),
            query={"fieldManager": self.field_manager},
            body=manifest,
        )
        return result

    def delete(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        *,
        preconditions: dict[str, str] | None = None,
    ) -> bool:
        """``preconditions`` (uid, resourceVersion): delete only that version of the object (else 409)."""
        body: dict[str, Any] = {"propagationPolicy": "Background"}
        if preconditions:
            body["preconditions"] = preconditions
        try:
            self.request("DELETE", rt.path(namespace, name), body=body)
        except KubeError as exc:
            if exc.not_found:
                return False
            raise
        return True


def _error(status: int, data: bytes | str | None) -> KubeError:
    try:
        payload = json.loads(data or b"{}")
    except ValueError:
        payload = {"message": (data or b"").decode() if isinstance(data, bytes) else str(data)}
    details = payload.get("details") if isinstance(payload.get("details"), dict) else {}
    retry_after = details.get("retryAfterSeconds")
    return KubeError(
        status,
        str(payload.get("reason", "")),
        str(payload.get("message", "")),
        retry_after=float(retry_after) if isinstance(retry_after, int | float) else None,
    )
