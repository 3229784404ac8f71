"""Distributed search, what the chief and the workers share: the role, Keras
Tuner's environment variables, the heartbeat period, the run folder.

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
no trial is left to hand out and none is running. The chief's side is in
`tasks.tuning.distributed.chief`, the worker's in
`tasks.tuning.distributed.worker`.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from tasks.errors import ConfigError
from tasks.registry import runs
from tasks.tuning.compat import silence_parent_condition_print
from tasks.tuning.progress import SearchProgress

# Workers ping the chief this often while they train.
HEARTBEAT_SECONDS = 2.0
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
    silence_parent_condition_print()
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


class SearchPart(Protocol):
    """What one process does in a search; the pipeline tuner calls these hooks.

    Searching alone (`tasks.tuning.tuner.SearchAlone`), serving the oracle as
    the chief (`tasks.tuning.distributed.chief.ChiefPart`), or training what
    the chief hands out (`tasks.tuning.distributed.worker.WorkerPart`).
    """

    # Whether the tuner deletes every checkpoint but the best trial's.
    prunes_checkpoints: bool

    def search(self, tuner, run_trials) -> None:
        """Run the search; `run_trials()` is Keras Tuner's own trial loop."""

    def on_trial_begin(self, tuner, trial) -> None:
        """Called as this process starts training `trial`."""

    def on_trial_end(self, tuner, trial) -> None:
        """Called as this process has trained `trial`."""

    def progress(self, tuner, event: str, trial, epoch: int) -> SearchProgress:
        """`trial`'s progress event as this process can see it."""


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


def _check_port(port: int, received: str) -> None:
    if not 0 < port < 65536:
        raise ConfigError(
            f"{received}: received port {port}; expected 1-65535. Pass the port "
            "the chief listens on."
        )
