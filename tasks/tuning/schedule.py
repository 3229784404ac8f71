"""How long to train, from how much data there is.

A fixed `epochs=10, batch_size=32` undertrains a 40-example set (20 steps in
all) and wastes time on a large one. Here the batch grows with the data and
the epochs aim at a fixed number of optimizer steps, so small sets get
hundreds of epochs and large ones tens. Settings given in the config always
win; `TrainingLength.chosen` says which values came from where, for the
report.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

# Batches under 8 give noisy gradients and slow epochs; over 64 the tiny sets
# this pipeline targets would get a handful of steps per epoch.
MIN_BATCH = 8
MAX_BATCH = 64
# About 16 batches per epoch before the batch grows: enough steps per epoch
# for early stopping to see progress between its checks.
EXAMPLES_PER_BATCH_STEP = 16
# Optimizer steps a run aims at: a few thousand steps train the small
# families here to convergence with Adam at its default learning rate.
TARGET_STEPS = 3000
# At least 10 epochs so early stopping has a curve to read (a set of 20,000
# examples or more gets that: each epoch is thousands of steps already); at
# most 500 so a tiny set does not train for hours (early stopping usually
# ends it sooner).
MIN_EPOCHS = 10
MAX_EPOCHS = 500
# Patience is a tenth of the epochs: long runs tolerate longer plateaus, but
# never fewer than 5 epochs (noise) nor more than 50 (wasted time).
PATIENCE_FRACTION = 10
MIN_PATIENCE = 5
MAX_PATIENCE = 50

CONFIG = "config"
DATA = "data"


@dataclass(frozen=True)
class TrainingLength:
    """Epochs, patience and batch size for one run, and where each came from.

    Attributes:
        epochs: the most epochs a trial trains.
        patience: epochs without improvement before early stopping.
        batch_size: examples per optimizer step.
        chosen: for each of `epochs`, `patience` and `batch_size`, `"config"`
            when it was given explicitly or `"data"` when derived here.
    """

    epochs: int
    patience: int
    batch_size: int
    chosen: dict

    def to_dict(self) -> dict:
        """Plain JSON-ready values, `chosen` included."""
        return asdict(self)


def training_length(
    num_train: int,
    epochs: int | None = None,
    patience: int | None = None,
    batch_size: int | None = None,
) -> TrainingLength:
    """Epochs, patience and batch size for `num_train` training examples.

    Explicit values win. Otherwise the batch size is the power of two nearest
    below `num_train / 16`, within [8, 64]; the epochs reach about
    `TARGET_STEPS` optimizer steps at that batch size (the explicit one if
    given), within [30, 500]; patience is a tenth of the final epochs, within
    [5, 50].

    Args:
        num_train: examples the model trains on.
        epochs: the config's epochs, or None to derive them.
        patience: the config's patience, or None to derive it.
        batch_size: the config's batch size, or None to derive it.

    Returns:
        The chosen `TrainingLength`.

    Raises:
        ValueError: `num_train` is below 1.

    Example:
        >>> training_length(40).epochs
        500
    """
    if num_train < 1:
        raise ValueError(
            f"Cannot size training for num_train={num_train}; expected at least "
            "1 training example. Check that the data loaded and the split left "
            "examples in train."
        )
    chosen = {
        "epochs": DATA if epochs is None else CONFIG,
        "patience": DATA if patience is None else CONFIG,
        "batch_size": DATA if batch_size is None else CONFIG,
    }
    if batch_size is None:
        batch_size = _derived_batch_size(num_train)
    if epochs is None:
        steps_per_epoch = math.ceil(num_train / batch_size)
        epochs = _clip(
            math.ceil(TARGET_STEPS / steps_per_epoch), MIN_EPOCHS, MAX_EPOCHS
        )
    if patience is None:
        patience = _clip(epochs // PATIENCE_FRACTION, MIN_PATIENCE, MAX_PATIENCE)
    return TrainingLength(
        epochs=int(epochs),
        patience=int(patience),
        batch_size=int(batch_size),
        chosen=chosen,
    )


def _derived_batch_size(num_train: int) -> int:
    if num_train < EXAMPLES_PER_BATCH_STEP:
        return MIN_BATCH
    power = math.floor(math.log2(num_train / EXAMPLES_PER_BATCH_STEP))
    return _clip(2**power, MIN_BATCH, MAX_BATCH)


def _clip(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))
