"""Split stage: each example's split follows from its content, as TFX's ExampleGen.

An example goes to a split by a hash of its content digest (the data
profile's `digest`, see `data_contracts.profile.example_digests`) and the
seed: identical examples always share a split, and adding or removing other
examples never moves it. Labels are encoded here as class indices over the
sorted original labels, so every later stage works with integers and the
outputs name the originals. The hashing rules live in `tasks.split_hash`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tasks.errors import DataError
from tasks.load import Examples
from tasks.readers import example_digests_of, take_examples
from tasks.split_hash import SPLIT_NAMES, TEST, TRAIN, VALIDATION, assign_splits
from tasks.stage import stage

SPLITS_FILE = "splits.parquet"


@dataclass(frozen=True)
class Splits:
    """Train, validation and test examples; `y_*` are indices into `labels`.

    Attributes:
        digests_train, digests_val, digests_test: each example's content
            digest, in the order of its split's `x_*` (None when the splits
            were made by hand: `membership` then computes them).
        duplicates: how many examples repeat an earlier one's digest; each
            group of repeats sits in one split (a kept test split excepted).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    labels: list
    digests_train: np.ndarray | None = None
    digests_val: np.ndarray | None = None
    digests_test: np.ndarray | None = None
    duplicates: int = 0

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def membership(self) -> pd.DataFrame:
        """One row per example, duplicates included: `digest` and `split`.

        `split` is `train`, `validation` or `test`; rows come split by split,
        each in its examples' order. Write it as `splits.parquet` with
        `splits.membership().to_parquet(version_dir / SPLITS_FILE, index=False)`.
        """
        parts = (
            (self.digests_train, self.x_train),
            (self.digests_val, self.x_val),
            (self.digests_test, self.x_test),
        )
        digests, names = [], []
        for name, (known, x) in zip(SPLIT_NAMES, parts, strict=True):
            found = list(known) if known is not None else example_digests_of(x)
            digests.extend(found)
            names.extend([name] * len(found))
        return pd.DataFrame({"digest": digests, "split": names}, dtype=object)

    def class_counts(self) -> pd.DataFrame:
        """Examples per label (rows) and split (columns): how stratified it is."""
        counts = {
            name: np.bincount(y, minlength=self.num_classes)
            for name, y in zip(
                SPLIT_NAMES, (self.y_train, self.y_val, self.y_test), strict=True
            )
        }
        return pd.DataFrame(counts, index=pd.Index(self.labels, name="label"))


def split_examples(
    examples: Examples,
    test_fraction: float = 0.2,
    validation_fraction: float = 0.1,
    seed: int = 0,
) -> Splits:
    """Split examples by content; a test split kept in the source is used as it is.

    Each distinct content digest draws a number in [0, 1) from a hash of the
    seed and the digest: below `test_fraction` it is a test example, below
    `test_fraction + validation_fraction` a validation one, otherwise a
    training one (with a kept test split: below `validation_fraction` it
    validates, otherwise it trains). Nothing is shuffled as a whole, so
    examples keep their split when others are added or removed, and copies
    never straddle splits. Per-label spread is proportional on average (see
    `Splits.class_counts`); a class the hash leaves out of a split gets the
    nearest of its examples by hash (see `tasks.split_hash.assign_splits`
    for the rule and why it keeps earlier training examples out of test).
    Within each split, examples keep their source order.

    Args:
        examples: inputs and original labels.
        test_fraction: share of all examples held out for the final evaluation
            (ignored when the source keeps its own test split).
        validation_fraction: share of all examples the search validates on
            (of the training examples when the source keeps a test split).
        seed: picks the hash; another seed gives another split.

    Raises:
        DataError: a class too small to appear in every split, or test labels
            that never occur in training.
    """
    labels = _python_values(np.unique(examples.y))
    index = {value: i for i, value in enumerate(labels)}
    y = np.array([index[v] for v in _python_values(examples.y)], dtype="int64")
    digests = np.asarray(example_digests_of(examples.x), dtype=object)
    kept_test = examples.x_test is not None
    if kept_test:
        _check_kept_test_labels(examples.y_test, labels)
        bounds = (0.0, validation_fraction)
    else:
        bounds = (test_fraction, test_fraction + validation_fraction)
    split = assign_splits(digests, y, labels, seed, bounds, kept_test=kept_test)
    parts = {}
    for code in (TRAIN, VALIDATION, TEST):
        where = np.flatnonzero(split == code)
        parts[code] = (take_examples(examples.x, where), y[where], digests[where])
    if kept_test:
        test_digests = np.asarray(example_digests_of(examples.x_test), dtype=object)
        y_test = np.array(
            [index[v] for v in _python_values(examples.y_test)], dtype="int64"
        )
        parts[TEST] = (examples.x_test, y_test, test_digests)
    every = np.concatenate([parts[code][2] for code in (TRAIN, VALIDATION, TEST)])
    (x_train, y_train, d_train) = parts[TRAIN]
    (x_val, y_val, d_val) = parts[VALIDATION]
    (x_test, y_test, d_test) = parts[TEST]
    return Splits(
        x_train,
        y_train,
        x_val,
        y_val,
        x_test,
        y_test,
        labels,
        digests_train=d_train,
        digests_val=d_val,
        digests_test=d_test,
        duplicates=int(len(every) - len(set(every))),
    )


def _check_kept_test_labels(y_test: np.ndarray, labels: list) -> None:
    unseen = set(_python_values(np.unique(y_test))) - set(labels)
    if unseen:
        raise DataError(
            f"The kept test split has labels never seen in training: "
            f"{sorted(unseen, key=str)}. Expected test labels drawn from "
            f"{labels}. Fix the labels or drop those examples."
        )


def _python_values(values: np.ndarray) -> list:
    """Plain Python ints or strings, so labels serialise to JSON as themselves."""
    return [v.item() if isinstance(v, np.generic) else v for v in values.tolist()]


split_examples_task = stage("split")(split_examples)
