"""The MiniRocket family: its transform against a NumPy reading of the
reference, padding, reloading, and fitting the head on computed features."""

import keras
import keras_tuner as kt
import numpy as np
import pytest
import tensorflow as tf

from model_builders import BUILDERS, InputSpec
from model_builders.rocket_layer import (
    KERNEL_LENGTH,
    NUM_KERNELS,
    MiniRocketFeatures,
    fit_minirocket,
    plan_dilations,
)
from tasks.tuning import frozen_stem
from tasks.tuning.hypermodel import compile_model


def test_dilations_follow_the_reference_for_osuleaf_length():
    # angus924/minirocket's _fit_dilations(427, 10_000, 32), printed.
    dilations, features = plan_dilations(427, 10_000)
    assert dilations == [1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 14, 16, 19, 21] + [
        24,
        28,
        31,
        36,
        41,
        46,
        53,
    ]
    assert features == [23, 12, 8, 8, 4, 8, 4, 4] + [4] * 6 + [3] * 8
    assert sum(features) == 10_000 // NUM_KERNELS


def _numpy_ppv(layer: MiniRocketFeatures, series: np.ndarray) -> np.ndarray:
    """PPV of one (steps, channels) series, loop by loop as the reference."""
    steps = len(series)
    values, start = [], 0
    biases = keras.ops.convert_to_numpy(layer.biases)
    for index, dilation in enumerate(layer.dilations):
        count = layer.features_per_dilation[index]
        reach = (KERNEL_LENGTH // 2) * dilation
        padded = np.pad(series, ((reach, reach), (0, 0)))
        for kernel in range(NUM_KERNELS):
            weights = layer.kernels[index][:, :, kernel]
            out = np.array(
                [
                    sum(weights[t] @ padded[i + t * dilation] for t in range(9))
                    for i in range(steps)
                ]
            )
            if (index + kernel) % 2 == 1:
                out = out[reach : steps - reach]
            for j in range(count):
                bias = biases[start + kernel * count + j]
                values.append(
                    (kernel, index, j, (out > bias).mean() if len(out) else 0)
                )
        start += NUM_KERNELS * count
    # The layer's order: kernel-major over (dilation, bias).
    return np.array([v[-1] for v in sorted(values, key=lambda v: v[:3])])


@pytest.fixture(scope="module")
def fitted_layer():
    rng = np.random.default_rng(0)
    series = rng.normal(size=(6, 40, 2)).astype("float32")
    layer = MiniRocketFeatures(*plan_dilations(40, 168), seed=0)
    layer.build((None, 40, 2))
    fit_minirocket(layer, series)
    return layer, series


def test_features_equal_a_loop_reading_of_the_reference(fitted_layer):
    layer, series = fitted_layer
    ppv = keras.ops.convert_to_numpy(layer.ppv(series[:2]))
    np.testing.assert_allclose(ppv[0], _numpy_ppv(layer, series[0]), atol=1e-6)
    np.testing.assert_allclose(ppv[1], _numpy_ppv(layer, series[1]), atol=1e-6)


def test_padded_series_gets_the_features_of_its_own_steps(fitted_layer):
    layer, series = fitted_layer
    short = series[0, :30]
    padded = series[0].copy()
    padded[30:] = np.nan
    from_padded = keras.ops.convert_to_numpy(layer.ppv(padded[None]))[0]
    np.testing.assert_allclose(from_padded, _numpy_ppv(layer, short), atol=1e-6)


def test_features_are_standardised_on_the_fitting_series(fitted_layer):
    layer, series = fitted_layer
    features = keras.ops.convert_to_numpy(layer(series))
    varying = keras.ops.convert_to_numpy(layer.std) != 1.0
    np.testing.assert_allclose(features.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(features[:, varying].std(axis=0), 1.0, rtol=1e-3)


def _data(seed=0):
    """Two classes of 40-step series: a bump early or late, plus noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(24) % 2
    x = rng.normal(scale=0.3, size=(24, 40, 1)).astype("float32")
    for i, label in enumerate(labels):
        x[i, 8 + 20 * label : 14 + 20 * label, 0] += 3.0
    x[::3, 34:] = np.nan  # some padding
    return x, keras.utils.to_categorical(labels, 2)


def _model(x):
    """The family's body in the pipeline's chain (input, then the body), the
    shape `frozen_stem.find_frozen_stem` looks for."""
    spec = InputSpec(kind="sequence", shape=x.shape[1:], reference_series=x)
    body = BUILDERS["rocket"](kt.HyperParameters(), spec, 2)
    inputs = keras.Input(x.shape[1:])
    model = keras.Model(inputs, body(inputs))
    compile_model(model, learning_rate=1e-2)
    assert frozen_stem.find_frozen_stem(model) is not None
    return model


class _Seen(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.seen = self.model


def test_fit_trains_the_head_on_computed_features_and_callbacks_see_the_model():
    keras.utils.set_random_seed(0)
    x, y = _data()
    model = _model(x)
    before = model.predict(x, verbose=0)
    seen = _Seen()
    stopper = keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    history = frozen_stem.fit(
        model,
        data,
        validation_data=data,
        epochs=30,
        verbose=0,
        callbacks=[seen, stopper],
    )
    assert seen.seen is model  # the whole model, not the head
    assert len(history.history["loss"]) == 2  # early stopping reached the loop
    assert {"val_loss", "val_accuracy", "val_f1_macro"} <= set(history.history)
    assert not np.allclose(model.predict(x, verbose=0), before)


def test_fit_separates_the_classes_and_reloads_in_safe_mode(tmp_path):
    keras.utils.set_random_seed(0)
    x, y = _data()
    model = _model(x)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    frozen_stem.fit(model, data, epochs=40, verbose=0)
    x_test, y_test = _data(seed=1)
    probabilities = model.predict(x_test, verbose=0)
    assert (probabilities.argmax(1) == y_test.argmax(1)).all()
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(x_test, verbose=0), probabilities)


def test_a_model_without_a_stem_is_fitted_as_it_is():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    compile_model(model, learning_rate=1e-2)
    assert frozen_stem.find_frozen_stem(model) is None
    x = np.eye(3, dtype="float32")
    history = frozen_stem.fit(
        model, x, keras.utils.to_categorical([0, 1, 0], 2), epochs=1, verbose=0
    )
    assert len(history.history["loss"]) == 1


def test_rocket_refuses_data_it_cannot_read():
    with pytest.raises(ValueError, match="expected one of \\['sequence'\\]"):
        BUILDERS["rocket"](kt.HyperParameters(), InputSpec("image", (8, 8, 1)), 2)
    with pytest.raises(ValueError, match="without reference_series"):
        BUILDERS["rocket"](kt.HyperParameters(), InputSpec("sequence", (8, 1)), 2)


def test_features_too_large_to_hold_train_the_whole_model(monkeypatch):
    keras.utils.set_random_seed(0)
    x, y = _data()
    model = _model(x)
    stem = frozen_stem.find_frozen_stem(model)
    fixed = [w.copy() for w in stem.prefix[-1].get_weights()]
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    assert frozen_stem._feature_dataset(stem, data, shuffle_seed=None) is not None
    monkeypatch.setattr(frozen_stem, "FEATURE_BYTES", 100)  # less than one batch
    assert frozen_stem._feature_dataset(stem, data, shuffle_seed=None) is None
    head = [w.copy() for w in stem.head.get_weights()]
    history = frozen_stem.fit(model, data, validation_data=data, epochs=2, verbose=0)
    assert len(history.history["val_loss"]) == 2
    assert any(  # the head trained ...
        not np.array_equal(before, after)
        for before, after in zip(head, stem.head.get_weights(), strict=True)
    )
    for kept, weight in zip(fixed, stem.prefix[-1].get_weights(), strict=True):
        np.testing.assert_array_equal(kept, weight)  # ... and the stem stayed frozen
