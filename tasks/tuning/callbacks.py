"""The callbacks every trial's `fit` gets: progress, the deadline, failing on a
non-finite loss, and two of Keras's and Keras Tuner's per-epoch callbacks made
cheap enough for long trials of small models, where an epoch lasts a fraction
of a second.

Measured on digits (a 0.25 s epoch of 40 training batches, 2 CPU cores), the
stock callbacks made a trial's `fit` about 5% slower than a bare one (times
below are under cProfile, which inflates them):

- Keras's `TensorBoard` calls `tf.summary.scalar` for every batch's logs even
  with `update_freq="epoch"`, where no batch writer is set and nothing is
  written: about 0.4 ms a batch.
- Keras Tuner's `SaveBestEpoch` writes the weights file at every improving
  epoch: about 50 ms a save, most of it Keras walking the model to name the
  weights. Early in a trial nearly every epoch improves.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import keras
import keras_tuner as kt
import numpy as np

from tasks.tuning.compat import SaveBestEpoch
from tasks.tuning.progress import report

if TYPE_CHECKING:
    from tasks.tuning.budget import SearchBudget


class EpochProgress(keras.callbacks.Callback):
    """Reports each epoch's end to the progress listeners; saves the clock.

    Args:
        tuner: the pipeline tuner (its `save_clock` and `epoch_progress`).
    """

    def __init__(self, tuner):
        super().__init__()
        self.tuner = tuner

    def on_epoch_end(self, epoch, logs=None):
        self.tuner.save_clock()
        report(self.tuner.epoch_progress(epoch + 1))

    def __deepcopy__(self, memo):
        # Keras Tuner deep-copies callbacks per trial; this one must keep
        # pointing at the live tuner, not at a copy of it.
        return self


class FailOnNonFinite(keras.callbacks.Callback):
    """Fails the trial when an epoch leaves a NaN or infinite loss or weight.

    Keras goes on training a diverged model, and its loss (cross-entropy
    clips the probabilities), accuracy and F1 can still look finite; raised
    here, Keras Tuner marks the trial failed with this message and the search
    moves on to the next trial. The weights are checked once per epoch.
    """

    def on_epoch_end(self, epoch, logs=None):
        where = [
            name
            for name in ("loss", "val_loss")
            if name in (logs or {}) and not math.isfinite(float(logs[name]))
        ]
        where += [
            f"weight {variable.path}"
            for variable in self.model.weights
            if not np.isfinite(keras.ops.convert_to_numpy(variable.value)).all()
        ][:3]
        if where:
            raise kt.errors.FailedTrialError(
                f"{', '.join(where)} became NaN or infinite at epoch {epoch + 1}: "
                "the model diverged (too high a learning rate, or inputs out of "
                "range)"
            )


class Deadline(keras.callbacks.Callback):
    """Ends a trial's training at the first epoch end past the search's budget."""

    def __init__(self, budget: SearchBudget):
        super().__init__()
        self.budget = budget

    def on_epoch_end(self, epoch, logs=None):
        if self.budget.expired():
            self.model.stop_training = True

    def __deepcopy__(self, memo):
        return self  # the one budget of the search, not a copy


class TensorBoard(keras.callbacks.TensorBoard):
    """Keras's TensorBoard callback writing per-epoch summaries only.

    Named as Keras's class because Keras Tuner finds the callback by its class
    name to give every trial its own folder and HParams.

    No graph, no profiling, no batch summaries: what it writes is exactly what
    `keras.callbacks.TensorBoard(update_freq="epoch", write_graph=False,
    profile_batch=0)` writes, without its per-batch calls that write nothing.
    """

    def __init__(self, log_dir: str):
        super().__init__(
            log_dir=log_dir, update_freq="epoch", write_graph=False, profile_batch=0
        )

    def on_train_batch_end(self, batch, logs=None):
        # Keras's version writes the graph, traces the profiler and records
        # batch scalars into the batch writer: all three are off here.
        return None


class BestEpochInMemory(SaveBestEpoch):
    """Keras Tuner's best-epoch checkpoint, kept in memory until it is needed.

    An improving epoch copies the weights (under a millisecond for a small
    model); the file is written once, when training ends, and before each of
    the trial's backups (`flush`, called by `tasks.tuning.resume.TrialBackup`), so a
    resumed trial finds the best weights of the epochs it keeps. Keras Tuner
    reads the file only after `fit` returns.
    """

    best_weights: list | None = None
    replaced: SaveBestEpoch | None = None

    @classmethod
    def replacing(cls, original: SaveBestEpoch) -> BestEpochInMemory:
        """This callback in place of Keras Tuner's, with its file and best value.

        The best value goes back to Keras Tuner's callback when training ends:
        with several executions per trial, Keras Tuner hands the same one to
        each, and only an epoch better than every execution's replaces the file.
        """
        callback = cls(original.objective, original.filepath)
        callback.best_value = original.best_value
        callback.replaced = original
        return callback

    def on_train_begin(self, logs=None):
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        if not self.objective.has_value(logs):
            super().on_epoch_end(epoch, logs)  # saves every epoch, as Keras Tuner
            return
        current = self.objective.get_value(logs)
        if self.objective.better_than(current, self.best_value):
            self.best_value = current
            self.best_weights = self.model.get_weights()

    def on_train_end(self, logs=None):
        self.flush()
        if self.replaced is not None:
            self.replaced.best_value = self.best_value

    def flush(self) -> None:
        """Write the best epoch's weights to the checkpoint file, if not yet."""
        if self.best_weights is None:
            return
        latest = self.model.get_weights()
        self.model.set_weights(self.best_weights)
        try:
            self._save_model()
        finally:
            self.model.set_weights(latest)
        self.best_weights = None
