"""A published text model predicts on texts in the containers users hold."""

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from model_builders import BUILDERS
from tasks.errors import DataError
from tasks.preprocess import fit_preprocessing
from tasks.registry.serving import ServingModel, as_text_array, load_serving_model

TRAIN = ["call win cash now", "lunch at noon ok", "see you at noon", "win a prize"]
# Words from TRAIN, so every text scores differently (a garbled text would not).
TEXTS = ["Great phone, call now", "Terrible: win cash", "lunch at noon £5!", "ünï ok"]


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A tiny n-gram model saved as a version folder's model.keras, and the
    probabilities the in-memory model gives on an object array."""
    keras.utils.set_random_seed(0)
    prep = fit_preprocessing(np.array(TRAIN * 4, dtype=object), kind="text")
    model = BUILDERS["ngram"](kt.HyperParameters(), prep.input_spec, 3)
    version_dir = tmp_path_factory.mktemp("v0001")
    model.save(version_dir / "model.keras")
    expected = model.predict(np.array(TEXTS, dtype=object), verbose=0)
    return version_dir, expected


@pytest.fixture(scope="module")
def reloaded(published):
    version_dir, _ = published
    return load_serving_model(version_dir / "model.keras")


@pytest.mark.parametrize(
    "texts",
    [
        TEXTS,
        tuple(TEXTS),
        np.array(TEXTS),  # unicode, dtype <U22: Keras alone refuses it
        np.array([text.encode("utf-8") for text in TEXTS]),  # bytes, dtype S
        pd.Series(TEXTS, dtype=object),
        pd.Series(TEXTS),  # pandas' default string dtype
        pd.Series(TEXTS, dtype="string[pyarrow]"),
        pd.Index(TEXTS),
        pa.array(TEXTS),
    ],
    ids=[
        "list",
        "tuple",
        "unicode",
        "bytes",
        "object",
        "str",
        "pyarrow",
        "index",
        "arrow",
    ],
)
def test_a_reloaded_model_predicts_on_every_container(published, reloaded, texts):
    _, expected = published
    probabilities = reloaded.predict(texts)
    assert probabilities.shape == (len(TEXTS), 3)
    np.testing.assert_allclose(probabilities, expected, rtol=0, atol=1e-6)


def test_the_texts_make_a_difference(published):
    # Otherwise the comparisons above would pass on garbled texts too.
    _, expected = published
    assert np.abs(expected[1:] - expected[0]).max(axis=1).min() > 1e-3


def test_a_version_folder_loads_and_keras_refuses_unicode_alone(published):
    version_dir, expected = published
    model = load_serving_model(version_dir)
    assert model.takes_text
    # Why the wrapper exists; if Keras learns unicode arrays, it can go.
    with pytest.raises(ValueError, match="Invalid dtype"):
        model.model.predict(np.array(TEXTS), verbose=0)
    np.testing.assert_allclose(model.predict(np.array(TEXTS)), expected, atol=1e-6)


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ("Great phone", "single string"),
        (np.array([["Great phone"]]), r"shape \(1, 1\)"),
        (pd.DataFrame({"text": TEXTS}), r"frame\['text'\]"),
        (["ok", None], "missing text \\(None\\) at row 1"),
        (pd.Series(["ok", np.nan], dtype=object), "missing text \\(nan\\) at row 1"),
        (pd.Series(["ok", None], dtype="string[pyarrow]"), "missing text .* row 1"),
        (["ok", 3], "Received a int \\(3\\) at row 1"),
    ],
    ids=["str", "2d", "frame", "none", "nan", "na", "int"],
)
def test_texts_that_are_not_a_batch_of_strings_are_refused(texts, message):
    with pytest.raises(DataError, match=message):
        as_text_array(texts)


def test_bytes_are_decoded_and_strings_become_an_object_array():
    converted = as_text_array(np.array(["café".encode(), b"ok"]))
    assert converted.dtype == object
    assert converted.tolist() == ["café", "ok"]


def test_a_numeric_model_gets_its_inputs_unchanged():
    inputs = keras.Input(shape=(3,), name="inputs")
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    x = np.arange(6, dtype="float32").reshape(2, 3)
    serving = ServingModel(model)
    assert not serving.takes_text
    np.testing.assert_array_equal(serving.predict(x), model.predict(x, verbose=0))
