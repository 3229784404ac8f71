"""Input stems the sequence families share: how many steps form one patch.

Long series make recurrent and attention trials slow on a CPU, so LSTM and
Transformer may group steps into patches first. The choices depend on the
series length; the default keeps at most `MAX_DEFAULT_STEPS` steps.
"""

from __future__ import annotations

import keras_tuner as kt

MAX_DEFAULT_STEPS = 64
_SEQUENCE_PATCHES = (1, 2, 4, 8, 16)
_IMAGE_PATCHES = (2, 4, 8, 16)


def _steps_after(steps: int, patch_size: int) -> int:
    return -(-steps // patch_size)


def choose_sequence_patch_size(hp: kt.HyperParameters, name: str, steps: int) -> int:
    """Register `name` as the number of steps per patch for a series of `steps`.

    The choices leave at least 4 patches; the default is the smallest that
    leaves at most `MAX_DEFAULT_STEPS`, so short series are read step by step.
    """
    choices = [p for p in _SEQUENCE_PATCHES if p == 1 or _steps_after(steps, p) >= 4]
    fitting = [p for p in choices if _steps_after(steps, p) <= MAX_DEFAULT_STEPS]
    default = fitting[0] if fitting else choices[-1]
    return hp.Choice(name, choices, default=default)


def choose_image_patch_size(
    hp: kt.HyperParameters, name: str, height: int, width: int
) -> int:
    """Register `name` as the side of a square image patch.

    The choices divide both sides and leave at least 4 patches (1 when none
    does); the default is the smallest leaving at most `MAX_DEFAULT_STEPS`.
    """
    choices = [
        p
        for p in _IMAGE_PATCHES
        if height % p == 0 and width % p == 0 and (height // p) * (width // p) >= 4
    ] or [1]
    fitting = [p for p in choices if (height // p) * (width // p) <= MAX_DEFAULT_STEPS]
    default = fitting[0] if fitting else choices[-1]
    return hp.Choice(name, choices, default=default)
