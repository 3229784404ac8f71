"""Every family trains the configurations a search would try, not only defaults.

For each registered family and each kind it declares, seeded samples of its
search space (conditional scopes honoured, none of them the defaults) build,
compile and train one step. `make test` trains one configuration per family
and kind; `make test-slow` three more.
"""

import functools

import keras
import numpy as np
import pytest

from model_builders import BUILDERS
from tasks.tuning.hypermodel import compile_model
from tests.model_builders.sampling import (
    active_values,
    batch_for,
    default_configuration,
    draw_configuration,
    hyperparameters_with,
    nan_padded_sequences,
    sample_configurations,
    spec_for,
    supported_kinds,
)

FAST_SAMPLES = 1
SLOW_SAMPLES = 4
CASES = [
    pytest.param(
        family,
        kind,
        index,
        id=f"{family}-{kind}-{index}",
        marks=[pytest.mark.slow] if index >= FAST_SAMPLES else [],
    )
    for family in sorted(BUILDERS)
    for kind in supported_kinds(family)
    for index in range(SLOW_SAMPLES)
]


@functools.cache
def _sample(family: str, kind: str, count: int) -> tuple[dict, ...]:
    spec = spec_for(family, kind)
    key = f"{family}/{kind}"
    return tuple(sample_configurations(BUILDERS[family], spec, count, key))


@functools.cache
def _defaults(family: str, kind: str) -> dict:
    return default_configuration(BUILDERS[family], spec_for(family, kind))


def _configuration(family: str, kind: str, index: int) -> dict:
    # The first FAST_SAMPLES of the larger sample are the small sample, so
    # the slow run samples each family and kind once.
    count = FAST_SAMPLES if index < FAST_SAMPLES else SLOW_SAMPLES
    return _sample(family, kind, count)[index]


@pytest.mark.parametrize(("family", "kind", "index"), CASES)
def test_sampled_configuration_trains_one_step(family, kind, index):
    spec = spec_for(family, kind)
    configuration = _configuration(family, kind, index)
    # The sampler skips the defaults; checked here so this test can never
    # quietly fall back to what test_builders.py already trains.
    assert configuration != _defaults(family, kind), f"{family}/{kind}: defaults"
    try:
        hp = hyperparameters_with(configuration)
        model = BUILDERS[family](hp, spec, 3)
        assert active_values(hp) == configuration
        compile_model(model, learning_rate=1e-3)
        model.run_eagerly = True  # tracing would cost seconds per model
        rng = np.random.default_rng(0)
        padded = kind == "sequence"
        x = nan_padded_sequences(rng) if padded else batch_for(family, spec, rng)
        y = keras.utils.to_categorical(rng.integers(0, 3, len(x)), 3)
        history = model.fit(x, y, batch_size=len(x), epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])
        probabilities = model.predict(x, verbose=0)
        assert np.isfinite(probabilities).all()
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    except Exception as error:
        # Names the failing configuration precisely, for the family's owner.
        error.add_note(f"{family} on {kind}, sampled configuration {configuration}")
        raise


def _toy_build(hp, input_spec, num_classes):
    """A space with a conditional child, built without Keras."""
    shape = hp.Choice("toy/shape", ["wide", "deep"], default="wide")
    with hp.conditional_scope("toy/shape", ["deep"]):
        if shape == "deep":
            hp.Int("toy/depth", 2, 5, default=2)
    hp.Float("toy/rate", 0.0, 0.5, step=0.1, default=0.0)


def _fixed_build(hp, input_spec, num_classes):
    hp.Choice("fixed/units", [8], default=8)


def test_samples_are_seeded_distinct_and_not_the_defaults():
    spec = spec_for("cnn", "image")
    first = sample_configurations(_toy_build, spec, 6, key="toy")
    assert first == sample_configurations(_toy_build, spec, 6, key="toy")
    assert first[:2] == sample_configurations(_toy_build, spec, 2, key="toy")
    assert first != sample_configurations(_toy_build, spec, 6, key="other")
    defaults = default_configuration(_toy_build, spec)
    assert defaults == {"toy/shape": "wide", "toy/rate": 0.0}
    assert all(c != defaults for c in first)
    assert len({tuple(sorted(c.items())) for c in first}) == len(first)


def test_samples_honour_conditional_scopes():
    spec = spec_for("cnn", "image")
    sample = sample_configurations(_toy_build, spec, 8, key="toy")
    for configuration in sample:
        deep = configuration["toy/shape"] == "deep"
        assert ("toy/depth" in configuration) == deep
        assert 0.0 <= configuration["toy/rate"] <= 0.5
    assert {c["toy/shape"] for c in sample} == {"wide", "deep"}


def test_a_drawn_conditional_child_is_drawn_too():
    # Under a parent drawn away from its default, the child appears only in
    # the rebuild; it must get a drawn value, not the default its build gives.
    spec = spec_for("cnn", "sequence")
    depths = set()
    for seed in range(12):
        drawn = draw_configuration(_toy_build, spec, np.random.default_rng(seed))
        depths.add(drawn.get("toy/depth"))
    assert depths - {None, 2}


def test_a_space_of_only_defaults_is_rejected():
    spec = spec_for("cnn", "image")
    with pytest.raises(ValueError, match="only 0 configuration"):
        sample_configurations(_fixed_build, spec, 1, key="fixed")
