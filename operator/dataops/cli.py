"""The ``dataops`` command."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from dataops.api.crdgen import drifted_crds, write_crds
from dataops.api.v1alpha1.datapipeline import DataPipeline
from dataops.api.v1alpha1.datapolicy import PiiColumn
from dataops.api.validation import admitted_model, validate_document
from dataops.manifests import Document, read_documents, yaml_files
from dataops.plan.sql_check import check_sql_steps
from dataops.plan.sql_guard import check_steps
from dataops.policy.classified import classifying_entry

if TYPE_CHECKING:
    from dataops.quality.pii import Detection

if TYPE_CHECKING:
    from dataops.kube.client import KubeClient
    from dataops.kube.diff import ObjectDiff

DEFAULT_CRD_DIR = Path("crds")


def _is_secret(doc: object) -> bool:
    return isinstance(doc, dict) and doc.get("apiVersion") == "v1" and doc.get("kind") == "Secret"


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate manifests offline with the models the CRDs are generated from, then check SQL steps."""
    failed = 0
    checked = 0
    try:
        documents = list(
            read_documents(yaml_files([Path(p) for p in args.filename], recursive=args.recursive))
        )
    except (OSError, ValueError, yaml.YAMLError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for doc in documents:
        if _is_secret(doc.body):  # masking keys for `dataops run`; the API server validates Secrets
            print(f"{doc.label}: skipped (a Secret)")
            continue
        checked += 1
        errors = [str(e) for e in validate_document(doc.body)]
        if not errors and doc.body.get("kind") == "DataPipeline":
            pipeline = admitted_model(doc.body)
            assert isinstance(pipeline, DataPipeline)
            # Step order and queries only (sql_guard), then syntax, references and columns (sql_check).
            errors = [f"{e.path}: Invalid value: {e.message}" for e in check_steps(pipeline.spec)]
            if not errors:
                errors += [str(e) for e in check_sql_steps(pipeline.spec)]
        if errors:
            failed += 1
            print(f"{doc.label}: invalid")
            for error in errors:
                print(f"  {error}")
        else:
            print(f"{doc.label}: valid")
    print(f"{checked - failed} valid, {failed} invalid")
    return 1 if failed or not checked else 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run one pipeline locally with Spark and print a summary; exit 1 when the run fails."""
    from dataops.api.validation import validate_document
    from dataops.manifests import read_documents
    from dataops.quality.gate import SuiteGateRunner
    from dataops.runtime.local import load_governance, load_pipeline, run_pipeline
    from dataops.runtime.streaming import StreamingSettings

    try:
        paths = yaml_files([Path(p) for p in args.filename], recursive=args.recursive)
        for doc in read_documents(paths):
            if _is_secret(doc.body):
                continue
            problems = validate_document(doc.body)
            if problems:
                print(f"{doc.label}: invalid", file=sys.stderr)
                for problem in problems:
                    print(f"  {problem}", file=sys.stderr)
                return 2
        pipeline, suites = load_pipeline(paths)
        gate_runner = SuiteGateRunner(suites) if pipeline.spec.quality_gates else None
        streaming = StreamingSettings(
            bootstrap=args.bootstrap or os.environ.get("DATAOPS_KAFKA_BOOTSTRAP"),
            checkpoint=args.checkpoint,
            max_batches=args.max_batches,
            available_now=args.available_now,
            idle_timeout=args.idle_timeout,
        )
        summary, _ = run_pipeline(
            pipeline,
            master=args.master,
            lineage_transport=args.lineage,
            gate_runner=gate_runner,
            streaming=streaming,
            governance=load_governance(paths),
        )
    except (OSError, ValueError, yaml.YAMLError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary.render_table())
    return 0 if summary.outcome == "Succeeded" else 1


def cmd_profile(args: argparse.Namespace) -> int:
    """Propose a DataQualitySuite from data, as YAML ready for kubectl apply."""
    from dataops.quality.pii import detect
    from dataops.quality.profile import propose_suite
    from dataops.runtime.session import local_session

    try:  # DataPolicies whose piiColumns classify columns of the data (read before Spark starts)
        entries = _classifying_entries(args.filename, recursive=args.recursive)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    file_format = args.format or Path(args.path.rstrip("/")).suffix.lstrip(".") or "parquet"
    spark = local_session(master=args.master, app_name="dataops-profile")
    reader = spark.read.format(file_format)
    if file_format == "csv":
        reader = reader.option("header", "true").option("inferSchema", "true")
    try:
        df = reader.load(args.path)
    except Exception as exc:
        print(f"error: cannot read {args.path} as {file_format}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    # The suite holds no value of a column that looks like personal data or that a given DataPolicy
    # classifies: detection runs for that even with --no-pii (which only leaves out the proposal).
    found = detect(df, sample_rows=args.pii_sample_rows, threshold=args.pii_threshold)
    flagged = {d.column for d in found}
    protected = [c for c in df.columns if c in flagged or classifying_entry(c, entries) is not None]
    suite = propose_suite(df, name=args.name, path=args.path, file_format=file_format, protected=protected)
    print(yaml.safe_dump(suite, sort_keys=False), end="")
    if protected:
        print(f"# no value sets or ranges of {', '.join(protected)} (personal data)", file=sys.stderr)
    if not args.no_pii:
        # stdout stays one manifest for kubectl apply; the piiColumns proposal goes to stderr
        report = _pii_report(found, sample_rows=args.pii_sample_rows, threshold=args.pii_threshold)
        print(report, end="", file=sys.stderr)
    return 0


def _classifying_entries(filenames: list[str], *, recursive: bool) -> list[PiiColumn]:
    """The piiColumns of every DataPolicy in ``filenames`` (no pipeline to select: all apply)."""
    from dataops.runtime.local import load_governance

    if not filenames:
        return []
    governance = load_governance(yaml_files([Path(p) for p in filenames], recursive=recursive))
    return [entry for _, _, spec in governance.policies for entry in spec.pii_columns]


def _pii_report(found: list[Detection], *, sample_rows: int, threshold: float) -> str:
    """Columns that look like personal data, as a commented DataPolicy piiColumns proposal (column
    names, classifications and match ratios only: never a value)."""
    from dataops.quality.pii import pii_columns_snippet

    header = f"# personal data: {len(found)} column(s) look like PII (>= {threshold:.0%} of up to "
    lines = [header + f"{sample_rows} sampled rows)"]
    if found:
        lines.append("# review, then add to a DataPolicy's spec (spec.piiColumns):")
        for d in found:
            lines.append(f"#   {d.column}: {d.classification.value}, {d.ratio:.0%} of {d.sampled} values")
        snippet = yaml.safe_dump({"piiColumns": pii_columns_snippet(found)}, sort_keys=False)
        lines.append(snippet.rstrip("\n"))
    return "\n".join(lines) + "\n"


def cmd_plan(args: argparse.Namespace) -> int:
    """What applying the manifests would do: admission verdicts, run plans, masking, children."""
    from dataops.api.v1alpha1.datapolicy import DataPolicy
    from dataops.plan.preview import preview, render

    try:
        files = yaml_files([Path(p) for p in args.filename], recursive=args.recursive)
        documents = [d for d in read_documents(files) if not _is_secret(d.body)]
    except (OSError, ValueError, yaml.YAMLError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    invalid = 0
    for doc in documents:
        errors = [str(e) for e in validate_document(doc.body)]
        if errors:
            invalid += 1
            print(f"{doc.label}: invalid", file=sys.stderr)
            for error in errors:
                print(f"  {error}", file=sys.stderr)
    if invalid:
        return 1
    bodies = [d.body for d in documents]
    policies = []
    for body in (b for b in bodies if b.get("kind") == "DataPolicy"):
        policy = DataPolicy.model_validate(body)
        policies.append((policy.metadata.namespace or "default", policy.metadata.name, policy.spec))
    suites = {b["metadata"]["name"]: b["spec"] for b in bodies if b.get("kind") == "DataQualitySuite"}
    pipelines = [DataPipeline.model_validate(b) for b in bodies if b.get("kind") == "DataPipeline"]
    if not pipelines:
        print("error: no DataPipeline among the manifests", file=sys.stderr)
        return 1
    blocked = 0
    for pipeline in pipelines:
        used = {
            g.suite_ref.name: suites[g.suite_ref.name]
            for g in pipeline.spec.quality_gates
            if g.suite_ref.name in suites
        }
        item = preview(pipeline, policies, suites=used)
        print(render(item))
        if args.output == "yaml":
            print(yaml.safe_dump_all(item.children, sort_keys=False), end="")
        blocked += item.denied or bool(item.refused_sinks or item.refused_sources)
        print()
    print(f"{len(pipelines)} pipeline(s), {blocked} denied by policy or refusing to write")
    return 1 if blocked else 0


def cmd_diff(args: argparse.Namespace) -> int:
    """Server-side dry-run apply of each manifest against the live cluster, diffed with the live object."""
    from dataops.kube.client import RESOURCE_TYPES, SECRET, KubeClient
    from dataops.kube.diff import diff_object

    try:
        files = yaml_files([Path(p) for p in args.filename], recursive=args.recursive)
        documents = list(read_documents(files))
        client = KubeClient.from_kubeconfig(args.kubeconfig)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    kinds = {**RESOURCE_TYPES, "Secret": SECRET}
    changed = errors = 0
    for doc in documents:
        kind = doc.body.get("kind") if isinstance(doc.body, dict) else None
        rt = kinds.get(str(kind))
        if rt is None:
            print(
                f"error: {doc.label}: kind {kind!r} is not one dataops diff knows (use kubectl diff)",
                file=sys.stderr,
            )
            errors += 1
            continue
        found = [diff_object(client, rt, doc.body, namespace=args.namespace)]
        if kind == "DataPipeline" and args.children and not found[0].error:
            found += _children_diffs(client, doc.body, documents, namespace=args.namespace)
        for one in found:
            if one.error:
                print(f"error: {one.error}", file=sys.stderr)
                errors += 1
            elif one.text:
                changed += 1
                print(one.text, end="")
    return 2 if errors else 1 if changed else 0


def _children_diffs(
    client: KubeClient, body: dict[str, Any], documents: list[Document], *, namespace: str
) -> list[ObjectDiff]:
    """The operator's changes to the pipeline's children, from the policies and suites the cluster
    would have after the apply: the live ones, replaced by those among the manifests."""
    from dataops.api.v1alpha1.datapolicy import DataPolicy
    from dataops.kube.client import DATA_POLICY, DATA_QUALITY_SUITE, KubeError
    from dataops.kube.diff import DIFF_FIELD_MANAGER, ObjectDiff, diff_children

    pipeline = DataPipeline.model_validate(body)
    ns = pipeline.metadata.namespace or namespace
    pipeline.metadata.namespace = ns
    bodies = [d.body for d in documents if isinstance(d.body, dict)]
    try:
        policies: dict[tuple[str, str], Any] = {}
        for item in [*client.list(DATA_POLICY, ns), *(b for b in bodies if b.get("kind") == "DataPolicy")]:
            item_ns = (item.get("metadata") or {}).get("namespace") or namespace
            if item_ns == ns:
                policy = DataPolicy.model_validate(item)
                policies[(ns, policy.metadata.name)] = policy.spec
        local = {
            b["metadata"]["name"]: b
            for b in bodies
            if b.get("kind") == "DataQualitySuite" and ((b["metadata"].get("namespace") or namespace) == ns)
        }
        suites: dict[str, dict[str, Any]] = {}
        for gate in pipeline.spec.quality_gates:
            name = gate.suite_ref.name
            if name in local:  # as the API server stores it: with the CRD's defaults filled in
                doc = {**local[name], "metadata": {**local[name]["metadata"], "namespace": ns}}
                suite = client.apply(
                    doc, rt=DATA_QUALITY_SUITE, field_manager=DIFF_FIELD_MANAGER, dry_run=True
                )
            else:
                suite = client.get(DATA_QUALITY_SUITE, ns, name) or {}
            if suite.get("spec") is not None:
                suites[name] = suite["spec"]
        return diff_children(client, pipeline, [(k[0], k[1], v) for k, v in policies.items()], suites)
    except (KubeError, ValidationError) as exc:
        label = f"children of DataPipeline {ns}/{pipeline.metadata.name}"
        return [ObjectDiff(label, "", error=f"{label}: {str(exc).splitlines()[0]}")]


def cmd_check(args: argparse.Namespace) -> int:
    """Run one DataQualitySuite's standalone validation locally (what a validation pod does)."""
    from dataops.api.v1alpha1.dataqualitysuite import DataQualitySuite, DatasetRef
    from dataops.plan.validation import build_validation_plan
    from dataops.runtime.session import local_session
    from dataops.runtime.validator import run_validation, suite_emitter

    documents = read_documents([Path(args.file)])
    docs = [
        d.body for d in documents if isinstance(d.body, dict) and d.body.get("kind") == "DataQualitySuite"
    ]
    if len(docs) != 1:
        print(f"error: {args.file} must hold exactly one DataQualitySuite", file=sys.stderr)
        return 2
    suite = DataQualitySuite.model_validate(docs[0])
    if args.path:
        dataset = DatasetRef.model_validate({"path": args.path, "format": args.format or "parquet"})
        suite.spec = suite.spec.model_copy(update={"dataset": dataset})
    plan = build_validation_plan(
        name=suite.metadata.name,
        namespace=suite.metadata.namespace or "default",
        spec=suite.spec,
        status=suite.status,
    )
    spark = local_session(master=args.master, app_name="dataops-check")
    lineage = suite_emitter(plan, args.lineage)
    run = run_validation(
        spark, plan, run_id=args.run_id or f"local-{time.strftime('%Y%m%d%H%M%S')}", lineage=lineage
    )
    print(yaml.safe_dump(run.result.to_json(), sort_keys=False), end="")
    if run.result.error:
        return 2
    return 0 if run.result.success else 1


def cmd_lineage_serve(args: argparse.Namespace) -> int:
    """An OpenLineage receiver that validates events and serves the lineage graph."""
    from dataops.lineage.receiver import LineageReceiver, LineageStore
    from dataops.lineage.validate import EventValidator

    try:
        store = LineageStore(EventValidator.bundled(), Path(args.store) if args.store else None)
        receiver = LineageReceiver(store, host=args.host, port=args.port)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"OpenLineage receiver on {receiver.url}/api/v1/lineage, graph at /api/v1/graph", flush=True)
    try:
        receiver.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    return 0


