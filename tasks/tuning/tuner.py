"""The pipeline's one tuner: Keras Tuner's `Tuner` with the oracle, the time
budget, the trial settings and callbacks, and this process's part in the
search given to its constructor.

It times its trials, reports progress, keeps only the best trial's
checkpoint, releases each trial's training graphs, backs running trials up
so a killed search resumes (with `tasks.tuning.resume`), and removes a failed
trial's backup. Searching alone, serving the oracle as the chief, or training
as a worker is the part it is given (`SearchAlone`, `ChiefPart`,
`WorkerPart`); `PipelineHyperband` adds Keras Tuner's Hyperband trial logic.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import logging
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import keras
import keras_tuner as kt

from tasks.registry.staging import write_text_atomically
from tasks.tuning.budget import DeadlineOracle, SearchBudget
from tasks.tuning.callbacks import Deadline, EpochProgress
from tasks.tuning.compat import (
    checkpoint_path,
    custom_gradients,
    release_custom_gradients,
)
from tasks.tuning.distributed.chief import ChiefPart
from tasks.tuning.distributed.role import DistributedSearch, SearchPart
from tasks.tuning.distributed.worker import WorkerPart
from tasks.tuning.progress import SearchProgress, oracle_progress, report
from tasks.tuning.ranking import fold_scores, ranked_trials, write_fold_scores
from tasks.tuning.resume import CLOCK_FILE, TrialBackup, resumed_seconds
from tasks.tuning.selection import OutOfFoldPredictions, write_oof

# The search's own lines ("trial 3 (cnn) val_f1_macro=..."), under its name.
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


@dataclass(frozen=True)
class TrialSettings:
    """How each trial trains.

    Args:
        epochs: at most this many epochs per trial.
        backup_seconds: a running trial backs itself up at the first epoch
            end this long after its last backup; 0 backs up every epoch.
        folds: cross-validation's (train, validation) pipelines; a trial
            trains once per fold and scores their mean. Empty: the one
            validation split `search` is given.
        keep_checkpoints: how many of the best trials keep their weights.
    """

    epochs: int
    backup_seconds: float = 30.0
    folds: Sequence = ()
    keep_checkpoints: int = 1


class SearchAlone:
    """Searching alone: this process asks its own oracle and trains every trial."""

    prunes_checkpoints = True

    def search(self, tuner, run_trials) -> None:
        run_trials()

    def on_trial_begin(self, tuner, trial) -> None:
        pass

    def on_trial_end(self, tuner, trial) -> None:
        pass

    def progress(self, tuner, event: str, trial, epoch: int) -> SearchProgress:
        return oracle_progress(tuner.oracle, event, trial, epoch, tuner.settings.epochs)


def part_for(role: DistributedSearch | None) -> SearchPart:
    """This process's part in the search for `role` (None: alone)."""
    if role is None:
        return SearchAlone()
    if role.role == "chief":
        return ChiefPart(role)
    return WorkerPart(role)


