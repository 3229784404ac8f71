"""Padding is masked, not read: LSTM and Transformer ignore NaN-padded steps."""

import keras
import keras_tuner as kt
import numpy as np
import pytest

from model_builders import BUILDERS, InputSpec
from model_builders.layers import MaskNaN

MASKED_FAMILIES = ["lstm", "transformer"]


def _build(family: str, steps: int, patch_size: int) -> keras.Model:
    hp = kt.HyperParameters()
    hp.Fixed(f"{family}/patch_size", patch_size)
    return BUILDERS[family](hp, InputSpec(kind="sequence", shape=(steps, 3)), 3)


def _copy_weights(source: keras.Model, target: keras.Model) -> None:
    """Same architecture, shorter input: keep the first rows of position tables."""
    weights = [
        w[tuple(slice(0, n) for n in t.shape)]
        for w, t in zip(source.get_weights(), target.get_weights(), strict=True)
    ]
    target.set_weights(weights)


def _predict(model: keras.Model, x: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(model(x, training=False))


@pytest.fixture
def padded_series() -> np.ndarray:
    """4 series of 12 steps x 3 features, 12, 9, 7 and 5 steps long, NaN-padded."""
    x = np.random.default_rng(0).normal(size=(4, 12, 3)).astype("float32")
    for row, length in enumerate([12, 9, 7, 5]):
        x[row, length:] = np.nan
    return x


@pytest.mark.parametrize("patch_size", [1, 2])
@pytest.mark.parametrize("family", MASKED_FAMILIES)
def test_more_padding_does_not_change_predictions(family, patch_size, padded_series):
    # The same weights read the same series padded to 12 and to 16 steps. If
    # any padded step were attended to, averaged or fed to the LSTM, the four
    # extra steps would change the result.
    long_model = _build(family, 16, patch_size)
    short_model = _build(family, 12, patch_size)
    _copy_weights(long_model, short_model)
    more_padding = np.full((4, 16, 3), np.nan, "float32")
    more_padding[:, :12] = padded_series
    np.testing.assert_allclose(
        _predict(long_model, more_padding),
        _predict(short_model, padded_series),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize("family", MASKED_FAMILIES)
def test_nan_padding_is_not_read_as_zeros(family, padded_series):
    # Without the mask, NaN padding would be zero-filled data like this.
    model = _build(family, 12, 1)
    zero_padded = np.nan_to_num(padded_series, nan=0.0)
    nan_predictions = _predict(model, padded_series)
    zero_predictions = _predict(model, zero_padded)
    # The first series has no padding; every other one must read differently.
    np.testing.assert_allclose(nan_predictions[0], zero_predictions[0], rtol=1e-5)
    differences = np.abs(nan_predictions - zero_predictions).max(axis=1)
    assert (differences[1:] > 1e-4).all(), differences


@pytest.mark.parametrize("family", MASKED_FAMILIES)
def test_masking_stays_float32_under_mixed_bfloat16(family, padded_series):
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = _build(family, steps=12, patch_size=1)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    masks = [layer for layer in model.layers if isinstance(layer, MaskNaN)]
    assert masks and all(layer.compute_dtype == "float32" for layer in masks)
    assert np.isfinite(_predict(model, padded_series)).all()
