"""Serving a published model from Python: texts as users hold them.

A published text model takes one string per example, but Keras 3's
`model.predict` accepts strings only as a NumPy object array or a tf tensor:
a Python list, a NumPy unicode array (`np.array(["Great phone"])`, dtype
`<U11`) and a pandas column (object, `str` or Arrow-backed `string[pyarrow]`)
all fail inside Keras' data adapters. `load_serving_model` loads a published
`model.keras` the safe way (`tasks.registry.model_file.load_published_model`)
and wraps it in a `ServingModel` whose `predict` turns those into the object
array Keras takes, refusing missing values rather than predicting on "nan".

This is a wrapper, not a `keras.Model` subclass saved into the file: a
subclass would help only models published after the change, would need every
place that builds or rebuilds the top-level model (search, ensembles, refits)
to use it, and would make files that hold only Keras layers (a CNN on text)
unloadable without this project's code.

Example:
    model = load_serving_model("registry/reviews/v0003/model.keras")
    model.predict(["Great phone", "Terrible"])  # (2, num_classes) probabilities
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pandas as pd

from tasks.errors import DataError
from tasks.registry.model_file import load_published_model

MODEL_FILE = "model.keras"
BATCH_SIZE = 256


class ServingModel:
    """A published Keras model whose `predict` takes texts in any usual container.

    Args:
        model: a loaded published model (one input, one softmax output).

    Attributes:
        model: the Keras model itself, for anything beyond `predict`.
    """

    def __init__(self, model: keras.Model):
        self.model = model

    @property
    def takes_text(self) -> bool:
        """Whether the model's input is one string per example."""
        return self.model.inputs[0].dtype == "string"

    def predict(self, x, batch_size: int = BATCH_SIZE, verbose: int = 0) -> np.ndarray:
        """Class probabilities, one row per example.

        Args:
            x: for a text model, the texts: a list or tuple of `str`, a 1-D
                NumPy array (unicode, bytes or object), a pandas Series or
                Index (any string dtype, Arrow-backed included) or a pyarrow
                array; a tf tensor or `tf.data.Dataset` passes through. For
                other models, whatever `keras.Model.predict` takes.
            batch_size: examples per batch.
            verbose: Keras' progress output (0: none).

        Returns:
            A float32 array of shape (examples, classes).

        Raises:
            DataError: for a text model, texts that are not 1-D, a single
                string, a missing value or a non-string value.
        """
        if self.takes_text:
            x = as_text_array(x)
        return np.asarray(self.model.predict(x, batch_size=batch_size, verbose=verbose))


def load_serving_model(path: str | Path) -> ServingModel:
    """Load a published model for prediction from Python.

    Args:
        path: a `model.keras`, or a version folder holding one
            (`<registry>/<name>/<version>`).

    Returns:
        A `ServingModel`; `.model` is the `keras.Model`.

    Raises:
        UnsafeModelError: the file would run code on load (a `Lambda`).
        RegistryError: the file is missing, truncated or not a `.keras` file.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    return ServingModel(load_published_model(path))


def as_text_array(texts) -> np.ndarray:
    """`texts` as the 1-D object array of `str` Keras takes for a string input.

    Bytes are decoded as UTF-8 (`str(b"ok")` would be `"b'ok'"`). Tensors and
    datasets are returned as they are: Keras reads them directly.

    Args:
        texts: a list or tuple, a 1-D NumPy array, a pandas Series or Index,
            or a pyarrow array, of strings or bytes.

    Returns:
        The texts, or `texts` itself when it is a tensor or dataset.

    Raises:
        DataError: a single string, a DataFrame, more than one dimension, a
            missing value (None, NaN, pd.NA) or a value that is not a string.

    Example: `as_text_array(np.array(["Great phone"]))` returns
    `array(['Great phone'], dtype=object)`.
    """
    if isinstance(texts, (str, bytes)):
        raise DataError(
            f"Received a single string ({texts[:40]!r}); expected a batch of "
            "texts, one per example. Pass a list: predict([text])."
        )
    if isinstance(texts, pd.DataFrame):
        raise DataError(
            f"Received a DataFrame with the columns {list(texts.columns)}; "
            "expected one text per example. Pass the text column, e.g. "
            "frame['text']."
        )
    if isinstance(texts, (pd.Series, pd.Index)):
        values = texts.tolist()
    elif isinstance(texts, np.ndarray):
        if texts.ndim != 1:
            raise DataError(
                f"Received texts of shape {texts.shape}; expected a 1-D array, "
                "one text per example. Pass the text column only, e.g. "
                "frame['text'] or array.ravel() for a single column."
            )
        values = texts.tolist()
    elif isinstance(texts, (list, tuple)):
        values = list(texts)
    elif hasattr(texts, "to_pylist"):  # pyarrow Array or ChunkedArray
        values = texts.to_pylist()
    else:
        return texts
    return np.asarray(
        [_as_text(value, row) for row, value in enumerate(values)], dtype=object
    )


def _as_text(value, row: int) -> str:
    """One example's text, or a DataError naming the row and the fix."""
    if isinstance(value, str):
        return str(value)  # plain str, also for numpy.str_
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        raise DataError(
            f"Received a missing text ({value!r}) at row {row}; expected one "
            "string per example. Drop or fill the missing rows first, e.g. "
            "series.dropna() or series.fillna('')."
        )
    raise DataError(
        f"Received a {type(value).__name__} ({value!r:.40}) at row {row}; "
        "expected one string per example. Pass the text column, or convert "
        "it with series.astype(str) if the values are meant as text."
    )
