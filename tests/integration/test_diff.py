"""`dataops diff` against the live API server, and no drift after the operator reconciles:
neither `dataops diff` nor `kubectl diff --server-side` shows anything for applied manifests."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from dataops.devcluster.controlplane import ControlPlane
from dataops.kube.client import DATA_PIPELINE, KubeClient
from tests.conftest import ROOT
from tests.integration.conftest import condition, wait_for

pytestmark = pytest.mark.cluster


def _examples(namespace: str) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                doc["metadata"]["namespace"] = namespace
                docs.append(doc)
    return docs


def _write(tmp: Path, docs: list[dict[str, Any]]) -> Path:
    path = tmp / "manifests.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def _diff(cp: ControlPlane, path: Path, namespace: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["dataops", "diff", "-f", str(path), "-n", namespace, "--kubeconfig", str(cp.kubeconfig)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_no_drift_after_the_operator_reconciles_and_changes_show(
    control_plane: ControlPlane, operator: object, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    docs = _examples(namespace)
    path = _write(tmp_path, docs)
    control_plane.kubectl("apply", "--server-side", "--field-manager=gitops", "-f", str(path))
    wait_for(
        lambda: (
            (condition(kube.get(DATA_PIPELINE, namespace, "orders-daily"), "Ready") or {}).get("status")
            == "True"
        ),
        timeout=60,
        what="the example pipeline Ready",
    )

    same = _diff(control_plane, path, namespace)
    assert (same.returncode, same.stdout, same.stderr) == (0, "", ""), same.stdout
    kubectl_diff = control_plane.kubectl(
        "diff", "--server-side", "--field-manager=gitops", "-f", str(path), check=False
    )
    assert (kubectl_diff.returncode, kubectl_diff.stdout) == (0, "")

    changed = copy.deepcopy(docs)
    pipeline = next(d for d in changed if d["kind"] == "DataPipeline")
    pipeline["spec"]["schedule"]["cron"] = "30 3 * * *"
    secret = next(d for d in changed if d["kind"] == "Secret")
    secret.setdefault("stringData", {})["extra"] = "a-new-secret-value"
    suite = copy.deepcopy(next(d for d in changed if d["kind"] == "DataQualitySuite"))
    suite["metadata"]["name"] = "brand-new-suite"
    changed.append(suite)
    result = _diff(control_plane, _write(tmp_path, changed), namespace)
    assert result.returncode == 1, result.stderr
    assert "+    cron: 30 3 * * *" in result.stdout
    assert "a-new-secret-value" not in result.stdout and "extra: '*** (after)'" in result.stdout
    assert f"merged/dataops.dev/v1alpha1.DataQualitySuite.{namespace}.brand-new-suite" in result.stdout
    assert f"DataPolicy.{namespace}" not in result.stdout  # unchanged objects print nothing
    # The schedule is not part of the run plan: the operator's children would not change.
    assert "orders-daily-plan" not in result.stdout

    # A SQL change reaches the run-plan ConfigMap the operator would apply: a child diff.
    edited = copy.deepcopy(docs)
    step = next(d for d in edited if d["kind"] == "DataPipeline")["spec"]["transforms"][0]
    step["sql"] = step["sql"].replace("'completed'", "'shipped'")
    result = _diff(control_plane, _write(tmp_path, edited), namespace)
    assert result.returncode == 1, result.stderr
    assert f"merged/v1.ConfigMap.{namespace}.orders-daily-plan" in result.stdout
    assert "shipped" in result.stdout and "dataops.dev/plan-hash" in result.stdout
    assert "ServiceAccount" not in result.stdout  # the runner identity stays as it is
    quiet = subprocess.run(
        [
            "dataops", "diff", "-f", str(tmp_path / "manifests.yaml"), "-n", namespace,
            "--kubeconfig", str(control_plane.kubeconfig), "--no-children",
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert quiet.returncode == 1 and "orders-daily-plan" not in quiet.stdout

    # A pipeline that does not exist yet: its children are all new.
    fresh = copy.deepcopy(docs)
    renamed = next(d for d in fresh if d["kind"] == "DataPipeline")
    renamed["metadata"]["name"] = "orders-weekly"
    result = _diff(control_plane, _write(tmp_path, fresh), namespace)
    assert result.returncode == 1, result.stderr
    for child in ("ServiceAccount", "Role", "RoleBinding", "ConfigMap"):
        assert f".{child}.{namespace}.orders-weekly" in result.stdout, child

    broken = copy.deepcopy(docs)
    sink = next(d for d in broken if d["kind"] == "DataPipeline")["spec"]["sinks"][0]
    sink["mode"] = "merge"
    result = _diff(control_plane, _write(tmp_path, broken), namespace)
    assert result.returncode == 2
    assert "spec.sinks[0].mergeKeys" in result.stderr and "Traceback" not in result.stderr
