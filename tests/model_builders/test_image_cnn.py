"""The CNN body on images and token ids: block types, pooling, parameter budget."""

import keras
import keras_tuner as kt
import numpy as np
import pytest

from model_builders import InputSpec
from model_builders.cnn import build
from model_builders.image_cnn import MAX_PARAMETERS, image_features
from tasks.tuning.hypermodel import compile_model

DIGITS = InputSpec(kind="image", shape=(8, 8, 1))
TOKENS = InputSpec(kind="text", shape=(10,), vocab_size=50)
PHOTO = InputSpec(kind="image", shape=(224, 224, 3))
BLOCKS = ["plain", "residual", "separable"]
POOLINGS = ["avg", "max", "flatten"]


def _hp(**values) -> kt.HyperParameters:
    hp = kt.HyperParameters()
    for name, value in values.items():
        hp.Fixed(f"cnn/{name}", value)
    return hp


def _layer_types(model: keras.Model) -> set[str]:
    return {type(layer).__name__ for layer in model.layers}


def _body_parameters(hp: kt.HyperParameters, spec: InputSpec) -> int:
    """Weights of the body alone, without the classifier `cnn.build` adds."""
    inputs = keras.Input(shape=spec.shape)
    return keras.Model(inputs, image_features(hp, inputs, spec)).count_params()


# Each block type with the default pooling in `make test`; the other
# poolings under `make test-slow` (a traced model each, ~3 s on 2 cores).
@pytest.mark.parametrize(
    "pooling",
    [p if p == "avg" else pytest.param(p, marks=pytest.mark.slow) for p in POOLINGS],
)
@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("spec", [DIGITS, TOKENS], ids=["image", "text"])
def test_every_block_and_pooling_trains_one_step(spec, block, pooling):
    hp = _hp(block=block, pooling=pooling, filters=16, dense_units=64)
    model = build(hp, spec, 3)
    # Both tiny inputs end on a map of at most 4 positions, so "flatten" stays.
    expected = {"avg": "GlobalAveragePooling", "max": "GlobalMaxPooling"}
    pool_layer = expected.get(pooling, "Flatten")
    assert any(name.startswith(pool_layer) for name in _layer_types(model))
    compile_model(model, learning_rate=1e-3)
    model.run_eagerly = True
    rng = np.random.default_rng(0)
    if spec.kind == "text":
        x = rng.integers(0, spec.vocab_size, size=(8, *spec.shape))
    else:
        x = rng.normal(size=(8, *spec.shape)).astype("float32")
    y = keras.utils.to_categorical(rng.integers(0, 3, 8), 3)
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_block_types_use_their_layers():
    residual = build(_hp(block="residual", num_blocks=2), DIGITS, 3)
    separable = build(_hp(block="separable", num_blocks=2), DIGITS, 3)
    assert sum(isinstance(layer, keras.layers.Add) for layer in residual.layers) == 2
    assert "SeparableConv2D" in _layer_types(separable)


def test_defaults_are_plain_blocks_and_average_pooling():
    hp = kt.HyperParameters()
    build(hp, DIGITS, 3)
    assert hp.get("cnn/block") == "plain"
    assert hp.get("cnn/pooling") == "avg"


def test_default_model_on_a_224_image_is_within_the_budget():
    model = build(kt.HyperParameters(), PHOTO, 10)
    assert model.count_params() < MAX_PARAMETERS


def test_flatten_falls_back_to_average_pooling_on_a_large_map():
    # 64x64 -> stem to 32x32 -> one block, pooled to 16x16 = 256 positions.
    spec = InputSpec(kind="image", shape=(64, 64, 1))
    model = build(_hp(pooling="flatten", num_blocks=1, filters=16), spec, 3)
    assert "Flatten" not in _layer_types(model)
    assert "GlobalAveragePooling2D" in _layer_types(model)


@pytest.mark.parametrize("block", BLOCKS)
def test_an_over_budget_configuration_is_shrunk_to_fit(block):
    biggest = _hp(
        block=block,
        pooling="flatten",
        num_blocks=3,
        filters=64,
        kernel_size=5,
        dense_units=256,
    )
    # As sampled, the plain and residual bodies have about 3.9M weights and
    # are shrunk (flatten dropped first); the separable one has 0.8M and stays.
    assert _body_parameters(biggest, PHOTO) <= MAX_PARAMETERS
    model = build(biggest, PHOTO, 10)
    assert model.count_params() < MAX_PARAMETERS
    assert ("Flatten" in _layer_types(model)) == (block == "separable")


def test_a_body_that_cannot_fit_fails_the_trial():
    # 30,000 channels: even 8 filters of 3x3 need 2.16M weights.
    spec = InputSpec(kind="image", shape=(1, 1, 30_000))
    hp = _hp(num_blocks=1, filters=16)
    with pytest.raises(kt.errors.FailedTrialError, match="even with 8 filters"):
        build(hp, spec, 3)


@pytest.mark.parametrize("block", ["residual", "separable"])
def test_block_types_reload_in_safe_mode(block, tmp_path):
    model = build(_hp(block=block, filters=16), DIGITS, 3)
    x = np.random.default_rng(0).normal(size=(4, 8, 8, 1)).astype("float32")
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(reloaded(x)),
        keras.ops.convert_to_numpy(model(x)),
        rtol=1e-6,
        atol=1e-6,
    )
