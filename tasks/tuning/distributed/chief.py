"""The chief's side of a distributed search: serve the oracle until it is done.

Keras Tuner's own `oracle_chief.start_server` loops until every worker that
ever asked for a trial has been told to stop, so a worker that died keeps it
waiting forever, and it never stops its gRPC server. `serve_oracle` uses the
same servicer but returns once no trial is left to hand out and none is
running, ends a trial as failed when its worker has gone silent, keeps the
time budget (the chief's oracle hands out no trial past it), and stops the
server. `ChiefPart` is the pipeline tuner's part when it is the chief.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import grpc
import keras_tuner as kt
from keras_tuner.engine.trial import TrialStatus

from tasks.errors import ConfigError, SearchError
from tasks.tuning.budget import SearchBudget
from tasks.tuning.compat import OracleServicer, add_oracle_servicer, grpc_service
from tasks.tuning.distributed.role import DistributedSearch
from tasks.tuning.progress import SearchProgress, oracle_progress, report

logger = logging.getLogger(__name__)

# How long the chief stays up after the last trial so that live workers hear
# "stopped" instead of waiting for a server that is gone.
GOODBYE_SECONDS = 10.0
_POLL_SECONDS = 0.2
RECORD_FILE = "distributed.json"


@dataclass
class ServeOutcome:
    """What the chief saw: who ran what, for how long, and why it stopped."""

    stopped_by_budget: bool = False
    workers: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)


@dataclass
class ChiefPart:
    """Serves the oracle instead of training; returns when the search is done.

    Args:
        role: the chief's part (`tasks.tuning.distributed.role.chief_role`).
    """

    role: DistributedSearch
    prunes_checkpoints: ClassVar[bool] = True

    def search(self, tuner, run_trials) -> None:
        # The chief logs a line per trial; Keras Tuner's trial tables stay off.
        tuner.oracle.verbose = 0
        tuner.save()
        outcome = serve_oracle(
            tuner.oracle,
            self.role,
            tuner.budget,
            on_trial_begin=lambda trial, worker: self._began(tuner, trial, worker),
            on_trial_end=lambda *ended: self._ended(tuner, *ended),
        )
        path = Path(tuner.project_dir) / RECORD_FILE
        write_record(path, tuner.oracle, self.role, outcome)

    def on_trial_begin(self, tuner, trial) -> None:
        """Never called: the chief trains nothing."""

    def on_trial_end(self, tuner, trial) -> None:
        """Never called: the chief trains nothing."""

    def progress(self, tuner, event: str, trial, epoch: int) -> SearchProgress:
        return oracle_progress(tuner.oracle, event, trial, epoch, tuner.settings.epochs)

    def _began(self, tuner, trial, worker: str) -> None:
        logger.info("trial %s started on %s", trial.trial_id, worker)
        report(self.progress(tuner, "trial_begin", trial, 0))

    def _ended(self, tuner, trial, worker: str, seconds: float) -> None:
        tuner.trial_seconds[trial.trial_id] = seconds
        score = "failed" if trial.score is None else f"{trial.score:.4f}"
        logger.info(
            "trial %s (%s) on %s: %s=%s in %.1fs",
            trial.trial_id,
            trial.hyperparameters.values.get("family"),
            worker,
            tuner.oracle.objective.name,
            score,
            seconds,
        )
        report(self.progress(tuner, "trial_end", trial, 0))
        tuner.prune_checkpoints(trial.trial_id)


class _WatchingServicer(OracleServicer):
    """Keras Tuner's servicer, noting which worker runs which trial and when."""

    def __init__(self, oracle: kt.Oracle):
        super().__init__(oracle)
        self.workers: dict[str, str] = {}
        self.started: dict[str, float] = {}
        self.last_seen: dict[str, float] = {}
        self.ended: dict[str, float] = {}

    def CreateTrial(self, request, context):
        trial = self.oracle.create_trial(request.tuner_id)
        if trial.status == TrialStatus.STOPPED:
            self.stop_triggered = True
        elif trial.status == TrialStatus.RUNNING:
            now = time.monotonic()
            self.workers[trial.trial_id] = request.tuner_id
            self.started.setdefault(trial.trial_id, now)
            self.last_seen[trial.trial_id] = now
        return grpc_service().CreateTrialResponse(trial=trial.to_proto())

    def UpdateTrial(self, request, context):
        self.last_seen[request.trial_id] = time.monotonic()
        return super().UpdateTrial(request, context)

    def GetTrial(self, request, context):
        # Workers call this as their heartbeat while they train.
        self.last_seen[request.trial_id] = time.monotonic()
        return super().GetTrial(request, context)

    def EndTrial(self, request, context):
        self.ended[request.trial.trial_id] = time.monotonic()
        return super().EndTrial(request, context)


