import numpy as np
import pytest

from tasks.errors import DataError
from tasks.load import Examples
from tasks.split import split_examples


def test_split_is_stratified_seeded_and_disjoint(tiny_images):
    x, y = tiny_images
    examples = Examples(x=x, y=np.array(["cat", "dog", "eel"])[y])
    first = split_examples(examples, test_fraction=0.25, validation_fraction=0.25)
    again = split_examples(examples, test_fraction=0.25, validation_fraction=0.25)
    assert first.labels == ["cat", "dog", "eel"]
    assert len(first.x_train) + len(first.x_val) + len(first.x_test) == 48
    np.testing.assert_array_equal(first.x_test, again.x_test)
    for part in (first.y_train, first.y_val, first.y_test):
        assert set(part) == {0, 1, 2}
    assert np.bincount(first.y_test).tolist() == [4, 4, 4]


def test_kept_test_split_is_used_as_is(tiny_images):
    x, y = tiny_images
    splits = split_examples(Examples(x=x, y=y, x_test=x[:5], y_test=y[:5]))
    assert len(splits.x_test) == 5
    assert splits.labels == [0, 1, 2]


def test_unseen_test_label_is_an_error(tiny_images):
    x, y = tiny_images
    with pytest.raises(DataError, match=r"never seen in training: \[7\]"):
        split_examples(Examples(x=x, y=y, x_test=x[:1], y_test=np.array([7])))


def test_too_small_class_is_an_error(tiny_images):
    x, y = tiny_images
    y = y.copy()
    y[0] = 9  # one example of class 9 cannot be stratified
    with pytest.raises(DataError, match="Every class needs enough examples"):
        split_examples(Examples(x=x, y=y))
