"""The model steps of a batch run: train and score where the step is declared, save the model's
new version once the quality gates have passed (a blocked run leaves no new version), and report
metrics to the summary, the OpenLineage outputs and (if installed) MLflow."""

from __future__ import annotations

from collections.abc import Callable

from py4j.protocol import Py4JError  # type: ignore[import-untyped]
from pyspark.errors import PySparkException
from pyspark.sql import SparkSession

from dataops.api.v1alpha1.datapipeline import ModelStep
from dataops.lineage.datasets import path_identity
from dataops.lineage.events import DatasetInfo
from dataops.plan.runplan import RunPlan
from dataops.runtime.error_text import failure_line
from dataops.runtime.errors import RunError, StepError
from dataops.runtime.model_step import TrainedModel, train_and_score
from dataops.runtime.model_store import save_version
from dataops.runtime.model_tracking import log_to_mlflow
from dataops.runtime.summary import RunSummary

MODEL_OUTPUT_PREFIX = "model:"


def model_output_key(step: str) -> str:
    return f"{MODEL_OUTPUT_PREFIX}{step}"


def model_outputs(plan: RunPlan) -> dict[str, DatasetInfo]:
    """Each model step's artefact root as an OpenLineage output dataset (versions are its versions)."""
    return {
        model_output_key(step.name): DatasetInfo(*path_identity(step.model.path))
        for step in plan.steps
        if step.model is not None
    }


def _first_line(exc: BaseException) -> str:
    return failure_line(exc)


def run_model_step(
    spark: SparkSession, name: str, spec: ModelStep, summary: RunSummary, progress: Callable[[str], None]
) -> TrainedModel:
    """Train, evaluate and score; the step's view ``name`` holds the recommendations."""
    progress(f"training model step {name} (als on {spec.input})")
    try:
        trained = train_and_score(spark, step=name, spec=spec)
        trained.scored.createOrReplaceTempView(name)
    except RunError:
        raise
    except (PySparkException, Py4JError, OSError) as exc:
        raise StepError(name, _first_line(exc)) from exc
    summary.models[name] = trained.result.to_json()
    return trained


def save_models(
    spark: SparkSession,
    models: dict[str, TrainedModel],
    summary: RunSummary,
    outputs: dict[str, DatasetInfo],
    *,
    run_id: str,
    progress: Callable[[str], None],
) -> None:
    for name, trained in models.items():
        progress(f"saving model of step {name} under {trained.result.path}")
        try:
            save_version(spark, trained.model, trained.result, pipeline=summary.pipeline, run_id=run_id)
        except (PySparkException, Py4JError, OSError) as exc:
            raise StepError(
                name, f"saving the model under {trained.result.path}: {_first_line(exc)}"
            ) from exc
        summary.models[name] = trained.result.to_json()
        outputs[model_output_key(name)].model = trained.result.to_json()
        warning = log_to_mlflow(trained.result, pipeline=summary.pipeline, run_id=run_id)
        if warning:
            summary.warnings.append(warning)
