"""Fold scores per trial, and the trials' order: objective, then loss, then order."""

import math
from types import SimpleNamespace

import keras
import keras_tuner as kt
import pytest
from keras_tuner.engine.trial import Trial

from tasks.tuning.ranking import (
    FOLDS_FILE,
    FoldScores,
    fold_scores,
    ranked_trials,
    read_fold_scores,
    write_fold_scores,
)


def _history(**metrics) -> keras.callbacks.History:
    history = keras.callbacks.History()
    history.history = {name: list(values) for name, values in metrics.items()}
    return history


class _Tuner:
    """Just what `ranked_trials` reads of a tuner: the oracle and trial folders."""

    def __init__(self, root, direction: str, trials: list[Trial]):
        objective = kt.Objective("val_score", direction)
        trials_by_id = {t.trial_id: t for t in trials}
        self.oracle = SimpleNamespace(objective=objective, trials=trials_by_id)
        self.root = root

    def get_trial_dir(self, trial_id: str) -> str:
        return str(self.root / f"trial_{trial_id}")


def _trial(trial_id: str, score: float | None, val_loss: float | None = None):
    trial = Trial(kt.HyperParameters(), trial_id=trial_id, status="COMPLETED")
    trial.score = score
    if val_loss is not None:
        trial.metrics.register("val_loss", direction="min")
        trial.metrics.update("val_loss", val_loss)
    return trial


def _record(tuner: _Tuner, trial_id: str, scores, val_losses) -> None:
    folds = FoldScores(list(scores), [0] * len(scores), list(val_losses))
    write_fold_scores(tuner.get_trial_dir(trial_id), folds)


def test_fold_scores_keep_each_fits_best_epoch_for_a_max_objective():
    histories = [
        _history(val_accuracy=[0.5, 0.8, 0.8, 0.7], val_loss=[1.0, 0.6, 0.5, 0.7]),
        _history(val_accuracy=[0.4, 0.6, 0.9], val_loss=[1.2, 0.9, 0.3]),
    ]
    folds = fold_scores(histories, "val_accuracy", "max")
    # A tie keeps the first epoch that reached it, as Keras Tuner's best step.
    assert folds.scores == [0.8, 0.9]
    assert folds.best_epochs == [1, 2]
    assert folds.val_losses == [0.6, 0.3]
    assert folds.trained_epochs == [4, 3]
    assert folds.mean == pytest.approx(0.85)
    assert folds.spread == pytest.approx(math.sqrt(0.005))
    assert folds.val_loss == pytest.approx(0.45)
    assert folds.epochs == 3  # mean best epoch 1.5 rounds to 2, counted from 1


def test_fold_scores_keep_the_lowest_value_for_a_min_objective():
    histories = [
        _history(val_loss=[0.9, 0.4, 0.5]),
        _history(val_loss=[0.8, 0.7, 0.6, 0.65]),
    ]
    folds = fold_scores(histories, "val_loss", "min")
    assert folds.scores == [0.4, 0.6]
    assert folds.best_epochs == [1, 2]
    assert folds.val_losses == [0.4, 0.6]
    assert folds.epochs == 3


def test_fold_scores_skip_fits_without_the_objective_and_tolerate_missing_loss():
    histories = [
        _history(val_loss=[0.5]),  # no objective: a fit cut before its first epoch
        _history(val_f1_macro=[0.2, 0.6], val_loss=[0.9]),  # loss stops early
    ]
    folds = fold_scores(histories, "val_f1_macro", "max")
    assert folds.scores == [0.6]
    assert folds.best_epochs == [1]
    assert folds.val_losses == [math.inf]
    assert folds.spread == 0.0  # one fold
    assert folds.val_loss == math.inf  # no finite loss to average
    assert folds.epochs == 2


def test_fold_scores_round_trip_through_the_trial_folder(tmp_path):
    folds = FoldScores([0.75, 0.5], [3, 4], [0.4, math.inf], [9, 10])
    trial_dir = tmp_path / "trial_0"
    write_fold_scores(trial_dir, folds)
    assert (trial_dir / FOLDS_FILE).is_file()
    again = read_fold_scores(trial_dir)
    assert again == folds
    assert again.to_dict() == {
        "scores": [0.75, 0.5],
        "best_epochs": [3, 4],
        "val_losses": [0.4, math.inf],
        "trained_epochs": [9, 10],
    }
    # A folds.json from before trained_epochs was recorded still reads.
    (trial_dir / FOLDS_FILE).write_text(
        '{"scores": [0.75], "best_epochs": [3], "val_losses": [0.4]}'
    )
    assert read_fold_scores(trial_dir).trained_epochs == []


def test_a_trial_without_readable_fold_scores_reads_as_none(tmp_path):
    assert read_fold_scores(tmp_path / "never_written") is None
    (tmp_path / FOLDS_FILE).write_text("{not json")
    assert read_fold_scores(tmp_path) is None
    (tmp_path / FOLDS_FILE).write_text('{"scores": [0.5]}')  # fields missing
    assert read_fold_scores(tmp_path) is None


def test_a_tie_on_the_objective_goes_to_the_lower_validation_loss(tmp_path):
    # The higher-loss trial ran first: order alone would have picked it.
    tuner = _Tuner(tmp_path, "max", [_trial("0", 0.8), _trial("1", 0.8)])
    _record(tuner, "0", [0.8, 0.8], [0.9, 0.7])
    _record(tuner, "1", [0.8, 0.8], [0.3, 0.5])
    assert [t.trial_id for t in ranked_trials(tuner)] == ["1", "0"]


def test_the_objective_decides_before_the_loss(tmp_path):
    trials = [_trial("0", 0.7), _trial("1", 0.9), _trial("2", 0.8)]
    tuner = _Tuner(tmp_path, "max", trials)
    _record(tuner, "0", [0.7], [0.1])  # the lowest loss, the lowest score
    _record(tuner, "1", [0.9], [0.9])
    _record(tuner, "2", [0.8], [0.5])
    assert [t.trial_id for t in ranked_trials(tuner)] == ["1", "2", "0"]


def test_a_min_objective_ranks_the_lowest_first(tmp_path):
    trials = [_trial("0", 0.6), _trial("1", 0.2), _trial("2", 0.4)]
    tuner = _Tuner(tmp_path, "min", trials)
    assert [t.trial_id for t in ranked_trials(tuner)] == ["1", "2", "0"]


def test_without_fold_scores_the_trials_last_val_loss_breaks_a_tie(tmp_path):
    trials = [_trial("0", 0.5, val_loss=0.8), _trial("1", 0.5, val_loss=0.4)]
    assert [t.trial_id for t in ranked_trials(_Tuner(tmp_path, "max", trials))] == [
        "1",
        "0",
    ]


def test_a_full_tie_keeps_the_trial_order_numerically(tmp_path):
    # "10" sorts before "9" as text; trials are numbered, so order is numeric.
    trials = [_trial("10", 0.5), _trial("9", 0.5), _trial("2", 0.5)]
    ranked = ranked_trials(_Tuner(tmp_path, "max", trials))
    assert [t.trial_id for t in ranked] == ["2", "9", "10"]


def test_unscored_trials_are_left_out(tmp_path):
    failed = _trial("1", None)
    failed.status = "FAILED"
    trials = [_trial("0", 0.4), failed, _trial("2", 0.6), _trial("3", None)]
    ranked = ranked_trials(_Tuner(tmp_path, "max", trials))
    assert [t.trial_id for t in ranked] == ["2", "0"]
    assert ranked_trials(_Tuner(tmp_path, "max", [])) == []
