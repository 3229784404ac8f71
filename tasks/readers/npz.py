"""NPZ archives: `x` and `y`, or `x_train`, `y_train`, `x_test`, `y_test`."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from tasks.errors import DataError, raise_if_transient
from tasks.readers import Examples

# What numpy and zipfile raise for a damaged archive; zipfile reports odd
# entries (unknown compression or version, encryption) as NotImplementedError
# and RuntimeError.
BROKEN_ARCHIVE = (
    ValueError,
    OSError,
    EOFError,
    zipfile.BadZipFile,
    NotImplementedError,
    RuntimeError,
    zlib.error,
)


def read_npz(path: Path, kind: str) -> Examples:
    """Read an archive's arrays, each example paired with one label.

    Raises:
        DataError: the archive is damaged, needs pickle, lacks the expected
            names, or holds arrays that do not pair up.
    """
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except BROKEN_ARCHIVE as exc:
        raise_if_transient(exc, "Reading", path)
        raise DataError(
            f"{path} could not be read as an .npz archive ({exc}). Save it with "
            "numpy.savez(path, x=..., y=...) using numeric or string arrays "
            "(object arrays need pickle, which is refused)."
        ) from None
    keys = set(arrays)
    if {"x_train", "y_train", "x_test", "y_test"} <= keys:
        _check_pair(path, arrays, "x_train", "y_train")
        _check_pair(path, arrays, "x_test", "y_test")
        _check_kept_split(path, arrays)
        return Examples(
            x=with_channel_axis(arrays["x_train"], kind),
            y=arrays["y_train"],
            x_test=with_channel_axis(arrays["x_test"], kind),
            y_test=arrays["y_test"],
        )
    if {"x", "y"} <= keys:
        _check_pair(path, arrays, "x", "y")
        return Examples(x=with_channel_axis(arrays["x"], kind), y=arrays["y"])
    raise DataError(
        f"{path} holds the arrays {sorted(keys)}; expected 'x' and 'y', or "
        "'x_train', 'y_train', 'x_test' and 'y_test'. Re-save it with those names."
    )


def with_channel_axis(x: np.ndarray, kind: str) -> np.ndarray:
    """Grey images (N, H, W) get a channel axis; univariate series (N, T) a feature."""
    if (kind == "image" and x.ndim == 3) or (kind == "sequence" and x.ndim == 2):
        return x[..., np.newaxis]
    return x


def _check_pair(path: Path, arrays: dict, x_name: str, y_name: str) -> None:
    """Inputs with an example axis and one label per example, or a DataError.

    Checked here, not left to the contract: the profile needs to pair each
    example with its label before any expectation can run.
    """
    x, y = arrays[x_name], arrays[y_name]
    for name, array in ((x_name, x), (y_name, y)):
        if not isinstance(array, np.ndarray):
            raise DataError(
                f"{path}: {name!r} is a plain {type(array).__name__} member, not "
                "a .npy array; expected arrays saved by numpy.savez. Re-save it "
                "with numpy.savez(path, x=..., y=...)."
            )
    if x.ndim == 0:
        raise DataError(
            f"{path}: {x_name!r} is a single value (shape ()); expected examples "
            f"along axis 0, shape (N, ...). Re-save {x_name!r} as an array with "
            "one example per row."
        )
    if y.ndim != 1:
        raise DataError(
            f"{path}: {y_name!r} has shape {y.shape}; expected one label per "
            f"example, shape ({len(x)},). Save integer or string class labels, "
            "not one-hot vectors or a single value."
        )
    if len(x) != len(y):
        raise DataError(
            f"{path}: {x_name} has {len(x)} examples but {y_name} has {len(y)} "
            "labels; expected one label per example. Re-save the arrays with "
            "matching lengths."
        )


def _check_kept_split(path: Path, arrays: dict) -> None:
    """Both halves of a kept split hold examples, or a DataError.

    The contract counts the rows of both halves together, so an empty half
    would pass it and fail later, in the split or the final evaluation. Both
    halves empty is left to the contract's row count, as for any empty source.
    """
    sizes = {name: len(arrays[name]) for name in ("x_train", "x_test")}
    empty = [name for name, size in sizes.items() if size == 0]
    if len(empty) == 1:
        (name,) = empty
        other = "x_test" if name == "x_train" else "x_train"
        raise DataError(
            f"{path}: {name!r} has 0 examples while {other!r} has {sizes[other]}; "
            "expected examples in both halves of a kept test split. Add the "
            f"missing examples, or save them as 'x' and 'y' alone and let the "
            "pipeline split them (data.test_fraction)."
        )
