"""The ValidatingAdmissionPolicy that checks what the CRD's own CEL cannot: rules on a
DataQualitySuite expectation's free-form arguments (bounds and value sets take any JSON type, so the
CRD declares no type for them and CEL in the CRD does not see them). An admission policy's CEL reads
the object as plain JSON, so the API server enforces these rules too, one message naming the field:
``spec.expectations[2].minValue: at least one of minValue or maxValue is required ...``.

Generated into ``crds/`` beside the CRDs (``dataops crds generate``) and installed with them."""

from __future__ import annotations

import json
from typing import Any

from dataops.api.v1alpha1 import GROUP, VERSION
from dataops.api.v1alpha1.dataqualitysuite import ARGUMENT_CHECKS, ArgumentCheck

POLICY_NAME = f"{GROUP.split('.')[0]}-expectation-arguments"
FILE_NAME = f"{GROUP}_expectation-arguments-admission.yaml"
LABELS = {"app.kubernetes.io/name": "dataops-operator", "app.kubernetes.io/part-of": "dataops"}


def _validation(check: ArgumentCheck) -> dict[str, str]:
    expectations = "object.spec.expectations"
    first_failing = f"{expectations}.map(e, {check.cel}).indexOf(false)"
    return {
        "expression": f"{expectations}.all(e, {check.cel})",
        "messageExpression": f"'spec.expectations[' + string({first_failing}) + '].{check.argument}: ' + "
        + json.dumps(check.message),
        "reason": "Invalid",
    }


def admission_objects() -> list[dict[str, Any]]:
    """The policy and its binding (every namespace, deny)."""
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": POLICY_NAME, "labels": LABELS},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [GROUP],
                        "apiVersions": [VERSION],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["dataqualitysuites"],
                    }
                ]
            },
            "validations": [_validation(c) for c in ARGUMENT_CHECKS],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": POLICY_NAME, "labels": LABELS},
        "spec": {"policyName": POLICY_NAME, "validationActions": ["Deny"]},
    }
    return [policy, binding]
