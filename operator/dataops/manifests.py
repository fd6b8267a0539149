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


MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def yaml_files(paths: list[Path], *, recursive: bool = False) -> list[Path]:
    """The manifest files named or inside the folders named; like ``kubectl -f``, a folder's
    subfolders are read only with ``recursive`` (``-R``)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = path.rglob("*") if recursive else path.iterdir()
            files.extend(sorted(p for p in found if p.is_file() and p.suffix in MANIFEST_SUFFIXES))
        else:
            files.append(path)
    return files


def read_documents(paths: list[Path]) -> Iterator[Document]:
    for path in yaml_files(paths):
        for index, body in enumerate(load_all(path.read_text())):
            for item in objects(body):
                yield Document(str(path), index, item)


def objects(body: Any) -> list[Any]:
    """The objects kubectl applies for one YAML document: the items of a v1 List, else the document."""
    if body is None:
        return []
    if (
        isinstance(body, dict)
        and body.get("apiVersion") == "v1"
        and body.get("kind") == "List"
        and isinstance(body.get("items"), list)
    ):
        return [item for item in body["items"] if item is not None]
    return [body]
