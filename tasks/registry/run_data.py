"""Same data or refuse: a run's data fingerprint, kept in its `run.json`.

A resumed run keeps the trials it finished, and a distributed worker trains
trials the chief compares; both are only sound on the examples, labels and
splits the run started with. The fingerprint is a hash over every example's
content digest, label and split, sorted, so it names the examples (copies
included) and the split each one was assigned, and nothing else: the order
of the rows does not count (the splits do not depend on it), but one changed
value or label, one example more or less, or a change in how examples are
assigned to splits does. The data profile's own fingerprint
(`data_contracts.drift`) is not used: it follows the order of the rows and
knows nothing of splits.

The run records it once it has prepared its data (`record_data`); a resume,
a Prefect retry and every worker compare theirs with it before any training
(`record_data`, `check_worker_data`) and refuse (exit code 2) when it differs.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tasks.errors import ConfigError
from tasks.registry.runs import RUN_FILE, read_run, write_run

if TYPE_CHECKING:
    from tasks.split import Splits

logger = logging.getLogger(__name__)


class DataChangedError(ConfigError):
    """The data differs from the data a run started on (exit code 2)."""


def data_fingerprint(splits: Splits) -> str:
    """A hash of every example's (content digest, label, split), sorted."""
    membership = splits.membership()
    codes = np.concatenate([splits.y_train, splits.y_val, splits.y_test])
    labels = [str(splits.labels[int(code)]) for code in codes]
    rows = sorted(zip(membership["digest"], labels, membership["split"], strict=True))
    digest = hashlib.sha256()
    for row in rows:
        digest.update(("\t".join(map(str, row)) + "\n").encode())
    return digest.hexdigest()[:16]


def record_data(run_dir: Path, splits: Splits, new_search: bool = False) -> str:
    """Keep the run's data fingerprint in `run.json`, or check it is the same.

    Args:
        run_dir: the run's folder; its `run.json` must exist (`start_run`).
        splits: the data as this attempt prepared it.
        new_search: a search that starts from nothing (a distributed chief,
            whose folder holds no trial): the fingerprint is replaced.

    Returns:
        The fingerprint.

    Raises:
        DataChangedError: the run recorded another fingerprint: it started on
            other data, and its finished trials were trained on that.
    """
    fingerprint = data_fingerprint(splits)
    record = read_run(run_dir) or {}
    recorded = record.get("data_fingerprint")
    if recorded is not None and recorded != fingerprint and not new_search:
        raise DataChangedError(
            f"Run {run_dir.name} started on other data: received data with "
            f"fingerprint {fingerprint} ({_count(splits)} examples), expected "
            f"{recorded} ({record.get('data_examples', '?')} examples), recorded "
            f"in {run_dir / RUN_FILE} when it started; its finished trials were "
            "trained and validated on those examples and splits. Restore the "
            "data the run started on and resume again, or start a new run "
            "(without --resume) to train on this data."
        )
    record.update(data_fingerprint=fingerprint, data_examples=_count(splits))
    write_run(run_dir, record)
    return fingerprint


def check_worker_data(
    run_dir: Path,
    splits: Splits,
    timeout_seconds: float | None = None,
    poll_seconds: float = 1.0,
) -> str:
    """Check a worker's data against the fingerprint the chief recorded.

    The chief records it before it serves any trial, so a worker that started
    first waits for it (as it would wait for the chief), at most
    `timeout_seconds` (None: as long as it takes).

    Returns:
        The fingerprint, the same as the chief's.

    Raises:
        DataChangedError: the chief prepared other data.
        ConfigError: the run folder holds a run that already published, or
            the chief recorded nothing within `timeout_seconds`.
    """
    fingerprint = data_fingerprint(splits)
    record = _chief_record(run_dir, timeout_seconds, poll_seconds)
    recorded = record["data_fingerprint"]
    if recorded != fingerprint:
        raise DataChangedError(
            f"This worker's data differs from the chief's: received data with "
            f"fingerprint {fingerprint} ({_count(splits)} examples), expected "
            f"the chief's {recorded} ({record.get('data_examples', '?')} "
            f"examples, in {run_dir / RUN_FILE}); a trial trained here would "
            "be scored on other examples than the chief's. Give the worker the "
            "chief's config file and the same data (the same data.source, with "
            "the same contents), or restart the chief and every worker on the "
            "new data with a new --run-id."
        )
    return fingerprint


def wait_for_chief_data(
    run_dir: Path, timeout_seconds: float | None = None, poll_seconds: float = 1.0
) -> dict:
    """The chief's `run.json` once it holds a data fingerprint.

    A distributed chief writes its prepared data (`tasks.registry.prepared`)
    before it records the fingerprint, so once this returns a worker finds
    that data in the run folder. A worker that started first waits, at most
    `timeout_seconds` (None: as long as it takes).

    Raises:
        ConfigError: the run folder holds a run that already published, or
            the chief recorded nothing within `timeout_seconds`.
    """
    return _chief_record(run_dir, timeout_seconds, poll_seconds)


def _chief_record(
    run_dir: Path, timeout_seconds: float | None, poll_seconds: float
) -> dict:
    """The chief's `run.json` once it holds a data fingerprint."""
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    waiting = False
    while True:
        record = read_run(run_dir) or {}
        if record.get("status") == "published":
            raise ConfigError(
                f"The run folder {run_dir} holds run {run_dir.name}, which already "
                f"published {record.get('version')}; expected the chief's running "
                "search. Start the chief with a new --run-id and pass the same "
                "one to every worker."
            )
        if record.get("data_fingerprint"):
            return record
        if deadline is not None and time.monotonic() >= deadline:
            raise ConfigError(
                f"The chief recorded no data fingerprint in {run_dir / RUN_FILE} "
                f"within {timeout_seconds:g} seconds; expected the chief of run "
                f"{run_dir.name} to have prepared its data. Start the chief "
                "(`automl run CONFIG --distributed`) with the same --run-id and "
                "--output-dir as this worker."
            )
        if not waiting:
            logger.info(
                "waiting for the chief to record its data in %s", run_dir / RUN_FILE
            )
            waiting = True
        time.sleep(poll_seconds)


def _count(splits: Splits) -> int:
    return len(splits.y_train) + len(splits.y_val) + len(splits.y_test)
