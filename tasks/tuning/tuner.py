"""Keras Tuner mechanics for the search: per-trial timing, the time budget,
progress events, checkpoint pruning, a garbage collector that leaves the
long-lived imports alone, the release of each trial's training graphs, trials
that fail loudly on a non-finite loss, and resuming a killed search (with the
callbacks in `tasks.tuning.resume`).
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import math
import shutil
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
from keras_tuner.src.engine.tuner_utils import SaveBestEpoch

from tasks.registry.staging import write_text_atomically
from tasks.tuning.callbacks import BestEpochInMemory
from tasks.tuning.progress import SearchProgress, report
from tasks.tuning.resume import CLOCK_FILE, ResumableEarlyStopping, TrialBackup

logger = logging.getLogger("tasks.search")


@contextlib.contextmanager
def frozen_gc() -> Iterator[None]:
    """Keep what exists now out of the collector's sweeps inside the block.

    Keras Tuner collects garbage twice per trial; each full collection walks
    every object TensorFlow, Prefect and Great Expectations left at import,
    nearly a second per trial on a small CPU. Frozen, they are skipped.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _gradient_registry() -> dict | None:
    """TensorFlow's global gradient-function registry, or None if it moved."""
    from tensorflow.python.framework import ops

    registry = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    return registry if isinstance(registry, dict) else None


def custom_gradients() -> frozenset[str]:
    """Names of the `tf.custom_gradient` functions registered so far."""
    registry = _gradient_registry()
    if registry is None:
        return frozenset()
    return frozenset(k for k in registry if k.startswith("CustomGradient-"))


def release_custom_gradients(before: frozenset[str]) -> int:
    """Unregister the custom gradients registered since `before`; return how many.

    Tracing a train step registers a `tf.custom_gradient` (Keras's optimizer
    all-reduces gradients through one) in a global registry that is never
    emptied; its closure holds the traced graph, so every trial's train and
    test graphs outlived its model: about 16 MB a trial on digits
    (tensorflow/tensorflow#97697). The registry is read only while a graph is
    traced, so once a trial has ended its entries serve nothing.
    """
    registry = _gradient_registry()
    if registry is None:
        return 0
    stale = custom_gradients() - before
    for name in stale:
        registry.pop(name, None)
    return len(stale)


class EpochProgress(keras.callbacks.Callback):
    """Reports each epoch's end to the progress listeners; saves the clock."""

    def __init__(self, tuner: kt.Tuner, epochs: int):
        super().__init__()
        self.tuner = tuner
        self.epochs = epochs

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
    """Ends a trial's training at the first epoch end past the search deadline."""

    def __init__(self, deadline: float):
        super().__init__()
        self.deadline = deadline

    def on_epoch_end(self, epoch, logs=None):
        if time.monotonic() >= self.deadline:
            self.model.stop_training = True


