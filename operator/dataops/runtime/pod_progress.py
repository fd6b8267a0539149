"""A streaming driver reports its progress in an annotation of its own pod (the operator copies it
into the pipeline's status). In-cluster only: the service account token authenticates the PATCH."""

from __future__ import annotations

import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from dataops.plan.scheduling import PROGRESS_ANNOTATION

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class PodProgressReporter:
    def __init__(self, namespace: str, pod: str, *, min_interval: float = 5.0) -> None:
        host = os.environ["KUBERNETES_SERVICE_HOST"]
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        self.url = f"https://{host}:{port}/api/v1/namespaces/{namespace}/pods/{pod}"
        self.token = (SERVICE_ACCOUNT / "token").read_text().strip()
        self.context = ssl.create_default_context(cafile=str(SERVICE_ACCOUNT / "ca.crt"))
        self.min_interval = min_interval
        self._last = 0.0

    @classmethod
    def from_env(cls) -> PodProgressReporter | None:
        namespace, pod = os.environ.get("DATAOPS_POD_NAMESPACE"), os.environ.get("DATAOPS_POD_NAME")
        if not namespace or not pod or "KUBERNETES_SERVICE_HOST" not in os.environ:
            return None
        return cls(namespace, pod)

    def __call__(self, report: dict[str, Any]) -> None:
        final = report.get("state") != "Running"
        if not final and time.monotonic() - self._last < self.min_interval:
            return
        self._last = time.monotonic()
        body = json.dumps({"metadata": {"annotations": {PROGRESS_ANNOTATION: json.dumps(report)}}}).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            method="PATCH",
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/merge-patch+json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=5, context=self.context):
                pass
        except (urllib.error.URLError, OSError) as exc:  # progress is best effort; the job goes on
            print(f"warning: could not report progress: {exc}", file=sys.stderr, flush=True)
