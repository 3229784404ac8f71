"""Every registered family builds, trains, saves and reloads on every kind.

A family runs on the kinds its `CAPABILITIES.kinds` declares (the others are
skipped); one declaring `raw_text` gets raw strings and a text spec with
n-gram vocabularies instead of token ids. The specs and batches are
`tests.model_builders.sampling`'s; `test_search_space.py` trains sampled
configurations of each family, where these tests use its defaults.
"""

import keras
import keras_tuner as kt
import numpy as np
import pytest

from model_builders import BUILDERS, InputSpec
from tasks.tuning.hypermodel import compile_model
from tests.model_builders.sampling import (
    KINDS,
    batch_for,
    nan_padded_sequences,
    spec_for,
    supported_kinds,
)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_family_trains_one_step_on_every_kind(family, kind):
    spec = spec_for(family, kind)
    model = BUILDERS[family](kt.HyperParameters(), spec, 3)
    assert model.output_shape == (None, 3)
    compile_model(model, learning_rate=1e-3)
    # Tracing a train step takes 4-10 s per model on two cores; the graph
    # path is covered once per family by the padded-sequence test below.
    model.run_eagerly = True
    rng = np.random.default_rng(0)
    x = batch_for(family, spec, rng)
    y = keras.utils.to_categorical(rng.integers(0, 3, 16), 3)
    history = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    probabilities = model.predict(x, verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_family_trains_on_nan_padded_sequences(family):
    spec = spec_for(family, "sequence")
    rng = np.random.default_rng(0)
    x = nan_padded_sequences(rng)
    y = keras.utils.to_categorical(rng.integers(0, 3, 16), 3)
    model = BUILDERS[family](kt.HyperParameters(), spec, 3)
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
    spec = spec_for(family, kind)
    model = BUILDERS[family](kt.HyperParameters(), spec, 3)
    rng = np.random.default_rng(0)
    padded = kind == "sequence"
    x = nan_padded_sequences(rng) if padded else batch_for(family, spec, rng)
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
    digits = spec_for(family, "image")
    model = BUILDERS[family](kt.HyperParameters(), digits, 10)
    assert model.count_params() < 500_000


@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_hyperparameters_are_scoped_by_family(family):
    for kind in supported_kinds(family):
        spec = spec_for(family, kind)
        hp = kt.HyperParameters()
        BUILDERS[family](hp, spec, 3)
        assert hp.space and all(p.name.startswith(f"{family}/") for p in hp.space)


def test_input_spec_rejects_a_wrong_rank():
    with pytest.raises(ValueError, match="expected 3 dimensions"):
        InputSpec(kind="image", shape=(8, 8))
    with pytest.raises(ValueError, match="vocab_size"):
        InputSpec(kind="text", shape=(10,))
