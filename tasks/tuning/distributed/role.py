"""Distributed search: Keras Tuner's own chief/worker mode over gRPC, gaps filled.

The chief serves the oracle (what to try next); each worker asks it for a
trial, trains it and reports the result, until the chief says the search is
done. They share the tuner folder: the chief loads the best trial's
checkpoint that a worker wrote. Keras Tuner reads its roles from environment
variables (`KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP`,
`KERASTUNER_ORACLE_PORT`) when the tuner is built and searches;
`tuner_environment` sets them for that span and restores them after.

Three gaps in Keras Tuner 1.4 are filled here: its chief serves until every
worker that ever connected has said goodbye, so one dead worker hangs it; it
has no heartbeat or timeout for a running trial; and the time budget must
stop the chief, not a worker, handing out trials. Workers here ping the chief
every `HEARTBEAT_SECONDS` while they train; the chief ends a trial as failed
once its worker has been silent for `trial_timeout_seconds`, and returns once
no trial is left to hand out and none is running.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import grpc
import keras_tuner as kt
from keras_tuner.src import protos

from tasks.errors import ConfigError
from tasks.registry import runs
from tasks.tuning.distributed.chief import (
    HEARTBEAT_SECONDS,
    ChiefMixin,
    quiet_conditions,
)
from tasks.tuning.progress import SearchProgress

logger = logging.getLogger(__name__)

MIN_TRIAL_TIMEOUT_SECONDS = 5 * HEARTBEAT_SECONDS
_ENVIRONMENT = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")


@dataclass(frozen=True)
class DistributedSearch:
    """This process's part in a distributed search.

    Args:
        role: `chief` serves the oracle; `worker` pulls trials from it.
        host: the chief's address (a worker), or where it listens (the chief).
        port: the chief's port.
        tuner_id: Keras Tuner's name for this process, unique per worker.
        run_id: the run folder chief and workers share, `runs/<name>/<run_id>`.
        trial_timeout_seconds: the chief ends a running trial as failed once
            its worker has sent nothing for this long.
    """

    role: Literal["chief", "worker"]
    host: str
    port: int
    tuner_id: str
    run_id: str
    trial_timeout_seconds: float = 600.0

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def chief_role(
    port: int,
    host: str = "127.0.0.1",
    trial_timeout_seconds: float = 600.0,
    run_id: str | None = None,
) -> DistributedSearch:
    """The chief's part: serve the oracle on `host:port`.

    Raises:
        ConfigError: a port outside 1-65535, a trial timeout too short to
            outlast the workers' heartbeat, or a `run_id` that is not a plain
            folder name.
    """
    _check_port(port, f"--port {port}")
    if trial_timeout_seconds < MIN_TRIAL_TIMEOUT_SECONDS:
        raise ConfigError(
            f"--trial-timeout received {trial_timeout_seconds:g} seconds; expected "
            f"at least {MIN_TRIAL_TIMEOUT_SECONDS:g} (workers report every "
            f"{HEARTBEAT_SECONDS:g} seconds). Pass a longer --trial-timeout."
        )
    return DistributedSearch(
        role="chief",
        host=host,
        port=port,
        tuner_id="chief",
        run_id=check_run_id(run_id) if run_id else default_run_id(port),
        trial_timeout_seconds=trial_timeout_seconds,
    )


def worker_role(chief: str, run_id: str | None = None) -> DistributedSearch:
    """A worker's part: pull trials from the chief at `chief` (`HOST:PORT`).

    Raises:
        ConfigError: `chief` is not `HOST:PORT`, or `run_id` is not a plain
            folder name.
    """
    host, _, port = chief.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(
            f"--chief received {chief!r}; expected HOST:PORT, the address the "
            "chief prints (e.g. 10.0.0.5:8000 or 127.0.0.1:8000)."
        )
    _check_port(int(port), f"--chief {chief}")
    return DistributedSearch(
        role="worker",
        host=host.strip("[]"),
        port=int(port),
        tuner_id=worker_id(),
        run_id=check_run_id(run_id) if run_id else default_run_id(int(port)),
    )


def check_run_id(run_id: str) -> str:
    """`run_id` itself, when it names one folder under `runs/<name>/`."""
    return runs.check_run_id(run_id, option="--run-id")


def default_run_id(port: int) -> str:
    """The run folder chief and workers agree on without being told: per port."""
    return f"distributed-{port}"


def worker_id() -> str:
    """`worker-<hostname>-<pid>`: unique per process, never containing `chief`.

    Keras Tuner treats any tuner id containing "chief" as the chief.
    """
    hostname = socket.gethostname().replace("chief", "chf")
    return f"worker-{hostname}-{os.getpid()}"


def ensure_new_search(tuner_dir: str | Path) -> None:
    """Refuse to start a chief on a tuner folder an earlier chief already used.

    Keras Tuner would silently resume it (and a finished search would publish
    the old trials again). Workers only add their own files, so a worker
    started before the chief does not count.

    Raises:
        ConfigError: the folder holds an earlier search's oracle.
    """
    oracle_file = Path(tuner_dir) / "oracle.json"
    if oracle_file.exists():
        raise ConfigError(
            f"The tuner folder {Path(tuner_dir)} already holds a distributed search "
            f"(received an existing {oracle_file.name}); expected a fresh folder. "
            "Pass a new --run-id to the chief and the same one to every worker, "
            "or remove that run folder."
        )


@contextlib.contextmanager
def tuner_environment(distributed: DistributedSearch | None) -> Iterator[None]:
    """Keras Tuner's role variables for this block; the old values after it."""
    if distributed is None:
        yield
        return
    quiet_conditions()
    saved = {key: os.environ.get(key) for key in _ENVIRONMENT}
    os.environ.update(
        KERASTUNER_TUNER_ID=distributed.tuner_id,
        KERASTUNER_ORACLE_IP=distributed.host,
        KERASTUNER_ORACLE_PORT=str(distributed.port),
    )
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def taking_part(
    tuner_class: type[kt.Tuner], distributed: DistributedSearch | None
) -> type[kt.Tuner]:
    """The tuner class for this process's role; `tuner_class` when not distributed."""
    if distributed is None:
        return tuner_class
    mixin = ChiefMixin if distributed.role == "chief" else WorkerMixin
    taking = type(
        f"{distributed.role.title()}{tuner_class.__name__}", (mixin, tuner_class), {}
    )
    taking.distributed = distributed
    return taking


