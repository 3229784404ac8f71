"""Bootstrap a contract from a reference dataset, for a person to review.

As TFX's SchemaGen does: profile data known to be good, write down what it
looks like, with some slack where new data may honestly differ (row counts,
value ranges of real-valued series, text lengths), none where it may not
(label set, shapes, feature counts, columns).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import yaml

from data_contracts.columns import ColumnSummary, summarise_columns
from data_contracts.contract import DataContract, DriftThresholds
from data_contracts.profile import FEATURES, LENGTH, MAX, MIN, NAN_COUNT, SHAPE
from data_contracts.suite import TYPE_NAMES

MAX_LISTED_LABELS = 1000
SLACK = 0.5  # share of the observed spread added to real-valued ranges


def infer_contract(
    frame: pd.DataFrame,
    name: str,
    kind: str,
    label: str = "label",
    table: pd.DataFrame | dict[str, ColumnSummary] | None = None,
    source: str = "bootstrapped",
) -> DataContract:
    """Write down what a reference dataset looks like, as a contract.

    Args:
        frame: the dataset's per-example profile table.
        name: the contract's name (the pipeline's).
        kind: `image`, `sequence` or `text`.
        label: the label column.
        table: the raw table, or its columns' summaries (a table streamed in
            batches), for table sources: its columns are declared.
        source: recorded as where the contract came from.

    Returns:
        A contract that the same data passes.
    """
    counts = frame[label].value_counts() if label in frame.columns else pd.Series()
    fields: dict = {
        "name": name,
        "kind": kind,
        "label": label,
        "min_rows": max(1, len(frame) // 2),
        "min_classes": max(1, len(counts)),
        "min_examples_per_class": max(1, int(counts.min()) // 2) if len(counts) else 1,
        "allow_nan": bool(frame[NAN_COUNT].gt(0).any()),
        "drift": DriftThresholds(action="fail"),
        "source": source,
    }
    if 0 < len(counts) <= MAX_LISTED_LABELS:
        fields["labels"] = sorted((_plain(v) for v in counts.index), key=str)
    if len(counts) > 1:
        fields["max_imbalance"] = _round_up(counts.max() / counts.min() * 1.5, 1)
    # Duplicates are reported, not refused: splits are by content digest, so
    # copies always share a split and cannot leak into the test score.
    fields["duplicates"] = "warn"
    fields |= _shape_fields(frame, kind)
    if table is not None:
        summaries = table if isinstance(table, dict) else summarise_columns(table)
        fields["columns"] = _columns(summaries, label)
        fields["allow_extra_columns"] = False
    return DataContract(**fields)


def contract_yaml(contract: DataContract, header: str = "") -> str:
    """The contract as a commented YAML file (the `source` key left out)."""
    data = contract.model_dump(mode="json", exclude={"source"}, exclude_none=True)
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    return comment + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _shape_fields(frame: pd.DataFrame, kind: str) -> dict:
    fields: dict = {}
    if kind == "image" and frame[SHAPE].nunique() == 1:
        shape = frame[SHAPE].iloc[0]
        if all(part.isdigit() for part in shape.split("x")):
            fields["example_shape"] = [int(part) for part in shape.split("x")]
    if kind == "sequence" and FEATURES in frame.columns:
        fields["num_features"] = int(frame[FEATURES].max())
    if kind in ("image", "sequence"):
        low, high = frame[MIN].min(), frame[MAX].max()
        if np.isfinite(low) and np.isfinite(high):
            # Whole-numbered images (0..255 pixels) have exact bounds.
            exact = kind == "image" and float(low).is_integer()
            slack = 0.0 if exact else SLACK * (high - low)
            fields["min_value"] = _round_down(low - slack, 4)
            fields["max_value"] = _round_up(high + slack, 4)
    if LENGTH in frame.columns and len(frame):
        shortest, longest = int(frame[LENGTH].min()), int(frame[LENGTH].max())
        fields["min_length"] = max(1, shortest // 2) if kind == "sequence" else 1
        # A series longer than the model's input cannot be served; texts are
        # cut to data.text_length tokens, so only absurd lengths are refused.
        fields["max_length"] = longest if kind == "sequence" else 2 * longest
    return fields


def _columns(summaries: dict[str, ColumnSummary], label: str) -> dict:
    columns = {}
    for column, summary in summaries.items():
        spec: dict = {"type": _type_of(summary.dtype), "nullable": summary.has_null}
        if (
            spec["type"] in ("integer", "number")
            and column != label
            and summary.minimum is not None
        ):
            low, high = float(summary.minimum), float(summary.maximum)
            spread = high - low
            spec["min_value"] = _round_down(low - SLACK * spread, 4)
            spec["max_value"] = _round_up(high + SLACK * spread, 4)
        columns[column] = spec
    return columns


def _type_of(name: str) -> str | None:
    for type_name in ("integer", "number", "boolean", "string"):
        if name in TYPE_NAMES[type_name]:
            return type_name
    return None


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _round_up(value: float, digits: int) -> float:
    scale = 10**digits
    return math.ceil(float(value) * scale) / scale


def _round_down(value: float, digits: int) -> float:
    scale = 10**digits
    return math.floor(float(value) * scale) / scale
