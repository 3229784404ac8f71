"""Every registered family builds, trains, saves and reloads on every kind.

A family runs on the kinds its `CAPABILITIES.kinds` declares (the others are
skipped); one declaring `raw_text` gets raw strings and a text spec with
n-gram vocabularies instead of token ids.
"""

import functools

import keras
import keras_tuner as kt
import numpy as np
import pytest

from model_builders import BUILDERS, InputSpec, capabilities
from tasks.preprocess import fit_preprocessing
from tasks.tuning.hypermodel import compile_model

KINDS = {
    "image": InputSpec(kind="image", shape=(8, 8, 1)),
    "sequence": InputSpec(kind="sequence", shape=(12, 3)),
    "text": InputSpec(kind="text", shape=(10,), vocab_size=50),
}
WORDS = ["free", "prize", "call", "now", "lunch", "at", "noon", "£100", "ok!"]


def _texts() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.array([" ".join(rng.choice(WORDS, size=5)) for _ in range(16)], object)


@functools.cache
def _raw_text_spec() -> InputSpec:
    return fit_preprocessing(_texts(), kind="text").input_spec


def _supported_kinds(family: str) -> list[str]:
    return [kind for kind in sorted(KINDS) if kind in capabilities(family).kinds]


def _spec(family: str, kind: str) -> InputSpec:
    """The spec `family` gets for `kind`; skips a kind it does not support."""
    if kind not in capabilities(family).kinds:
        pytest.skip(f"{family} supports {capabilities(family).kinds}, not {kind}")
    if kind == "text" and capabilities(family).raw_text:
        return _raw_text_spec()
    return KINDS[kind]


def _batch(family: str, spec: InputSpec, rng: np.random.Generator) -> np.ndarray:
    if spec.kind == "text" and capabilities(family).raw_text:
        return _texts()
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
    spec = _spec(family, kind)
    model = BUILDERS[family](kt.HyperParameters(), spec, 3)
    assert model.output_shape == (None, 3)
    compile_model(model, learning_rate=1e-3)
    # Tracing a train step takes 4-10 s per model on two cores; the graph
    # path is covered once per family by the padded-sequence test below.
    model.run_eagerly = True
    rng = np.random.default_rng(0)
    x = _batch(family, spec, rng)
    y = keras.utils.to_categorical(rng.integers(0, 3, 16), 3)
    history = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    probabilities = model.predict(x, verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_family_trains_on_nan_padded_sequences(family):
    _spec(family, "sequence")
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
    spec = _spec(family, kind)
    model = BUILDERS[family](kt.HyperParameters(), spec, 3)
    rng = np.random.default_rng(0)
    padded = kind == "sequence"
    x = _nan_padded_sequences(rng) if padded else _batch(family, spec, rng)
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
    digits = _spec(family, "image")
    model = BUILDERS[family](kt.HyperParameters(), digits, 10)
    assert model.count_params() < 500_000


@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_hyperparameters_are_scoped_by_family(family):
    for kind in _supported_kinds(family):
        spec = _spec(family, kind)
        hp = kt.HyperParameters()
        BUILDERS[family](hp, spec, 3)
        assert hp.space and all(p.name.startswith(f"{family}/") for p in hp.space)


def test_input_spec_rejects_a_wrong_rank():
    with pytest.raises(ValueError, match="expected 3 dimensions"):
        InputSpec(kind="image", shape=(8, 8))
    with pytest.raises(ValueError, match="vocab_size"):
        InputSpec(kind="text", shape=(10,))
