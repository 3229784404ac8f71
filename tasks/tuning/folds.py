"""Validation that fits the data: a holdout split when it is large enough,
k-fold cross-validation over train+validation when it is not.

A validation split of a few examples scores a trial by a coin toss: one
example more or less right moves accuracy by tens of points, and the search
picks noise. Below `MIN_VALIDATION` examples (or `MIN_PER_CLASS` of some
class) the search validates on k folds of the pooled train and validation
examples instead. Folds group copies of one example by content digest, so a
duplicate never sits in a fold's train and validation at once (it would
score a memorised example); the test split is never touched.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from tasks.readers import example_digests_of, join_examples, take_examples
from tasks.split import Splits

HOLDOUT = "holdout"
KFOLD = "kfold"
AUTO = "auto"
SETTINGS = (AUTO, HOLDOUT, KFOLD)

# Below 100 validation examples one example moves accuracy by over a point,
# more than the differences a search tries to rank.
MIN_VALIDATION = 100
# A class with fewer than 10 validation examples has its recall decided by one
# or two of them.
MIN_PER_CLASS = 10
# Up to 150 examples, 5 folds keep 80% for training each fold; larger pools
# train well on two thirds, and 3 folds cost less search time.
SMALL_POOL = 150
SMALL_POOL_FOLDS = 5
LARGE_POOL_FOLDS = 3


@dataclass(frozen=True)
class ValidationScheme:
    """How the search validates a trial, and why, in words a user reads.

    Attributes:
        kind: `"holdout"` (the validation split) or `"kfold"`.
        folds: folds of train+validation for `"kfold"`; 1 for holdout.
        reason: one sentence on why this scheme was chosen.
    """

    kind: str
    folds: int
    reason: str

    def to_dict(self) -> dict:
        """Plain JSON-ready values."""
        return dataclasses.asdict(self)


def choose_validation(
    splits: Splits, setting: str = AUTO, folds: int | None = None
) -> ValidationScheme:
    """Holdout or k-fold validation for `splits`.

    `"auto"` picks k-fold when the validation split holds fewer than
    `MIN_VALIDATION` examples or some class has fewer than `MIN_PER_CLASS`
    there, else holdout. k is `folds` if given, else 5 for pools of up to 150
    train+validation examples and 3 above, then lowered to the fewest distinct
    examples (by digest) of any class in the pool, since copies share a fold.
    When that is below 2 it falls back to holdout, saying why.

    Args:
        splits: the train, validation and test examples.
        setting: `"auto"`, `"holdout"` or `"kfold"`.
        folds: the number of folds, or None to choose it from the pool size.

    Returns:
        The chosen `ValidationScheme`.

    Raises:
        ValueError: an unknown `setting`, or `folds` below 2.
    """
    if setting not in SETTINGS:
        raise ValueError(
            f"Received validation setting {setting!r}; expected one of "
            f"{list(SETTINGS)}. Fix the validation setting in the config."
        )
    if folds is not None and folds < 2:
        raise ValueError(
            f"Received folds={folds}; expected at least 2 (one fold validates "
            "while the others train). Set folds to 2 or more, or use the "
            "'holdout' setting."
        )
    num_val = len(splits.y_val)
    if setting == HOLDOUT:
        return ValidationScheme(
            HOLDOUT, 1, f"holdout on the {num_val} validation examples, as configured"
        )
    why = "k-fold cross-validation as configured"
    if setting == AUTO:
        why = _small_validation(splits)
        if why is None:
            return ValidationScheme(
                HOLDOUT,
                1,
                f"the validation split holds {num_val} examples, at least "
                f"{MIN_PER_CLASS} of each class: holdout on them",
            )
    return _kfold_scheme(splits, why, folds)


def fold_splits(splits: Splits, folds: int, seed: int) -> list[Splits]:
    """`folds` copies of `splits`, each validating on one fold of train+validation.

    Stratified by class and grouped by content digest
    (`sklearn.model_selection.StratifiedGroupKFold`): each pooled example
    validates in exactly one fold, and copies of one example stay together.
    Within each part, examples keep their pooled order (train, then
    validation); the test split is the same in every fold.

    Args:
        splits: the train, validation and test examples.
        folds: the number of folds (see `choose_validation`).
        seed: shuffles the assignment of groups to folds.

    Returns:
        One `Splits` per fold.

    Raises:
        ValueError: `folds` below 2, or more folds than distinct examples.
    """
    x, y, digests = _pool(splits)
    distinct = len(set(digests))
    if folds < 2 or folds > distinct:
        raise ValueError(
            f"Received folds={folds}; expected between 2 and the {distinct} "
            "distinct train+validation examples. Choose the folds with "
            "`choose_validation`, which keeps them in range."
        )
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    result = []
    for train, val in splitter.split(np.zeros(len(y)), y, groups=digests):
        train, val = np.sort(train), np.sort(val)
        result.append(
            dataclasses.replace(
                splits,
                x_train=take_examples(x, train),
                y_train=y[train],
                x_val=take_examples(x, val),
                y_val=y[val],
                digests_train=digests[train],
                digests_val=digests[val],
            )
        )
    return result


def _small_validation(splits: Splits) -> str | None:
    """Why the validation split is too small to rank trials, or None if it is not."""
    num_val = len(splits.y_val)
    if num_val < MIN_VALIDATION:
        return (
            f"the validation split holds {num_val} examples "
            f"(fewer than {MIN_VALIDATION})"
        )
    counts = np.bincount(splits.y_val, minlength=splits.num_classes)
    smallest = int(np.argmin(counts))
    if counts[smallest] < MIN_PER_CLASS:
        return (
            f"class {splits.labels[smallest]!r} has {counts[smallest]} validation "
            f"examples (fewer than {MIN_PER_CLASS})"
        )
    return None


def _kfold_scheme(splits: Splits, why: str, folds: int | None) -> ValidationScheme:
    """k-fold for `why`, k capped by the smallest class; holdout if k < 2."""
    _, y, digests = _pool(splits)
    wanted = folds
    if wanted is None:
        wanted = SMALL_POOL_FOLDS if len(y) <= SMALL_POOL else LARGE_POOL_FOLDS
    label, distinct = _smallest_class(y, digests)
    name = splits.labels[label]
    if distinct < 2:
        return ValidationScheme(
            HOLDOUT,
            1,
            f"{why}, but class {name!r} has {distinct} distinct train+validation "
            f"example, too few to split into folds: holdout on the "
            f"{len(splits.y_val)} validation examples",
        )
    k = min(wanted, distinct)
    capped = (
        f" (lowered from {wanted}: class {name!r} has {distinct} distinct examples)"
        if k < wanted
        else ""
    )
    return ValidationScheme(
        KFOLD,
        k,
        f"{why}: {k}-fold cross-validation on the {len(y)} train+validation "
        f"examples{capped}",
    )


def _smallest_class(y: np.ndarray, digests: np.ndarray) -> tuple[int, int]:
    """The pooled class with the fewest distinct examples, and that count."""
    counts = {int(label): len(set(digests[y == label])) for label in np.unique(y)}
    label = min(counts, key=lambda key: (counts[key], key))
    return label, counts[label]


def _pool(splits: Splits) -> tuple[np.ndarray | list, np.ndarray, np.ndarray]:
    """Train then validation examples: inputs, labels and content digests."""
    x = join_examples(splits.x_train, splits.x_val)
    y = np.concatenate([splits.y_train, splits.y_val]).astype("int64")
    digests = np.asarray(
        list(_digests(splits.digests_train, splits.x_train))
        + list(_digests(splits.digests_val, splits.x_val)),
        dtype=object,
    )
    return x, y, digests


def _digests(known: np.ndarray | None, x: np.ndarray | Sequence) -> Sequence:
    return known if known is not None else example_digests_of(x)
