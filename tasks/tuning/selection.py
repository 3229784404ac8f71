"""Out-of-fold predictions and ensemble selection from them.

When trials are cross-validated, every example of train+validation is
predicted once by a model that did not train on it: its fold's model at
the fold's best epoch. Those out-of-fold (OOF) probabilities, in the same
example order for every trial (the folds are the search's), let the
published ensemble be chosen by what it would have scored: Caruana et al.'s
greedy ensemble selection (ICML 2004, as auto-sklearn and AutoGluon use),
adding at each step, with replacement, the trial that most lowers the log
loss of the averaged probabilities. Members of different families mix when
their errors differ, which a ranking by single-trial score cannot see.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

OOF_FILE = "oof.npz"
# Trials considered for selection, best first: enough for diversity, few
# enough to keep one weak trial's lucky fold from being picked.
CANDIDATES = 10
_EPSILON = 1e-7


class OutOfFoldPredictions(keras.callbacks.Callback):
    """Predicts a fold's validation data with the fold's best epoch.

    Keeps the weights of the best epoch by `monitor` (as the trial's
    checkpoint does) and, when training ends, predicts `validation` with
    them and appends (probabilities, labels) to `sink`; the model's weights
    are put back afterwards.

    Args:
        validation: the fold's validation dataset of (inputs, one-hot labels).
        monitor: the search's objective, e.g. "val_loss".
        mode: "min" or "max".
        sink: the list the trial's folds append to.
    """

    def __init__(self, validation, monitor: str, mode: str, sink: list):
        super().__init__()
        self.validation = validation
        self.monitor = monitor
        self.better = np.less if mode == "min" else np.greater
        self.sink = sink
        self.best = None
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        if self.best is None or self.better(value, self.best):
            self.best = value
            self.best_weights = self.model.get_weights()

    def on_train_end(self, logs=None):
        if self.best_weights is None:
            return
        latest = self.model.get_weights()
        self.model.set_weights(self.best_weights)
        try:
            probabilities = self.model.predict(self.validation, verbose=0)
        finally:
            self.model.set_weights(latest)
        labels = np.concatenate([np.asarray(batch[1]) for batch in self.validation])
        self.sink.append((np.asarray(probabilities, "float32"), labels))

    def __deepcopy__(self, memo):
        # Keras Tuner deep-copies callbacks per fit; the sink must stay shared.
        return self


def write_oof(trial_dir: str | Path, folds: list) -> None:
    """Save a trial's OOF probabilities and labels, folds in order."""
    probabilities = np.concatenate([p for p, _ in folds])
    labels = np.concatenate([y for _, y in folds])
    np.savez(Path(trial_dir) / OOF_FILE, probabilities=probabilities, labels=labels)


def read_oof(trial_dir: str | Path) -> tuple[np.ndarray, np.ndarray] | None:
    """A trial's (probabilities, labels), or None when it has none."""
    path = Path(trial_dir) / OOF_FILE
    if not path.exists():
        return None
    with np.load(path) as data:
        return data["probabilities"], data["labels"]


def log_loss(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy of one-hot `labels` under `probabilities`."""
    clipped = np.clip(probabilities, _EPSILON, 1.0)
    return float(-np.mean(np.sum(labels * np.log(clipped), axis=1)))


def greedy_selection(predictions: dict, labels: np.ndarray, size: int) -> list:
    """Caruana's selection with replacement: `size` picks among `predictions`.

    Args:
        predictions: OOF probabilities by candidate, in the caller's order of
            preference (ties go to the earlier one).
        labels: the one-hot labels they predict.
        size: how many picks; a candidate picked twice weighs twice.

    Returns:
        The picked candidates, in the order picked (the first is the one
        with the lowest loss alone).
    """
    picks: list = []
    total = np.zeros_like(labels, dtype="float64")
    for _ in range(size):
        losses = {
            key: log_loss((total + probabilities) / (len(picks) + 1), labels)
            for key, probabilities in predictions.items()
        }
        best = min(losses, key=lambda key: losses[key])  # first of equals
        picks.append(best)
        total += predictions[best]
    return picks


def select_by_oof(tuner, ranked: list, size: int) -> tuple[list, dict] | None:
    """The ensemble's trials chosen on OOF predictions, and how it went.

    Considers the `CANDIDATES` best ranked trials that have OOF predictions
    of the same examples. None when fewer than one has them (a holdout
    search), so the caller falls back on its ranking.
    """
    predictions, labels = {}, None
    for trial in ranked[:CANDIDATES]:
        oof = read_oof(tuner.get_trial_dir(trial.trial_id))
        if oof is None or (labels is not None and oof[1].shape != labels.shape):
            continue
        predictions[trial.trial_id], labels = oof
    if not predictions:
        return None
    picks = greedy_selection(predictions, labels, size)
    by_id = {trial.trial_id: trial for trial in ranked}
    chosen = [by_id[trial_id] for trial_id in picks]
    ensemble = np.mean([predictions[trial_id] for trial_id in picks], axis=0)
    first = predictions[picks[0]]
    report = {
        "method": "greedy OOF log loss (Caruana et al. 2004)",
        "candidates": list(predictions),
        "picks": picks,
        "oof_examples": int(len(labels)),
        "oof_log_loss": round(log_loss(ensemble, labels), 4),
        "oof_accuracy": round(_accuracy(ensemble, labels), 4),
        "best_single_log_loss": round(log_loss(first, labels), 4),
        "best_single_accuracy": round(_accuracy(first, labels), 4),
    }
    return chosen, report


def _accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(probabilities.argmax(axis=1) == labels.argmax(axis=1)))
