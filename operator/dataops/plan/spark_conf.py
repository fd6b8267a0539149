"""The Spark settings every run of a pipeline shares, as files of its plan ConfigMap. Pure.

A driver pod gets its Spark properties from two places (spark-submit takes ``--conf`` over
``--properties-file``, see :func:`dataops.plan.spark_driver.driver_args`):

* ``spark.properties`` in the plan ConfigMap: every property whose text comes from the spec (pod
  labels and annotations, node selectors, claims, ``sparkConf``), written with
  ``java.util.Properties`` escaping, which spark-submit reads as UTF-8. No newline, ``=``, ``#`` or
  trailing ``\\`` in a value can add a property of its own, and the text arrives exactly (an
  argument would go through the JVM's platform encoding and lose carriage returns);
* ``--conf`` arguments of the driver container: what the operator generates per run (names, the
  run's labels, the image, the API server), ASCII by construction.

``executor-pod-template.yaml`` beside them is the pod template Spark builds executors from. So no
run attempt needs a ConfigMap of its own.
"""

from __future__ import annotations

import functools
from typing import Any

import yaml

from dataops.api.v1alpha1.datapipeline import SparkSpec
from dataops.plan.pods import (
    WORKING_DIR,
    container_security_context,
    executor_volume_properties,
    pod_security_context,
    tmp_mount,
    tmp_volume,
    writable_dirs_env,
)

SPARK_ROLE_LABEL = "spark-role"
SPARK_APP_LABEL = "spark-app-selector"
SPARK_RESERVED_LABELS = frozenset(
    {SPARK_ROLE_LABEL, SPARK_APP_LABEL, "spark-exec-id", "spark-exec-resourceprofile-id"}
)
EXECUTOR_CONTAINER = "spark-kubernetes-executor"
PROPERTIES_FILE = "spark.properties"
EXECUTOR_TEMPLATE_FILE = "executor-pod-template.yaml"


def spec_properties(spec: SparkSpec) -> dict[str, str]:
    """The Spark properties whose keys or values are the spec's own text."""
    props: dict[str, str] = {}
    for key, value in spec.pod_labels.items():
        if key not in SPARK_RESERVED_LABELS:  # Spark sets these itself and refuses custom ones
            props[f"spark.kubernetes.executor.label.{key}"] = value
    for key, value in spec.pod_annotations.items():
        props[f"spark.kubernetes.executor.annotation.{key}"] = value
    for key, value in spec.node_selector.items():
        props[f"spark.kubernetes.node.selector.{key}"] = value
    props |= executor_volume_properties(spec.volumes)
    return {**props, **spec.spark_conf}


def executor_pod_template(spec: SparkSpec) -> dict[str, Any]:
    """What Spark takes only from a pod template: tolerations, the security contexts and the /tmp
    volume. Spark adds its own volumes, mounts and env to the template's container."""
    container = {
        "name": EXECUTOR_CONTAINER,
        "workingDir": WORKING_DIR,
        "env": writable_dirs_env(),
        "securityContext": container_security_context(),
        "volumeMounts": [tmp_mount()],
    }
    pod_spec: dict[str, Any] = {
        "securityContext": pod_security_context(),
        "containers": [container],
        "volumes": [tmp_volume()],
    }
    if spec.tolerations:
        pod_spec["tolerations"] = [t.to_json() for t in spec.tolerations]
    return {"apiVersion": "v1", "kind": "Pod", "spec": pod_spec}


_PROPERTY_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\f": "\\f"}


def _escape_property(text: str, *, key: bool) -> str:
    """java.util.Properties escaping: no key or value can end a line, continue one or start a comment,
    so nothing in the spec can add a property of its own (``x\\nspark.master=...``)."""
    out = []
    for i, char in enumerate(text):
        if char in _PROPERTY_ESCAPES:
            out.append(_PROPERTY_ESCAPES[char])
        elif (key and char in " =:#!") or (char in " #!" and i == 0):
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out)


def properties_line(key: str, value: str) -> str:
    return f"{_escape_property(key, key=True)}={_escape_property(value, key=False)}\n"


_UNESCAPES = {"n": "\n", "r": "\r", "t": "\t", "f": "\f"}


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            following = text[i + 1]
            if following == "u":
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(_UNESCAPES.get(following, following))
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


def read_properties(text: str) -> dict[str, str]:
    """The properties of a file :func:`properties_line` wrote (one line each; keys end at the first
    unescaped ``=``), as java.util.Properties reads them."""
    props: dict[str, str] = {}
    for line in text.split("\n"):  # java.util.Properties ends lines at \n and \r only (both escaped)
        if not line:
            continue
        i = 0
        while i < len(line) and line[i] != "=":
            i += 2 if line[i] == "\\" else 1
        props[_unescape(line[:i])] = _unescape(line[i + 1 :])
    return props


def shared_spark_files(spec: SparkSpec) -> dict[str, str]:
    """The plan ConfigMap's Spark files: ``spark.properties`` and the executor pod template."""
    return dict(_shared_spark_files(spec.model_dump_json()))


@functools.lru_cache(maxsize=1024)
def _shared_spark_files(spec_json: str) -> tuple[tuple[str, str], ...]:
    """Remembered by the spec's text: every reconcile builds the same files (YAML is slow to write)."""
    spec = SparkSpec.model_validate_json(spec_json)
    props = spec_properties(spec)
    return (
        (PROPERTIES_FILE, "".join(properties_line(k, v) for k, v in sorted(props.items()))),
        (EXECUTOR_TEMPLATE_FILE, yaml.safe_dump(executor_pod_template(spec), sort_keys=True)),
    )