def serve_oracle(
    oracle: kt.Oracle,
    distributed: DistributedSearch,
    budget: SearchBudget,
    on_trial_begin: Callable,
    on_trial_end: Callable,
) -> ServeOutcome:
    """Serve `oracle` to the workers until the search is done; then stop.

    Args:
        oracle: the chief's oracle; past the budget it hands out no trial
            (`tasks.tuning.budget.DeadlineOracle`).
        distributed: where to listen and how long a silent trial may run.
        budget: the search's time budget, started.
        on_trial_begin: called with (trial, worker) as each trial starts.
        on_trial_end: called with (trial, worker, seconds) as each one ends.

    Raises:
        ConfigError: the address cannot be listened on.
        SearchError: the budget ran out before any worker took a trial.
    """
    servicer = _WatchingServicer(oracle)
    # Without SO_REUSEPORT a second chief on the same port fails loudly
    # instead of silently sharing the workers with the first.
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4), options=[("grpc.so_reuseport", 0)]
    )
    add_oracle_servicer(servicer, server)
    try:
        bound = server.add_insecure_port(distributed.address)
    except RuntimeError as exc:
        bound, problem = 0, str(exc)
    else:
        problem = "the port is taken"
    if not bound:
        raise ConfigError(
            f"The chief cannot listen on {distributed.address} ({problem}); expected a "
            "free port on this machine. Pass another --port (and give workers the "
            "same one in --chief)."
        ) from None
    server.start()
    logger.info(
        "chief: serving the search on %s; start workers with "
        "`automl worker CONFIG --chief HOST:%d --run-id %s`",
        distributed.address,
        distributed.port,
        distributed.run_id,
    )
    outcome = ServeOutcome()
    watch = (servicer, distributed, budget, (on_trial_begin, on_trial_end))
    seen: set[str] = set()
    try:
        while not _poll(oracle, *watch, outcome, seen):
            time.sleep(_POLL_SECONDS)
        goodbye = time.monotonic() + GOODBYE_SECONDS
        while oracle.tuner_ids and time.monotonic() < goodbye:
            time.sleep(_POLL_SECONDS)
    finally:
        server.stop(grace=1.0).wait()
    if not oracle.trials:
        raise SearchError(
            f"No worker took a trial before the time budget ran out (received no "
            f"request on {distributed.address}); expected at least one "
            f"`automl worker CONFIG --chief HOST:{distributed.port}`. Start workers "
            "that can reach this address, or raise search.time_budget_minutes."
        )
    return outcome


@kt.synchronized
def _poll(oracle, servicer, distributed, budget, callbacks, outcome, seen) -> bool:
    """One look at the search under the oracle's lock; True once it is done."""
    on_trial_begin, on_trial_end = callbacks
    now = time.monotonic()
    if budget.expired() and not outcome.stopped_by_budget:
        outcome.stopped_by_budget = True
        logger.info("chief: time budget reached; no new trials")
    for tuner_id, trial in list(oracle.ongoing_trials.items()):
        silent = now - servicer.last_seen.get(trial.trial_id, now)
        if silent > distributed.trial_timeout_seconds:
            trial.status = TrialStatus.FAILED
            trial.message = (
                f"Worker {tuner_id} sent nothing for {silent:.0f}s (trial timeout "
                f"{distributed.trial_timeout_seconds:g}s); the trial was ended as "
                "failed. Check that worker's log, or raise --trial-timeout."
            )
            logger.warning("chief: trial %s lost: %s", trial.trial_id, trial.message)
            servicer.ended[trial.trial_id] = now
            oracle.end_trial(trial)
            oracle.tuner_ids.discard(tuner_id)
            outcome.lost.append(trial.trial_id)
    for trial_id in list(oracle.start_order):
        trial = oracle.trials[trial_id]
        worker = servicer.workers.get(trial_id, "?")
        if trial_id not in seen:
            seen.add(trial_id)
            outcome.workers[trial_id] = worker
            on_trial_begin(trial, worker)
        ended = trial.status in (TrialStatus.COMPLETED, TrialStatus.FAILED)
        if ended and trial_id in servicer.ended and trial_id not in outcome.seconds:
            seconds = servicer.ended[trial_id] - servicer.started[trial_id]
            outcome.seconds[trial_id] = seconds
            on_trial_end(trial, worker, seconds)
    if oracle.ongoing_trials:
        return False
    if outcome.stopped_by_budget:
        return True
    exhausted = bool(oracle.max_trials) and len(oracle.trials) >= oracle.max_trials
    return servicer.stop_triggered or exhausted


def write_record(
    path: str | Path,
    oracle: kt.Oracle,
    distributed: DistributedSearch,
    outcome: ServeOutcome,
) -> None:
    """Write which worker ran which trial, how long, and whether it was lost."""
    record = {
        "chief": distributed.address,
        "run_id": distributed.run_id,
        "stopped_by_budget": outcome.stopped_by_budget,
        "trials": {
            trial_id: {
                "worker": outcome.workers.get(trial_id),
                "status": trial.status,
                "seconds": round(outcome.seconds.get(trial_id, 0.0), 2),
                "lost": trial_id in outcome.lost,
            }
            for trial_id, trial in oracle.trials.items()
        },
    }
    Path(path).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
