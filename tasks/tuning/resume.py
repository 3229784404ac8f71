"""Resuming a killed search: each trial's backup and the search's clock.

Keras Tuner reloads a project folder's oracle and runs its interrupted trial
again, from epoch 0. Here every running trial also backs itself up
(`keras.callbacks.BackupAndRestore`: weights, optimizer state, epoch) in
`trial_<id>/backup/` at the first epoch end `backup_seconds` after its last
backup, so the interrupted trial goes on from that epoch, with its best-epoch
checkpoint, early-stopping state and metric history as they were (the tuner
side is in `tasks.tuning.tuner.PipelineTuner.run_trial` and the wiring in
`tasks.tuning.hypermodel.PipelineHyperModel.fit`). The search's clock is saved
too, so the time budget counts the time spent before the kill.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import keras

from tasks.registry.staging import write_text_atomically

logger = logging.getLogger("tasks.search")

CLOCK_FILE = "search_clock.json"


def read_search_clock(tuner_dir: str | Path) -> float:
    """Seconds an earlier, interrupted search of this folder already used."""
    try:
        return float(json.loads((Path(tuner_dir) / CLOCK_FILE).read_text())["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0


def resumed_seconds(tuner) -> float:
    """Seconds an interrupted search of `tuner`'s folder used; 0 for a new one.

    A resumed search (the folder holds an interrupted one's oracle) keeps its
    finished trials and counts the time it already used; a distributed
    process (`tuner.role` set) starts its own clock.
    """
    if tuner.role is not None or not tuner.oracle.trials:
        return 0.0
    used = read_search_clock(tuner.project_dir)
    done = [t for t in tuner.oracle.trials.values() if t.status != "RUNNING"]
    logger.info(
        "resuming the search in %s: %d trial(s) done, %.0f s of the budget used",
        tuner.project_dir,
        len(done),
        used,
    )
    return used


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """Early stopping that can pick up a resumed trial's patience where it was."""

    resumed_history: list[float] | None = None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        history, self.resumed_history = self.resumed_history or [], None
        if history:
            pick = min if self.mode == "min" else max
            self.best_epoch = history.index(pick(history))
            self.best = history[self.best_epoch]
            self.wait = len(history) - 1 - self.best_epoch


class TrialBackup(keras.callbacks.BackupAndRestore):
    """A trial's backup, deleted when its training ends.

    Keras's weights, optimizer state and epoch are saved at an epoch end once
    `min_seconds` have passed since the last save (0: every epoch). The logs
    of every epoch up to it are saved first (`epoch_logs.json`), since Keras
    Tuner scores a trial from the History its `fit` returns, which after a
    resume holds only the epochs trained since; and `before_backup` runs
    first of all (the trial's best-epoch checkpoint is written there). Two
    copies of the weights are kept (`double_checkpoint`), so a kill while one
    is written leaves the other to resume from.
    """

    before_backup: Callable[[], None] | None = None

    def __init__(self, backup_dir: str | Path, min_seconds: float = 0.0):
        super().__init__(str(backup_dir), double_checkpoint=True)
        self.min_seconds = min_seconds
        self._logs_path = Path(backup_dir) / "epoch_logs.json"
        self.resume_epoch = self._read_epoch()
        self.earlier_logs = self._read_logs()[: self.resume_epoch]
        if len(self.earlier_logs) < self.resume_epoch:  # logs lost: start over
            self.resume_epoch, self.earlier_logs = 0, []
            self.on_train_end()

    def on_train_begin(self, logs=None):
        self.epoch_logs = list(self.earlier_logs)
        self.last_backup = time.monotonic()
        super().on_train_begin(logs)

    def on_epoch_end(self, epoch, logs=None):
        entry = {k: float(v) for k, v in (logs or {}).items()}
        self.epoch_logs = [*self.epoch_logs[:epoch], entry]
        if time.monotonic() - self.last_backup >= self.min_seconds:
            if self.before_backup is not None:
                self.before_backup()
            # A resume keeps the logs of the backed-up epochs only: written
            # before the backup that makes them count.
            self._write_logs(self.epoch_logs)
            super().on_epoch_end(epoch, logs)  # weights, optimizer, epoch
            self.last_backup = time.monotonic()

    def whole_history(self, history: keras.callbacks.History) -> None:
        """Put the epochs before the resume back in front of `history`."""
        if not self.earlier_logs:
            return
        for key, values in history.history.items():
            earlier = [entry.get(key, float("nan")) for entry in self.earlier_logs]
            history.history[key] = earlier + list(values)
        history.epoch = list(range(len(next(iter(history.history.values()), []))))

    def earlier_values(self, name: str) -> list[float]:
        return [entry[name] for entry in self.earlier_logs if name in entry]

    def _read_epoch(self) -> int:
        try:
            with open(self._training_metadata_path) as handle:
                return int(json.load(handle)["epoch"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0

    def _read_logs(self) -> list[dict]:
        try:
            logs = json.loads(self._logs_path.read_text())
        except (OSError, ValueError):
            return []
        return logs if isinstance(logs, list) else []

    def _write_logs(self, logs: list[dict]) -> None:
        write_text_atomically(self._logs_path, json.dumps(logs))
