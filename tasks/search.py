"""Search stage: Keras Tuner over the model families.

Trials are built, compiled and fitted by `tasks.tuning.hypermodel`; the tuner
(budget, progress, resume, distributed parts) is `tasks.tuning.tuner`'s.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import keras
import keras_tuner as kt

from model_builders import BUILDERS, capabilities
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
from tasks.tuning.ensemble import ensemble_model
from tasks.tuning.hypermodel import PipelineHyperModel
from tasks.tuning.ranking import ranked_trials, read_fold_scores
from tasks.tuning.recipe import plan_recipe
from tasks.tuning.refit import Publishing, choose_members
from tasks.tuning.tuner import PipelineTuner, TrialSettings, frozen_gc

logger = logging.getLogger(__name__)

# Without other instructions: the best trial's checkpoint, as it was validated.
PUBLISH_BEST = Publishing()


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
    plan: dict = field(default_factory=dict)
    refit: dict = field(default_factory=dict)
    ensemble: list[dict] = field(default_factory=list)
    families: list[str] = field(default_factory=list)
    recipe: dict = field(default_factory=dict)


def run_search(
    datasets: Datasets,
    preprocessing: Preprocessing,
    num_classes: int,
    tuner_dir: str | Path,
    tensorboard_dir: str | Path,
    families: list[str] = ("cnn",),
    tuner: str = "bayesian",
    max_trials: int | None = 20,
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
    folds: Sequence[Datasets] = (),
    publishing: Publishing = PUBLISH_BEST,
    plan: dict | None = None,
    train_labels: Sequence[int] | None = None,
) -> SearchResult | None:
    """Search the families' hyperparameters; return the best model found.

    Args:
        datasets: train and validation pipelines (the test split never enters).
        preprocessing, num_classes: the fitted preprocessing inside every
            model; the number of classes.
        tuner_dir, tensorboard_dir: Keras Tuner's project; per-trial logs.
        families, tuner, objective: as in the config's `search` section.
        max_trials: at most this many trials; None: what the budget allows.
        epochs, patience: per trial; early stopping after `patience` epochs.
        time_budget_minutes: no trial starts past it; a running one stops.
        seed: seeds sampling, weights and refits. batch_size: unused.
        xla, precision, steps_per_execution, strategy, backup_seconds: as the
            config's `train` section (`flows.config_sections.TrainConfig`).
        distributed: this process's part in a distributed search (a worker
            returns None: the chief keeps the results); None: alone.
        folds: k-fold pipelines (a trial scores its mean); empty: holdout.
        publishing: what is published (`tasks.tuning.refit.Publishing`).
        plan: how the search was sized (`tasks.tuning.plan`), for the record.
        train_labels: the labels trials train on, for class weights (`recipe`).

    Raises:
        ConfigError: an unknown family or tuner.
        SearchError: no trial produced a score.
    """
    _check_choices(families, tuner, preprocessing.kind)
    policy = resolve_precision(precision)
    keras.utils.set_random_seed(seed)  # weights, dropout, shuffles: repeatable runs
    recipe = plan_recipe(datasets, folds, epochs, train_labels, num_classes, objective)
    hypermodel = PipelineHyperModel(
        preprocessing, num_classes, families, xla, steps_per_execution, policy, recipe
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
            TrialSettings(
                epochs, backup_seconds, tuple(folds), publishing.ensemble_size
            ),
            distribution_strategy(strategy),
            distributed,
        )
        result = _search(search_tuner, datasets, epochs, objective)
        if result is None:
            return None
        result = _publishable(search_tuner, result, publishing, seed)
    return replace(result, plan=dict(plan or {}))


def _train(hypermodel: PipelineHyperModel) -> dict:
    """How the trials trained: device, precision, XLA per family, steps."""
    xla = {f: resolve_xla(hypermodel.xla, f) for f in hypermodel.families}
    return {
        "device": device_name(),
        "precision_policy": hypermodel.dtype_policy,
        "xla": xla,
        "steps_per_execution": hypermodel.steps_per_execution,
    }


def _check_choices(families: list[str], tuner: str, kind: str) -> None:
    unknown = [f for f in families if f not in BUILDERS]
    if unknown:
        raise ConfigError(
            f"search.families received {unknown}; expected names from "
            f"{sorted(BUILDERS)}. Fix search.families in the config."
        )
    unfit = [f for f in families if kind not in capabilities(f).kinds]
    if unfit:
        fitting = [f for f in BUILDERS if kind in capabilities(f).kinds]
        raise ConfigError(
            f"search.families received {unfit} for {kind} data, which they "
            f"cannot read; expected families for {kind} data: {fitting}. Fix "
            "search.families in the config, or leave it out for the defaults."
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
        best = ranked_trials(search_tuner)[0]
    hypermodel = search_tuner.hypermodel
    return SearchResult(
        model=None,
        hyperparameters=dict(best.hyperparameters.values),
        best_score=float(best.score),
        objective=objective,
        leaderboard=_leaderboard(search_tuner),
        seconds=search_tuner.budget.elapsed(),
        stopped_by_budget=search_tuner.stopped_by_budget,
        train=_train(hypermodel),
        families=list(hypermodel.families),
        recipe=hypermodel.recipe.to_dict(),
    )


def _publishable(
    search_tuner: PipelineTuner,
    result: SearchResult,
    publishing: Publishing,
    seed: int,
) -> SearchResult:
    """`result` with the model to publish: the best trial, or the best few
    averaged, refit or as searched (`publishing`)."""
    ranked = ranked_trials(search_tuner)
    with warnings.catch_warnings(), frozen_gc():
        warnings.filterwarnings("ignore", message=".*Skipping variable loading.*")
        members = choose_members(search_tuner, ranked, publishing, seed)
        with strategy_scope(search_tuner.distribution_strategy):
            model = ensemble_model(members.models)
            # Build the optimizer's slots so the saved model reloads without
            # a "skipping optimizer variables" warning.
            model.optimizer.build(model.trainable_variables)
    return replace(result, model=model, refit=members.refit, ensemble=members.described)


def _leaderboard(search_tuner: kt.Tuner) -> list[dict]:
    """Every trial, best first as the search ranks them (`ranked_trials`)."""
    order = {t.trial_id: i for i, t in enumerate(ranked_trials(search_tuner))}
    rows = []
    for trial_id, trial in search_tuner.oracle.trials.items():
        values = dict(trial.hyperparameters.values)
        folds = read_fold_scores(search_tuner.get_trial_dir(trial_id))
        rows.append(
            {
                "trial": trial_id,
                "family": values.pop("family", None),
                "status": trial.status,
                "score": trial.score,
                "score_std": round(folds.spread, 4) if folds else None,
                "fold_scores": [round(v, 4) for v in folds.scores] if folds else [],
                "val_loss": _finite(folds.val_loss) if folds else None,
                "best_epoch": trial.best_step,
                "seconds": round(search_tuner.trial_seconds.get(trial_id, 0.0), 2),
                "hyperparameters": values,
            }
        )
    rows.sort(key=lambda r: order.get(r["trial"], len(order)))
    return rows


def _finite(value: float) -> float | None:
    return round(value, 4) if math.isfinite(value) else None


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
