"""Which split each content digest goes to: a seeded hash, then a small-class rule.

The rule, in full (`assign_splits` applies it):

1. Every distinct digest draws `u = blake2b(f"{seed}:{digest}") / 2**64`, a
   number in [0, 1) that depends on nothing else. With bounds `(t, v)` it is
   a test digest when `u < t`, a validation digest when `u < v`, otherwise a
   training digest. Copies of one content share a digest, so they share a
   split whatever their labels; the label takes no part in the hash.
2. A class the hash leaves without an example in a split it needs (train
   and validation always; test unless the source keeps its own) gets one of
   its own digests, the nearest to that split by `u`:
   - test: the class's smallest `u` outside test (the test range is lowest);
   - validation: the class's smallest `u` among its training digests;
   - train: the class's largest `u` among its validation digests.
   A digest never leaves the test range, and a digest whose copies carry
   several labels never moves (moving it would change other classes).
3. When that is impossible (fewer distinct digests than needed splits, or
   the hash put so many in test that train and validation cannot both be
   filled), the split raises a `DataError`.

Stability: rule 1 alone is stable under any addition or removal of data.
Rule 2 only moves digests out of train and validation, and after more data
arrives the digest it picks for test can only be the same one or a new one
(the smallest `u` of a larger set), so an example that trained or validated
in an earlier version never moves into test when data is only added; one
moved into test may go back to train or validation once its class has a
test example by hash, and validation and train may swap an example. When
data is removed, a class that loses its only test example takes its
nearest training example into test. Rule 3 cannot start failing when data
is only added: the counts it needs only grow.
"""

from __future__ import annotations

import hashlib

import numpy as np

from tasks.errors import DataError

TRAIN, VALIDATION, TEST = 0, 1, 2
SPLIT_NAMES = ("train", "validation", "test")  # indexed by the codes above


def unit_hash(seed: int, digest: str) -> float:
    """A number in [0, 1) from the seed and a digest alone."""
    draw = hashlib.blake2b(f"{seed}:{digest}".encode(), digest_size=8).digest()
    return int.from_bytes(draw, "big") / 2.0**64


def assign_splits(
    digests: np.ndarray,
    y: np.ndarray,
    labels: list,
    seed: int,
    bounds: tuple[float, float],
    kept_test: bool = False,
) -> np.ndarray:
    """The split code (`TRAIN`, `VALIDATION`, `TEST`) of every example.

    Args:
        digests: each example's content digest.
        y: each example's class index into `labels`.
        labels: the original labels, for error messages.
        seed: picks the hash.
        bounds: `(t, v)`: `u < t` is test, `u < v` validation, else train.
        kept_test: the source keeps its own test split: no class needs test.

    Raises:
        DataError: a class cannot reach every split it needs.
    """
    unique, inverse = np.unique(digests.astype(str), return_inverse=True)
    u = np.array([unit_hash(seed, digest) for digest in unique])
    code = np.where(u < bounds[0], TEST, np.where(u < bounds[1], VALIDATION, TRAIN))
    label_sets = [set() for _ in unique]
    for digest, label in zip(inverse.tolist(), y.tolist(), strict=True):
        label_sets[digest].add(label)
    movable = np.array([len(found) == 1 for found in label_sets], dtype=bool)
    needed = (TRAIN, VALIDATION) if kept_test else (TEST, VALIDATION, TRAIN)
    for label in range(len(labels)):
        own = np.unique(inverse[y == label])
        _fill_empty_splits(own, u, code, movable, needed, labels[label], seed)
    return code[inverse]


def _fill_empty_splits(
    own: np.ndarray,
    u: np.ndarray,
    code: np.ndarray,
    movable: np.ndarray,
    needed: tuple[int, ...],
    label: object,
    seed: int,
) -> None:
    """Give one class an example in each needed split, in place (rule 2)."""
    if len(own) < len(needed):
        raise DataError(
            f"Class {label!r} has {len(own)} distinct example(s); expected at "
            f"least {len(needed)}, one for each of "
            f"{', '.join(SPLIT_NAMES[c] for c in sorted(needed))} (identical "
            "examples stay together in one split). Every class needs enough "
            "examples: add examples of this class, or drop it from the data."
        )
    # Where each split takes its example from, and which end of `u` it takes.
    donors = {
        TEST: ((TRAIN, VALIDATION), np.argmin),
        VALIDATION: ((TRAIN,), np.argmin),
        TRAIN: ((VALIDATION,), np.argmax),
    }
    for target in needed:
        if (code[own] == target).any():
            continue
        sources, pick = donors[target]
        candidates = own[np.isin(code[own], sources) & movable[own]]
        if target != TEST and (code[own] == sources[0]).sum() < 2:
            candidates = candidates[:0]  # taking the only one would empty it
        if not len(candidates):
            _raise_unfillable(own, code, label, seed, target)
        code[candidates[pick(u[candidates])]] = target


def _raise_unfillable(
    own: np.ndarray, code: np.ndarray, label: object, seed: int, target: int
) -> None:
    counts = ", ".join(
        f"{(code[own] == c).sum()} {SPLIT_NAMES[c]}" for c in (TRAIN, VALIDATION, TEST)
    )
    raise DataError(
        f"Class {label!r} has {len(own)} distinct examples, and the content hash "
        f"(seed {seed}) places them as {counts}: none can move to "
        f"{SPLIT_NAMES[target]} without leaving another split empty (examples "
        "never leave test, so earlier training examples never become test ones). "
        "Every class needs enough examples: add examples of this class, lower "
        "data.test_fraction, or pick another seed."
    )
