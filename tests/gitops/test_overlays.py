"""examples/overlays: kustomize builds each overlay (the kubectl in bin_dir(), as Argo CD's repo
server runs kustomize), `dataops validate` accepts the output offline, the policies it carries
accept its pipelines, and the real kube-apiserver accepts it in a server-side dry-run."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from dataops.api.v1alpha1.datapipeline import DataPipeline
from dataops.api.v1alpha1.datapolicy import DataPolicy
from dataops.devcluster.controlplane import ControlPlane, bin_dir
from dataops.policy.evaluate import evaluate
from dataops.policy.selectors import selector_matches
from tests.gitops.luarun import ROOT

OVERLAYS = ROOT / "examples/overlays"
NAMES = ["base", "dev", "prod"]


def build(overlay: str) -> str:
    out = subprocess.run(
        [str(bin_dir() / "kubectl"), "kustomize", str(OVERLAYS / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def documents(overlay: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(build(overlay)) if d]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind)


@pytest.mark.parametrize("overlay", NAMES)
def test_overlay_builds_and_validates_offline(overlay: str, tmp_path: Path) -> None:
    rendered = tmp_path / f"{overlay}.yaml"
    rendered.write_text(build(overlay))
    out = subprocess.run(
        ["dataops", "validate", "-f", str(rendered)], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip().splitlines()[-1] == "3 valid, 0 invalid"


@pytest.mark.parametrize("overlay", NAMES)
def test_overlay_pipelines_comply_with_its_policies(overlay: str) -> None:
    """An overlay that moves the lake must move allowedSinks with it, or its own policy blocks it."""
    docs = documents(overlay)
    policies = [DataPolicy.model_validate(d) for d in docs if d["kind"] == "DataPolicy"]
    for doc in docs:
        if doc["kind"] != "DataPipeline":
            continue
        pipeline = DataPipeline.model_validate(doc)
        selecting = [
            p for p in policies if selector_matches(p.spec.pipeline_selector, pipeline.metadata.labels)
        ]
        assert selecting, f"no policy selects {pipeline.metadata.name}"
        for policy in selecting:
            finding = evaluate(policy.metadata.name, policy.spec, pipeline.spec)
            assert finding.violations == [], finding


def test_base_is_the_examples() -> None:
    """The base holds copies of examples/01-03 (kustomize reads nothing above its folder)."""
    resources = yaml.safe_load((OVERLAYS / "base/kustomization.yaml").read_text())["resources"]
    assert resources == ["01-quality-suite.yaml", "02-policy.yaml", "03-orders-pipeline.yaml"]
    for name in resources:
        assert (OVERLAYS / "base" / name).read_text() == (ROOT / "examples" / name).read_text(), (
            f"cp examples/{name} examples/overlays/base/{name}"
        )


def test_overlays_differ_where_they_say() -> None:
    base, dev, prod = (documents(o) for o in NAMES)
    assert "namespace" not in by_kind(base, "DataPipeline")["metadata"]
    assert {d["metadata"]["namespace"] for d in dev} == {"dataops-dev"}
    assert {d["metadata"]["namespace"] for d in prod} == {"dataops-prod"}
    assert by_kind(dev, "DataPolicy")["spec"]["enforcement"] == "Audit"
    assert by_kind(prod, "DataPolicy")["spec"]["enforcement"] == "Enforce"
    assert by_kind(dev, "DataPipeline")["spec"]["suspend"] is True
    assert "suspend" not in by_kind(prod, "DataPipeline")["spec"]
    assert (
        by_kind(prod, "DataPipeline")["spec"]["schedule"]["cron"]
        != by_kind(base, "DataPipeline")["spec"]["schedule"]["cron"]
    )
    assert by_kind(prod, "DataPipeline")["spec"]["sinks"][0]["path"].startswith("/lake/prod/")
    for docs, env in ((dev, "dev"), (prod, "prod")):
        assert {d["metadata"]["labels"]["environment"] for d in docs} == {env}


def test_argocd_application_points_at_an_overlay() -> None:
    app = yaml.safe_load((ROOT / "examples/argocd/application.yaml").read_text())
    assert app["apiVersion"] == "argoproj.io/v1alpha1" and app["kind"] == "Application"
    path = app["spec"]["source"]["path"]
    assert (ROOT / path / "kustomization.yaml").is_file()
    overlay = Path(path).name
    assert {d["metadata"]["namespace"] for d in documents(overlay)} == {
        app["spec"]["destination"]["namespace"]
    }
    ignored = app["spec"]["ignoreDifferences"][0]
    assert (ignored["group"], ignored["kind"]) == ("dataops.dev", "DataPipeline")
    assert "RespectIgnoreDifferences=true" in app["spec"]["syncPolicy"]["syncOptions"]


@pytest.mark.cluster
@pytest.mark.parametrize("overlay", NAMES)
def test_overlay_passes_a_server_side_dry_run(
    control_plane: ControlPlane, namespace: str, overlay: str
) -> None:
    """The API server (CRD schemas and CEL rules generated from the models) accepts every object.
    The overlay's namespace is swapped for the test's, which exists."""
    docs = documents(overlay)
    for doc in docs:
        doc["metadata"]["namespace"] = namespace
    out = control_plane.kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=argocd-controller",
        "-f",
        "-",
        input=yaml.safe_dump_all(docs),
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert len([line for line in out.stdout.splitlines() if "(server dry run)" in line]) == len(docs), (
        out.stdout
    )


@pytest.mark.cluster
def test_dry_run_refuses_a_broken_overlay(control_plane: ControlPlane, namespace: str) -> None:
    """The dry-run above can fail: a pipeline whose sink reads from no step is refused."""
    docs = documents("prod")
    for doc in docs:
        doc["metadata"]["namespace"] = namespace
    by_kind(docs, "DataPipeline")["spec"]["sinks"][0]["from"] = "no_such_step"
    out = control_plane.kubectl(
        "apply", "--server-side", "--dry-run=server", "-f", "-", input=yaml.safe_dump_all(docs), check=False
    )
    assert out.returncode != 0
    assert "every sink's from must name a source or a transform step" in out.stderr
