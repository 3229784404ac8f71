"""The published model's members: the best trials, refit or as searched.

Refit (as AutoKeras and AutoGluon do) builds each chosen configuration afresh
and trains it on train+validation for its best number of epochs: the data
the validation split or the folds held back is not wasted. Without refit,
a member is its trial's best checkpoint. Several members are averaged into
one model by `tasks.tuning.ensemble`.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, field

import keras
import keras_tuner as kt

from tasks.augment import Datasets
from tasks.tuning import frozen_stem
from tasks.tuning.callbacks import FailOnNonFinite
from tasks.tuning.distributed.role import strategy_scope
from tasks.tuning.ranking import read_fold_scores
from tasks.tuning.recipe import planned_steps
from tasks.tuning.selection import select_by_oof

logger = logging.getLogger("tasks.search")

# How far behind the best trial an ensemble member may score: two points of
# accuracy or F1, or a tenth of the best validation loss (beyond the best
# trial's own spread over folds).
SCORE_MARGIN = 0.02
LOSS_MARGIN = 0.1


@dataclass(frozen=True)
class Publishing:
    """What a search publishes.

    Attributes:
        ensemble_size: the published model averages this many best trials.
        close_to_best: keep only members within the best trial's noise
            (`close_to_best`); off when the size was asked for explicitly.
        refit_data: train+validation pipelines to retrain the members on;
            None keeps each trial's best checkpoint.
        refit_seconds: members past the first are refit only as far as
            their estimated time (a fold's training of their trial) fits
            these seconds; None refits `ensemble_size` members.
    """

    ensemble_size: int = 1
    close_to_best: bool = True
    refit_data: Datasets | None = None
    refit_seconds: float | None = None


@dataclass(frozen=True)
class Members:
    """The chosen trials' models and what was done to get them."""

    models: list[keras.Model]
    described: list[dict] = field(default_factory=list)
    refit: dict = field(default_factory=dict)


def choose_members(tuner, ranked: list, publishing: Publishing, seed: int) -> Members:
    """The best trials' models, as `publishing` says.

    Args:
        tuner: the search's tuner (its hypermodel builds, its folders hold
            each trial's fold scores and checkpoints).
        ranked: the scored trials, best first (`tasks.tuning.ranking`).
        publishing: how many members, which, and whether they are refit;
            fewer members when fewer trials scored.
        seed: member `i` is built and trained with seed `seed + i`.
    """
    refit_data = publishing.refit_data
    chosen, selection = _candidates(tuner, ranked, publishing)
    if refit_data is None:
        # A trial picked twice would be the same checkpoint twice.
        chosen = list({trial.trial_id: trial for trial in chosen}.values())
    elif chosen:
        # Fewer configurations close to the best than members: the best is
        # trained again under other seeds (InceptionTime's average of five).
        # A trial picked twice by selection is likewise trained twice.
        chosen += [chosen[0]] * (publishing.ensemble_size - len(chosen))
        chosen = _affordable(tuner, chosen, publishing.refit_seconds)
    started = time.monotonic()
    models, described = [], []
    for index, trial in enumerate(chosen):
        folds = read_fold_scores(tuner.get_trial_dir(trial.trial_id))
        epochs = folds.epochs if folds else (trial.best_step or 0) + 1
        model = None
        if refit_data is not None:
            model = _refit(tuner, trial, refit_data, epochs, seed + index)
        models.append(model or tuner.load_model(trial))
        described.append(
            {
                "trial": trial.trial_id,
                "family": trial.hyperparameters.values.get("family"),
                "score": trial.score,
                "epochs": epochs if refit_data is not None else None,
                "seed": seed + index if refit_data is not None else None,
                "refit": model is not None,
            }
        )
    seconds = time.monotonic() - started
    refit = {
        "ran": refit_data is not None,
        "members": len(models),
        "examples": _examples(refit_data),
        "seconds": round(seconds, 2),
        "selection": selection,
    }
    return Members(models, described, refit)


def _candidates(tuner, ranked: list, publishing: Publishing) -> tuple[list, dict]:
    """The trials to publish, best first, and how they were selected.

    With out-of-fold predictions (cross-validated trials) and no size asked
    for, greedy ensemble selection on them (`tasks.tuning.selection`);
    else the trials close to the best, or the best `ensemble_size`.
    """
    size = publishing.ensemble_size
    if publishing.close_to_best and size > 1:
        selected = select_by_oof(tuner, ranked, size)
        if selected is not None:
            return selected
    if publishing.close_to_best:
        ranked = close_to_best(tuner, ranked)
        return ranked[:size], {"method": "close to the best score"}
    return ranked[:size], {"method": "the best ensemble_size trials"}


def _affordable(tuner, chosen: list, seconds: float | None) -> list:
    """The first of `chosen`, and those after it whose refits fit `seconds`.

    A member's refit is estimated from one fold of its trial: the trial's
    seconds over its folds, scaled to the refit's epochs (the folds' mean
    best epoch, not the epochs early stopping let them run past it) and to
    train+validation (`folds / (folds - 1)`: the refit trains on every fold).
    """
    if seconds is None:
        return chosen
    kept, spent = chosen[:1], 0.0
    for trial in chosen[1:]:
        folds = read_fold_scores(tuner.get_trial_dir(trial.trial_id))
        count = len(folds.scores) if folds else 1
        per_fold = tuner.trial_seconds.get(trial.trial_id, 0.0) / count
        if folds and folds.trained_epochs:
            trained = sum(folds.trained_epochs) / len(folds.trained_epochs)
            per_fold *= min(1.0, folds.epochs / max(trained, 1.0))
        estimate = per_fold * (count / (count - 1) if count > 1 else 1.0)
        if spent + estimate > seconds:
            break
        kept.append(trial)
        spent += estimate
    return kept


def close_to_best(tuner, ranked: list) -> list:
    """The ranked trials that scored within the best one's noise.

    A member far behind the best would pull the average down: a trial is
    kept when its score is within the best trial's spread over its folds, or
    within `SCORE_MARGIN` (accuracy-like objectives) or `LOSS_MARGIN` of the
    best loss (a loss objective), whichever is wider.
    """
    if not ranked:
        return []
    best = ranked[0]
    folds = read_fold_scores(tuner.get_trial_dir(best.trial_id))
    spread = folds.spread if folds else 0.0
    if tuner.oracle.objective.direction == "min":
        limit = best.score + max(spread, LOSS_MARGIN * abs(best.score))
        return [t for t in ranked if t.score <= limit]
    limit = best.score - max(spread, SCORE_MARGIN)
    return [t for t in ranked if t.score >= limit]


def _refit(tuner, trial, data: Datasets, epochs: int, seed: int) -> keras.Model | None:
    """The trial's configuration trained afresh; None when it diverged."""
    keras.utils.set_random_seed(seed)
    # Its schedule is planned over its own epochs (`build_planned`): a
    # refit stopped at the trial's best epoch of a longer plan ends near the
    # peak rate. GunPoint, the FCN's defaults trained 100 epochs of a
    # 500-epoch plan: 8, 10 and 71 test errors of 150 at the last epoch
    # (seeds 0-2); planned over its 100 epochs: 0-1 (seeds 0-4).
    with strategy_scope(tuner.distribution_strategy):
        model = tuner.hypermodel.build_planned(
            trial.hyperparameters, planned_steps(data.train, epochs)
        )
    logger.info(
        "refit trial %s (%s) on %d train+validation examples for %d epoch(s)",
        trial.trial_id,
        trial.hyperparameters.values.get("family"),
        data.num_train,
        epochs,
    )
    # The refit trains for the trial's best epoch count, as the trial's early
    # stopping did, with the search's class weights.
    # Nothing validates a refit, and its last epoch may sit on a spike of
    # the loss: as dl-4-tsc does, the epoch with the lowest training loss
    # is kept (an early stopping that never stops, restoring its best).
    lowest_loss = keras.callbacks.EarlyStopping(
        monitor="loss", patience=epochs + 1, restore_best_weights=True
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*shuffle=True.*")
        try:
            frozen_stem.fit(
                model,
                data.train,
                epochs=epochs,
                verbose=0,
                callbacks=[FailOnNonFinite(), lowest_loss],
                class_weight=tuner.hypermodel.recipe.class_weight,
            )
        except kt.errors.FailedTrialError as exc:
            logger.warning(
                "refit of trial %s diverged (%s); its searched checkpoint is used",
                trial.trial_id,
                exc,
            )
            return None
    return model


def _examples(data: Datasets | None) -> int | None:
    return None if data is None else data.num_train
