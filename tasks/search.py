"""Search stage: Keras Tuner over the model families.

Every trial's model comes from `tasks.tuning.hypermodel.PipelineHyperModel` (built
and compiled in one place); the tuner mechanics (budget, progress, resume,
failing trials) are in `tasks.tuning.tuner` and `tasks.tuning.resume`.
"""

from __future__ import annotations

import logging
import time
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
from tasks.tuning import callbacks as trial_callbacks
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
    taking_part,
    tuner_environment,
)
from tasks.tuning.hypermodel import PipelineHyperModel
from tasks.tuning.resume import ResumableEarlyStopping, read_search_clock
from tasks.tuning.tuner import (
    Deadline,
    EpochProgress,
    FailOnNonFinite,
    budgeted,
    frozen_gc,
)

logger = logging.getLogger(__name__)

TUNERS = {
    "random": kt.RandomSearch,
    "bayesian": kt.BayesianOptimization,
    "hyperband": kt.Hyperband,
}


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
        xla: `auto` (on GPU for the CNN and Transformer), `on` or `off`.
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
    unknown = [f for f in families if f not in BUILDERS]
    if unknown:
        raise ConfigError(
            f"search.families received {unknown}; expected names from "
            f"{sorted(BUILDERS)}. Fix search.families in the config."
        )
    if tuner not in TUNERS:
        raise ConfigError(f"search.tuner received {tuner!r}; expected {list(TUNERS)}.")
    policy = resolve_precision(precision)
    keras.utils.set_random_seed(seed)  # weights, dropout, shuffles: repeatable runs
    with precision_policy(policy), tuner_environment(distributed):
        result = _search(
            datasets,
            PipelineHyperModel(
                preprocessing, num_classes, families, xla, steps_per_execution
            ),
            tuner_dir,
            tensorboard_dir,
            tuner,
            max_trials,
            epochs,
            patience,
            time_budget_minutes,
            objective,
            seed,
            strategy,
            backup_seconds,
            distributed,
        )
    if result is None:
        return None
    train = {
        "device": device_name(),
        "precision_policy": policy,
        "xla": {family: resolve_xla(xla, family) for family in families},
        "steps_per_execution": steps_per_execution,
    }
    return replace(result, train=train)


def _search(
    datasets: Datasets,
    hypermodel: PipelineHyperModel,
    tuner_dir: str | Path,
    tensorboard_dir: str | Path,
    tuner: str,
    max_trials: int,
    epochs: int,
    patience: int,
    time_budget_minutes: float,
    objective: str,
    seed: int,
    strategy: str,
    backup_seconds: float,
    distributed: DistributedSearch | None,
) -> SearchResult | None:
    direction = "min" if objective == "val_loss" else "max"
    common = dict(
        objective=kt.Objective(objective, direction=direction),
        seed=seed,
        directory=str(Path(tuner_dir).parent),
        project_name=Path(tuner_dir).name,
        overwrite=False,
        max_consecutive_failed_trials=max(3, max_trials),
        distribution_strategy=distribution_strategy(strategy),
    )
    if tuner == "hyperband":
        sizing = {"max_epochs": epochs, "factor": 3}
    else:
        sizing = {"max_trials": max_trials}
    try:
        # Keras Tuner builds one model up front to discover the search space.
        tuner_class = taking_part(budgeted(TUNERS[tuner]), distributed)
        search_tuner = tuner_class(hypermodel, **sizing, **common)
    except Exception as exc:
        raise SearchError(
            f"The search space could not be built ({type(exc).__name__}: {exc}). "
            f"Expected every family in {hypermodel.families} to build a model for "
            f"{hypermodel.preprocessing.input_spec}. Check the data shape and the "
            "families, or run with --debug."
        ) from exc
    started = time.monotonic()
    # A resumed search (the folder holds an interrupted one's oracle) keeps
    # its finished trials and counts the time it already used.
    resumed = distributed is None and bool(search_tuner.oracle.trials)
    used = read_search_clock(tuner_dir) if resumed else 0.0
    if resumed:
        done = [t for t in search_tuner.oracle.trials.values() if t.status != "RUNNING"]
        logger.info(
            "resuming the search in %s: %d trial(s) done, %.0f s of the budget used",
            tuner_dir,
            len(done),
            used,
        )
    deadline = started + time_budget_minutes * 60.0 - used
    search_tuner.deadline = deadline
    search_tuner.clock_started, search_tuner.clock_before = started, used
    search_tuner.trial_seconds = {}
    search_tuner.kept_checkpoints = set()
    search_tuner.epochs = epochs
    search_tuner.backup_seconds = backup_seconds
    callbacks = [
        ResumableEarlyStopping(monitor=objective, mode=direction, patience=patience),
        FailOnNonFinite(),
        trial_callbacks.TensorBoard(str(tensorboard_dir)),  # per-epoch summaries
        Deadline(deadline),
        EpochProgress(search_tuner, epochs),
    ]
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
                callbacks=callbacks,
                verbose=0,
            )
        except RuntimeError as exc:
            # Keras Tuner gives up after too many consecutive failed trials.
            raise SearchError(_failure_report(search_tuner, str(exc))) from None
        if distributed is not None and distributed.role == "worker":
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
        seconds=time.monotonic() - started,
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
