"""The Argo CD health checks and actions, run by gopher-lua the way Argo CD runs them (hack/luatest):
every case of every health_test.yaml and action_test.yaml, adversarial objects, the fixtures'
realism (made by dataops.status, valid against the typed models the CRDs are generated from)
and the generated argocd-cm snippet."""

from __future__ import annotations

import copy
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import BaseModel

from dataops.api.v1alpha1.datapipeline import DataPipeline
from dataops.api.v1alpha1.datapolicy import DataPolicy
from dataops.api.v1alpha1.dataqualitysuite import DataQualitySuite
from dataops.devcluster.controlplane import ControlPlane
from tests.gitops import fixtures
from tests.gitops.luarun import (
    CUSTOMIZATIONS,
    HEALTH_STATES,
    KINDS,
    ROOT,
    Lua,
    action_script,
    action_tests,
    build_luatest,
    discovery_script,
    health_script,
    health_tests,
    load_yaml,
)

ACTION_KINDS = ("DataPipeline", "DataQualitySuite")
MODELS: dict[str, type[BaseModel]] = {
    "DataPipeline": DataPipeline,
    "DataQualitySuite": DataQualitySuite,
    "DataPolicy": DataPolicy,
}


@pytest.fixture(scope="session")
def lua() -> Lua:
    return Lua(build_luatest())


def _id(case: tuple[Any, ...]) -> str:
    kind, *rest = case
    last = rest[-1]
    return f"{kind}-{last.get('action', '')}{Path(last['inputPath']).stem}"


# --- the checked-in test tables, Argo CD's layout -------------------------------------------


@pytest.mark.parametrize("case", health_tests(), ids=_id)
def test_health_test_yaml(lua: Lua, case: tuple[str, dict[str, Any]]) -> None:
    kind, test = case
    obj = load_yaml(CUSTOMIZATIONS / kind / test["inputPath"])
    assert lua.health(kind, obj) == test["healthStatus"]


@pytest.mark.parametrize("case", action_tests(), ids=_id)
def test_action_test_yaml(lua: Lua, case: tuple[str, str, dict[str, Any]]) -> None:
    kind, section, test = case
    base = CUSTOMIZATIONS / kind / "actions"
    obj = load_yaml(base / test["inputPath"])
    if section == "discoveryTests":
        result = lua.one("discovery", discovery_script(kind), obj)
        assert result.get("actions") == test["result"], result
    else:
        result = lua.one("action", action_script(kind, test["action"]), obj)
        assert result.get("object") == load_yaml(base / test["expectedOutputPath"]), result


def test_every_state_and_fixture_is_covered() -> None:
    """Each kind's table reaches the states that kind can be in, and no fixture is left unused."""
    expected = {
        "DataPipeline": {"Healthy", "Progressing", "Degraded", "Suspended"},
        "DataQualitySuite": {"Healthy", "Progressing", "Degraded", "Suspended"},
        "DataPolicy": {"Healthy", "Progressing", "Degraded"},  # a policy cannot be suspended
    }
    for kind in KINDS:
        tests = load_yaml(CUSTOMIZATIONS / kind / "health_test.yaml")["tests"]
        assert {t["healthStatus"]["status"] for t in tests} == expected[kind], kind
        used = {t["inputPath"] for t in tests}
        on_disk = {f"testdata/{p.name}" for p in (CUSTOMIZATIONS / kind / "testdata").glob("*.yaml")}
        assert used == on_disk, kind
    for kind in ACTION_KINDS:
        actions = CUSTOMIZATIONS / kind / "actions"
        spec = load_yaml(actions / "action_test.yaml")
        used = {t["inputPath"] for t in spec["discoveryTests"] + spec["actionTests"]}
        used |= {t["expectedOutputPath"] for t in spec["actionTests"]}
        assert used == {f"testdata/{p.name}" for p in (actions / "testdata").glob("*.yaml")}, kind
        assert {t["action"] for t in spec["actionTests"]} == {"run-now", "suspend", "resume"}, kind