def distribution_strategy(strategy: str):
    """The `tf.distribute` strategy each trial builds and fits under, or None.

    Raises:
        ConfigError: an unknown strategy name.
    """
    if strategy == "default":
        return None
    if strategy == "mirrored":
        import tensorflow as tf

        return tf.distribute.MirroredStrategy()
    raise ConfigError(
        f"train.strategy received {strategy!r}; expected 'default' or 'mirrored'."
    )


def strategy_scope(strategy) -> contextlib.AbstractContextManager:
    """`strategy.scope()`, or nothing without a strategy."""
    return contextlib.nullcontext() if strategy is None else strategy.scope()


class WorkerMixin:
    """Trains the trials the chief hands out, with a heartbeat while it trains."""

    distributed: DistributedSearch
    trials_run: list[str]
    # A worker sees only its own trials; the chief prunes the checkpoints.
    keep_best_checkpoint_only = False

    def on_search_begin(self):
        self.trials_run = []
        logger.info(
            "worker %s: asking the chief at %s for trials",
            self.tuner_id,
            self.distributed.address,
        )
        super().on_search_begin()

    def on_trial_begin(self, trial):
        self._heartbeat = _Heartbeat(self.oracle.stub, trial.trial_id)
        self._heartbeat.start()
        super().on_trial_begin(trial)

    def on_trial_end(self, trial):
        self._heartbeat.stop()
        self.trials_run.append(trial.trial_id)
        super().on_trial_end(trial)

    def on_search_end(self):
        super().on_search_end()
        logger.info(
            "worker %s ran %d trial(s) (%s); the chief says the search is done",
            self.tuner_id,
            len(self.trials_run),
            ", ".join(self.trials_run) or "none",
        )

    def progress(self, event, trial, epoch=0) -> SearchProgress:
        # Only the chief knows every trial; a worker reports its own.
        return SearchProgress(
            event=event,
            trial=trial.trial_id,
            trials_done=len(self.trials_run),
            max_trials=None,
            epoch=epoch,
            epochs=self.epochs,
            family=trial.hyperparameters.values.get("family"),
        )

    def stop_new_trials(self):
        # The chief keeps the time budget and stops handing out trials.
        pass


class _Heartbeat(threading.Thread):
    """Tells the chief every few seconds that this worker's trial is alive."""

    def __init__(self, stub, trial_id: str):
        super().__init__(name=f"heartbeat-{trial_id}", daemon=True)
        self.stub = stub
        self.trial_id = trial_id
        self._stopped = threading.Event()

    def run(self) -> None:
        request = protos.get_service().GetTrialRequest(trial_id=self.trial_id)
        while not self._stopped.wait(HEARTBEAT_SECONDS):
            try:
                self.stub.GetTrial(request, timeout=HEARTBEAT_SECONDS)
            except grpc.RpcError as exc:
                # A missed beat is harmless; only a long silence ends the trial,
                # and the trial's own report fails loudly if the chief is gone.
                logger.debug("heartbeat for trial %s missed: %s", self.trial_id, exc)

    def stop(self) -> None:
        self._stopped.set()


def _check_port(port: int, received: str) -> None:
    if not 0 < port < 65536:
        raise ConfigError(
            f"{received}: received port {port}; expected 1-65535. Pass the port "
            "the chief listens on."
        )
