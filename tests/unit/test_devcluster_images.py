"""dataops.devcluster.images: how hack/build-images.sh is found and its output read (no build here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataops.devcluster.images import (
    BuiltImage,
    ImageBuildError,
    build_images,
    build_script,
    parse_build_output,
)


def test_the_build_script_is_found_in_the_checkout() -> None:
    script = build_script()
    assert script.name == "build-images.sh"
    assert (script.parent / "base-image.sh").is_file()


def test_build_output_is_one_image_per_line() -> None:
    out = (
        "operator localhost/dataops-operator:1a2b /c/images/operator-1a2b.tar\n"
        "spark localhost/dataops-spark:3c4d /c/images/spark-3c4d.tar\n\n"
    )
    assert parse_build_output(out) == {
        "operator": BuiltImage(
            "operator", "localhost/dataops-operator:1a2b", Path("/c/images/operator-1a2b.tar")
        ),
        "spark": BuiltImage("spark", "localhost/dataops-spark:3c4d", Path("/c/images/spark-3c4d.tar")),
    }
    with pytest.raises(ImageBuildError, match="unexpected line"):
        parse_build_output("[images] a log line on stdout\n")


def test_unknown_images_are_refused_before_building() -> None:
    with pytest.raises(ImageBuildError, match="unknown images"):
        build_images(["spark", "webui"])
