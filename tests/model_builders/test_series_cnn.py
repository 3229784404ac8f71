"""The CNN family on series: FCN, ResNet and Inception, and masked pooling."""

import keras
import keras_tuner as kt
import numpy as np
import pytest

from model_builders import BUILDERS, InputSpec
from model_builders.layers import MaskedGlobalAveragePooling1D
from model_builders.series_cnn import inception_kernel_sizes
from tasks.tuning.hypermodel import compile_model

SPEC = InputSpec(kind="sequence", shape=(16, 2))
# The smallest choice of each architecture, to keep the tests fast.
SMALL = {
    "fcn": {"cnn/fcn_filters": 32},
    "resnet": {"cnn/resnet_filters": 32},
    "inception": {"cnn/inception_filters": 16, "cnn/inception_depth": 3},
}
# (Conv1D layers, Add layers) each architecture has at its small size.
STRUCTURE = {"fcn": (3, 0), "resnet": (11, 3), "inception": (16, 1)}


def _numpy(x) -> np.ndarray:
    return keras.ops.convert_to_numpy(x)


def _build(architecture: str) -> tuple[keras.Model, kt.HyperParameters]:
    hp = kt.HyperParameters()
    hp.Fixed("cnn/architecture", architecture)
    for name, value in SMALL[architecture].items():
        hp.Fixed(name, value)
    return BUILDERS["cnn"](hp, SPEC, 3), hp


def _padded_series() -> np.ndarray:
    """6 series of 16 steps x 2 features, 16, 16, 12, 9, 5 and 3 steps long."""
    x = np.random.default_rng(0).normal(size=(6, 16, 2)).astype("float32")
    for row, length in enumerate([16, 16, 12, 9, 5, 3]):
        x[row, length:] = np.nan
    return x


def _count(model: keras.Model, layer_type: type) -> int:
    return sum(isinstance(layer, layer_type) for layer in model.layers)


def test_default_is_the_fcn_and_only_the_chosen_architecture_is_searched():
    hp = kt.HyperParameters()
    BUILDERS["cnn"](hp, SPEC, 3)
    assert hp.values == {"cnn/architecture": "fcn", "cnn/fcn_filters": 64}
    assert hp.get("cnn/architecture") == "fcn"
    _, hp = _build("inception")
    assert hp.is_active("cnn/inception_depth")
    assert not hp.is_active("cnn/fcn_filters")
    assert not hp.is_active("cnn/resnet_filters")


@pytest.mark.parametrize("architecture", sorted(SMALL))
def test_architecture_trains_and_reloads_in_safe_mode(architecture, tmp_path):
    model, _ = _build(architecture)
    convs, adds = STRUCTURE[architecture]
    assert _count(model, keras.layers.Conv1D) == convs
    assert _count(model, keras.layers.Add) == adds
    compile_model(model, learning_rate=1e-3)
    model.run_eagerly = True
    x = _padded_series()
    y = keras.utils.to_categorical([0, 1, 2, 0, 1, 2], 3)
    history = model.fit(x, y, batch_size=6, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    predictions = _numpy(model(x, training=False))
    assert np.isfinite(predictions).all()
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(
        _numpy(reloaded(x, training=False)), predictions, rtol=1e-6, atol=1e-6
    )


@pytest.mark.parametrize("architecture", sorted(SMALL))
def test_nan_padding_is_left_out_of_the_average(architecture):
    # Zero-filled steps are data and are averaged in; NaN steps are not. So
    # the two agree exactly on the unpadded series and differ on the others.
    model, _ = _build(architecture)
    x = _padded_series()
    nan_predictions = _numpy(model(x, training=False))
    zero_predictions = _numpy(model(np.nan_to_num(x, nan=0.0), training=False))
    np.testing.assert_allclose(
        nan_predictions[:2], zero_predictions[:2], rtol=1e-6, atol=1e-7
    )
    differences = np.abs(nan_predictions - zero_predictions).max(axis=1)
    assert (differences[2:] > 1e-6).all(), differences


def test_masked_pooling_averages_only_valid_steps():
    features = np.arange(24, dtype="float32").reshape(3, 4, 2)
    raw = np.zeros((3, 4, 2), "float32")
    raw[1, 2:] = np.nan  # two padded steps
    raw[1, 1, 0] = np.nan  # one NaN feature: the step is still data
    raw[2] = np.nan  # no valid step at all
    pooled = _numpy(MaskedGlobalAveragePooling1D()([features, raw]))
    np.testing.assert_allclose(pooled[0], features[0].mean(axis=0))
    np.testing.assert_allclose(pooled[1], features[1, :2].mean(axis=0))
    np.testing.assert_array_equal(pooled[2], [0.0, 0.0])


def test_masked_pooling_without_padding_is_plain_average_pooling():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(2, 5, 3)).astype("float32")
    raw = rng.normal(size=(2, 5, 1)).astype("float32")
    np.testing.assert_allclose(
        _numpy(MaskedGlobalAveragePooling1D()([features, raw])),
        _numpy(keras.layers.GlobalAveragePooling1D()(features)),
        rtol=1e-6,
    )


def test_masked_pooling_pools_in_float32_under_mixed_bfloat16(bf16_policy):
    layer = MaskedGlobalAveragePooling1D()
    features = keras.ops.cast(np.ones((1, 3, 2), "float32"), "bfloat16")
    out = layer([features, np.zeros((1, 3, 1), "float32")])
    assert layer.compute_dtype == "float32" and out.dtype == "float32"


def test_masked_pooling_rejects_features_of_another_length():
    layer = MaskedGlobalAveragePooling1D()
    with pytest.raises(ValueError, match="features with 8 steps and raw inputs"):
        layer([keras.Input((8, 4)), keras.Input((16, 1))])
    with pytest.raises(ValueError, match="received 1 inputs"):
        MaskedGlobalAveragePooling1D()([keras.Input((8, 4))])


def test_masked_pooling_round_trips_through_a_saved_model(tmp_path):
    # Dense turns the NaN steps into NaN features: pooling must still skip them.
    inputs = keras.Input((6, 2))
    filled = keras.layers.Dense(3)(inputs)
    model = keras.Model(inputs, MaskedGlobalAveragePooling1D()([filled, inputs]))
    x = np.random.default_rng(0).normal(size=(2, 6, 2)).astype("float32")
    x[1, 4:, :] = np.nan
    model.save(tmp_path / "pool.keras")
    reloaded = keras.saving.load_model(tmp_path / "pool.keras", safe_mode=True)
    assert isinstance(reloaded.layers[-1], MaskedGlobalAveragePooling1D)
    predictions = _numpy(model(x))
    assert np.isfinite(predictions).all()
    np.testing.assert_array_equal(_numpy(reloaded(x)), predictions)


@pytest.mark.parametrize(
    ("steps", "kernels"),
    [
        (None, [39, 19, 9]),
        (427, [39, 19, 9]),
        (16, [15, 15, 9]),
        (12, [11, 11, 9]),
        (9, [9, 9, 9]),
        (2, [3, 3, 3]),
    ],
)
def test_inception_kernels_are_capped_by_the_series_length(steps, kernels):
    assert inception_kernel_sizes(steps) == kernels
