"""How a search is sized for its data: what a config leaves unset, decided.

Training length (`tasks.tuning.schedule`), the validation scheme
(`tasks.tuning.folds`), whether the chosen configurations are refit on
train+validation, and how many are averaged into the published model. A
setting the config gives always wins; `SearchPlan.to_dict` records both.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from tasks.readers import join_examples
from tasks.split import Splits
from tasks.tuning.folds import ValidationScheme, choose_validation
from tasks.tuning.schedule import TrainingLength, training_length

# Cross-validated small data: averaging a few refit networks is the
# InceptionTime recipe (five networks, +0.75 points over one on 128 UCR
# sets). Refit networks vary by seed (GunPoint, one configuration refit under
# seeds 0-2: test accuracy 0.83, 0.95, 0.95), so the average matters.
SMALL_DATA_ENSEMBLE = 5
# Refitting members past the first may take this share of the search budget.
REFIT_SHARE = 0.25


@dataclass(frozen=True)
class SearchPlan:
    """The search's sizing, every unset setting resolved."""

    length: TrainingLength
    validation: ValidationScheme
    refit: bool
    ensemble_size: int
    max_trials: int | None
    ensemble_chosen: bool = False
    objective: str = "val_f1_macro"

    def to_dict(self) -> dict:
        return {
            "objective": self.objective,
            "training": self.length.to_dict(),
            "validation": self.validation.to_dict(),
            "refit": self.refit,
            "ensemble_size": self.ensemble_size,
            "max_trials": self.max_trials,
        }


def plan_search(
    splits: Splits,
    tuner: str = "bayesian",
    epochs: int | None = None,
    patience: int | None = None,
    batch_size: int | None = None,
    validation: str = "auto",
    folds: int | None = None,
    refit: str = "auto",
    ensemble_size: int | None = None,
    max_trials: int | None = None,
    objective: str | None = None,
) -> SearchPlan:
    """Resolve the search settings a config left unset from `splits`' sizes.

    Args:
        splits: the run's train, validation and test splits.
        tuner: Hyperband trains trials in brackets that resume one another,
            so it always validates on the validation split.
        epochs, patience, batch_size: explicit values win; None derives them
            from the number of examples a trial trains on.
        validation: `auto`, `holdout` or `kfold` (`choose_validation`).
        folds: k of k-fold; None chooses it from the size.
        refit: `always`, `never`, or `auto` (when cross-validating).
        ensemble_size: None: `SMALL_DATA_ENSEMBLE` when cross-validating, else
            1, keeping only members close to the best; a given size is kept.
        max_trials: None searches until the time budget is spent.
        objective: None: `val_loss` when cross-validating (a few dozen
            validation examples tie on accuracy and F1, not on loss), else
            `val_f1_macro`.
    """
    if tuner == "hyperband" and validation != "holdout":
        scheme = ValidationScheme(
            "holdout",
            1,
            f"holdout on the {len(splits.y_val)} validation examples: Hyperband "
            "resumes trials from one another, which folds cannot",
        )
    else:
        scheme = choose_validation(splits, validation, folds)
    pooled = len(splits.y_train) + len(splits.y_val)
    per_trial = (
        pooled * (scheme.folds - 1) // scheme.folds
        if scheme.kind == "kfold"
        else len(splits.y_train)
    )
    length = training_length(per_trial, epochs, patience, batch_size)
    cross_validated = scheme.kind == "kfold"
    ensemble_chosen = ensemble_size is not None
    if ensemble_size is None:
        ensemble_size = SMALL_DATA_ENSEMBLE if cross_validated else 1
    return SearchPlan(
        length=length,
        validation=scheme,
        refit=refit == "always" or (refit == "auto" and cross_validated),
        ensemble_size=ensemble_size,
        max_trials=max_trials,
        ensemble_chosen=ensemble_chosen,
        objective=objective or ("val_loss" if cross_validated else "val_f1_macro"),
    )


def pooled_splits(splits: Splits) -> Splits:
    """`splits` with the validation examples added to training, for refit.

    The validation split is left as it is; a refit never validates.
    """
    return replace(
        splits,
        x_train=_concatenate(splits.x_train, splits.x_val),
        y_train=np.concatenate([splits.y_train, splits.y_val]),
        digests_train=_concatenate(splits.digests_train, splits.digests_val),
    )


def _concatenate(first, second):
    if first is None or second is None:
        return None
    return join_examples(first, second)
