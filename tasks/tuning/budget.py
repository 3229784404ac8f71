"""The search's time budget and the oracles that keep it.

The budget starts when the search starts, counting the seconds an earlier,
interrupted search of the same folder already used. Past its deadline the
oracle hands out no new trial (its `populate_space` answers `STOPPED`, Keras
Tuner's documented way to end a search), and a running trial stops at its
next epoch end (`tasks.tuning.callbacks.Deadline`): the search ends at most
one epoch past the budget.
"""

from __future__ import annotations

import time

import keras_tuner as kt
from keras_tuner.engine.trial import TrialStatus

from tasks.errors import ConfigError


class SearchBudget:
    """Wall-clock seconds a search may use; `expired` once they are spent.

    Args:
        seconds: the whole budget, over every run of this search.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.used_before = 0.0
        self.started: float | None = None
        self.deadline = float("inf")
        self.ran_out = False

    def start(self, used_before: float = 0.0) -> None:
        """Start the clock; `used_before` seconds were spent by earlier runs."""
        self.used_before = used_before
        self.started = time.monotonic()
        self.deadline = self.started + self.seconds - used_before
        self.ran_out = False

    def expired(self) -> bool:
        """Whether the deadline has passed; remembered in `ran_out` once seen."""
        if time.monotonic() >= self.deadline:
            self.ran_out = True
        return self.ran_out

    def elapsed(self) -> float:
        """Seconds since `start` (this run only)."""
        return 0.0 if self.started is None else time.monotonic() - self.started

    def used(self) -> float:
        """Seconds spent on this search, earlier runs included."""
        return self.used_before + self.elapsed()


class DeadlineOracle:
    """Mixed into a Keras Tuner oracle: no new trial once the budget is spent."""

    def __init__(self, *args, budget: SearchBudget, **kwargs):
        super().__init__(*args, **kwargs)
        self.budget = budget

    def populate_space(self, trial_id):
        if self.budget.expired():
            return {"status": TrialStatus.STOPPED, "values": None}
        return super().populate_space(trial_id)


class RandomSearchOracle(DeadlineOracle, kt.oracles.RandomSearchOracle):
    """Keras Tuner's random search, within the budget."""


class BayesianOptimizationOracle(DeadlineOracle, kt.oracles.BayesianOptimizationOracle):
    """Keras Tuner's Bayesian optimization, within the budget."""


class HyperbandOracle(DeadlineOracle, kt.oracles.HyperbandOracle):
    """Keras Tuner's Hyperband brackets, within the budget."""


TUNERS = ("random", "bayesian", "hyperband")


def make_oracle(
    tuner: str,
    budget: SearchBudget,
    objective: kt.Objective,
    max_trials: int,
    epochs: int,
    seed: int,
) -> DeadlineOracle:
    """The oracle for `search.tuner`, keeping `budget`.

    Hyperband sizes itself by `epochs` (brackets of factor 3); the others try
    at most `max_trials` trials.

    Raises:
        ConfigError: an unknown tuner.
    """
    common = dict(
        objective=objective,
        seed=seed,
        max_consecutive_failed_trials=max(3, max_trials),
        budget=budget,
    )
    if tuner == "random":
        return RandomSearchOracle(max_trials=max_trials, **common)
    if tuner == "bayesian":
        return BayesianOptimizationOracle(max_trials=max_trials, **common)
    if tuner == "hyperband":
        return HyperbandOracle(max_epochs=epochs, factor=3, **common)
    raise ConfigError(f"search.tuner received {tuner!r}; expected {list(TUNERS)}.")
