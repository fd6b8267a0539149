"""selector_query against the real API server: the server selects exactly what selector_matches
selects, for random selectors over random labels (ConfigMaps stand in for pipelines: the label
selector machinery is the same for every kind)."""

from __future__ import annotations

import random

from dataops.api.v1alpha1.common import LabelSelector
from dataops.kube.client import CONFIG_MAP, KubeClient
from dataops.policy.selectors import selector_matches, selector_query

KEYS = ("team", "env", "dataops.dev/tier", "example.com/owner")
VALUES = ("sales", "ops", "prod", "dev", "a.b-c_d", "X1")


def _labels(rng: random.Random) -> dict[str, str]:
    return {k: rng.choice(VALUES) for k in KEYS if rng.random() < 0.6}


def _selector(rng: random.Random) -> LabelSelector:
    match_labels = {k: rng.choice(VALUES) for k in rng.sample(KEYS, rng.randint(0, 2))}
    expressions = []
    for key in rng.sample(KEYS, rng.randint(0, 2)):
        operator = rng.choice(["In", "NotIn", "Exists", "DoesNotExist"])
        values = rng.sample(VALUES, rng.randint(1, 3)) if operator in ("In", "NotIn") else []
        expressions.append({"key": key, "operator": operator, "values": values})
    return LabelSelector.model_validate({"matchLabels": match_labels, "matchExpressions": expressions})


def test_the_api_server_selects_what_selector_matches_selects(kube: KubeClient, namespace: str) -> None:
    rng = random.Random(20261127)
    labelled = {f"cm-{i}": _labels(rng) for i in range(40)}
    for name, labels in labelled.items():
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": namespace, "labels": {**labels, "bench": "selector"}},
            }
        )
    checked = 0
    for _ in range(150):
        selector = _selector(rng)
        query = selector_query(selector)
        assert query is not None, selector
        server = {
            cm["metadata"]["name"]
            for cm in kube.list(
                CONFIG_MAP, namespace, label_selector=",".join(filter(None, [query, "bench"]))
            )
        }
        ours = {name for name, labels in labelled.items() if selector_matches(selector, labels)}
        assert server == ours, f"{query!r}: server {sorted(server)} ours {sorted(ours)}"
        checked += len(ours)
    assert checked > 150, "the random selectors selected almost nothing: the test proves little"


def test_keys_and_values_a_query_cannot_carry_fall_back_to_listing_everything() -> None:
    for selector in (
        {"matchLabels": {"team": "a,b"}},
        {"matchLabels": {"team": "x)"}},
        {"matchLabels": {"bad key": "x"}},
        {"matchLabels": {"team": ""}},
        {"matchExpressions": [{"key": "team", "operator": "In", "values": []}]},
        {"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["ok", "not ok"]}]},
    ):
        assert selector_query(LabelSelector.model_validate(selector)) is None, selector
    assert selector_query(LabelSelector()) == ""
