"""Kubernetes label-selector semantics. Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from dataops.api.v1alpha1.common import LabelSelector, SelectorOperator
from dataops.api.v1alpha1.datapolicy import DataPolicySpec


def selector_matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    """True when ``labels`` satisfy every matchLabels entry and every matchExpressions requirement."""
    if any(labels.get(key) != value for key, value in selector.match_labels.items()):
        return False
    for req in selector.match_expressions:
        present = req.key in labels
        if req.operator == SelectorOperator.IN and (not present or labels[req.key] not in req.values):
            return False
        if req.operator == SelectorOperator.NOT_IN and present and labels[req.key] in req.values:
            return False
        if req.operator == SelectorOperator.EXISTS and not present:
            return False
        if req.operator == SelectorOperator.DOES_NOT_EXIST and present:
            return False
    return True


_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_SELECTOR_OPERATORS = {SelectorOperator.IN: "in", SelectorOperator.NOT_IN: "notin"}


def selector_query(selector: LabelSelector) -> str | None:
    """The ``labelSelector`` query parameter that makes the API server select what ``selector``
    selects ("" selects everything); None when a key or value cannot be written in one (the caller
    lists everything and filters with selector_matches)."""
    terms: list[str] = []
    for key, value in selector.match_labels.items():
        if not (_LABEL_KEY.match(key) and _LABEL_VALUE.match(value)):
            return None
        terms.append(f"{key}={value}")
    for req in selector.match_expressions:
        if not _LABEL_KEY.match(req.key):
            return None
        if req.operator in _SELECTOR_OPERATORS:
            if not req.values or not all(_LABEL_VALUE.match(v) for v in req.values):
                return None
            terms.append(f"{req.key} {_SELECTOR_OPERATORS[req.operator]} ({','.join(req.values)})")
        else:
            terms.append(req.key if req.operator == SelectorOperator.EXISTS else f"!{req.key}")
    return ",".join(terms)


def selecting_policies(
    namespace: str, labels: Mapping[str, str], policies: Iterable[tuple[str, str, DataPolicySpec]]
) -> list[tuple[str, DataPolicySpec]]:
    """(name, spec) of the policies among ``(namespace, name, spec)`` that select a pipeline with
    ``labels`` in ``namespace``: same namespace, matching pipelineSelector."""
    return [
        (name, spec)
        for ns, name, spec in policies
        if ns == namespace and selector_matches(spec.pipeline_selector, labels)
    ]
