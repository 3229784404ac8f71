"""Input stems the sequence families share: how many steps form one patch.

Long series make recurrent and attention trials slow on a CPU, so LSTM and
Transformer may group steps into patches first. The choices depend on the
series length: none leaves more than a maximum number of tokens (patches or
steps), and the default leaves at most `MAX_DEFAULT_STEPS`. Short inputs
(series up to 512 steps, images up to 32x32) keep the choices they had before
the bound, and the default is unchanged up to 1,024 steps or 128x128 pixels;
longer inputs get larger patches, as large as they need.
"""

from __future__ import annotations

import keras_tuner as kt

MAX_DEFAULT_STEPS = 64
# Attention keeps a (batch, heads, tokens, tokens) float32 score tensor per
# layer, batch x heads x tokens^2 x 4 bytes, and training keeps it (and its
# softmax and dropout copies) for the backward pass. At the largest default
# batch (64) and 4 heads: 256 MiB per layer at 512 tokens, 2.0 GiB at 1,460
# (a measured trial with patch size 1 took 69 s and peaked at 8.1 GB) and
# 203 GiB at 14,600. 512 tokens keeps a 3-block trial within a few GiB.
MAX_TOKENS = 512
# An LSTM's cost is linear in steps but sequential: 512 steps per example are
# 512 dependent cell updates per batch, already the slowest part of a trial.
MAX_RECURRENT_STEPS = 512
# The patch sides a short input may choose from; longer inputs add powers of two.
_SEQUENCE_PATCHES = (1, 2, 4, 8, 16)
_IMAGE_PATCHES = (2, 4, 8, 16)


def _steps_after(steps: int, patch_size: int) -> int:
    return -(-steps // patch_size)


def _patches_after(height: int, width: int, patch_size: int) -> int:
    # Conv2D with kernel = stride and "valid" padding drops a partial edge.
    return (height // patch_size) * (width // patch_size)


def _check_max_tokens(max_tokens: int) -> None:
    if max_tokens < 1:
        raise ValueError(
            f"max_tokens must be a positive integer; received {max_tokens}. "
            "Pass the most tokens (patches or steps) the layer should see."
        )


def _smallest_power_of_two(tokens_after, limit: int, largest: int) -> int:
    """The smallest power of two p <= `largest` with tokens_after(p) <= limit."""
    patch_size = 1
    while tokens_after(patch_size) > limit and patch_size * 2 <= largest:
        patch_size *= 2
    return patch_size


def choose_sequence_patch_size(
    hp: kt.HyperParameters, name: str, steps: int, max_tokens: int = MAX_TOKENS
) -> int:
    """Register `name` as the number of steps per patch for a series of `steps`.

    The choices are powers of two that leave at most `max_tokens` patches and
    at least 4 (patch 1 is kept when it fits even if the series is shorter);
    the default is the smallest leaving at most `MAX_DEFAULT_STEPS`, so short
    series are read step by step. The largest choice is 16, or the default
    when a long series needs more.

    Args:
        hp: the trial's hyperparameters.
        name: the hyperparameter's name, e.g. `transformer/patch_size`.
        steps: the series length the model receives.
        max_tokens: the most patches any choice may leave.

    Returns:
        The trial's patch size.

    Raises:
        ValueError: if `max_tokens` is not positive.
    """
    _check_max_tokens(max_tokens)
    target = min(MAX_DEFAULT_STEPS, max_tokens)

    def after(p: int) -> int:
        return _steps_after(steps, p)

    # A patch of at least `steps` leaves one token, so the search always ends.
    whole = 1 << (steps - 1).bit_length()
    largest = max(_SEQUENCE_PATCHES[-1], _smallest_power_of_two(after, target, whole))
    sizes = [2**i for i in range(largest.bit_length())]
    choices = [p for p in sizes if after(p) <= max_tokens and (p == 1 or after(p) >= 4)]
    # Only a `max_tokens` below 8 can leave no choice with 4 patches.
    choices = choices or [_smallest_power_of_two(after, max_tokens, whole)]
    fitting = [p for p in choices if after(p) <= target]
    default = fitting[0] if fitting else choices[-1]
    return hp.Choice(name, choices, default=default)


def choose_image_patch_size(
    hp: kt.HyperParameters,
    name: str,
    height: int,
    width: int,
    max_tokens: int = MAX_TOKENS,
) -> int:
    """Register `name` as the side of a square image patch.

    The choices are powers of two that divide both sides and leave between 4
    and `max_tokens` patches; the default is the smallest leaving at most
    `MAX_DEFAULT_STEPS`. The largest choice is 16, or the default when a large
    image needs more. When no power of two divides both sides, the choice is
    1 if the pixels fit in `max_tokens`, else the smallest power of two that
    leaves at most `max_tokens` patches, dropping the partial patches at the
    bottom and right edges (fewer than the patch side in rows and columns).

    Args:
        hp: the trial's hyperparameters.
        name: the hyperparameter's name, e.g. `transformer/patch_size`.
        height: the image height the model receives.
        width: the image width the model receives.
        max_tokens: the most patches any choice may leave.

    Returns:
        The trial's patch side.

    Raises:
        ValueError: if `max_tokens` is not positive.
    """
    _check_max_tokens(max_tokens)
    target = min(MAX_DEFAULT_STEPS, max_tokens)

    def after(p: int) -> int:
        return _patches_after(height, width, p)

    side = min(height, width)
    largest = max(_IMAGE_PATCHES[-1], _smallest_power_of_two(after, target, side))
    sizes = [2**i for i in range(1, largest.bit_length())]
    choices = [
        p
        for p in sizes
        if height % p == 0 and width % p == 0 and 4 <= after(p) <= max_tokens
    ]
    if not choices:
        # A patch cannot be taller or wider than the image, so only an image
        # thinner than height * width / max_tokens pixels can stay above.
        if height * width <= max_tokens:
            choices = [1]
        else:
            choices = [_smallest_power_of_two(after, max_tokens, side)]
    fitting = [p for p in choices if after(p) <= target]
    default = fitting[0] if fitting else choices[-1]
    return hp.Choice(name, choices, default=default)
