"""Sizing a search from its data: validation, training length, refit, ensemble."""

import numpy as np
import pytest

from tasks.split import Splits
from tasks.tuning.plan import SMALL_DATA_ENSEMBLE, plan_search, pooled_splits
from tasks.tuning.schedule import training_length


def _splits(y_train, y_val, digests: bool = False) -> Splits:
    """Splits whose pooled example i (train, then validation) is [i, i, i]."""
    y_train, y_val = np.asarray(y_train, "int64"), np.asarray(y_val, "int64")
    num_train = len(y_train)
    pool = np.repeat(np.arange(num_train + len(y_val), dtype="float32"), 3)
    pool = pool.reshape(-1, 3)
    names = np.array([f"d{i}" for i in range(len(pool))], dtype=object)
    num_classes = int(max(y_train.max(), y_val.max())) + 1
    return Splits(
        pool[:num_train],
        y_train,
        pool[num_train:],
        y_val,
        np.full((2, 3), -1.0, dtype="float32"),
        np.array([0, 1]),
        [f"c{i}" for i in range(num_classes)],
        digests_train=names[:num_train] if digests else None,
        digests_val=names[num_train:] if digests else None,
        digests_test=np.array(["t0", "t1"], dtype=object) if digests else None,
    )


# 145 pooled examples, 5 of them validation: too few to rank trials on.
SMALL = _splits(np.arange(140) % 3, np.arange(5) % 3)
# 200 validation examples, 20 of each of 10 classes: holdout.
LARGE = _splits(np.arange(400) % 10, np.arange(200) % 10)


def test_a_small_validation_split_is_cross_validated_refit_and_averaged():
    plan = plan_search(SMALL)
    assert (plan.validation.kind, plan.validation.folds) == ("kfold", 5)
    assert plan.refit is True
    assert plan.ensemble_size == SMALL_DATA_ENSEMBLE == 5
    assert plan.ensemble_chosen is False
    assert plan.objective == "val_loss"
    assert plan.max_trials is None
    # Each fold trains on four fifths of the 145 pooled examples.
    assert plan.length == training_length(145 * 4 // 5)
    assert plan.length != training_length(len(SMALL.y_train))
    assert plan.length.chosen == {
        "epochs": "data",
        "patience": "data",
        "batch_size": "data",
    }


def test_a_large_validation_split_is_a_holdout_with_one_model():
    plan = plan_search(LARGE)
    assert (plan.validation.kind, plan.validation.folds) == ("holdout", 1)
    assert plan.refit is False
    assert plan.ensemble_size == 1
    assert plan.objective == "val_f1_macro"
    assert plan.length == training_length(len(LARGE.y_train))
    assert plan.length != training_length(len(LARGE.y_train) + len(LARGE.y_val))


def test_the_plan_records_every_setting():
    plan = plan_search(LARGE, max_trials=12)
    assert plan.to_dict() == {
        "objective": "val_f1_macro",
        "training": plan.length.to_dict(),
        "validation": plan.validation.to_dict(),
        "refit": False,
        "ensemble_size": 1,
        "max_trials": 12,
    }


def test_explicit_settings_win_over_the_data():
    plan = plan_search(
        SMALL,
        epochs=7,
        patience=2,
        batch_size=16,
        refit="never",
        ensemble_size=2,
        max_trials=4,
        objective="val_accuracy",
    )
    assert (plan.length.epochs, plan.length.patience) == (7, 2)
    assert plan.length.batch_size == 16
    assert set(plan.length.chosen.values()) == {"config"}
    assert plan.validation.kind == "kfold"  # still cross-validated
    assert plan.refit is False
    assert (plan.ensemble_size, plan.ensemble_chosen) == (2, True)
    assert plan.max_trials == 4
    assert plan.objective == "val_accuracy"


def test_refit_always_refits_a_holdout_search():
    assert plan_search(LARGE, refit="always").refit is True
    assert plan_search(LARGE, refit="auto").refit is False


def test_validation_and_folds_can_be_given():
    assert plan_search(LARGE, validation="kfold", folds=4).validation.folds == 4
    plan = plan_search(SMALL, validation="holdout")
    assert plan.validation.kind == "holdout"
    assert (plan.refit, plan.ensemble_size, plan.objective) == (
        False,
        1,
        "val_f1_macro",
    )
    assert plan.length == training_length(len(SMALL.y_train))


@pytest.mark.parametrize("validation", ["auto", "kfold"])
def test_hyperband_always_validates_on_the_holdout(validation):
    plan = plan_search(SMALL, tuner="hyperband", validation=validation)
    assert (plan.validation.kind, plan.validation.folds) == ("holdout", 1)
    assert plan.refit is False
    assert plan.ensemble_size == 1
    assert plan.objective == "val_f1_macro"
    assert plan.length == training_length(len(SMALL.y_train))


def test_an_unknown_validation_setting_is_an_error():
    with pytest.raises(ValueError, match="expected one of"):
        plan_search(SMALL, validation="cv")


def test_pooled_splits_train_on_train_and_validation():
    splits = _splits(np.arange(6) % 2, [1, 0], digests=True)
    pooled = pooled_splits(splits)
    np.testing.assert_array_equal(
        pooled.x_train, np.concatenate([splits.x_train, splits.x_val])
    )
    np.testing.assert_array_equal(pooled.y_train, [0, 1, 0, 1, 0, 1, 1, 0])
    assert list(pooled.digests_train) == [f"d{i}" for i in range(8)]
    # Validation and test are left as they were.
    assert pooled.x_val is splits.x_val and pooled.y_val is splits.y_val
    assert pooled.digests_val is splits.digests_val
    assert pooled.x_test is splits.x_test and pooled.y_test is splits.y_test
    assert pooled.digests_test is splits.digests_test
    assert pooled.labels == splits.labels
    # The input splits are not changed.
    assert len(splits.x_train) == 6 and len(splits.digests_train) == 6


def test_pooled_splits_without_digests_keep_none():
    pooled = pooled_splits(_splits([0, 1, 0], [1]))
    assert pooled.digests_train is None
    assert len(pooled.x_train) == 4


def test_pooled_ragged_sequences_stay_a_list():
    x = [np.full((2 + i, 1), i, dtype="float32") for i in range(5)]
    splits = Splits(
        x[:3],
        np.array([0, 1, 0]),
        x[3:],
        np.array([1, 0]),
        x[:1],
        np.array([0]),
        ["a", "b"],
    )
    pooled = pooled_splits(splits)
    assert isinstance(pooled.x_train, list)
    assert [float(seq[0, 0]) for seq in pooled.x_train] == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(pooled.y_train, [0, 1, 0, 1, 0])
