"""The serving export: a real SavedModel per data kind, reloaded and compared."""

import keras
import keras_tuner as kt
import numpy as np
import pytest

from model_builders import BUILDERS
from tasks.errors import ExportError
from tasks.export import export_saved_model, policy_tolerance
from tasks.preprocess import fit_preprocessing


def _raw_model(x_train: np.ndarray, kind: str, family: str = "cnn") -> keras.Model:
    """Raw input -> fitted preprocessing -> a family's body, as the search builds."""
    preprocessing = fit_preprocessing(x_train, kind=kind, text_length=8)
    body = BUILDERS[family](kt.HyperParameters(), preprocessing.input_spec, 3)
    inputs = preprocessing.inputs()
    return keras.Model(inputs, body(preprocessing.layer()(inputs)))


def _nan_padded_sequences() -> np.ndarray:
    """12 series of 12 steps x 3 features; half end in 4 NaN steps of padding."""
    x = np.random.default_rng(0).normal(size=(12, 12, 3)).astype("float32")
    x[::2, 8:] = np.nan
    return x


def _texts() -> np.ndarray:
    words = ["win", "cash", "prize", "see", "you", "lunch", "market", "report", "sport"]
    rng = np.random.default_rng(0)
    return np.array([" ".join(rng.choice(words, size=5)) for _ in range(12)], object)


def _sample(kind: str) -> np.ndarray:
    if kind == "image":
        return np.random.default_rng(0).uniform(0, 16, (12, 8, 8, 1)).astype("float32")
    if kind == "sequence":
        return _nan_padded_sequences()
    return _texts()


@pytest.mark.parametrize(
    "kind, family",
    [("image", "cnn"), ("sequence", "transformer"), ("text", "cnn")],
)
def test_saved_model_serves_raw_inputs_like_keras(tmp_path, kind, family):
    x = _sample(kind)
    model = _raw_model(x, kind, family)
    check = export_saved_model(model, tmp_path / "export", x)
    assert check.max_difference <= 1e-5
    assert check.signature == "serving_default" and check.input_name == "inputs"
    assert check.input_dtype == ("string" if kind == "text" else "float32")
    assert check.input_shape == (None, *x.shape[1:])
    assert check.num_examples == len(x)
    assert (tmp_path / "export" / "saved_model.pb").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["export"]


def test_nan_padded_sequences_stay_finite_through_lstm_patches(tmp_path):
    import tensorflow as tf

    x = _nan_padded_sequences()
    hp = kt.HyperParameters()
    hp.Fixed("lstm/patch_size", 2)  # StepPatches after MaskNaN
    preprocessing = fit_preprocessing(x, kind="sequence")
    body = BUILDERS["lstm"](hp, preprocessing.input_spec, 3)
    inputs = preprocessing.inputs()
    model = keras.Model(inputs, body(preprocessing.layer()(inputs)))
    check = export_saved_model(model, tmp_path / "export", x)
    assert check.max_difference <= 1e-5
    loaded = tf.saved_model.load(str(tmp_path / "export"))
    served = loaded.serve(x).numpy()
    assert np.isfinite(served).all()


def test_a_mismatch_beyond_tolerance_is_an_export_error(tmp_path):
    x = _sample("image")
    model = _raw_model(x, "image")
    with pytest.raises(ExportError, match=r"differs from model.predict by up to .*"):
        export_saved_model(model, tmp_path / "export", x, tolerance=-1.0)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_never_overwritten(tmp_path):
    (tmp_path / "export").mkdir()
    x = _sample("image")
    with pytest.raises(ExportError, match="already exists"):
        export_saved_model(_raw_model(x, "image"), tmp_path / "export", x)
    assert list((tmp_path / "export").iterdir()) == []


def test_an_empty_sample_is_refused(tmp_path):
    x = _sample("image")
    with pytest.raises(ExportError, match="empty x_sample"):
        export_saved_model(_raw_model(x, "image"), tmp_path / "export", x[:0])


def test_non_finite_outputs_are_an_export_error(tmp_path):
    inputs = keras.Input((4,), name="inputs")
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs))
    x = np.ones((6, 4), "float32")
    x[3, 0] = np.nan  # no MaskNaN in this model: NaN reaches the softmax
    with pytest.raises(ExportError, match=r"NaN or infinite outputs .*rows \[3\]"):
        export_saved_model(model, tmp_path / "export", x)
    assert list(tmp_path.iterdir()) == []


def test_a_numpy_string_sample_is_accepted_for_text(tmp_path):
    texts = _texts()
    model = _raw_model(texts, "text")
    check = export_saved_model(model, tmp_path / "export", texts.astype(str))
    assert check.max_difference <= 1e-5 and check.input_dtype == "string"


def test_the_tolerance_follows_the_dtype_policy():
    assert policy_tolerance(_raw_model(_sample("image"), "image")) == 1e-5
    previous = keras.mixed_precision.global_policy()
    try:
        for policy, expected in (("mixed_float16", 2**-7), ("mixed_bfloat16", 2**-4)):
            keras.mixed_precision.set_global_policy(policy)
            # The nested body's 16-bit layers decide, not the float32 input layers.
            assert policy_tolerance(_raw_model(_sample("sequence"), "sequence")) == (
                expected
            )
    finally:
        keras.mixed_precision.set_global_policy(previous)


def test_a_series_offset_by_1e3_trains_and_exports_under_bf16(tmp_path, bf16_policy):
    """Classes 1 apart at 1000: bfloat16 alone cannot tell 1000 from 1001."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 16)
    x = 1000.0 + y[:, None, None] + rng.normal(scale=0.2, size=(48, 12, 1))
    x = x.astype("float32")
    model = _raw_model(x, "sequence")
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    _, accuracy = model.evaluate(x, y, verbose=0)
    assert accuracy >= 0.9
    check = export_saved_model(model, tmp_path / "export", x)
    assert check.tolerance == 2**-4
    assert check.max_difference <= check.tolerance
