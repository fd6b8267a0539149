"""The project's images (operator, Spark runtime, validator) built without Docker by ``hack/build-images.sh``.

The script builds with buildah on Debian bases made by mmdebstrap and writes each image as an OCI archive
under the cache; it skips images whose archive for the current inputs already exists, so a warm call takes
seconds. Import an archive into a node with ``ctr -n k8s.io images import <archive>``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

IMAGE_NAMES = ("operator", "spark", "validator")


class ImageBuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class BuiltImage:
    name: str
    ref: str
    archive: Path


def build_script() -> Path:
    """hack/build-images.sh of the checkout this package is installed (editable) from."""
    script = Path(__file__).resolve().parents[3] / "hack" / "build-images.sh"
    if not script.is_file():
        raise ImageBuildError(
            f"{script} not found: building images needs the repository checkout "
            "(install the package editable with `pip install -e .` from the repository root)"
        )
    return script


def parse_build_output(stdout: str) -> dict[str, BuiltImage]:
    """`<name> <ref> <archive>` per line, as hack/build-images.sh prints them."""
    images: dict[str, BuiltImage] = {}
    for line in stdout.splitlines():
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 3:
            raise ImageBuildError(f"unexpected line from build-images.sh: {line!r}")
        name, ref, archive = parts
        images[name] = BuiltImage(name=name, ref=ref, archive=Path(archive))
    return images


def build_images(
    names: Iterable[str] = IMAGE_NAMES, *, timeout: float = 3600, env: dict[str, str] | None = None
) -> dict[str, BuiltImage]:
    """Builds (or finds cached) images; returns them by name. Progress goes to this process's stderr."""
    wanted = list(names)
    unknown = sorted(set(wanted) - set(IMAGE_NAMES))
    if unknown:
        raise ImageBuildError(f"unknown images {unknown}: expected some of {list(IMAGE_NAMES)}")
    script = build_script()
    try:
        result = subprocess.run(
            ["bash", str(script), *wanted],
            stdout=subprocess.PIPE,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ImageBuildError(f"{script} did not finish in {timeout:.0f}s") from exc
    if result.returncode != 0:
        raise ImageBuildError(f"{script} failed with exit code {result.returncode} (its log is above)")
    images = parse_build_output(result.stdout)
    missing = [n for n in wanted if n not in images]
    if missing:
        raise ImageBuildError(f"{script} reported no image for {missing}")
    for image in images.values():
        if not image.archive.is_file():
            raise ImageBuildError(f"{image.name}: archive {image.archive} does not exist")
    return images
