"""Optional MLflow logging of model steps: when ``mlflow`` is importable, each trained model's
parameters, metrics and artefact location are logged to a local tracking directory
(``MLFLOW_TRACKING_URI``, else ``<model path>/mlruns`` for a local path). Without mlflow, nothing."""

from __future__ import annotations

import importlib
import importlib.util
import os
from typing import Any

from dataops.lineage.datasets import path_identity
from dataops.runtime.model_step import ModelResult


def mlflow_available() -> bool:
    return importlib.util.find_spec("mlflow") is not None


def tracking_uri(result: ModelResult) -> str | None:
    configured = os.environ.get("MLFLOW_TRACKING_URI")
    if configured:
        return configured
    namespace, path = path_identity(result.path)
    return f"file://{path.rstrip('/')}/mlruns" if namespace == "file" else None


def log_to_mlflow(result: ModelResult, *, pipeline: str, run_id: str) -> str | None:
    """Log one model step; returns a warning instead of raising (tracking never fails a run)."""
    if not mlflow_available():
        return None
    uri = tracking_uri(result)
    if uri is None:
        return f"model step {result.step}: not logged to MLflow (set MLFLOW_TRACKING_URI for {result.path})"
    try:
        mlflow: Any = importlib.import_module("mlflow")
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(f"dataops/{pipeline}/{result.step}")
        with mlflow.start_run(run_name=run_id):
            mlflow.log_params({k: str(v) for k, v in result.params.items()})
            mlflow.log_metrics({k: float(v) for k, v in result.metrics.items() if v is not None})
            mlflow.set_tags(
                {"dataops.version": result.version or "", "dataops.location": result.location or ""}
            )
    except Exception as exc:
        return f"model step {result.step}: MLflow logging failed: {exc}"
    return None
