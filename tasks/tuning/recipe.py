"""How every family trains: the optimizer, learning-rate schedule, loss and
class weights, decided in one place.

AdamW with a searched decoupled weight decay; a learning rate searched in a
range that suits the family (`<family>/learning_rate`, scoped so the
Bayesian oracle never mixes one family's rates with another's), held
constant or warmed up linearly and decayed along a cosine over the planned
optimizer steps (Loshchilov & Hutter, SGDR); searched label smoothing; and
balanced class weights when the training labels are imbalanced.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import keras
import keras_tuner as kt
import numpy as np
import tensorflow as tf

from tasks.augment import Datasets

# Recipe decisions are the search's, logged under its name.
logger = logging.getLogger("tasks.search")


@dataclass(frozen=True)
class LearningRateRange:
    """A family's searched learning rates (log-sampled) and its first guess."""

    low: float
    high: float
    default: float


# Each family's published recipe trains with Adam at 1e-3: FCN and ResNet on
# series (Wang et al. 2017; Ismail Fawaz et al. 2019), the n-gram MLP of
# Google's text classification guide, and LSTM classifiers. Transformers
# diverge at high rates without long warm-ups, so their range stops at 3e-3.
FAMILY_LEARNING_RATES = {
    "cnn": LearningRateRange(1e-4, 1e-2, 1e-3),
    "lstm": LearningRateRange(1e-4, 1e-2, 1e-3),
    "ngram": LearningRateRange(1e-4, 1e-2, 1e-3),
    "transformer": LearningRateRange(1e-4, 3e-3, 1e-3),
}
# A family without an entry: Adam's own default inside the common range.
GENERIC_LEARNING_RATE = LearningRateRange(1e-4, 1e-2, 1e-3)

# Keras's AdamW decays by `weight_decay * learning_rate` per step, so useful
# values are near its own default (0.004) and up to 0.1; 1e-4 by default is
# close to plain Adam, which the families were measured with.
WEIGHT_DECAY = (1e-5, 1e-1)
DEFAULT_WEIGHT_DECAY = 1e-4
# Biases and normalisation scales/offsets are not decayed (the usual AdamW
# practice: decaying them only shifts activations).
NOT_DECAYED = ("bias", "gamma", "beta")
SCHEDULES = ("cosine", "constant")
LABEL_SMOOTHING = (0.0, 0.1)
# The warm-up takes this share of the planned steps (at least one step).
WARMUP_FRACTION = 0.05
# Class weights when the largest class has more than this many times the
# examples of the smallest.
IMBALANCE_RATIO = 1.5


@dataclass(frozen=True)
class TrainingChoices:
    """One trial's training hyperparameters, as sampled."""

    learning_rate: float
    weight_decay: float
    lr_schedule: str
    label_smoothing: float


@dataclass(frozen=True)
class ClassBalance:
    """The training labels' class counts and the class weights they call for.

    Attributes:
        counts: examples per class, class 0 first.
        class_weight: Keras's `class_weight` (balanced: n / (k * count_c))
            for every class, or None when the classes are balanced enough.
    """

    counts: tuple[int, ...] = ()
    class_weight: dict[int, float] | None = None

    @property
    def imbalance(self) -> float:
        """Largest class count over the smallest present one (1.0 if none)."""
        present = [c for c in self.counts if c > 0]
        return max(present) / min(present) if present else 1.0

    def to_dict(self) -> dict:
        weights = self.class_weight
        return {
            "used": weights is not None,
            "imbalance": round(self.imbalance, 3),
            "threshold": IMBALANCE_RATIO,
            "counts": list(self.counts),
            "weights": None
            if weights is None
            else {str(c): round(w, 4) for c, w in weights.items()},
        }


@dataclass(frozen=True)
class TrainingRecipe:
    """What the search's data tells every trial's training.

    Attributes:
        training_steps: optimizer steps a trial plans (epochs x batches per
            epoch); None: unknown, every trial keeps a constant rate.
        balance: the training labels' classes and their weights, if any.
        search_label_smoothing: False fixes label smoothing at 0, for a
            `val_loss` objective: a smoothed loss has a higher floor, so
            trials with and without it would not be ranked fairly.
    """

    training_steps: int | None = None
    balance: ClassBalance = field(default_factory=ClassBalance)
    search_label_smoothing: bool = True

    @property
    def class_weight(self) -> dict[int, float] | None:
        """What every trial's and refit's `fit` gets as `class_weight`."""
        return self.balance.class_weight

    def to_dict(self) -> dict:
        return {
            "optimizer": "adamw",
            "training_steps": self.training_steps,
            "warmup_fraction": WARMUP_FRACTION,
            "label_smoothing_searched": self.search_label_smoothing,
            "class_weight": self.balance.to_dict(),
        }


def learning_rate_range(family: str) -> LearningRateRange:
    """`family`'s searched learning rates; the generic range when unlisted."""
    return FAMILY_LEARNING_RATES.get(family, GENERIC_LEARNING_RATE)


