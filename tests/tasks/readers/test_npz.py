"""NPZ archives: `x`/`y` or a kept train/test split, each example with a label."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.errors import DataError
from tasks.readers.npz import read_npz, with_channel_axis


def test_grey_images_and_univariate_series_get_a_last_axis():
    assert with_channel_axis(np.zeros((2, 4, 4)), "image").shape == (2, 4, 4, 1)
    assert with_channel_axis(np.zeros((2, 5)), "sequence").shape == (2, 5, 1)
    assert with_channel_axis(np.zeros((2, 5)), "image").shape == (2, 5)


def test_a_kept_split_is_read_as_it_is(tmp_path):
    path = tmp_path / "d.npz"
    x = np.zeros((3, 4, 4))
    np.savez(path, x_train=x, y_train=[0, 1, 0], x_test=x[:2], y_test=[1, 0])
    arrays = read_npz(path, "image")
    assert arrays.x.shape == (3, 4, 4, 1) and arrays.x_test.shape == (2, 4, 4, 1)
    assert list(arrays.y_test) == [1, 0]


@pytest.mark.parametrize(
    "empty, other, count", [("x_test", "x_train", 3), ("x_train", "x_test", 2)]
)
def test_a_kept_split_with_an_empty_half_is_a_data_error(tmp_path, empty, other, count):
    # Regression: the contract counts both halves together, so an empty test
    # split passed it, and after the whole search Keras's predict failed on it
    # (UnboundLocalError: batch_outputs).
    arrays = {"x_train": np.zeros((3, 2)), "y_train": np.array([0, 1, 0])}
    arrays |= {"x_test": np.zeros((2, 2)), "y_test": np.array([1, 0])}
    arrays[empty] = np.zeros((0, 2))
    arrays["y" + empty[1:]] = np.zeros(0)
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(DataError) as error:
        read_npz(tmp_path / "d.npz", "sequence")
    message = str(error.value)
    assert f"d.npz: '{empty}' has 0 examples while '{other}' has {count}" in message
    assert "expected examples in both halves" in message


def test_a_kept_split_with_no_examples_at_all_is_left_to_the_contract(tmp_path):
    # As for any empty source: the contract's row count names it (exit code 3).
    empty = np.zeros((0, 2))
    np.savez(tmp_path / "d.npz", x_train=empty, y_train=[], x_test=empty, y_test=[])
    arrays = read_npz(tmp_path / "d.npz", "sequence")
    assert len(arrays.x) == 0 and len(arrays.x_test) == 0
