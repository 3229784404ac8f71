"""The `automl-predict` flow: a published model over a file of raw inputs.

Wiring only: resolve the version, predict, write the CSV atomically. Every
step lives in `tasks/predict.py`; `automl predict` calls those functions
directly, without a Prefect run, so a one-off prediction starts fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prefect import flow, get_run_logger

from tasks.predict import (
    predict_batch_task,
    resolve_version_task,
    write_predictions_task,
)


@dataclass(frozen=True)
class BatchPrediction:
    """Which version predicted, how many rows, and where the CSV went."""

    version_dir: str
    num_rows: int
    out_path: str


@flow(name="automl-predict", log_prints=True)
def batch_predict(
    name: str,
    input_path: str,
    out_path: str,
    version: str | None = None,
    output_dir: str = "automl-output",
) -> BatchPrediction:
    """Predict `input_path` with NAME's champion (or `version`) into a CSV."""
    logger = get_run_logger()
    version_dir = resolve_version_task(Path(output_dir) / "registry", name, version)
    logger.info("predicting %s with %s", input_path, version_dir)
    frame = predict_batch_task(version_dir, input_path)
    written = write_predictions_task(frame, out_path)
    logger.info("wrote %d predictions to %s", len(frame), written)
    return BatchPrediction(str(version_dir), len(frame), str(written))
