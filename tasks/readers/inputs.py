"""Raw inputs for prediction, read the way a version's config read its data.

Unlike training data, prediction inputs need no labels: a table may lack the
label column and an `.npz` may hold `x` alone. Inputs are then checked
against the model's own input, so a wrong kind or shape is a `DataError`
naming the expected shape, not a TensorFlow stack trace.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from data_contracts.profile import numeric_values
from tasks.errors import DataError, raise_if_transient
from tasks.load import load_dataset
from tasks.readers.image_index import index_image_folder
from tasks.readers.npz import BROKEN_ARCHIVE, with_channel_axis
from tasks.readers.stored import StoredExamples


def read_inputs(source: str, data: dict) -> np.ndarray | StoredExamples:
    """Raw inputs read the way the version's config read its training data.

    An image folder is indexed, not decoded (`ImageFiles`): prediction
    decodes it in batches, with the decoder training used, so a folder of
    any size predicts in bounded memory. Its images may sit in class
    subfolders or directly in the folder.

    Raises:
        DataError: the source cannot be read, or holds no examples of the kind.
    """
    kind = data.get("kind", "image")
    if source.lower().endswith(".npz") and Path(source).is_file():
        return _read_npz_inputs(Path(source), kind)
    if Path(source).is_dir():
        files, _ = index_image_folder(
            Path(source), data.get("image_size"), labelled=False
        )
        if files.size is None:
            raise DataError(
                f"{source} holds images of different sizes; expected one size. "
                "Resize them, or predict with a model trained with data.image_size."
            )
        return files
    raw = load_dataset(
        source,
        kind=kind,
        label=data.get("label", "label"),
        sequence_id=data.get("sequence_id"),
        step=data.get("step"),
        image_size=data.get("image_size"),
        text_column=data.get("text_column", "text"),
        image_shape=data.get("image_shape"),
    )
    if raw.scanned is not None:  # a table too large to read whole
        if raw.scanned.x is None:
            raise DataError(
                f"{source} has the columns {raw.scanned.columns}; expected "
                + (
                    f"the text column {data.get('text_column', 'text')!r} the "
                    "model was trained on. Rename it."
                    if kind == "text"
                    else "one column per pixel of a "
                    f"{data.get('image_shape')} image (and optionally the label)."
                )
            )
        return raw.scanned.x
    if raw.table is None:
        return raw.x
    table = raw.table.drop(columns=[data.get("label", "label")], errors="ignore")
    if kind == "text":
        column = data.get("text_column", "text")
        if column not in table.columns:
            raise DataError(
                f"{source} has the columns {list(table.columns)}; expected the "
                f"text column {column!r} the model was trained on. Rename it."
            )
        return table[column].astype(str).to_numpy(dtype=object)
    if kind == "image" and data.get("image_shape"):
        pixels = numeric_values(table).astype("float32")
        shape = tuple(data["image_shape"])
        if pixels.shape[1] != int(np.prod(shape)):
            raise DataError(
                f"{source} has {pixels.shape[1]} pixel columns; expected "
                f"{int(np.prod(shape))}, one per pixel of a {shape} image. Keep "
                "only the pixel columns (and optionally the label)."
            )
        return pixels.reshape(-1, *shape)
    raise DataError(
        f"{source} is a table, but the model's config does not say how to read "
        f"{kind} examples from it; expected an .npz with 'x'"
        + (" or a long table (data.sequence_id)." if kind == "sequence" else ".")
    )


def _read_npz_inputs(path: Path, kind: str) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "x" not in npz.files:
                raise DataError(
                    f"{path} holds the arrays {sorted(npz.files)}; expected 'x' "
                    "(one example per row; 'y' is optional). Re-save it with "
                    "numpy.savez(path, x=...)."
                )
            x = npz["x"]
    except BROKEN_ARCHIVE as exc:
        raise_if_transient(exc, "Reading", path)
        raise DataError(
            f"{path} could not be read as an .npz archive ({exc}). Save it with "
            "numpy.savez(path, x=...) using numeric or string arrays."
        ) from None
    return with_channel_axis(x, kind)  # grey images, univariate series


def fit_to_model(
    x: np.ndarray | StoredExamples, model: keras.Model, source: str
) -> np.ndarray | StoredExamples:
    """Inputs as the model takes them; short series get the pipeline's NaN padding.

    Raises:
        DataError: no examples, or examples of another kind or shape.
    """
    spec = model.inputs[0]
    expected = tuple(spec.shape[1:])
    if len(x) == 0:
        raise DataError(f"{source} holds no examples; expected at least one.")
    if isinstance(x, StoredExamples):
        _check_shape(tuple(x.shape[1:]), expected, source)
        return x
    if spec.dtype == "string":
        if x.ndim != 1:
            raise DataError(
                f"{source} holds inputs of shape {x.shape[1:]} per example; the "
                "model takes one text per example. Pass a table with the text "
                "column, or an .npz whose 'x' is a 1-D array of strings."
            )
        # Bytes (an .npz of texts) are decoded, as loading for training does:
        # str(b"ok") would be "b'ok'".
        return np.asarray(
            [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in x],
            dtype=object,
        )
    if x.dtype.kind not in "biuf":
        raise DataError(
            f"{source} holds {x.dtype} values; the model takes numbers of shape "
            f"{expected} per example. Pass numeric arrays."
        )
    x = x.astype("float32")
    if len(expected) == 3 and x.ndim == 4 and np.isnan(x).any():
        rows = np.flatnonzero(np.isnan(x).reshape(len(x), -1).any(axis=1))
        raise DataError(
            f"{source} has {len(rows)} image(s) with missing or non-numeric "
            f"pixels (rows {rows[:5].tolist()}); expected a number per pixel. "
            "Fix or drop those rows."
        )
    if len(expected) == 2 and x.ndim == 3 and expected[0] is not None:
        # Series shorter than the training length: pad the end with NaN, as
        # the pipeline did in training (MaskNaN masks those steps).
        missing = expected[0] - x.shape[1]
        if missing > 0 and x.shape[2] == expected[1]:
            x = np.pad(x, ((0, 0), (0, missing), (0, 0)), constant_values=np.nan)
    _check_shape(tuple(x.shape[1:]), expected, source)
    return x


def _check_shape(received: tuple, expected: tuple, source: str) -> None:
    if len(received) != len(expected) or any(
        want is not None and got != want
        for got, want in zip(received, expected, strict=True)
    ):
        raise DataError(
            f"{source} holds inputs of shape {received} per example; the model "
            f"expects {expected}. Pass the same kind of examples it was trained "
            "on (resize images, keep the same features per step)."
        )
