"""Dataset identities: one dataset, one (namespace, name), however its location is spelled."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataops.api.v1alpha1.datapipeline import Source
from dataops.lineage.datasets import canonical_dataset, kafka_namespace, path_identity, source_identity


@pytest.mark.parametrize(
    "spelling",
    [
        "/data/orders",
        "/data/orders/",
        "/data//orders",
        "/data/./orders",
        "/data/x/../orders",
        "file:/data/orders",
        "file:///data/orders",
        "file:///data/orders/",
        "file://localhost/data/orders",
        "FILE:/data/orders",
    ],
)
def test_local_paths_have_one_identity(spelling: str) -> None:
    assert path_identity(spelling) == ("file", "/data/orders")


def test_relative_path_is_made_absolute() -> None:
    assert path_identity("out/t/") == ("file", os.path.join(os.getcwd(), "out", "t"))


def test_root_stays_root() -> None:
    assert path_identity("/") == ("file", "/")
    assert path_identity("file:///") == ("file", "/")


@pytest.mark.parametrize(
    ("location", "identity"),
    [
        ("s3a://bucket/a/b/", ("s3://bucket", "/a/b")),
        ("s3://bucket/a//b", ("s3://bucket", "/a/b")),
        ("S3N://bucket/a/b", ("s3://bucket", "/a/b")),
        ("gs://b/x", ("gs://b", "/x")),
        ("abfss://c@acct.dfs.core.windows.net/t/", ("abfss://c@acct.dfs.core.windows.net", "/t")),
        ("s3a://bucket", ("s3://bucket", "/")),
    ],
)
def test_object_store_identities(location: str, identity: tuple[str, str]) -> None:
    assert path_identity(location) == identity


@pytest.mark.parametrize(
    ("bootstrap", "namespace"),
    [
        ("broker:9092", "kafka://broker:9092"),
        ("Broker:9092, other:9093", "kafka://broker:9092"),
        ("broker", "kafka://broker:9092"),
        ("PLAINTEXT://broker:29092", "kafka://broker:29092"),
        ("[::1]:9092", "kafka://[::1]:9092"),
        (None, "kafka://kafka:9092"),
        ("", "kafka://kafka:9092"),
    ],
)
def test_kafka_namespace_is_the_first_bootstrap_server(bootstrap: str | None, namespace: str) -> None:
    assert kafka_namespace(bootstrap) == namespace


def test_topic_source_uses_the_default_bootstrap_only_when_it_names_none() -> None:
    named = Source.model_validate({"name": "s", "kafka": {"topic": "t", "bootstrapServers": "a:1"}})
    unnamed = Source.model_validate({"name": "s", "kafka": {"topic": "t"}})
    assert source_identity(named, bootstrap="b:2") == ("kafka://a:1", "t")
    assert source_identity(unnamed, bootstrap="b:2") == ("kafka://b:2", "t")


@pytest.mark.parametrize(
    ("namespace", "name"),
    [
        ("file", "/data/orders"),
        ("file", "/data/orders/"),
        ("file", "file:/data/orders"),
        ("file", "file:///data/orders"),
        ("file", "//data/orders"),
        ("file://", "/data/orders"),
        ("file://localhost", "/data/orders/"),
        (" file ", "/data/orders "),
    ],
)
def test_received_file_identities_are_canonical(namespace: str, name: str) -> None:
    assert canonical_dataset(namespace, name) == ("file", "/data/orders")


def test_received_identities_of_other_systems() -> None:
    assert canonical_dataset("s3a://bucket", "a/b/") == ("s3://bucket", "/a/b")
    assert canonical_dataset("kafka://Broker", "orders") == ("kafka://broker:9092", "orders")
    # a table name is not a path: kept as it is
    assert canonical_dataset("postgresql://db:5432/sales", "public.orders/") == (
        "postgresql://db:5432/sales",
        "public.orders/",
    )
    assert canonical_dataset("file", "/a") != canonical_dataset("file", "/b")


_segment = st.text(alphabet="abcxyz01_-.", min_size=1, max_size=6).filter(lambda s: s not in (".", ".."))


@given(
    segments=st.lists(_segment, min_size=1, max_size=6),
    slashes=st.lists(st.integers(1, 3), min_size=7, max_size=7),
    trailing=st.booleans(),
    scheme=st.sampled_from(["", "file:", "file://", "file://localhost"]),
)
def test_spellings_of_a_local_path_are_one_identity(
    segments: list[str], slashes: list[int], trailing: bool, scheme: str
) -> None:
    plain = "/" + "/".join(segments)
    spelled = scheme + "".join("/" * n + s for n, s in zip(slashes, segments, strict=False))
    spelled += "/" if trailing else ""
    if scheme == "file://" and not spelled.startswith("file:///"):
        spelled = "file:///" + spelled[len("file://") :].lstrip("/")
    assert path_identity(spelled) == ("file", plain)
    assert canonical_dataset("file", spelled) == ("file", plain)
    assert canonical_dataset(*path_identity(spelled)) == path_identity(spelled)  # idempotent


@given(bucket=st.sampled_from(["s3a://b", "s3://b", "S3N://b"]), segments=st.lists(_segment, max_size=5))
def test_object_store_identity_is_idempotent(bucket: str, segments: list[str]) -> None:
    identity = path_identity(f"{bucket}/{'/'.join(segments)}/")
    assert identity == ("s3://b", "/" + "/".join(segments))
    assert canonical_dataset(*identity) == identity
