"""Split stage: seeded, stratified train/validation/test splits.

Labels are encoded here as class indices over the sorted original labels, so
every later stage works with integers and the outputs name the originals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from tasks.errors import DataError
from tasks.load import Examples
from tasks.stage import stage


@dataclass(frozen=True)
class Splits:
    """Train, validation and test arrays; `y_*` are indices into `labels`."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    labels: list

    @property
    def num_classes(self) -> int:
        return len(self.labels)


def split_examples(
    examples: Examples,
    test_fraction: float = 0.2,
    validation_fraction: float = 0.1,
    seed: int = 0,
) -> Splits:
    """Split examples; a test split kept in the source is used as it is.

    Args:
        examples: inputs and original labels.
        test_fraction: share of all examples held out for the final evaluation
            (ignored when the source keeps its own test split).
        validation_fraction: share of all examples the search validates on.
        seed: makes the split repeatable.

    Raises:
        DataError: a class too small to appear in every split, or test labels
            that never occur in training.
    """
    labels = _python_values(np.unique(examples.y))
    index = {value: i for i, value in enumerate(labels)}
    y = np.array([index[v] for v in _python_values(examples.y)], dtype="int64")
    try:
        if examples.x_test is None:
            x_rest, x_test, y_rest, y_test = train_test_split(
                examples.x, y, test_size=test_fraction, stratify=y, random_state=seed
            )
            val_share = validation_fraction / (1.0 - test_fraction)
        else:
            unseen = set(_python_values(np.unique(examples.y_test))) - set(labels)
            if unseen:
                raise DataError(
                    f"The kept test split has labels never seen in training: "
                    f"{sorted(unseen, key=str)}. Expected test labels drawn from "
                    f"{labels}. Fix the labels or drop those examples."
                )
            x_rest, y_rest = examples.x, y
            x_test = examples.x_test
            y_test = np.array(
                [index[v] for v in _python_values(examples.y_test)], dtype="int64"
            )
            val_share = validation_fraction
        x_train, x_val, y_train, y_val = train_test_split(
            x_rest, y_rest, test_size=val_share, stratify=y_rest, random_state=seed
        )
    except ValueError as exc:
        raise DataError(
            f"Could not make stratified splits ({exc}). Every class needs enough "
            "examples for train, validation and test: add examples, or lower "
            "data.test_fraction / data.validation_fraction."
        ) from None
    return Splits(x_train, y_train, x_val, y_val, x_test, y_test, labels)


def _python_values(values: np.ndarray) -> list:
    """Plain Python ints or strings, so labels serialise to JSON as themselves."""
    return [v.item() if isinstance(v, np.generic) else v for v in values.tolist()]


split_examples_task = stage("split")(split_examples)
