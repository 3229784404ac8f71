"""Putting the pipeline tuner together: its oracle, time budget, per-trial
callbacks and role, from the search's settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras_tuner as kt

from tasks.errors import SearchError
from tasks.tuning import callbacks as trial_callbacks
from tasks.tuning.budget import SearchBudget, make_oracle
from tasks.tuning.distributed.role import DistributedSearch
from tasks.tuning.hypermodel import PipelineHyperModel
from tasks.tuning.resume import ResumableEarlyStopping
from tasks.tuning.tuner import PipelineHyperband, PipelineTuner, TrialSettings


@dataclass(frozen=True)
class SearchSettings:
    """The search's own slice of `run_search`'s arguments."""

    tuner: str
    max_trials: int
    epochs: int
    patience: int
    time_budget_minutes: float
    objective: str
    seed: int


def make_tuner(
    hypermodel: PipelineHyperModel,
    tuner_dir: str | Path,
    tensorboard_dir: str | Path,
    settings: SearchSettings,
    trial_settings: TrialSettings,
    strategy,
    distributed: DistributedSearch | None,
) -> PipelineTuner:
    """The one pipeline tuner, with its oracle, budget, callbacks and role.

    Raises:
        ConfigError: an unknown tuner.
        SearchError: the search space could not be built.
    """
    direction = "min" if settings.objective == "val_loss" else "max"
    budget = SearchBudget(settings.time_budget_minutes * 60.0)
    oracle = make_oracle(
        settings.tuner,
        budget,
        kt.Objective(settings.objective, direction=direction),
        settings.max_trials,
        settings.epochs,
        settings.seed,
    )
    callbacks = [
        ResumableEarlyStopping(
            monitor=settings.objective, mode=direction, patience=settings.patience
        ),
        trial_callbacks.FailOnNonFinite(),
        trial_callbacks.TensorBoard(str(tensorboard_dir)),  # per-epoch summaries
    ]
    tuner_class = PipelineHyperband if settings.tuner == "hyperband" else PipelineTuner
    try:
        # Keras Tuner builds one model up front to discover the search space.
        return tuner_class(
            hypermodel,
            oracle,
            budget,
            trial_settings,
            callbacks=callbacks,
            role=distributed,
            directory=str(Path(tuner_dir).parent),
            project_name=Path(tuner_dir).name,
            overwrite=False,
            distribution_strategy=strategy,
        )
    except Exception as exc:
        raise SearchError(
            f"The search space could not be built ({type(exc).__name__}: {exc}). "
            f"Expected every family in {hypermodel.families} to build a model for "
            f"{hypermodel.preprocessing.input_spec}. Check the data shape and the "
            "families, or run with --debug."
        ) from exc
