"""What the builder tests share: tiny specs and batches per kind, and a sampler.

The specs and batches give every family the same tiny data: 8x8x1 images,
12x3 series (half NaN-padded at the end), token ids of length 10 from a
vocabulary of 50, and raw strings for families that declare `raw_text`.

The sampler draws configurations of a family's search space the way a search
would reach them: it builds the family with a `kt.HyperParameters` to find
the active hyperparameters, draws a value for each new one from a seeded NumPy
generator, and rebuilds until no new hyperparameter appears, so a value
chosen for a conditional parent (`cnn/architecture`) brings in its own
children (`cnn/resnet_filters`) and drops the others'.
"""

from __future__ import annotations

import dataclasses
import functools
import zlib
from collections.abc import Callable

import keras_tuner as kt
import numpy as np
import pytest

from model_builders import InputSpec, capabilities
from tasks.preprocess import fit_preprocessing

KINDS = {
    "image": InputSpec(kind="image", shape=(8, 8, 1)),
    "sequence": InputSpec(kind="sequence", shape=(12, 3)),
    "text": InputSpec(kind="text", shape=(10,), vocab_size=50),
}
WORDS = ["free", "prize", "call", "now", "lunch", "at", "noon", "£100", "ok!"]
NUM_EXAMPLES = 16
# Rounds of build-and-draw before giving up: each round adds at least one
# hyperparameter, so only a space nested this deep needs more.
MAX_ROUNDS = 20
# Draws per configuration before the space counts as too small to hold one
# more distinct, non-default configuration.
MAX_ATTEMPTS = 50

Build = Callable[[kt.HyperParameters, InputSpec, int], object]


def texts() -> np.ndarray:
    """16 short strings of 5 words each, with a pound sign and punctuation."""
    rng = np.random.default_rng(0)
    return np.array(
        [" ".join(rng.choice(WORDS, size=5)) for _ in range(NUM_EXAMPLES)], object
    )


def nan_padded_sequences(rng: np.random.Generator) -> np.ndarray:
    """16 series of 12 steps x 3 features; half end in 4 NaN steps of padding."""
    x = rng.normal(size=(NUM_EXAMPLES, 12, 3)).astype("float32")
    x[::2, 8:] = np.nan
    return x


@functools.cache
def raw_text_spec() -> InputSpec:
    """The text spec a `raw_text` family gets: n-gram vocabularies of `texts()`."""
    return fit_preprocessing(texts(), kind="text").input_spec


@functools.cache
def sequence_spec() -> InputSpec:
    """The 12x3 sequence spec, with reference series where the spec has them.

    Families with frozen feature layers (rocket) fit them on
    `reference_series`; the others ignore it.
    """
    spec = KINDS["sequence"]
    if "reference_series" in {field.name for field in dataclasses.fields(spec)}:
        reference = nan_padded_sequences(np.random.default_rng(0))
        spec = dataclasses.replace(spec, reference_series=reference)
    return spec


def supported_kinds(family: str) -> list[str]:
    """The kinds of `KINDS` that `family` declares, sorted."""
    return [kind for kind in sorted(KINDS) if kind in capabilities(family).kinds]


def spec_for(family: str, kind: str) -> InputSpec:
    """The spec `family` gets for `kind`; skips a kind it does not support."""
    if kind not in capabilities(family).kinds:
        pytest.skip(f"{family} supports {capabilities(family).kinds}, not {kind}")
    if kind == "text" and capabilities(family).raw_text:
        return raw_text_spec()
    if kind == "sequence":
        return sequence_spec()
    return KINDS[kind]


def batch_for(family: str, spec: InputSpec, rng: np.random.Generator) -> np.ndarray:
    """16 examples `family` reads for `spec` (series without padding)."""
    if spec.kind == "text" and capabilities(family).raw_text:
        return texts()
    if spec.kind == "text":
        return rng.integers(0, spec.vocab_size, size=(NUM_EXAMPLES, *spec.shape))
    return rng.normal(size=(NUM_EXAMPLES, *spec.shape)).astype("float32")


def hyperparameters_with(values: dict) -> kt.HyperParameters:
    """Hyperparameters that hand `values` to a build, as a search's trial does."""
    hp = kt.HyperParameters()
    hp.values.update(values)
    return hp


def active_values(hp: kt.HyperParameters) -> dict:
    """The values of the hyperparameters a build registered and left active."""
    return {p.name: hp.values[p.name] for p in hp.space if hp.is_active(p)}


def default_configuration(build: Build, spec: InputSpec, num_classes: int = 3):
    """The active hyperparameters of `build` on `spec` with every default."""
    hp = kt.HyperParameters()
    build(hp, spec, num_classes)
    return active_values(hp)


def draw_configuration(
    build: Build, spec: InputSpec, rng: np.random.Generator, num_classes: int = 3
) -> dict:
    """One random configuration of `build`'s space, conditional scopes honoured.

    Args:
        build: a family's `build(hp, input_spec, num_classes)`.
        spec: the spec to build for; some choices depend on its shapes.
        rng: draws one uniform number per hyperparameter, in the order the
            build registers them, so a seeded generator gives one answer.
        num_classes: passed to `build`.

    Returns:
        The active hyperparameters' names and values.

    Raises:
        RuntimeError: the active set still grew after `MAX_ROUNDS` builds.
    """
    drawn: dict = {}
    for _ in range(MAX_ROUNDS):
        hp = hyperparameters_with(drawn)
        build(hp, spec, num_classes)
        new = [p for p in hp.space if hp.is_active(p) and p.name not in drawn]
        if not new:
            return active_values(hp)
        for parameter in new:
            # The same mapping from [0, 1) to a value as Keras Tuner's oracles.
            drawn[parameter.name] = parameter.prob_to_value(float(rng.random()))
    raise RuntimeError(
        f"Sampling received a search space still growing after {MAX_ROUNDS} "
        f"builds (last drawn: {drawn}); expected the active hyperparameters "
        "to settle once every conditional parent has a value. Check that the "
        "build registers each name under one condition."
    )


def sample_configurations(
    build: Build, spec: InputSpec, count: int, key: str, num_classes: int = 3
) -> list[dict]:
    """`count` distinct configurations of `build`'s space, none its defaults.

    Configuration `i` comes from a generator seeded by (`key`, `i`, attempt),
    so the first `n` of a larger sample are the sample of `n`.

    Args:
        build: a family's `build(hp, input_spec, num_classes)`.
        spec: the spec to build for.
        count: how many configurations.
        key: names the sample in the seed, e.g. `"cnn/sequence"`.
        num_classes: passed to `build`.

    Returns:
        The configurations, each a dict of active hyperparameter values.

    Raises:
        ValueError: the space has fewer than `count` configurations besides
            the defaults (after `MAX_ATTEMPTS` draws for one of them).
    """
    seen = [default_configuration(build, spec, num_classes)]
    sample: list[dict] = []
    key_words = zlib.crc32(key.encode())
    for index in range(count):
        for attempt in range(MAX_ATTEMPTS):
            rng = np.random.default_rng([key_words, index, attempt])
            configuration = draw_configuration(build, spec, rng, num_classes)
            if configuration not in seen:
                break
        else:
            raise ValueError(
                f"Sampling {key!r} received a search space with only "
                f"{len(seen) - 1} configuration(s) besides the defaults found in "
                f"{MAX_ATTEMPTS} draws; expected {count}. Ask for fewer, or give "
                "the family more than one value to search."
            )
        seen.append(configuration)
        sample.append(configuration)
    return sample
