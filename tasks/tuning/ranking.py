"""What each trial scored on each validation fold, and the trials' order.

A trial's `folds.json` (in its Keras Tuner trial folder) records, per fold,
the best value of the objective, the epoch it was reached at and the
validation loss there. A held-out validation split is one fold. The search
ranks trials by their mean objective, then by their mean validation loss, so
trials tied on a small validation set are told apart by how confident they
were, not by which ran first.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras

FOLDS_FILE = "folds.json"


@dataclass(frozen=True)
class FoldScores:
    """A trial's best objective value, best epoch and loss there, per fold,
    and how many epochs each fold trained (empty in older `folds.json`)."""

    scores: list[float]
    best_epochs: list[int]
    val_losses: list[float]
    trained_epochs: list[int] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.scores)

    @property
    def spread(self) -> float:
        """The folds' standard deviation (0 for one fold)."""
        return statistics.stdev(self.scores) if len(self.scores) > 1 else 0.0

    @property
    def val_loss(self) -> float:
        finite = [v for v in self.val_losses if math.isfinite(v)]
        return statistics.fmean(finite) if finite else math.inf

    @property
    def epochs(self) -> int:
        """Epochs to retrain for: the folds' mean best epoch, counted from 1."""
        return max(1, round(statistics.fmean(self.best_epochs)) + 1)

    def to_dict(self) -> dict:
        return asdict(self)


def fold_scores(
    histories: list[keras.callbacks.History], objective: str, direction: str
) -> FoldScores:
    """The best epoch of each fit in `histories`, as Keras Tuner scores it."""
    scores, epochs, losses, trained = [], [], [], []
    pick = max if direction == "max" else min
    for history in histories:
        values = [float(v) for v in history.history.get(objective, [])]
        if not values:
            continue
        best = values.index(pick(values))
        loss = history.history.get("val_loss", [])
        scores.append(values[best])
        epochs.append(best)
        losses.append(float(loss[best]) if best < len(loss) else math.inf)
        trained.append(len(values))
    return FoldScores(scores, epochs, losses, trained)


def write_fold_scores(trial_dir: str | Path, folds: FoldScores) -> None:
    """Record `folds` in the trial's folder, where every process can read it."""
    path = Path(trial_dir) / FOLDS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(folds.to_dict()))


def read_fold_scores(trial_dir: str | Path) -> FoldScores | None:
    """The trial's recorded fold scores; None when it recorded none."""
    path = Path(trial_dir) / FOLDS_FILE
    try:
        return FoldScores(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def ranked_trials(tuner) -> list:
    """The scored trials, best first: objective, then validation loss, then order.

    Args:
        tuner: a Keras Tuner tuner whose trial folders may hold `folds.json`.
    """
    direction = tuner.oracle.objective.direction
    scored = [t for t in tuner.oracle.trials.values() if t.score is not None]

    def key(trial) -> tuple:
        folds = read_fold_scores(tuner.get_trial_dir(trial.trial_id))
        loss = folds.val_loss if folds else _metric(trial, "val_loss")
        score = trial.score if direction == "max" else -trial.score
        return (-score, loss, _order(trial.trial_id))

    return sorted(scored, key=key)


def _metric(trial, name: str) -> float:
    try:
        value = trial.metrics.get_last_value(name)
    except (KeyError, ValueError):
        return math.inf
    return math.inf if value is None else float(value)


def _order(trial_id: str) -> tuple:
    return (0, int(trial_id)) if trial_id.isdigit() else (1, trial_id)
