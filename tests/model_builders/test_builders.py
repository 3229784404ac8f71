"""Every registered family builds, trains, saves and reloads on every kind."""

import keras
import keras_tuner as kt
import numpy as np
import pytest

from model_builders import BUILDERS, InputSpec
from tasks.tuning.hypermodel import compile_model

KINDS = {
    "image": InputSpec(kind="image", shape=(8, 8, 1)),
    "sequence": InputSpec(kind="sequence", shape=(12, 3)),
    "text": InputSpec(kind="text", shape=(10,), vocab_size=50),
}


def _batch(spec: InputSpec, rng: np.random.Generator) -> np.ndarray:
    if spec.kind == "text":
        return rng.integers(0, spec.vocab_size, size=(16, *spec.shape))
    return rng.normal(size=(16, *spec.shape)).astype("float32")


def _nan_padded_sequences(rng: np.random.Generator) -> np.ndarray:
    """16 series of 12 steps x 3 features; half end in 4 NaN steps of padding."""
    x = rng.normal(size=(16, 12, 3)).astype("float32")
    x[::2, 8:] = np.nan
    return x


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_family_trains_one_step_on_every_kind(family, kind):
    spec = KINDS[kind]
    model = BUILDERS[family](kt.HyperParameters(), spec, 3)
    assert model.output_shape == (None, 3)
    compile_model(model, learning_rate=1e-3)
    # Tracing a train step takes 4-10 s per model on two cores; the graph
    # path is covered once per family by the padded-sequence test below.
    model.run_eagerly = True
    rng = np.random.default_rng(0)
    x = _batch(spec, rng)
    y = keras.utils.to_categorical(rng.integers(0, 3, 16), 3)
    history = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    probabilities = model.predict(x, verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_family_trains_on_nan_padded_sequences(family):
    rng = np.random.default_rng(0)
    x = _nan_padded_sequences(rng)
    y = keras.utils.to_categorical(rng.integers(0, 3, 16), 3)
    model = BUILDERS[family](kt.HyperParameters(), KINDS["sequence"], 3)
    compile_model(model, learning_rate=1e-3)
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert all(np.isfinite(w).all() for w in model.get_weights())
    probabilities = model.predict(x, verbose=0)
    assert np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_saved_model_reloads_in_safe_mode(family, kind, tmp_path):
    spec = KINDS[kind]
    model = BUILDERS[family](kt.HyperParameters(), spec, 3)
    rng = np.random.default_rng(0)
    x = _nan_padded_sequences(rng) if kind == "sequence" else _batch(spec, rng)
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(reloaded(x)),
        keras.ops.convert_to_numpy(model(x)),
        rtol=1e-6,
        atol=1e-6,
    )


@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_default_model_is_small_enough_for_cpu_trials(family):
    digits = InputSpec(kind="image", shape=(8, 8, 1))
    model = BUILDERS[family](kt.HyperParameters(), digits, 10)
    assert model.count_params() < 500_000


@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_hyperparameters_are_scoped_by_family(family):
    for spec in KINDS.values():
        hp = kt.HyperParameters()
        BUILDERS[family](hp, spec, 3)
        assert hp.space and all(p.name.startswith(f"{family}/") for p in hp.space)


def test_input_spec_rejects_a_wrong_rank():
    with pytest.raises(ValueError, match="expected 3 dimensions"):
        InputSpec(kind="image", shape=(8, 8))
    with pytest.raises(ValueError, match="vocab_size"):
        InputSpec(kind="text", shape=(10,))
