"""Search stage: Keras Tuner over the model families.

Trials are built, compiled and fitted by `tasks.tuning.hypermodel`; the tuner
(budget, progress, resume, distributed parts) is `tasks.tuning.tuner`'s.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import keras
import keras_tuner as kt

from model_builders import BUILDERS
from tasks.augment import Datasets
from tasks.errors import ConfigError, SearchError
from tasks.preprocess import Preprocessing
from tasks.stage import stage
from tasks.tuning.assembly import SearchSettings, make_tuner
from tasks.tuning.budget import TUNERS
from tasks.tuning.device import (
    device_name,
    precision_policy,
    resolve_precision,
    resolve_xla,
)
from tasks.tuning.distributed.role import (
    DistributedSearch,
    distribution_strategy,
    strategy_scope,
    tuner_environment,
)
from tasks.tuning.hypermodel import PipelineHyperModel
from tasks.tuning.tuner import PipelineTuner, TrialSettings, frozen_gc

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchResult:
    """The best model and what the search did to find it."""

    model: keras.Model
    hyperparameters: dict
    best_score: float
    objective: str
    leaderboard: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    stopped_by_budget: bool = False
    train: dict = field(default_factory=dict)


def run_search(
    datasets: Datasets,
    preprocessing: Preprocessing,
    num_classes: int,
    tuner_dir: str | Path,
    tensorboard_dir: str | Path,
    families: list[str] = ("cnn",),
    tuner: str = "bayesian",
    max_trials: int = 20,
    epochs: int = 20,
    patience: int = 5,
    time_budget_minutes: float = 10.0,
    objective: str = "val_f1_macro",
    seed: int = 0,
    batch_size: int | None = None,
    xla: str = "auto",
    precision: str = "auto",
    steps_per_execution: int = 1,
    strategy: str = "default",
    backup_seconds: float = 30.0,
    distributed: DistributedSearch | None = None,
) -> SearchResult | None:
    """Search the families' hyperparameters; return the best model found.

    Args:
        datasets: train and validation pipelines (the test split never enters).
        preprocessing: fitted preprocessing, placed inside every model.
        num_classes: the number of classes.
        tuner_dir: the Keras Tuner project folder (trials, checkpoints).
        tensorboard_dir: one folder per trial with scalars and HParams.
        families: names in `model_builders.BUILDERS`.
        tuner: `random`, `bayesian` or `hyperband`.
        max_trials: at most this many trials (hyperband sizes itself by epochs).
        epochs: at most this many epochs per trial; early stopping may end sooner.
        patience: epochs without improvement before a trial stops early.
        time_budget_minutes: no new trial starts, and a running one stops at
            its next epoch end, once this much wall time has passed.
        objective: `val_f1_macro`, `val_accuracy` or `val_loss`.
        seed: seeds the tuner's sampling.
        batch_size: unused; the batch size is set by the datasets.
        xla: `auto` (on GPU for the families whose module allows it), `on`
            or `off`.
        precision: `auto` (mixed bfloat16 on GPUs that have it), `float32`,
            `mixed_bfloat16` or `mixed_float16`.
        steps_per_execution: batches per compiled step.
        strategy: `default`, or `mirrored` to build and fit each trial under
            `tf.distribute.MirroredStrategy` (all local GPUs).
        backup_seconds: a running trial backs itself up (the point a resume
            goes on from) at the first epoch end this long after its last
            backup; 0 backs up every epoch.
        distributed: this process's part in a distributed search (see
            `tasks.tuning.distributed.role`); None searches alone. A worker
            returns None: the chief keeps the results.

    Raises:
        ConfigError: an unknown family or tuner.
        SearchError: no trial produced a score.
    """
    _check_choices(families, tuner)
    policy = resolve_precision(precision)
    keras.utils.set_random_seed(seed)  # weights, dropout, shuffles: repeatable runs
    hypermodel = PipelineHyperModel(
        preprocessing, num_classes, families, xla, steps_per_execution, policy
    )
    settings = SearchSettings(
        tuner, max_trials, epochs, patience, time_budget_minutes, objective, seed
    )
    with precision_policy(policy), tuner_environment(distributed):
        search_tuner = make_tuner(
            hypermodel,
            tuner_dir,
            tensorboard_dir,
            settings,
            TrialSettings(epochs=epochs, backup_seconds=backup_seconds),
            distribution_strategy(strategy),
            distributed,
        )
        result = _search(search_tuner, datasets, epochs, objective)
    return None if result is None else replace(result, train=_train(policy, hypermodel))


def _train(policy: str, hypermodel: PipelineHyperModel) -> dict:
    """How the trials trained: device, precision, XLA per family, steps."""
    xla = {f: resolve_xla(hypermodel.xla, f) for f in hypermodel.families}
    return {
        "device": device_name(),
        "precision_policy": policy,
        "xla": xla,
        "steps_per_execution": hypermodel.steps_per_execution,
    }


def _check_choices(families: list[str], tuner: str) -> None:
    unknown = [f for f in families if f not in BUILDERS]
    if unknown:
        raise ConfigError(
            f"search.families received {unknown}; expected names from "
            f"{sorted(BUILDERS)}. Fix search.families in the config."
        )
    if tuner not in TUNERS:
        raise ConfigError(f"search.tuner received {tuner!r}; expected {list(TUNERS)}.")


def _search(
    search_tuner: PipelineTuner, datasets: Datasets, epochs: int, objective: str
) -> SearchResult | None:
    with warnings.catch_warnings(), frozen_gc():
        # Keras warns that tf.data input ignores `shuffle`, and that loading
        # the best checkpoint skips optimizer state: both expected here.
        warnings.filterwarnings("ignore", message=".*shuffle=True.*")
        warnings.filterwarnings("ignore", message=".*Skipping variable loading.*")
        try:
            search_tuner.search(
                datasets.train,
                validation_data=datasets.validation,
                epochs=epochs,
                verbose=0,
            )
        except RuntimeError as exc:
            # Keras Tuner gives up after too many consecutive failed trials.
            raise SearchError(_failure_report(search_tuner, str(exc))) from None
        role = search_tuner.role
        if role is not None and role.role == "worker":
            return None
        best_trials = search_tuner.oracle.get_best_trials(1)
        if not best_trials or best_trials[0].score is None:
            reason = "no trial produced a score"
            raise SearchError(_failure_report(search_tuner, reason))
        best = best_trials[0]
        model = search_tuner.get_best_models(1)[0]
        # Build the optimizer's slots so the saved model reloads without a
        # "skipping optimizer variables" warning.
        with strategy_scope(search_tuner.distribution_strategy):
            model.optimizer.build(model.trainable_variables)
    return SearchResult(
        model=model,
        hyperparameters=dict(best.hyperparameters.values),
        best_score=float(best.score),
        objective=objective,
        leaderboard=_leaderboard(search_tuner),
        seconds=search_tuner.budget.elapsed(),
        stopped_by_budget=search_tuner.stopped_by_budget,
    )


def _leaderboard(search_tuner: kt.Tuner) -> list[dict]:
    rows = []
    for trial_id, trial in search_tuner.oracle.trials.items():
        values = dict(trial.hyperparameters.values)
        rows.append(
            {
                "trial": trial_id,
                "family": values.pop("family", None),
                "status": trial.status,
                "score": trial.score,
                "best_epoch": trial.best_step,
                "seconds": round(search_tuner.trial_seconds.get(trial_id, 0.0), 2),
                "hyperparameters": values,
            }
        )
    direction = search_tuner.oracle.objective.direction
    scored = [r for r in rows if r["score"] is not None]
    scored.sort(key=lambda r: r["score"], reverse=direction == "max")
    return scored + [r for r in rows if r["score"] is None]


def _failure_report(search_tuner: kt.Tuner, reason: str) -> str:
    failures = [
        f"trial {trial_id}: {(trial.message or 'no message').strip().splitlines()[-1]}"
        for trial_id, trial in search_tuner.oracle.trials.items()
        if trial.status == "FAILED"
    ]
    detail = "; ".join(failures[:5]) or "no trial finished"
    return (
        f"The search produced no usable model ({reason}). Failed trials: {detail}. "
        "Check the data shapes and the search space, or run with --debug."
    )


run_search_task = stage("search")(run_search)