def choose_training(
    hp: kt.HyperParameters, family: str, search_label_smoothing: bool = True
) -> TrainingChoices:
    """Register and sample the training hyperparameters for a `family` trial.

    The learning rate is `<family>/learning_rate` inside the `family`
    conditional scope (register `family` first); the rest are shared.
    """
    rates = learning_rate_range(family)
    with hp.conditional_scope("family", [family]):
        learning_rate = hp.Float(
            f"{family}/learning_rate",
            rates.low,
            rates.high,
            sampling="log",
            default=rates.default,
        )
    weight_decay = hp.Float(
        "weight_decay", *WEIGHT_DECAY, sampling="log", default=DEFAULT_WEIGHT_DECAY
    )
    schedule = hp.Choice("lr_schedule", list(SCHEDULES), default=SCHEDULES[0])
    if search_label_smoothing:
        smoothing = hp.Choice("label_smoothing", list(LABEL_SMOOTHING), default=0.0)
    else:
        smoothing = hp.Fixed("label_smoothing", 0.0)
    return TrainingChoices(learning_rate, weight_decay, schedule, smoothing)


def learning_rate_schedule(
    peak: float, training_steps: int | None, schedule: str = "cosine"
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The rate over training: constant, or warm-up then cosine decay to 0.

    The warm-up rises linearly from 0 to `peak` over `WARMUP_FRACTION` of
    `training_steps`; the cosine then decays to 0 at `training_steps`.

    Args:
        peak: the searched learning rate.
        training_steps: planned optimizer steps; None or 0 keeps `peak`.
        schedule: `cosine` or `constant`.

    Raises:
        ValueError: an unknown `schedule`.
    """
    if schedule not in SCHEDULES:
        raise ValueError(
            f"lr_schedule received {schedule!r}; expected one of {list(SCHEDULES)}."
        )
    if schedule == "constant" or not training_steps:
        return peak
    warmup = max(1, round(WARMUP_FRACTION * training_steps))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        decay_steps=max(1, training_steps - warmup),
        alpha=0.0,
        warmup_target=peak,
        warmup_steps=warmup,
    )


def make_optimizer(
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule,
    weight_decay: float = 0.0,
) -> keras.optimizers.AdamW:
    """AdamW (decoupled decay; 0 is plain Adam), biases and norms not decayed."""
    optimizer = keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay)
    optimizer.exclude_from_weight_decay(var_names=list(NOT_DECAYED))
    return optimizer


def make_loss(label_smoothing: float = 0.0) -> keras.losses.Loss:
    """Categorical cross-entropy on one-hot labels, optionally smoothed."""
    return keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)


def class_balance(labels: Sequence[int] | None, num_classes: int) -> ClassBalance:
    """The counts of integer `labels` and, when imbalanced, balanced weights.

    Weights are scikit-learn's "balanced" ones, n / (k * count_c), over the k
    classes present; a class absent from `labels` weighs 1.0. Keras needs a
    weight for every class id up to the largest it meets.

    Raises:
        ValueError: a label outside [0, num_classes).
    """
    if labels is None or len(labels) == 0:
        return ClassBalance()
    labels = np.asarray(labels)
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"class_balance received labels from {labels.min()} to "
            f"{labels.max()}; expected integer class ids in [0, {num_classes}). "
            "Pass the encoded training labels (Splits.y_train)."
        )
    counts = tuple(int(c) for c in np.bincount(labels, minlength=num_classes))
    balance = ClassBalance(counts)
    if balance.imbalance <= IMBALANCE_RATIO:
        return balance
    present = sum(1 for c in counts if c > 0)
    weights = {
        index: len(labels) / (present * count) if count else 1.0
        for index, count in enumerate(counts)
    }
    return ClassBalance(counts, weights)


def planned_steps(train: tf.data.Dataset, epochs: int) -> int | None:
    """`epochs` x the batches in the batched `train`; None when unknown."""
    batches = int(train.cardinality())
    if batches <= 0:  # unknown (-2) or infinite (-1): no schedule to plan
        return None
    return epochs * batches


def plan_recipe(
    datasets: Datasets,
    folds: Sequence[Datasets],
    epochs: int,
    labels: Sequence[int] | None,
    num_classes: int,
    objective: str = "val_f1_macro",
) -> TrainingRecipe:
    """The recipe for a search whose trials fit `datasets` (or each of `folds`).

    Args:
        datasets: the search's batched train and validation pipelines.
        folds: cross-validation's pipelines; a trial trains on each fold's
            (within an example of each other), planned from the first.
        epochs: the most epochs a trial trains.
        labels: the integer labels trials train on; None: no class weights.
        num_classes: the number of classes.
        objective: what ranks trials; `val_loss` fixes label smoothing at 0.
    """
    recipe = TrainingRecipe(
        training_steps=planned_steps((folds[0] if folds else datasets).train, epochs),
        balance=class_balance(labels, num_classes),
        search_label_smoothing=objective != "val_loss",
    )
    if recipe.class_weight is not None:
        logger.info("class counts %s: balanced class weights", recipe.balance.counts)
    return recipe