def budgeted(tuner_class: type[kt.Tuner]) -> type[kt.Tuner]:
    """A tuner that times its trials and stops asking for new ones past a deadline."""

    class BudgetedTuner(tuner_class):
        deadline = float("inf")
        trial_seconds: dict[str, float]
        stopped_by_budget = False

        epochs = 0
        backup_seconds = 0.0
        clock_started = 0.0
        clock_before = 0.0
        trial_begun: SearchProgress | None = None
        gradients_before: frozenset[str] = frozenset()
        kept_checkpoints: set[str]
        # Keras Tuner keeps every trial's weights; a long search fills disks.
        # Hyperband resumes trials from earlier ones' weights, so it keeps all.
        keep_best_checkpoint_only = tuner_class is not kt.Hyperband

        def _prune_checkpoints(self, ended: str):
            """Delete the weights of `ended` and of the previous best, unless best."""
            best = {t.trial_id for t in self.oracle.get_best_trials(1)}
            self.kept_checkpoints.add(ended)
            for trial_id in self.kept_checkpoints - best:
                Path(self._get_checkpoint_fname(trial_id)).unlink(missing_ok=True)
            self.kept_checkpoints &= best

        def progress(self, event, trial, epoch=0) -> SearchProgress:
            done = [t for t in self.oracle.trials.values() if t.status != "RUNNING"]
            best = self.oracle.get_best_trials(1)
            return SearchProgress(
                event=event,
                trial=trial.trial_id,
                trials_done=len(done),
                max_trials=self.oracle.max_trials,
                epoch=epoch,
                epochs=self.epochs,
                family=trial.hyperparameters.values.get("family"),
                score=self.oracle.trials[trial.trial_id].score,
                best_score=best[0].score if best else None,
            )

        def save_clock(self) -> None:
            """Record the seconds this search has used, for a resume's budget."""
            seconds = self.clock_before + time.monotonic() - self.clock_started
            write_text_atomically(
                Path(self.project_dir) / CLOCK_FILE,
                json.dumps({"seconds": round(seconds, 3)}),
            )

        def run_trial(self, trial, *args, **kwargs):
            callbacks = kwargs.get("callbacks", [])
            backup = TrialBackup(
                Path(self.get_trial_dir(trial.trial_id)) / "backup", self.backup_seconds
            )
            history = backup.earlier_values(self.oracle.objective.name)
            if backup.resume_epoch:
                logger.info(
                    "trial %s resumes at epoch %d of %d (%d earlier epoch(s) kept)",
                    trial.trial_id,
                    backup.resume_epoch + 1,
                    self.epochs,
                    backup.resume_epoch,
                )
            for callback in callbacks:
                if isinstance(callback, ResumableEarlyStopping):
                    callback.resumed_history = history
            kwargs["callbacks"] = [*callbacks, backup]
            try:
                results = super().run_trial(trial, *args, **kwargs)
            finally:
                for callback in callbacks:  # the next trial starts afresh
                    if isinstance(callback, ResumableEarlyStopping):
                        callback.resumed_history = None
            # Keras Tuner scores the trial from these: all its epochs count.
            for result in results if isinstance(results, list) else [results]:
                if isinstance(result, keras.callbacks.History):
                    backup.whole_history(result)
            return results

        def _build_and_fit_model(self, trial, *args, **kwargs):
            # Keras Tuner has appended its own callbacks, one of which saves
            # the best epoch's weights: replaced by one that keeps them in
            # memory and writes them when training ends and before each
            # backup, so a backed-up epoch's best weights are on disk too. The
            # backup goes last; and a resumed trial's best checkpoint is only
            # replaced by an epoch better than those before the interruption.
            callbacks = kwargs.get("callbacks", [])
            backups = [c for c in callbacks if isinstance(c, TrialBackup)]
            others = [
                BestEpochInMemory.replacing(c) if type(c) is SaveBestEpoch else c
                for c in callbacks
                if not isinstance(c, TrialBackup)
            ]
            kwargs["callbacks"] = others + backups
            objective = self.oracle.objective
            earlier = [v for b in backups for v in b.earlier_values(objective.name)]
            pick = min if objective.direction == "min" else max
            for saver in (c for c in others if isinstance(c, BestEpochInMemory)):
                if earlier:
                    saver.best_value = pick(earlier)
                for backup in backups:
                    backup.before_backup = saver.flush
            return super()._build_and_fit_model(trial, *args, **kwargs)

        def epoch_progress(self, epoch: int) -> SearchProgress:
            """The running trial's begin event, moved on to `epoch`.

            Counts and best score do not change within a trial, so an epoch
            end does not ask the oracle again.
            """
            return replace(self.trial_begun, event="epoch_end", epoch=epoch)

        def on_trial_begin(self, trial):
            self.trial_seconds.setdefault(trial.trial_id, time.monotonic())
            self.gradients_before = custom_gradients()
            super().on_trial_begin(trial)
            self.trial_begun = self.progress("trial_begin", trial)
            report(self.trial_begun)

        def on_trial_end(self, trial):
            start = self.trial_seconds[trial.trial_id]
            self.trial_seconds[trial.trial_id] = time.monotonic() - start
            super().on_trial_end(trial)
            self.save_clock()
            release_custom_gradients(self.gradients_before)
            done = self.oracle.get_trial(trial.trial_id)
            if done.status == "FAILED":  # never resumed: its backup serves nothing
                backup = Path(self.get_trial_dir(trial.trial_id)) / "backup"
                shutil.rmtree(backup, ignore_errors=True)
            score = "failed" if done.score is None else f"{done.score:.4f}"
            logger.info(
                "trial %s (%s) %s=%s in %.1fs",
                trial.trial_id,
                trial.hyperparameters.values.get("family"),
                self.oracle.objective.name,
                score,
                self.trial_seconds[trial.trial_id],
            )
            report(self.progress("trial_end", trial))
            if self.keep_best_checkpoint_only:
                self._prune_checkpoints(trial.trial_id)
            if time.monotonic() >= self.deadline:
                self.stopped_by_budget = True
                self.stop_new_trials()

        def stop_new_trials(self):
            # The oracle stops handing out trials once max_trials is reached.
            self.oracle.max_trials = len(self.oracle.trials)

    BudgetedTuner.__name__ = f"Budgeted{tuner_class.__name__}"
    return BudgetedTuner
