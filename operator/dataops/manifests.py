"""Reading manifests from YAML files and folders (with kubectl's YAML -> JSON semantics)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataops.kubeyaml import load_all


@dataclass(frozen=True)
class Document:
    source: str
    index: int
    body: Any

    @property
    def label(self) -> str:
        if isinstance(self.body, dict):
            metadata = self.body.get("metadata")
            name = metadata.get("name", "?") if isinstance(metadata, dict) else "?"
            return f"{self.source}[{self.index}] {self.body.get('kind', '?')}/{name}"
        return f"{self.source}[{self.index}]"


def yaml_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml")))
        else:
            files.append(path)
    return files


def read_documents(paths: list[Path]) -> Iterator[Document]:
    for path in yaml_files(paths):
        for index, body in enumerate(load_all(path.read_text())):
            if body is not None:
                yield Document(str(path), index, body)
