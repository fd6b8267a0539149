"""Kubernetes label-selector semantics. Pure."""

from __future__ import annotations

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