class PipelineTuner(kt.Tuner):
    """Keras Tuner's tuner for the pipeline's trials; one class for every oracle.

    Args:
        hypermodel: builds, compiles and fits each trial's model.
        oracle: what to try next, keeping `budget` (`tasks.tuning.budget`).
        budget: the search's time budget; started by `search`.
        settings: epochs and backup period of each trial.
        callbacks: callbacks every trial's `fit` gets, besides the deadline
            and progress ones the tuner adds.
        role: this process's part in a distributed search; None searches alone.
        **kwargs: `kt.Tuner`'s own (directory, project_name, ...).
    """

    # Hyperband resumes trials from earlier trials' weights, so it keeps all.
    keeps_every_checkpoint = False

    def __init__(
        self,
        hypermodel: kt.HyperModel,
        oracle: DeadlineOracle,
        budget: SearchBudget,
        settings: TrialSettings,
        callbacks: Sequence[keras.callbacks.Callback] = (),
        role: DistributedSearch | None = None,
        **kwargs,
    ):
        # Concrete tuners (Hyperband, ...) build their own oracle; here it is
        # injected, so only their trial logic is inherited.
        kt.Tuner.__init__(self, oracle=oracle, hypermodel=hypermodel, **kwargs)
        self.budget = budget
        self.settings = settings
        self.role = role
        self.part = part_for(role)
        self.prunes_checkpoints = (
            self.part.prunes_checkpoints and not self.keeps_every_checkpoint
        )
        self.callbacks = [*callbacks, Deadline(budget), EpochProgress(self)]
        self.trial_seconds: dict[str, float] = {}
        self.kept_checkpoints: set[str] = set()
        self.trial_begun: SearchProgress | None = None
        self.gradients_before: frozenset[str] = frozenset()
        self.resumed_seconds = resumed_seconds(self)

    @property
    def stopped_by_budget(self) -> bool:
        """Whether the time budget ran out before the search ended."""
        return self.budget.ran_out

    def search(self, *fit_args, **fit_kwargs) -> None:
        """Start the budget's clock and search as this process's part says."""
        self.budget.start(self.resumed_seconds)
        fit_kwargs["callbacks"] = [*fit_kwargs.get("callbacks", []), *self.callbacks]
        run_trials = functools.partial(super().search, *fit_args, **fit_kwargs)
        self.part.search(self, run_trials)

    def run_trial(self, trial, *args, **kwargs):
        if self.settings.folds:
            histories = self._cross_validate(trial, **kwargs)
        else:
            histories = self._train_once(trial, *args, **kwargs)
        objective = self.oracle.objective
        folds = fold_scores(histories, objective.name, objective.direction)
        write_fold_scores(self.get_trial_dir(trial.trial_id), folds)
        return histories

    def _cross_validate(self, trial, **kwargs) -> list:
        """Train once per fold; a trial cut by the budget keeps the folds it ran.

        Each fold's best epoch predicts the fold's validation examples; a
        trial that ran every fold saves those out-of-fold predictions for
        ensemble selection (`tasks.tuning.selection`). Folds are not backed
        up: an interrupted trial starts again on resume.
        """
        kwargs.pop("validation_data", None)
        histories, out_of_fold = [], []
        objective = self.oracle.objective
        for fold in self.settings.folds:
            if histories and self.budget.expired():
                break
            recorder = OutOfFoldPredictions(
                fold.validation, objective.name, objective.direction, out_of_fold
            )
            callbacks = [*kwargs.get("callbacks", []), recorder]
            histories += super().run_trial(
                trial,
                fold.train,
                validation_data=fold.validation,
                **{**kwargs, "callbacks": callbacks},
            )
        if len(out_of_fold) == len(self.settings.folds):  # every example predicted
            write_oof(self.get_trial_dir(trial.trial_id), out_of_fold)
        return histories

    def _train_once(self, trial, *args, **kwargs) -> list:
        # The backup is the point a resume goes on from; the hypermodel's
        # `fit` wires it to the trial's other callbacks.
        backup = TrialBackup(
            Path(self.get_trial_dir(trial.trial_id)) / "backup",
            self.settings.backup_seconds,
        )
        if backup.resume_epoch:
            logger.info(
                "trial %s resumes at epoch %d of %d (%d earlier epoch(s) kept)",
                trial.trial_id,
                backup.resume_epoch + 1,
                self.settings.epochs,
                backup.resume_epoch,
            )
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), backup]
        return list(super().run_trial(trial, *args, **kwargs))

    def on_trial_begin(self, trial) -> None:
        self.trial_seconds.setdefault(trial.trial_id, time.monotonic())
        self.gradients_before = custom_gradients()
        self.part.on_trial_begin(self, trial)
        super().on_trial_begin(trial)
        self.trial_begun = self.progress("trial_begin", trial)
        report(self.trial_begun)

    def on_trial_end(self, trial) -> None:
        self.part.on_trial_end(self, trial)
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
        self.prune_checkpoints(trial.trial_id)
        self.budget.expired()  # a trial that ended past the deadline counts

    def progress(self, event: str, trial, epoch: int = 0) -> SearchProgress:
        """`trial`'s progress event, as this process can see the search."""
        return self.part.progress(self, event, trial, epoch)

    def epoch_progress(self, epoch: int) -> SearchProgress:
        """The running trial's begin event, moved on to `epoch` (counts and
        best score do not change within a trial: the oracle is not asked)."""
        return replace(self.trial_begun, event="epoch_end", epoch=epoch)

    def save_clock(self) -> None:
        """Record the seconds this search has used, for a resume's budget."""
        write_text_atomically(
            Path(self.project_dir) / CLOCK_FILE,
            json.dumps({"seconds": round(self.budget.used(), 3)}),
        )

    def prune_checkpoints(self, ended: str) -> None:
        """Delete the weights of `ended` and of earlier best trials, unless
        among the `keep_checkpoints` best.

        Keras Tuner keeps every trial's weights; a long search fills disks.
        """
        if not self.prunes_checkpoints:
            return
        ranked = ranked_trials(self)[: self.settings.keep_checkpoints]
        best = {t.trial_id for t in ranked}
        self.kept_checkpoints.add(ended)
        for trial_id in self.kept_checkpoints - best:
            path = checkpoint_path(self, trial_id)
            if path is not None:
                Path(path).unlink(missing_ok=True)
        self.kept_checkpoints &= best


class PipelineHyperband(PipelineTuner, kt.Hyperband):
    """The pipeline tuner with Keras Tuner's Hyperband trial logic.

    Hyperband's `run_trial` trains each trial for its bracket's epochs and its
    model build starts from an earlier trial's weights; give it a
    `tasks.tuning.budget.HyperbandOracle`.
    """

    keeps_every_checkpoint = True
