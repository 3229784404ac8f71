"""Model card: what the model is, what it was trained on, how well it does."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime

import keras
import keras_tuner
import sklearn
import tensorflow as tf

from tasks.evaluate import Metrics
from tasks.tuning.device import device_name


def leaderboard_rows(leaderboard: list[dict]) -> list[dict]:
    """Flat rows for `leaderboard.csv`: hyperparameters as one JSON cell."""
    return [
        {**row, "hyperparameters": json.dumps(row["hyperparameters"], sort_keys=True)}
        for row in leaderboard
    ]


def render_model_card(
    name: str,
    run_id: str,
    data: dict,
    validation: dict,
    search: dict,
    leaderboard: list[dict],
    metrics: Metrics,
    config_hash: str,
) -> str:
    """Render the card as markdown.

    Args:
        name: the pipeline name.
        run_id: the run that produced the model.
        data: source, kind, example shape, class labels and split sizes.
        validation: the contract report (`ValidationReport.to_dict()`).
        search: tuner, families, trials, best hyperparameters and score, time.
        leaderboard: trials, best first.
        metrics: test-split metrics.
        config_hash: a hash of the pipeline config, for lineage.
    """
    lines = [
        f"# Model card: {name}",
        "",
        f"Created {datetime.now(UTC).isoformat(timespec='seconds')} by run "
        f"`{run_id}`. Takes {_raw_inputs(data)}; outputs one probability per "
        "class, in the order of the classes below.",
        "",
        "## Data",
        "",
        f"- Source: `{data['source']}` ({data['kind']}), {data['num_rows']} rows",
        f"- Classes ({len(metrics.labels)}): {', '.join(map(str, metrics.labels))}",
        f"- Splits: train {data['num_train']}, validation {data['num_validation']}, "
        f"test {data['num_test']} (seeded, stratified; the search never saw test)",
        f"- Contract `{validation.get('contract')}`: "
        f"{'passed' if validation.get('success') else 'FAILED'}, "
        f"{validation.get('evaluated', 0)} expectations evaluated",
        "",
        "## Search",
        "",
        f"- Tuner `{search['tuner']}` over families {search['families']}: "
        f"{search['num_trials']} trials in {search['seconds']:.0f} s"
        + (" (stopped by the time budget)" if search["stopped_by_budget"] else ""),
        f"- Best validation {search['objective']}: {search['best_score']:.4f}",
        f"- Best hyperparameters: `{json.dumps(search['hyperparameters'])}`",
        "",
        "| trial | family | score | best epoch | seconds | status |",
        "|---|---|---|---|---|---|",
    ]
    for row in leaderboard[:10]:
        score = "-" if row["score"] is None else f"{row['score']:.4f}"
        lines.append(
            f"| {row['trial']} | {row['family']} | {score} | {row['best_epoch']} "
            f"| {row['seconds']} | {row['status']} |"
        )
    lines += [
        "",
        "## Test metrics",
        "",
        "| accuracy | precision (macro) | recall (macro) | F1 (macro) "
        "| F1 (weighted) |",
        "|---|---|---|---|---|",
        f"| {metrics.accuracy:.4f} | {metrics.precision_macro:.4f} | "
        f"{metrics.recall_macro:.4f} | {metrics.f1_macro:.4f} | "
        f"{metrics.f1_weighted:.4f} |",
        "",
        "| class | precision | recall | F1 | support |",
        "|---|---|---|---|---|",
    ]
    for label, scores in metrics.per_class.items():
        lines.append(
            f"| {label} | {scores['precision']:.4f} | {scores['recall']:.4f} | "
            f"{scores['f1']:.4f} | {scores['support']} |"
        )
    lines += [
        "",
        "Confusion matrix (rows: true, columns: predicted) is in `metrics.json`.",
        "",
        "## Lineage and environment",
        "",
        f"- Run `{run_id}`, config hash `{config_hash}`",
        f"- Python {platform.python_version()}, TensorFlow {tf.__version__}, "
        f"Keras {keras.__version__}, Keras Tuner {keras_tuner.__version__}, "
        f"scikit-learn {sklearn.__version__}",
        f"- {_training_line(environment(search.get('train')))}",
        "",
    ]
    return "\n".join(lines)


def _raw_inputs(data: dict) -> str:
    if data["kind"] == "text":
        return "raw strings (one per example)"
    shape = tuple(data["input_shape"])
    if data["kind"] == "sequence":
        return f"raw series of shape {shape}, NaN-padded at the end when shorter"
    return f"raw, unscaled pixels of shape {shape}"


def model_card_data(
    name: str,
    run_id: str,
    data: dict,
    validation: dict,
    search: dict,
    leaderboard: list[dict],
    metrics: Metrics,
    lineage: dict,
) -> dict:
    """The model card as structured data (`model_card.json`), for machines."""
    return {
        "name": name,
        "run_id": run_id,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "inputs": _raw_inputs(data),
        "data": data,
        "contract": {
            key: validation.get(key)
            for key in ("contract", "source", "success", "evaluated", "failed")
        },
        "search": search,
        "leaderboard": leaderboard[:10],
        "metrics": metrics.to_dict(),
        "environment": environment(search.get("train")),
        "lineage": lineage,
    }


def environment(train: dict | None = None) -> dict:
    """Library versions, and the device, precision and XLA the search trained with.

    Args:
        train: the search's device settings (`SearchResult.train`); without
            them, what this process would use.
    """
    settings = {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_tuner": keras_tuner.__version__,
        "scikit_learn": sklearn.__version__,
    }
    if train is None:
        train = {
            "device": device_name(),
            "precision_policy": keras.config.dtype_policy().name,
            "xla": {},
        }
    return settings | train


def _training_line(settings: dict) -> str:
    xla = settings.get("xla") or {}
    on = [family for family, enabled in xla.items() if enabled]
    return (
        f"Device: {settings['device']}, precision policy "
        f"{settings['precision_policy']}, XLA: {', '.join(on) or 'off'}"
        + (
            f", {settings['steps_per_execution']} steps per execution"
            if settings.get("steps_per_execution", 1) > 1
            else ""
        )
    )
