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


# The hyperparameter naming a trial's model family (`PipelineHyperModel`).
FAMILY = "family"


class DefaultsFirst:
    """Mixed into an oracle: the first trials run each family's defaults.

    Keras Tuner's random and Bayesian oracles sample the first trials at
    random; the families' defaults are their strong, published settings, so
    trial 1 runs the first family's defaults, trial 2 the second's, and so on
    (a family's own hyperparameters, unknown to the oracle until its first
    build, take their defaults there), and a search that affords one trial
    per family compares their best-known settings.
    """

    def populate_space(self, trial_id):
        done = len(self.trials)
        family = next(
            (hp for hp in self.hyperparameters.space if hp.name == FAMILY), None
        )
        families = list(family.values) if family is not None else [None]
        if done >= len(families) or self.budget.expired():
            return super().populate_space(trial_id)
        defaults = kt.HyperParameters()
        for hp in self.hyperparameters.space:
            defaults.merge([hp])
            if defaults.is_active(hp):
                value = families[done] if hp.name == FAMILY else hp.default
                defaults.values[hp.name] = value
        return {"status": TrialStatus.RUNNING, "values": defaults.values}


class RandomSearchOracle(DefaultsFirst, DeadlineOracle, kt.oracles.RandomSearchOracle):
    """Keras Tuner's random search, within the budget."""


class BayesianOptimizationOracle(
    DefaultsFirst, DeadlineOracle, kt.oracles.BayesianOptimizationOracle
):
    """Keras Tuner's Bayesian optimization, within the budget.

    Keras Tuner samples at random until `3 x (number of hyperparameters)`
    trials have completed: a budget that fits a dozen trials would never
    leave the random phase. Unless `num_initial_points` is given, this oracle
    ends it after about a third of the trials the budget is expected to fit
    (the budget over the mean time of the trials so far), and at least 2.
    """

    @property
    def num_initial_points(self) -> int | None:
        if self.configured_initial_points:
            return self.configured_initial_points
        done = sum(t.status == "COMPLETED" for t in self.trials.values())
        ceiling = max(3 * len(self.hyperparameters.space), 3)
        if not done or not self.budget.used():
            return ceiling
        expected = self.budget.seconds / (self.budget.used() / done)
        return int(min(ceiling, max(2, expected // 3)))

    @num_initial_points.setter
    def num_initial_points(self, value: int | None) -> None:
        # Keras Tuner's constructor and `set_state` assign the configured value.
        self.configured_initial_points = value

    def get_state(self):
        # The configured value, not today's estimate: a resumed search adapts.
        state = super().get_state()
        state["num_initial_points"] = self.configured_initial_points
        return state


class HyperbandOracle(DeadlineOracle, kt.oracles.HyperbandOracle):
    """Keras Tuner's Hyperband brackets, within the budget."""


TUNERS = ("random", "bayesian", "hyperband")


def make_oracle(
    tuner: str,
    budget: SearchBudget,
    objective: kt.Objective,
    max_trials: int | None,
    epochs: int,
    seed: int,
) -> DeadlineOracle:
    """The oracle for `search.tuner`, keeping `budget`.

    Hyperband sizes itself by `epochs` (brackets of factor 3); the others try
    at most `max_trials` trials, or, with None, as many as the budget allows.

    Raises:
        ConfigError: an unknown tuner.
    """
    common = dict(
        objective=objective,
        seed=seed,
        max_consecutive_failed_trials=max(3, max_trials or 3),
        budget=budget,
    )
    if tuner == "random":
        return RandomSearchOracle(max_trials=max_trials, **common)
    if tuner == "bayesian":
        return BayesianOptimizationOracle(max_trials=max_trials, **common)
    if tuner == "hyperband":
        return HyperbandOracle(max_epochs=epochs, factor=3, **common)
    raise ConfigError(f"search.tuner received {tuner!r}; expected {list(TUNERS)}.")
