"""docs/gitops.md and the GitHub Actions example name only `dataops` commands and options that exist."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest
import yaml

from dataops.cli import build_parser
from tests.gitops.luarun import ROOT

DOC = ROOT / "docs/gitops.md"
WORKFLOW = ROOT / "docs/examples/github-actions-pipeline.yaml"


SUBCOMMANDS = {
    name
    for action in build_parser()._actions
    if isinstance(action, argparse._SubParsersAction)
    for name in action.choices
}


def _commands(text: str) -> list[str]:
    """`dataops ...` command lines in shell text (a workflow step, a fenced code block)."""
    found = []
    for line in text.splitlines():
        match = re.search(r"(?:^|\s)(dataops [a-z][^#;|]*)", line)
        if match:
            found.append(match.group(1).strip())
    return found


def _doc_code_blocks() -> str:
    """The shell code blocks of the doc (fences opened with ```bash)."""
    lines, inside, shell = [], False, False
    for line in DOC.read_text().splitlines():
        if line.startswith("```"):
            inside, shell = not inside, line.strip() in ("```bash", "```sh")
            continue
        if inside and shell:
            lines.append(line)
    return "\n".join(lines)


def _workflow_commands() -> list[str]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    runs = [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]
    return [c for run in runs for c in _commands(run)]


COMMANDS = sorted(set(_commands(_doc_code_blocks()) + _workflow_commands()))


def test_prose_names_existing_subcommands() -> None:
    named = set(re.findall(r"`dataops ([a-z]+)", DOC.read_text()))
    assert named and named <= SUBCOMMANDS, named - SUBCOMMANDS


def test_commands_were_found() -> None:
    assert any(c.startswith("dataops validate -f") for c in _workflow_commands())
    assert any(c.startswith("dataops run -f") for c in _workflow_commands())


@pytest.mark.parametrize("command", COMMANDS)
def test_command_parses(command: str) -> None:
    words = shlex.split(command.replace('"$overlay"', "x").replace("$overlay", "x"))[1:]
    try:
        build_parser().parse_args(words)
    except SystemExit as exc:  # argparse exits on an unknown command or option
        pytest.fail(f"{command!r} is not a valid dataops command line (exit {exc.code})")


def test_the_workflow_plans_what_it_renders() -> None:
    assert any(c.startswith("dataops plan -f rendered/prod.yaml") for c in _workflow_commands())
    assert Path(ROOT / "examples/argocd/application.yaml").is_file()