# --- fixtures are what the operator writes ----------------------------------------------------


def _all_fixture_files() -> Iterator[Path]:
    for kind in KINDS:
        yield from sorted((CUSTOMIZATIONS / kind / "testdata").glob("*.yaml"))
    for kind in ACTION_KINDS:
        yield from sorted((CUSTOMIZATIONS / kind / "actions/testdata").glob("*.yaml"))


@pytest.mark.parametrize("path", list(_all_fixture_files()), ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_fixture_is_a_valid_object(path: Path) -> None:
    """Spec and status validate against the typed models the CRD schemas are generated from."""
    obj = load_yaml(path)
    model = MODELS[obj["kind"]]
    parsed = model.model_validate(obj)
    if "status" in obj:
        assert parsed.status is not None  # type: ignore[attr-defined]
        dumped = parsed.status.to_json()  # type: ignore[attr-defined]
        assert _kept(dumped, obj["status"]) == obj["status"]  # nothing dropped or coerced


def _kept(dumped: Any, fixture: Any) -> Any:
    """``dumped`` restricted to the keys the fixture has (fields added later with defaults are not
    the fixture's business), so a value the models dropped or coerced still shows as a difference."""
    if isinstance(fixture, dict) and isinstance(dumped, dict):
        return {k: _kept(dumped[k], v) if k in dumped else "<dropped>" for k, v in fixture.items()}
    if isinstance(fixture, list) and isinstance(dumped, list) and len(fixture) == len(dumped):
        return [_kept(d, f) for d, f in zip(dumped, fixture, strict=True)]
    return dumped


def test_generated_fixtures_are_in_sync() -> None:
    """The checked-in fixtures equal what dataops.status computes today (python -m tests.gitops.fixtures)."""
    stale = [
        p.relative_to(ROOT)
        for p, text in fixtures.generated().items()
        if not p.exists() or p.read_text() != text
    ]
    assert not stale, f"regenerate with python -m tests.gitops.fixtures: {stale}"


# --- adversarial objects ----------------------------------------------------------------------


def _fixture(kind: str, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = load_yaml(CUSTOMIZATIONS / kind / "testdata" / name)
    return obj


def _cond(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == kind)


def test_empty_status_waits_for_the_operator(lua: Lua) -> None:
    for kind, name in [
        ("DataPipeline", "healthy.yaml"),
        ("DataQualitySuite", "passed.yaml"),
        ("DataPolicy", "active.yaml"),
    ]:
        obj = _fixture(kind, name)
        obj["status"] = {}
        assert lua.health(kind, obj) == {
            "status": "Progressing",
            "message": f"waiting for the operator to observe generation {obj['metadata']['generation']} "
            "(status is of generation none)",
        }


def test_empty_conditions_wait_for_ready(lua: Lua) -> None:
    for kind, name in [
        ("DataPipeline", "healthy.yaml"),
        ("DataQualitySuite", "passed.yaml"),
        ("DataPolicy", "active.yaml"),
    ]:
        obj = _fixture(kind, name)
        obj["status"]["conditions"] = []
        assert lua.health(kind, obj) == {
            "status": "Progressing",
            "message": "waiting for the Ready condition",
        }


def test_status_ahead_of_generation_is_not_trusted(lua: Lua) -> None:
    obj = _fixture("DataPipeline", "failed.yaml")
    obj["metadata"]["generation"] = 1  # observedGeneration 2: not the object Argo CD is looking at
    assert lua.health("DataPipeline", obj)["status"] == "Progressing"


def test_a_stale_ready_condition_is_not_trusted(lua: Lua) -> None:
    """status.observedGeneration is current, but Ready itself was written for an older generation."""
    obj = _fixture("DataPipeline", "blocked-by-policy.yaml")
    _cond(obj, "Ready")["observedGeneration"] = obj["metadata"]["generation"] - 1
    assert lua.health("DataPipeline", obj) == {
        "status": "Progressing",
        "message": "waiting for the operator to observe generation 4 (Ready is of generation 3)",
    }


def test_without_generation_the_conditions_decide(lua: Lua) -> None:
    obj = _fixture("DataPipeline", "failed.yaml")
    del obj["metadata"]["generation"]
    assert lua.health("DataPipeline", obj)["status"] == "Degraded"


@pytest.mark.parametrize(
    "kind,name",
    [("DataPipeline", "healthy.yaml"), ("DataQualitySuite", "passed.yaml"), ("DataPolicy", "active.yaml")],
)
def test_ready_unknown_is_progressing(lua: Lua, kind: str, name: str) -> None:
    obj = _fixture(kind, name)
    ready = _cond(obj, "Ready")
    ready.update({"status": "Unknown", "reason": "Reconciled", "message": "checking"})
    assert lua.health(kind, obj) == {
        "status": "Progressing",
        "message": "Ready is Unknown: Reconciled: checking",
    }


def test_suspended_pipeline_with_ready_unknown_is_progressing(lua: Lua) -> None:
    obj = _fixture("DataPipeline", "suspended.yaml")
    _cond(obj, "Ready")["status"] = "Unknown"
    assert lua.health("DataPipeline", obj)["status"] == "Progressing"


def test_suspended_pipeline_with_a_run_finishing(lua: Lua) -> None:
    obj = _fixture("DataPipeline", "running.yaml")
    obj["spec"]["suspend"] = True
    assert lua.health("DataPipeline", obj) == {
        "status": "Suspended",
        "message": "the pipeline is suspended (spec.suspend); run m-1a2b3c4d5e6f is finishing",
    }


def test_a_new_run_after_a_failure_is_progressing(lua: Lua) -> None:
    """Degraded=True is about the last finished run; a retry or new run in flight is Progressing."""
    failed = _fixture("DataPipeline", "failed.yaml")
    running = _fixture("DataPipeline", "running.yaml")
    failed["status"]["activeRuns"] = running["status"]["activeRuns"]
    failed["status"]["currentRun"] = running["status"]["currentRun"]
    assert lua.health("DataPipeline", failed)["status"] == "Progressing"


def test_unavailable_sources_degrade_a_pipeline(lua: Lua) -> None:
    obj = _fixture("DataPipeline", "streaming-running.yaml")
    obj["status"]["conditions"].append(
        {
            "type": "SourcesReady",
            "status": "False",
            "reason": "SourceUnavailable",
            "message": "topic orders: not found",
        }
    )
    assert lua.health("DataPipeline", obj) == {
        "status": "Degraded",
        "message": "SourceUnavailable: topic orders: not found",
    }


def test_streaming_job_without_progress_report(lua: Lua) -> None:
    obj = _fixture("DataPipeline", "streaming-running.yaml")
    del obj["status"]["streaming"]
    assert lua.health("DataPipeline", obj)["status"] == "Progressing"


def test_ready_found_anywhere_in_conditions_with_unknown_types(lua: Lua) -> None:
    obj = _fixture("DataPipeline", "blocked-by-policy.yaml")
    conditions = obj["status"]["conditions"]
    obj["status"]["conditions"] = [{"type": "SomethingNew", "status": "True"}, *reversed(conditions)]
    assert lua.health("DataPipeline", obj)["status"] == "Degraded"


def test_messages_pass_through_unchanged(lua: Lua) -> None:
    obj = _fixture("DataPipeline", "blocked-by-policy.yaml")
    message = 'sink "ünïcødé" %s %d .. [[ ]] \\ \n second line'
    _cond(obj, "Configured")["message"] = message
    assert lua.health("DataPipeline", obj)["message"] == f"PolicyViolation: {message}"


def test_status_of_an_operator_without_configured_falls_back_to_ready(lua: Lua) -> None:
    """Operators before the data-aware Ready wrote only Ready, meaning what Configured means now."""
    obj = _fixture("DataPipeline", "blocked-by-policy.yaml")
    obj["status"]["conditions"] = [c for c in obj["status"]["conditions"] if c["type"] != "Configured"]
    assert lua.health("DataPipeline", obj) == {
        "status": "Degraded",
        "message": "PolicyViolation: blocked by DataPolicy sales-governance",
    }
    healthy = _fixture("DataPipeline", "healthy.yaml")
    healthy["status"]["conditions"] = [
        c for c in healthy["status"]["conditions"] if c["type"] != "Configured"
    ]
    assert lua.health("DataPipeline", healthy)["status"] == "Healthy"


def test_configured_unknown_is_progressing(lua: Lua) -> None:
    obj = _fixture("DataPipeline", "stale.yaml")
    _cond(obj, "Configured").update({"status": "Unknown", "message": "checking"})
    assert lua.health("DataPipeline", obj) == {
        "status": "Progressing",
        "message": "Configured is Unknown: Reconciled: checking",
    }


def test_condition_without_message_or_reason(lua: Lua) -> None:
    obj = _fixture("DataPolicy", "violated-enforce.yaml")
    compliant = _cond(obj, "PolicyCompliant")
    del compliant["message"], compliant["reason"]
    assert lua.health("DataPolicy", obj) == {"status": "Degraded", "message": ""}


def test_suite_ready_false_and_missing_quality(lua: Lua) -> None:
    obj = _fixture("DataQualitySuite", "passed.yaml")
    obj["status"]["conditions"] = [c for c in obj["status"]["conditions"] if c["type"] == "Ready"]
    assert lua.health("DataQualitySuite", obj)["status"] == "Healthy"
    _cond(obj, "Ready").update({"status": "False", "reason": "InvalidSpec", "message": "bad"})
    assert lua.health("DataQualitySuite", obj) == {"status": "Degraded", "message": "InvalidSpec: bad"}


def test_policy_admission_unknown_is_progressing(lua: Lua) -> None:
    obj = _fixture("DataPolicy", "active.yaml")
    _cond(obj, "AdmissionPolicyReady")["status"] = "Unknown"
    assert lua.health("DataPolicy", obj)["status"] == "Progressing"


def test_deleting_objects_are_progressing(lua: Lua) -> None:
    for kind, name in [
        ("DataPipeline", "healthy.yaml"),
        ("DataQualitySuite", "passed.yaml"),
        ("DataPolicy", "active.yaml"),
    ]:
        obj = _fixture(kind, name)
        obj["metadata"]["deletionTimestamp"] = "2026-11-20T02:06:00Z"
        assert lua.health(kind, obj)["status"] == "Progressing"


def _prunings(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            yield from _prunings(item, (*path, key))
    elif isinstance(value, list) and value:
        # the fields of the first and last entries (conditions: Ready first, others last)
        for i in sorted({0, len(value) - 1}):
            yield from _prunings(value[i], (*path, i))


def _pruned(obj: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    copied = copy.deepcopy(obj)
    parent: Any = copied
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return copied


@pytest.mark.parametrize("kind", KINDS)
def test_any_field_may_be_missing(lua: Lua, kind: str) -> None:
    """Remove every field of every fixture's status, spec and metadata, one at a time: the script
    never fails (Argo CD would show an error instead of a health) and returns a valid state."""
    cases = []
    for path in sorted((CUSTOMIZATIONS / kind / "testdata").glob("*.yaml")):
        obj = load_yaml(path)
        for field in _prunings({k: obj[k] for k in ("metadata", "spec", "status") if k in obj}):
            cases.append({"mode": "health", "script": health_script(kind), "object": _pruned(obj, field)})
    results = lua.run(cases)
    assert len(results) == len(cases) > 200
    failures = [
        r for r in results if "error" in r or r["health"]["status"] not in HEALTH_STATES - {"Unknown"}
    ]
    assert not failures, failures[:3]


# --- actions, beyond the table ----------------------------------------------------------------


def _pipeline() -> dict[str, Any]:
    obj: dict[str, Any] = load_yaml(CUSTOMIZATIONS / "DataPipeline/actions/testdata/pipeline.yaml")
    return obj


def test_run_now_token_differs_from_the_current_and_the_handled_one(lua: Lua) -> None:
    obj = _pipeline()
    obj["metadata"]["annotations"] = {"dataops.dev/run-now": "2026-11-20T02:05:00Z"}
    obj["status"]["lastManualTrigger"] = "2026-11-20T02:05:00Z-1"
    out = lua.one("action", action_script("DataPipeline", "run-now"), obj)["object"]
    assert out["metadata"]["annotations"]["dataops.dev/run-now"] == "2026-11-20T02:05:00Z-2"


def test_run_now_uses_the_clock(lua: Lua) -> None:
    out = lua.one("action", action_script("DataPipeline", "run-now"), _pipeline(), now="2027-01-31T23:59:58Z")
    assert out["object"]["metadata"]["annotations"] == {"dataops.dev/run-now": "2027-01-31T23:59:58Z"}


def test_run_now_without_status(lua: Lua) -> None:
    obj = _pipeline()
    del obj["status"]
    out = lua.one("action", action_script("DataPipeline", "run-now"), obj)["object"]
    assert out["metadata"]["annotations"]["dataops.dev/run-now"] == "2026-11-20T02:05:00Z"


@pytest.mark.parametrize("action", ["run-now", "suspend", "resume"])
def test_actions_change_only_what_they_say(lua: Lua, action: str) -> None:
    """The output is the input plus the one field (Argo CD patches the difference), and still a
    valid DataPipeline: empty maps stay maps, numbers stay numbers."""
    obj = _pipeline()
    obj["metadata"]["labels"] = {}
    out = lua.one("action", action_script("DataPipeline", action), obj)["object"]
    DataPipeline.model_validate(out)
    changed = copy.deepcopy(out)
    if action == "run-now":
        assert set(changed["metadata"].pop("annotations")) == {"dataops.dev/run-now"}
    else:
        assert changed["spec"].pop("suspend") is (action == "suspend")
    assert changed == obj


def test_discovery_on_an_object_without_status_or_spec_fields(lua: Lua) -> None:
    obj = _pipeline()
    del obj["status"]
    actions = lua.one("discovery", discovery_script("DataPipeline"), obj)["actions"]
    assert {a["name"]: a["disabled"] for a in actions} == {"run-now": False, "suspend": False, "resume": True}


@pytest.mark.parametrize(
    ("fixture", "run_now_disabled"),
    [
        ("failed.yaml", False),  # Ready=False LastRunFailed: run-now is the fix
        ("stale.yaml", False),  # Ready=False DataStale: likewise
        ("blocked-by-policy.yaml", True),  # Configured=False
        ("missing-suite.yaml", True),
    ],
)
def test_run_now_is_offered_unless_the_configuration_blocks(
    lua: Lua, fixture: str, run_now_disabled: bool
) -> None:
    obj = _fixture("DataPipeline", fixture)
    actions = lua.one("discovery", discovery_script("DataPipeline"), obj)["actions"]
    assert {a["name"]: a["disabled"] for a in actions}["run-now"] is run_now_disabled


# --- the generated argocd-cm snippet ------------------------------------------------------------


def _renderer() -> Any:
    spec = importlib.util.spec_from_file_location(
        "render_argocd_cm", ROOT / "examples/argocd/render_argocd_cm.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_argocd_cm_patch_is_in_sync_with_the_lua_files() -> None:
    assert (ROOT / "examples/argocd/argocd-cm-patch.yaml").read_text() == _renderer().render(), (
        "run python examples/argocd/render_argocd_cm.py"
    )


def test_argocd_cm_patch_holds_the_scripts_argo_cd_reads(lua: Lua) -> None:
    """Parse the ConfigMap the way Argo CD does (keys resource.customizations.health.<group>_<Kind>,
    actions as a YAML document) and run the embedded scripts: same verdicts as the files."""
    cm = load_yaml(ROOT / "examples/argocd/argocd-cm-patch.yaml")
    assert cm["metadata"]["name"] == "argocd-cm"
    data = cm["data"]
    assert set(data) == {
        "resource.customizations.health.dataops.dev_DataPipeline",
        "resource.customizations.health.dataops.dev_DataQualitySuite",
        "resource.customizations.health.dataops.dev_DataPolicy",
        "resource.customizations.actions.dataops.dev_DataPipeline",
        "resource.customizations.actions.dataops.dev_DataQualitySuite",
    }
    for kind, test in health_tests():
        obj = load_yaml(CUSTOMIZATIONS / kind / test["inputPath"])
        assert (
            lua.health(kind, obj, data[f"resource.customizations.health.dataops.dev_{kind}"])
            == test["healthStatus"]
        )
    for kind, section, test in action_tests():
        actions = yaml.safe_load(data[f"resource.customizations.actions.dataops.dev_{kind}"])
        definitions = {d["name"]: d["action.lua"] for d in actions["definitions"]}
        assert set(definitions) == {"run-now", "suspend", "resume"}
        base = CUSTOMIZATIONS / kind / "actions"
        obj = load_yaml(base / test["inputPath"])
        if section == "discoveryTests":
            assert lua.one("discovery", actions["discovery.lua"], obj)["actions"] == test["result"]
        else:
            result = lua.one("action", definitions[test["action"]], obj)
            assert result["object"] == load_yaml(base / test["expectedOutputPath"])


# --- fixture statuses against the generated CRDs ----------------------------------------------

CRD_FILES = {
    "DataPipeline": "dataops.dev_datapipelines.yaml",
    "DataQualitySuite": "dataops.dev_dataqualitysuites.yaml",
    "DataPolicy": "dataops.dev_datapolicies.yaml",
}


def _status_schema(kind: str) -> dict[str, Any]:
    crd = load_yaml(ROOT / "crds" / CRD_FILES[kind])
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1")
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]["properties"]["status"]
    return schema


def _fixtures_with_status() -> list[Path]:
    return [p for p in _all_fixture_files() if "status" in load_yaml(p)]


@pytest.mark.parametrize("path", _fixtures_with_status(), ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_fixture_status_matches_the_crd_schema(path: Path) -> None:
    """Offline: the status against the openAPIV3Schema in crds/ (types, enums, bounds, formats)."""
    obj = load_yaml(path)
    validator = jsonschema.Draft7Validator(
        _status_schema(obj["kind"]), format_checker=jsonschema.FormatChecker()
    )
    errors = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj["status"])
    ]
    assert not errors, errors


@pytest.mark.cluster
def test_fixture_statuses_are_accepted_by_the_api_server(control_plane: ControlPlane, namespace: str) -> None:
    """Each fixture is created on the real kube-apiserver (with the generated CRDs) and its status
    written through the status subresource as a server-side dry-run: the API server accepts it."""
    paths = _fixtures_with_status()
    for path in paths:
        obj = load_yaml(path)
        status = obj.pop("status")
        obj["metadata"] = {
            "name": path.stem,
            "namespace": namespace,
            "labels": obj["metadata"].get("labels", {}),
        }
        control_plane.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(obj))
        out = control_plane.kubectl(
            "-n",
            namespace,
            "patch",
            obj["kind"].lower(),
            path.stem,
            "--subresource=status",
            "--type=merge",
            "--dry-run=server",
            "-p",
            json.dumps({"status": status}),
            check=False,
        )
        assert out.returncode == 0, f"{path.name}: {out.stderr}"
        control_plane.kubectl("-n", namespace, "delete", obj["kind"].lower(), path.stem, "--wait=false")
    # The check can fail: a status the schema refuses is refused.
    obj = load_yaml(paths[0])
    obj["metadata"] = {"name": "refused", "namespace": namespace}
    bad = {"status": {**obj.pop("status"), "phase": "Sideways"}}
    control_plane.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(obj))
    out = control_plane.kubectl(
        "-n",
        namespace,
        "patch",
        obj["kind"].lower(),
        "refused",
        "--subresource=status",
        "--type=merge",
        "--dry-run=server",
        "-p",
        json.dumps(bad),
        check=False,
    )
    assert out.returncode != 0 and "Sideways" in out.stderr
