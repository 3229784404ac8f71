"""Holdout or k-fold validation from the data size; folds keep copies together."""

from collections import Counter

import numpy as np
import pytest

from data_contracts.profile import example_digests
from tasks.split import Splits
from tasks.tuning.folds import choose_validation, fold_splits


def _splits(y_train, y_val, x_train=None, x_val=None, labels=None) -> Splits:
    """Splits whose example i of the pool (train, then validation) is [i, i, i]."""
    y_train, y_val = np.asarray(y_train, "int64"), np.asarray(y_val, "int64")
    pool = np.repeat(np.arange(len(y_train) + len(y_val), dtype="float32"), 3)
    pool = pool.reshape(-1, 3)
    x_test = np.full((2, 3), -1.0, dtype="float32")
    return Splits(
        pool[: len(y_train)] if x_train is None else x_train,
        y_train,
        pool[len(y_train) :] if x_val is None else x_val,
        y_val,
        x_test,
        np.array([0, 1]),
        labels or [f"c{i}" for i in range(int(max(y_train.max(), y_val.max())) + 1)],
    )


def _pooled_ids(x) -> list:
    return [float(row[0]) for row in x]


def test_folds_partition_the_pool_and_keep_its_order():
    splits = _splits(np.arange(45) % 3, np.arange(5) % 3)
    folds = fold_splits(splits, folds=5, seed=0)
    assert len(folds) == 5
    validated = sorted(i for fold in folds for i in _pooled_ids(fold.x_val))
    assert validated == list(range(50))
    for fold in folds:
        train, val = _pooled_ids(fold.x_train), _pooled_ids(fold.x_val)
        assert train == sorted(train) and val == sorted(val)
        assert len(train) + len(val) == 50
        np.testing.assert_array_equal(fold.y_train, np.asarray(train, int) % 3)
        assert fold.x_test is splits.x_test and fold.y_test is splits.y_test


def test_copies_of_an_example_never_straddle_train_and_validation():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(20, 4)).astype("float32")
    x = base[np.arange(40) % 20]  # every example twice, some copies in validation
    y = np.arange(40) % 20 % 2
    splits = _splits(y[:34], y[34:], x_train=x[:34], x_val=x[34:])
    for fold in fold_splits(splits, folds=4, seed=1):
        assert not set(fold.digests_train) & set(fold.digests_val)
        assert list(fold.digests_train) == example_digests(fold.x_train)
        assert list(fold.digests_val) == example_digests(fold.x_val)
    pooled = Counter(example_digests(x))
    validated = Counter(
        d for fold in fold_splits(splits, 4, seed=1) for d in fold.digests_val
    )
    assert validated == pooled


def test_every_class_trains_in_every_fold():
    splits = _splits(np.repeat([0, 1, 2], [20, 6, 4]), [0, 1, 2])
    for fold in fold_splits(splits, folds=3, seed=0):
        assert set(fold.y_train) == {0, 1, 2}


def test_folds_are_deterministic_for_a_seed():
    splits = _splits(np.arange(45) % 3, np.arange(5) % 3)
    first = [_pooled_ids(fold.x_val) for fold in fold_splits(splits, 5, seed=7)]
    again = [_pooled_ids(fold.x_val) for fold in fold_splits(splits, 5, seed=7)]
    assert first == again


def test_ragged_list_inputs_stay_lists():
    x = [np.full((2 + i % 4, 1), i, dtype="float32") for i in range(24)]
    splits = _splits(np.arange(20) % 2, np.arange(4) % 2, x_train=x[:20], x_val=x[20:])
    folds = fold_splits(splits, folds=3, seed=0)
    for fold in folds:
        assert isinstance(fold.x_train, list) and isinstance(fold.x_val, list)
    validated = sorted(float(seq[0, 0]) for fold in folds for seq in fold.x_val)
    assert validated == list(range(24))


def test_text_inputs_fold_as_string_arrays():
    x = np.array([f"text number {i}" for i in range(24)])
    splits = _splits(np.arange(20) % 2, np.arange(4) % 2, x_train=x[:20], x_val=x[20:])
    folds = fold_splits(splits, folds=3, seed=0)
    assert sorted(t for fold in folds for t in fold.x_val) == sorted(x)
    assert all(fold.x_train.dtype.kind == "U" for fold in folds)


def test_more_folds_than_distinct_examples_is_an_error():
    splits = _splits([0, 1, 0], [1])
    with pytest.raises(ValueError, match="between 2 and the 4 distinct"):
        fold_splits(splits, folds=5, seed=0)


def test_auto_uses_kfold_for_a_small_validation_split():
    scheme = choose_validation(_splits(np.arange(45) % 3, np.arange(5) % 3))
    assert (scheme.kind, scheme.folds) == ("kfold", 5)
    assert scheme.reason == (
        "the validation split holds 5 examples (fewer than 100): 5-fold "
        "cross-validation on the 50 train+validation examples"
    )
    assert scheme.to_dict() == {"kind": "kfold", "folds": 5, "reason": scheme.reason}


def test_auto_uses_holdout_for_a_large_balanced_validation_split():
    scheme = choose_validation(_splits(np.arange(400) % 10, np.arange(200) % 10))
    assert (scheme.kind, scheme.folds) == ("holdout", 1)
    assert "200 examples" in scheme.reason


def test_auto_uses_kfold_when_a_class_is_rare_in_validation():
    y_val = np.concatenate([np.arange(190) % 9, np.full(5, 9)])
    scheme = choose_validation(_splits(np.arange(400) % 10, y_val))
    assert (scheme.kind, scheme.folds) == ("kfold", 3)  # a pool over 150 examples
    assert "class 'c9' has 5 validation examples (fewer than 10)" in scheme.reason


def test_folds_are_capped_by_the_smallest_class():
    y_train = np.repeat([0, 1], [40, 2])
    scheme = choose_validation(_splits(y_train, [0, 0, 1]))
    assert (scheme.kind, scheme.folds) == ("kfold", 3)
    assert "lowered from 5: class 'c1' has 3 distinct examples" in scheme.reason


def test_a_class_with_one_example_falls_back_to_holdout():
    scheme = choose_validation(_splits(np.repeat([0, 1], [40, 1]), [0, 0]), "kfold")
    assert (scheme.kind, scheme.folds) == ("holdout", 1)
    assert "class 'c1' has 1 distinct train+validation example" in scheme.reason


def test_explicit_settings():
    splits = _splits(np.arange(45) % 3, np.arange(5) % 3)
    assert choose_validation(splits, "holdout").kind == "holdout"
    assert choose_validation(splits, "kfold", folds=4).folds == 4
    large = _splits(np.arange(400) % 10, np.arange(200) % 10)
    assert choose_validation(large, "kfold").folds == 3


@pytest.mark.parametrize(
    ("setting", "folds", "match"),
    [("cv", None, "expected one of"), ("kfold", 1, "expected at least 2")],
)
def test_bad_settings_are_errors(setting, folds, match):
    with pytest.raises(ValueError, match=match):
        choose_validation(_splits([0, 1], [0, 1]), setting, folds)
