"""A driver's Spark properties as spark-submit itself reads them: the plan ConfigMap's spark.properties
and the ``--conf key=value`` arguments of the operator's driver pod reach the application's SparkConf
exactly, whatever characters a label, annotation or conf value carries (nothing in them can add or
change another property)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyspark

from dataops.api.v1alpha1.datapipeline import DataPipelineSpec
from dataops.plan.children import Owner
from dataops.plan.spark_conf import PROPERTIES_FILE, shared_spark_files
from dataops.plan.spark_driver import Launch, build_native_run, driver_properties

HOSTILE_ANNOTATIONS = {
    "note": "x\nspark.kubernetes.namespace=kube-system",
    "eq": "a=b=c",
    "path": "C:\\temp\\",
    "cont": "ends with a continuation \\",
    "hash": "#not a comment",
    "cr": "a\rspark.master=local",
    "tab": "\tx\fy",
    "utf8": "naïve ☃",
    "spaces": " value = with : separators ",
    "separators": "a\u2028b\x85c",
}


def _java_trim(text: str) -> str:
    return text.strip("".join(chr(c) for c in range(0x21)))


APP = """
import json, sys
from pyspark import SparkContext
context = SparkContext.getOrCreate()
conf = dict(context.getConf().getAll())
context.stop()
with open(sys.argv[1], "w") as out:
    json.dump(conf, out)
"""


def test_spark_submit_reads_back_exactly_what_the_pod_passes(tmp_path: Path) -> None:
    spec = DataPipelineSpec.model_validate(
        {
            "sources": [{"name": "a", "file": {"path": "/tmp/a.csv", "format": "csv"}}],
            "sinks": [{"name": "b", "from": "a", "path": "/tmp/b"}],
            "spark": {
                "podAnnotations": HOSTILE_ANNOTATIONS,
                "sparkConf": {"spark.sql.shuffle.partitions": "3"},
            },
        }
    )
    owner = Owner(kind="DataPipeline", name="p", namespace="n", uid="u")
    (pod,) = build_native_run(Launch(owner=owner, run_id="r", attempt=1, image="i"), spec)
    files = shared_spark_files(spec.spark)
    (tmp_path / PROPERTIES_FILE).write_text(files[PROPERTIES_FILE], encoding="utf-8")
    args = pod["spec"]["containers"][0]["args"]
    # The pod's own arguments, with the plan ConfigMap's folder here, less what needs a cluster (the
    # k8s master, cluster mode): the properties file and the run's labels and name.
    kept = []
    for i, arg in enumerate(args[:-1]):
        if arg == "--properties-file":
            kept += [arg, str(tmp_path / Path(args[i + 1]).name)]
        elif arg == "--conf" and args[i + 1].startswith(
            ("spark.kubernetes.executor.label.", "spark.app.name=")
        ):
            kept += [arg, args[i + 1]]
    expected = {
        k: v
        for k, v in driver_properties(pod, files).items()
        if ".annotation." in k or ".label." in k or k in ("spark.sql.shuffle.partitions", "spark.app.name")
    }
    app = tmp_path / "app.py"
    app.write_text(APP)
    out = tmp_path / "conf.json"
    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    subprocess.run(
        [str(submit), "--master", "local[1]", *kept, str(app), str(out)],
        check=True,
        capture_output=True,
        timeout=180,
        env={"PYSPARK_PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},  # no LANG: the file is UTF-8 anyway
    )
    read = json.loads(out.read_text())
    # spark-submit trims what it reads from a properties file (Utils.getPropertiesFromFile: Java's
    # String.trim, every character up to U+0020 at either end); it has always done so.
    assert {k: read.get(k) for k in expected} == {k: _java_trim(v) for k, v in expected.items()}
    assert {
        k.removeprefix("spark.kubernetes.executor.annotation."): v
        for k, v in expected.items()
        if ".annotation." in k
    } == HOSTILE_ANNOTATIONS
    assert read["spark.kubernetes.executor.label.dataops.dev/run-id"] == "r"
    assert read["spark.master"] == "local[1]" and "spark.kubernetes.namespace" not in read
