"""Training length from the data size; explicit settings win."""

import math

import pytest

from tasks.tuning.schedule import (
    MAX_EPOCHS,
    MIN_BATCH,
    TARGET_STEPS,
    training_length,
)


def test_large_sets_train_at_least_ten_epochs():
    length = training_length(200_000)
    assert (length.batch_size, length.epochs, length.patience) == (64, 10, 5)


def test_tiny_set_gets_small_batches_and_capped_epochs():
    length = training_length(40)
    assert (length.batch_size, length.epochs, length.patience) == (8, MAX_EPOCHS, 50)
    assert length.chosen == {"epochs": "data", "patience": "data", "batch_size": "data"}


def test_fewer_than_sixteen_examples_use_the_smallest_batch():
    assert training_length(1).batch_size == MIN_BATCH
    assert training_length(15).batch_size == MIN_BATCH


def test_medium_set_follows_the_rule():
    length = training_length(1400)
    batch = 2 ** math.floor(math.log2(1400 / 16))  # 64
    epochs = math.ceil(TARGET_STEPS / math.ceil(1400 / batch))
    assert length.batch_size == batch == 64
    assert length.epochs == epochs == 137
    assert length.patience == epochs // 10 == 13


def test_large_set_gets_the_largest_batch_and_few_epochs():
    length = training_length(4000)
    assert length.batch_size == 64
    assert length.epochs == 48  # ceil(3000 / ceil(4000 / 64)) = ceil(3000 / 63)
    assert length.patience == 5  # 48 // 10 = 4, raised to the minimum


def test_explicit_values_win():
    length = training_length(40, epochs=7, patience=2, batch_size=4)
    assert (length.epochs, length.patience, length.batch_size) == (7, 2, 4)
    assert length.chosen == {
        "epochs": "config",
        "patience": "config",
        "batch_size": "config",
    }


def test_patience_follows_explicit_epochs():
    length = training_length(40, epochs=200)
    assert length.patience == 20
    assert length.chosen["epochs"] == "config"
    assert length.chosen["patience"] == "data"


def test_epochs_follow_an_explicit_batch_size():
    derived = training_length(400)
    length = training_length(400, batch_size=32)
    assert derived.batch_size == 16 and derived.epochs == 120  # 3000 / 25 steps
    assert length.epochs == math.ceil(TARGET_STEPS / math.ceil(400 / 32)) == 231
    assert length.chosen["batch_size"] == "config"
    assert length.chosen["epochs"] == "data"


def test_to_dict_is_plain():
    assert training_length(40).to_dict() == {
        "epochs": 500,
        "patience": 50,
        "batch_size": 8,
        "chosen": {"epochs": "data", "patience": "data", "batch_size": "data"},
    }


@pytest.mark.parametrize("num_train", [0, -3])
def test_no_training_examples_is_an_error(num_train):
    with pytest.raises(ValueError, match="expected at least 1 training example"):
        training_length(num_train)