def cmd_lineage_graph(args: argparse.Namespace) -> int:
    """The lineage graph's edges, from a receiver (--url) or an events file (--file, JSON lines)."""
    import json
    import urllib.error
    import urllib.request

    from dataops.lineage.graph import graph_of

    try:
        if args.file:
            lines = Path(args.file).read_text().splitlines()
            graph = graph_of([json.loads(line) for line in lines if line.strip()])
            body = graph.to_json() if args.json else "".join(f"{e}\n" for e in graph.edge_lines())
        else:
            path = "/api/v1/graph" if args.json else "/api/v1/graph/edges"
            with urllib.request.urlopen(args.url.rstrip("/") + path, timeout=30) as response:
                text = response.read().decode()
            body = json.loads(text) if args.json else text
    except (OSError, ValueError, KeyError, TypeError, urllib.error.URLError) as exc:
        print(f"error: {args.file or args.url}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(body, indent=2) if args.json else body, end="" if not args.json else "\n")
    return 0


def cmd_crds_generate(args: argparse.Namespace) -> int:
    directory = Path(args.output)
    if args.check:
        drift = drifted_crds(directory)
        if drift:
            print(
                f"CRDs out of date with the models: {', '.join(drift)}; run `dataops crds generate`",
                file=sys.stderr,
            )
            return 1
        print("CRDs match the models")
        return 0
    for path in write_crds(directory):
        print(path)
    return 0


def cmd_operator(args: argparse.Namespace) -> int:
    from dataops.operator_main import run_operator

    if args.kubeconfig:
        os.environ["DATAOPS_KUBECONFIG"] = args.kubeconfig
        os.environ["KUBECONFIG"] = args.kubeconfig
    if args.namespace:
        os.environ["DATAOPS_NAMESPACE"] = args.namespace
    return run_operator(verbose=args.verbose)


def cmd_dev_up(args: argparse.Namespace) -> int:
    from dataops.devcluster.dev import dev_up

    return dev_up(
        Path(args.workdir),
        examples=Path(args.examples),
        with_operator=not args.no_operator,
        real_node=args.real_node,
    )


def cmd_dev_down(args: argparse.Namespace) -> int:
    from dataops.devcluster.dev import dev_down

    return dev_down(Path(args.workdir))


def _ratio(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a ratio in (0, 1]")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def build_parser() -> argparse.ArgumentParser:
    from dataops.devcluster.dev import DEFAULT_WORKDIR

    parser = argparse.ArgumentParser(prog="dataops", description="Kubernetes-native DataOps platform")
    sub = parser.add_subparsers(dest="command", required=True)

    validate = sub.add_parser("validate", help="validate manifests offline (same rules as the API server)")
    validate.add_argument(
        "-f",
        "--filename",
        action="extend",
        nargs="+",
        required=True,
        help="files or folders (-f a b and -f a -f b both work)",
    )
    validate.add_argument("-R", "--recursive", action="store_true", help="read folders' subfolders too")
    validate.set_defaults(func=cmd_validate)

    plan = sub.add_parser(
        "plan", help="what applying manifests would do: admission verdicts, run plans, masking, children"
    )
    plan.add_argument("-f", "--filename", action="extend", nargs="+", required=True, help="files or folders")
    plan.add_argument("-R", "--recursive", action="store_true", help="read folders' subfolders too")
    plan.add_argument(
        "-o", "--output", choices=["text", "yaml"], default="text", help="yaml: also the children"
    )
    plan.set_defaults(func=cmd_plan)

    diff = sub.add_parser(
        "diff", help="what applying manifests would change on the cluster (exit 0 none, 1 changes, 2 error)"
    )
    diff.add_argument("-f", "--filename", action="extend", nargs="+", required=True, help="files or folders")
    diff.add_argument("-R", "--recursive", action="store_true", help="read folders' subfolders too")
    diff.add_argument("-n", "--namespace", default="default", help="for manifests that name none")
    diff.add_argument("--kubeconfig", default=None, help="default: $KUBECONFIG or ~/.kube/config")
    diff.add_argument(
        "--children",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also diff the children the operator would change (runner RBAC, run-plan ConfigMap)",
    )
    diff.set_defaults(func=cmd_diff)

    run = sub.add_parser("run", help="run one pipeline locally with Spark (no cluster)")
    run.add_argument(
        "-f",
        "--filename",
        action="extend",
        nargs="+",
        required=True,
        help="files or folders holding one DataPipeline, the DataQualitySuites its gates use, the "
        "DataPolicies that apply (by selector) and the Secrets holding their masking keys (repeatable)",
    )
    run.add_argument("-R", "--recursive", action="store_true", help="read folders' subfolders too")
    run.add_argument("--master", default="local[*]", help="Spark master (default local[*])")
    run.add_argument(
        "--lineage", default="none", help="OpenLineage transport: console, file:PATH, http(s)://URL, none"
    )
    streaming = run.add_argument_group("Streaming pipelines (run until Ctrl-C unless bounded)")
    streaming.add_argument("--max-batches", type=int, help="stop after this many micro-batches")
    streaming.add_argument(
        "--available-now", action="store_true", help="process what the topic holds now, then stop"
    )
    streaming.add_argument("--idle-timeout", type=float, help="stop after this many seconds without records")
    streaming.add_argument(
        "--checkpoint", help="checkpoint folder (default: spec, else inside the first sink)"
    )
    streaming.add_argument("--bootstrap", help="Kafka bootstrap servers for sources that name none")
    run.set_defaults(func=cmd_run)

    profile = sub.add_parser("profile", help="propose a DataQualitySuite from data (YAML on stdout)")
    profile.add_argument("--path", required=True, help="file or folder of data")
    profile.add_argument(
        "--format", choices=["parquet", "csv", "json", "delta", "orc"], help="default: from the path"
    )
    profile.add_argument("--name", default="profiled-suite", help="metadata.name of the suite")
    profile.add_argument("--master", default="local[*]")
    profile.add_argument(
        "--pii-threshold",
        type=_ratio,
        default=0.8,
        help="share of a column's sampled non-empty values that must look like personal data (default 0.8)",
    )
    profile.add_argument(
        "--pii-sample-rows", type=_positive, default=10_000, help="rows sampled for PII detection"
    )
    profile.add_argument("--no-pii", action="store_true", help="leave out the piiColumns proposal (stderr)")
    profile.add_argument(
        "-f",
        "--filename",
        action="extend",
        nargs="+",
        default=[],
        help="DataPolicy manifests (files or folders): columns their piiColumns classify get no value "
        "sets or ranges",
    )
    profile.add_argument("-R", "--recursive", action="store_true", help="read folders' subfolders too")
    profile.set_defaults(func=cmd_profile)

    check = sub.add_parser(
        "check", help="validate a DataQualitySuite's dataset locally (exit 0 passed, 1 failed, 2 error)"
    )
    check.add_argument("-f", "--file", required=True, help="YAML with one DataQualitySuite")
    check.add_argument("--path", help="dataset path (overrides spec.dataset)")
    check.add_argument("--format", choices=["parquet", "csv", "json", "delta", "orc"])
    check.add_argument("--run-id", help="default: local-<timestamp>")
    check.add_argument("--master", default="local[*]")
    check.add_argument("--lineage", default="none", help="OpenLineage transport (as for run)")
    check.set_defaults(func=cmd_check)

    lineage = sub.add_parser("lineage", help="OpenLineage receiver and graph").add_subparsers(
        dest="lineage_command", required=True
    )
    serve = lineage.add_parser("serve", help="receive OpenLineage events (validated) and serve the graph")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5000)
    serve.add_argument("--store", help="append accepted events to this JSON-lines file (replayed on start)")
    serve.set_defaults(func=cmd_lineage_serve)
    graph = lineage.add_parser("graph", help="print the lineage graph's edges")
    source = graph.add_mutually_exclusive_group(required=True)
    source.add_argument("--url", help="a `dataops lineage serve` receiver, e.g. http://127.0.0.1:5000")
    source.add_argument("--file", help="OpenLineage events as JSON lines (the file: transport's output)")
    graph.add_argument("--json", action="store_true", help="nodes, edges and runs as JSON")
    graph.set_defaults(func=cmd_lineage_graph)

    crds = sub.add_parser("crds", help="CustomResourceDefinitions").add_subparsers(
        dest="crds_command", required=True
    )
    generate = crds.add_parser("generate", help="write crds/*.yaml from the typed models")
    generate.add_argument("-o", "--output", default=str(DEFAULT_CRD_DIR))
    generate.add_argument("--check", action="store_true", help="fail if the files differ from the models")
    generate.set_defaults(func=cmd_crds_generate)

    op = sub.add_parser("operator", help="run the operator (kopf) against the current kubeconfig")
    op.add_argument("--kubeconfig")
    op.add_argument("--namespace", help="watch one namespace (default: all)")
    op.add_argument("-v", "--verbose", action="store_true")
    op.set_defaults(func=cmd_operator)

    dev = sub.add_parser("dev", help="local control plane with the operator and examples").add_subparsers(
        dest="dev_command", required=True
    )
    up = dev.add_parser(
        "up", help="start etcd, kube-apiserver, controller-manager, scheduler, KWOK and the operator"
    )
    up.add_argument("--workdir", default=str(DEFAULT_WORKDIR))
    up.add_argument("--examples", default="examples")
    up.add_argument("--no-operator", action="store_true")
    up.add_argument(
        "--real-node",
        action="store_true",
        help="also start a real worker node (containerd + kubelet, needs root) and build the runtime images",
    )
    up.set_defaults(func=cmd_dev_up)
    down = dev.add_parser("down", help="stop what `dataops dev up` started")
    down.add_argument("--workdir", default=str(DEFAULT_WORKDIR))
    down.set_defaults(func=cmd_dev_down)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
