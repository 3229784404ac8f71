"""Patch-size choices: bounded tokens for long inputs, unchanged for short ones."""

import keras
import keras_tuner as kt
import pytest

from model_builders import BUILDERS, InputSpec
from model_builders.layers import PositionEmbedding, StepPatches
from model_builders.stems import (
    MAX_DEFAULT_STEPS,
    MAX_RECURRENT_STEPS,
    MAX_TOKENS,
    choose_image_patch_size,
    choose_sequence_patch_size,
)

LENGTHS = [12, 427, 1460, 14600, 146000]


def _sequence_choices(steps: int, **kwargs) -> tuple[list[int], int]:
    hp = kt.HyperParameters()
    default = choose_sequence_patch_size(hp, "p", steps, **kwargs)
    return list(hp.get_config()["space"][0]["config"]["values"]), default


def _image_choices(height: int, width: int) -> tuple[list[int], int]:
    hp = kt.HyperParameters()
    default = choose_image_patch_size(hp, "p", height, width)
    return list(hp.get_config()["space"][0]["config"]["values"]), default


def _tokens(steps: int, patch_size: int) -> int:
    return -(-steps // patch_size)


@pytest.mark.parametrize("max_tokens", [MAX_TOKENS, 100, 8])
@pytest.mark.parametrize("steps", LENGTHS)
def test_every_sequence_choice_is_bounded(steps, max_tokens):
    choices, default = _sequence_choices(steps, max_tokens=max_tokens)
    assert default in choices
    for patch_size in choices:
        assert 1 <= _tokens(steps, patch_size) <= max_tokens
        assert patch_size == 1 or _tokens(steps, patch_size) >= 4
    assert _tokens(steps, default) <= MAX_DEFAULT_STEPS


@pytest.mark.parametrize(
    "steps, choices, default",
    [
        (3, [1], 1),
        (12, [1, 2], 1),
        (427, [1, 2, 4, 8, 16], 8),  # as before the bound
        (1024, [2, 4, 8, 16], 16),  # patch 1 would leave 1,024 tokens
        (1460, [4, 8, 16, 32], 32),
        (14600, [32, 64, 128, 256], 256),
        (146000, [512, 1024, 2048, 4096], 4096),
    ],
)
def test_sequence_choices(steps, choices, default):
    assert _sequence_choices(steps) == (choices, default)


def test_a_tiny_bound_still_leaves_one_choice():
    assert _sequence_choices(1025, max_tokens=1) == ([2048], 2048)
    with pytest.raises(ValueError, match="received 0"):
        _sequence_choices(12, max_tokens=0)


@pytest.mark.parametrize(
    "shape, choices, default",
    [
        ((8, 8), [2, 4], 2),  # as before the bound
        ((5, 5), [1], 1),
        ((28, 28), [2, 4], 4),
        ((224, 224), [16, 32], 32),
        ((97, 97), [8], 8),  # no divisor: the edge pixel is dropped
        ((1000, 1000), [64], 64),
    ],
)
def test_image_choices_are_bounded(shape, choices, default):
    assert _image_choices(*shape) == (choices, default)
    for patch_size in choices:
        assert 1 <= (shape[0] // patch_size) * (shape[1] // patch_size) <= MAX_TOKENS


def test_a_transformer_on_a_long_series_sees_at_most_max_tokens():
    spec = InputSpec(kind="sequence", shape=(14600, 1))
    for patch_size in _sequence_choices(14600)[0]:
        hp = kt.HyperParameters()
        hp.Fixed("transformer/patch_size", patch_size)
        model = BUILDERS["transformer"](hp, spec, num_classes=2)
        (position,) = [
            layer for layer in model.layers if isinstance(layer, PositionEmbedding)
        ]
        assert position.sequence_length == _tokens(14600, patch_size) <= MAX_TOKENS
        keras.backend.clear_session()


def test_an_lstm_on_a_long_series_sees_at_most_max_recurrent_steps():
    spec = InputSpec(kind="sequence", shape=(14600, 1))
    choices, _ = _sequence_choices(14600, max_tokens=MAX_RECURRENT_STEPS)
    for patch_size in choices:
        hp = kt.HyperParameters()
        hp.Fixed("lstm/patch_size", patch_size)
        model = BUILDERS["lstm"](hp, spec, num_classes=2)
        (patches,) = [layer for layer in model.layers if isinstance(layer, StepPatches)]
        assert patches.output.shape[1] <= MAX_RECURRENT_STEPS
        keras.backend.clear_session()
