"""Model card: what the model is, what it was trained on, how well it does."""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import keras
import keras_tuner
import sklearn
import tensorflow as tf

from tasks.evaluate import Metrics
from tasks.tuning.device import device_name

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class RunRecord:
    """What a published version says about the run that made it.

    Built by `tasks.registry.documents.describe_run`; each field is also one
    of the version's files.
    """

    name: str  # the pipeline name
    run_id: str  # the run that produced the model
    config: dict  # `config.json`: the pipeline config
    data: dict  # `data.json`: source, kind, rows, input shape, split sizes
    validation: dict  # `validation.json`: the contract report
    search: dict  # `search.json`: tuner, families, trials, best hyperparameters
    leaderboard: list[dict]  # the trials, best first
    lineage: dict  # `lineage.json`: run, flow run, config hash, data fingerprint
    data_profile: dict  # the data profile the next run's drift check compares
    split_membership: pd.DataFrame | None = None  # `splits.parquet`: digest, split
    comparison: dict | None = None  # the champion re-scored beside this model


def render_model_card(record: RunRecord, metrics: Metrics) -> str:
    """Render the card as markdown: data, search, test metrics, lineage."""
    lines = [
        f"# Model card: {record.name}",
        "",
        f"Created {datetime.now(UTC).isoformat(timespec='seconds')} by run "
        f"`{record.run_id}`. Takes {_raw_inputs(record.data)}; outputs one "
        "probability per class, in the order of the classes below.",
        "",
        *_data_section(record.data, record.validation, metrics.labels),
        *_search_section(record.search, record.leaderboard),
        *_metrics_section(metrics),
        *_comparison_section(record.comparison),
        *_lineage_section(record.run_id, record.lineage, record.search),
    ]
    return "\n".join(lines)


def _data_section(data: dict, validation: dict, labels: list) -> list[str]:
    return [
        "## Data",
        "",
        f"- Source: `{data['source']}` ({data['kind']}), {data['num_rows']} rows",
        f"- Classes ({len(labels)}): {', '.join(map(str, labels))}",
        f"- Splits: train {data['num_train']}, validation {data['num_validation']}, "
        f"test {data['num_test']}, by a seeded hash of each example's content "
        "(the search never saw test; membership in `splits.parquet`)",
        f"- Duplicates: {data.get('duplicates', 0)} examples repeat an earlier "
        "one's content; each group of copies was kept in one split",
        f"- Contract `{validation.get('contract')}`: "
        f"{'passed' if validation.get('success') else 'FAILED'}, "
        f"{validation.get('evaluated', 0)} expectations evaluated",
        "",
    ]


def _search_section(search: dict, leaderboard: list[dict]) -> list[str]:
    lines = [
        "## Search",
        "",
        f"- Tuner `{search['tuner']}` over families {search['families']}: "
        f"{search['num_trials']} trials in {search['seconds']:.0f} s"
        + (" (stopped by the time budget)" if search["stopped_by_budget"] else ""),
        f"- Best validation {search['objective']}: {search['best_score']:.4f}",
        f"- Best hyperparameters: `{json.dumps(search['hyperparameters'])}`",
        *_plan_lines(search),
        "",
        "| trial | family | score | spread | best epoch | seconds | status |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in leaderboard[:10]:
        score = "-" if row["score"] is None else f"{row['score']:.4f}"
        spread = row.get("score_std")
        spread = "-" if spread is None else f"±{spread:.4f}"
        lines.append(
            f"| {row['trial']} | {row['family']} | {score} | {spread} "
            f"| {row['best_epoch']} | {row['seconds']} | {row['status']} |"
        )
    return [*lines, ""]


def _member(member: dict) -> str:
    """`trial 3 (cnn, seed 1)`: refit members name the seed they trained with."""
    seed = member.get("seed")
    extra = "" if seed is None else f", seed {seed}"
    return f"trial {member['trial']} ({member['family']}{extra})"


def _plan_lines(search: dict) -> list[str]:
    """Validation scheme, training length, refit and ensemble, when recorded."""
    lines = []
    if validation := search.get("validation"):
        lines.append(f"- Validation: {validation['reason']}")
    if training := search.get("training"):
        lines.append(
            f"- Training: up to {training['epochs']} epochs, patience "
            f"{training['patience']}, batch {training['batch_size']}"
        )
    refit = search.get("refit") or {}
    if refit.get("ran"):
        lines.append(
            f"- Refit on {refit['examples']} train+validation examples "
            f"({refit['seconds']:.0f} s)"
        )
    if members := search.get("ensemble"):
        named = ", ".join(_member(m) for m in members)
        kind = "Ensemble (mean of probabilities)" if len(members) > 1 else "Model"
        lines.append(f"- {kind}: {named}")
    return lines


def _metrics_section(metrics: Metrics) -> list[str]:
    lines = [
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
    return [
        *lines,
        "",
        "Confusion matrix (rows: true, columns: predicted) is in `metrics.json`.",
        "",
    ]


def _comparison_section(comparison: dict | None) -> list[str]:
    """The champion and this model on the same examples, and the paired test."""
    lines = ["## Compared with the champion", ""]
    if comparison is None:
        return [*lines, "- No champion when this model was published.", ""]
    version, metric = comparison["version"], comparison["metric"]
    if comparison["p_value"] is None:
        return [
            *lines,
            f"- Not re-scored: {comparison['note']}; p-value: none",
            "",
        ]
    return [
        *lines,
        f"- Both scored on {comparison['examples']}: {metric} "
        f"{comparison['candidate_score']:.4f} vs champion {version} "
        f"{comparison['champion_score']:.4f}",
        f"- McNemar's exact test on per-example correctness: this model alone "
        f"right on {comparison['candidate_only']}, the champion alone on "
        f"{comparison['champion_only']}; p-value {comparison['p_value']:.4g}",
        "- The gate's decision is in the registry's `history.jsonl` "
        "(`automl models show NAME:VERSION`).",
        "",
    ]


def _lineage_section(run_id: str, lineage: dict, search: dict) -> list[str]:
    return [
        "## Lineage and environment",
        "",
        f"- Run `{run_id}`, config hash `{lineage['config_hash']}`",
        f"- Python {platform.python_version()}, TensorFlow {tf.__version__}, "
        f"Keras {keras.__version__}, Keras Tuner {keras_tuner.__version__}, "
        f"scikit-learn {sklearn.__version__}",
        f"- {_training_line(environment(search.get('train')))}",
        "",
    ]


def _raw_inputs(data: dict) -> str:
    if data["kind"] == "text":
        return "raw strings (one per example)"
    shape = tuple(data["input_shape"])
    if data["kind"] == "sequence":
        return f"raw series of shape {shape}, NaN-padded at the end when shorter"
    return f"raw, unscaled pixels of shape {shape}"


def model_card_data(record: RunRecord, metrics: Metrics) -> dict:
    """The model card as structured data (`model_card.json`), for machines."""
    return {
        "name": record.name,
        "run_id": record.run_id,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "inputs": _raw_inputs(record.data),
        "data": record.data,
        "contract": {
            key: record.validation.get(key)
            for key in ("contract", "source", "success", "evaluated", "failed")
        },
        "search": record.search,
        "leaderboard": record.leaderboard[:10],
        "metrics": metrics.to_dict(),
        "duplicates": record.data.get("duplicates", 0),
        "champion_comparison": record.comparison,
        "environment": environment(record.search.get("train")),
        "lineage": record.lineage,
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
