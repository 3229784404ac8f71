"""The custom layers: NaN masking, step patches, position embedding, stems."""

import keras
import keras_tuner as kt
import numpy as np
import pytest

from model_builders.layers import MaskNaN, PositionEmbedding, StepPatches
from model_builders.stems import choose_image_patch_size, choose_sequence_patch_size


def _numpy(x) -> np.ndarray:
    return keras.ops.convert_to_numpy(x)


def test_mask_nan_zero_fills_and_masks_fully_padded_steps():
    x = np.array([[[1.0, 2.0], [np.nan, 3.0], [np.nan, np.nan]]], "float32")
    layer = MaskNaN()
    np.testing.assert_array_equal(_numpy(layer(x)), [[[1, 2], [0, 3], [0, 0]]])
    # A step with one feature left is data; only an all-NaN step is padding.
    np.testing.assert_array_equal(_numpy(layer.compute_mask(x)), [[True, True, False]])
    assert MaskNaN(emit_mask=False).compute_mask(x) is None


def test_mask_nan_computes_in_float32_under_any_policy():
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        layer = MaskNaN()
        out = layer(np.array([[[1000.3], [np.nan]]], "float32"))
        assert MaskNaN(dtype="mixed_bfloat16").compute_dtype == "bfloat16"
    finally:
        keras.mixed_precision.set_global_policy(previous)
    assert layer.compute_dtype == "float32" and out.dtype == "float32"
    np.testing.assert_array_equal(_numpy(out).ravel(), np.float32([1000.3, 0.0]))
    restored = MaskNaN.from_config(layer.get_config())
    assert restored.compute_dtype == "float32"


def test_step_patches_group_steps_and_mask_only_all_padded_patches():
    x = np.arange(10, dtype="float32").reshape(1, 5, 2)
    mask = np.array([[True, True, True, False, False]])
    layer = StepPatches(2)
    patches = _numpy(layer(x))
    assert patches.shape == (1, 3, 4)
    np.testing.assert_array_equal(patches[0, 2], [8, 9, 0, 0])
    np.testing.assert_array_equal(
        _numpy(layer.compute_mask(x, mask)), [[True, True, False]]
    )
    assert layer.compute_output_shape((None, 5, 2)) == (None, 3, 4)


def test_step_patches_reject_a_patch_size_below_one():
    with pytest.raises(ValueError, match="received patch_size=0"):
        StepPatches(0)


def test_position_embedding_adds_one_row_per_step_and_keeps_the_mask():
    layer = PositionEmbedding(6)
    x = np.zeros((2, 4, 3), "float32")
    out = _numpy(layer(x))
    table = _numpy(layer.position_embeddings)
    np.testing.assert_allclose(out[0], table[:4])
    mask = np.array([[True, False, True, True]] * 2)
    np.testing.assert_array_equal(_numpy(layer.compute_mask(x, mask)), mask)


def test_layers_round_trip_through_their_config():
    for layer in [MaskNaN(emit_mask=False), StepPatches(4), PositionEmbedding(9)]:
        config = keras.saving.serialize_keras_object(layer)
        clone = keras.saving.deserialize_keras_object(config)
        assert type(clone) is type(layer)
        assert clone.get_config() == layer.get_config()


@pytest.mark.parametrize(
    ("steps", "choices", "default"),
    [(12, [1, 2], 1), (150, [1, 2, 4, 8, 16], 4), (2000, [4, 8, 16, 32], 32)],
)
def test_sequence_patch_size_keeps_default_runs_short(steps, choices, default):
    hp = kt.HyperParameters()
    assert choose_sequence_patch_size(hp, "f/patch_size", steps) == default
    assert hp.space[0].values == choices


@pytest.mark.parametrize(
    ("side", "choices", "default"),
    [(8, [2, 4], 2), (32, [2, 4, 8, 16], 4), (28, [2, 4], 4), (7, [1], 1)],
)
def test_image_patch_size_divides_the_image(side, choices, default):
    hp = kt.HyperParameters()
    assert choose_image_patch_size(hp, "f/patch_size", side, side) == default
    assert hp.space[0].values == choices
