"""Folders are read like `kubectl -f`: their own files only, subfolders with -R."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataops.cli import main
from dataops.manifests import yaml_files

POLICY = """apiVersion: dataops.dev/v1alpha1
kind: DataPolicy
metadata: {name: %s, namespace: team}
spec: {pipelineSelector: {}}
"""


def test_subfolders_only_with_recursive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.yaml").write_text(POLICY % "top")
    (tmp_path / "notes.txt").write_text("not a manifest")
    nested = tmp_path / "argocd" / "testdata"
    nested.mkdir(parents=True)
    (nested / "fixture.yaml").write_text("apiVersion: argoproj.io/v1alpha1\nkind: Application\n")

    assert yaml_files([tmp_path]) == [tmp_path / "a.yaml"]
    assert yaml_files([tmp_path], recursive=True) == [tmp_path / "a.yaml", nested / "fixture.yaml"]

    assert main(["validate", "-f", str(tmp_path)]) == 0
    assert "1 valid, 0 invalid" in capsys.readouterr().out
    assert main(["validate", "-R", "-f", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "Application" in out and "1 valid, 1 invalid" in out
