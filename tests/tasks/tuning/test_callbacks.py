"""The search's cheaper per-epoch callbacks, with real Keras fits."""

from __future__ import annotations

from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tasks.tuning.callbacks import BestEpochInMemory, TensorBoard
from tasks.tuning.compat import SaveBestEpoch
from tasks.tuning.resume import TrialBackup

# The epochs' scores, set by `ScriptedScore`: the best epoch is not the last.
SCORES = [0.2, 0.6, 0.4, 0.9, 0.3, 0.5]
OBJECTIVE = kt.Objective("score", "max")


class ScriptedScore(keras.callbacks.Callback):
    """Puts this epoch's score into the logs the later callbacks read."""

    def __init__(self, scores: list[float] = SCORES):
        super().__init__()
        self.scores = scores

    def on_epoch_end(self, epoch, logs=None):
        logs["score"] = self.scores[epoch]


class Snapshots(keras.callbacks.Callback):
    """Keeps a copy of the weights at every epoch end."""

    def __init__(self):
        super().__init__()
        self.weights: list[list[np.ndarray]] = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


def _model(compiled: bool = True) -> keras.Model:
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dense(3)]
    )
    if compiled:
        model.compile(optimizer="adam", loss="mse")
    return model


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(32, 4)), rng.normal(size=(32, 3))


def _saved_weights(path: Path) -> list[np.ndarray]:
    model = _model(compiled=False)
    model.load_weights(path)
    return model.get_weights()


def _assert_same(left: list[np.ndarray], right: list[np.ndarray]) -> None:
    assert len(left) == len(right)
    for a, b in zip(left, right, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_checkpoint_holds_the_best_epoch_and_training_keeps_the_last(tmp_path):
    x, y = _data()
    model = _model()
    path = tmp_path / "checkpoint.weights.h5"
    snapshots = Snapshots()
    saver = BestEpochInMemory(OBJECTIVE, str(path))
    model.fit(x, y, epochs=len(SCORES), callbacks=[ScriptedScore(), saver, snapshots])
    best = int(np.argmax(SCORES))
    assert saver.best_value == SCORES[best]
    _assert_same(_saved_weights(path), snapshots.weights[best])
    # Writing the best weights did not leave them in the trained model.
    _assert_same(model.get_weights(), snapshots.weights[-1])
    assert not np.array_equal(snapshots.weights[best][0], snapshots.weights[-1][0])


def test_a_second_execution_replaces_the_checkpoint_only_when_better(tmp_path):
    # Keras Tuner hands one SaveBestEpoch to every execution of a trial.
    x, y = _data()
    path = tmp_path / "checkpoint.weights.h5"
    keras_tuners = SaveBestEpoch(OBJECTIVE, str(path))
    first, second = Snapshots(), Snapshots()
    for scores, snapshots in (([0.5, 0.9], first), ([0.6, 0.7], second)):
        saver = BestEpochInMemory.replacing(keras_tuners)
        _model().fit(
            x, y, epochs=2, callbacks=[ScriptedScore(scores), saver, snapshots]
        )
    assert keras_tuners.best_value == 0.9
    _assert_same(_saved_weights(path), first.weights[1])


def test_a_backup_writes_the_best_weights_so_far_and_the_epochs_logs(tmp_path):
    x, y = _data()
    model = _model()
    path = tmp_path / "checkpoint.weights.h5"
    snapshots = Snapshots()
    saver = BestEpochInMemory(OBJECTIVE, str(path))
    backup = TrialBackup(tmp_path / "backup", min_seconds=0.0)
    backup.before_backup = saver.flush
    seen: list[tuple[list[np.ndarray], list[float], int]] = []

    class ReadBack(keras.callbacks.Callback):
        """What a resume would find on disk after this epoch's backup."""

        def on_epoch_end(self, epoch, logs=None):
            resume = TrialBackup(tmp_path / "backup")
            scores = resume.earlier_values("score")
            seen.append((_saved_weights(path), scores, resume.resume_epoch))

    model.fit(
        x,
        y,
        epochs=len(SCORES),
        callbacks=[ScriptedScore(), saver, snapshots, backup, ReadBack()],
    )
    assert len(seen) == len(SCORES)
    for epoch, (weights, scores, resume_epoch) in enumerate(seen):
        best_so_far = int(np.argmax(SCORES[: epoch + 1]))
        _assert_same(weights, snapshots.weights[best_so_far])
        assert resume_epoch == epoch + 1
        assert scores == SCORES[: epoch + 1]


def _scalars(log_dir: Path) -> dict[tuple[str, str], list[int]]:
    """(writer folder, tag) -> steps, for every scalar a TensorBoard run wrote."""
    found = {}
    for events in sorted(log_dir.rglob("events.out.tfevents.*")):
        accumulator = EventAccumulator(str(events.parent))
        accumulator.Reload()
        for tag in accumulator.Tags()["tensors"]:
            steps = [event.step for event in accumulator.Tensors(tag)]
            found[(events.parent.name, tag)] = steps
    return found


def test_our_tensorboard_writes_what_keras_writes_per_epoch(tmp_path):
    x, y = _data()
    written = {}
    for name, callback in (
        (
            "keras",
            keras.callbacks.TensorBoard(
                log_dir=str(tmp_path / "keras"),
                update_freq="epoch",
                write_graph=False,
                profile_batch=0,
            ),
        ),
        ("ours", TensorBoard(str(tmp_path / "ours"))),
    ):
        keras.utils.set_random_seed(0)
        _model().fit(
            x,
            y,
            batch_size=8,
            validation_data=(x, y),
            epochs=3,
            callbacks=[callback],
            verbose=0,
        )
        written[name] = _scalars(tmp_path / name)
    assert ("train", "epoch_loss") in written["ours"]
    assert written["ours"][("validation", "epoch_loss")] == [0, 1, 2]
    assert written["ours"] == written["keras"]
