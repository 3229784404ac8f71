"""Retries with real Prefect tasks: I/O hiccups are retried, bad input is not."""

from __future__ import annotations

import errno

import pytest
from prefect import flow

from tasks.errors import (
    ConfigError,
    DataError,
    RegistryError,
    StorageError,
    raise_if_transient,
)
from tasks.load import load_dataset_task
from tasks.publish import publish_version_task
from tasks.stage import stage


def _failing(first_errors: list[BaseException]):
    """A stage (2 retries, no delay) raising `first_errors` in turn, then "ok"."""
    calls = []

    @stage("flaky", retries=2, retry_delay_seconds=0)
    def flaky() -> str:
        calls.append(1)
        if len(calls) <= len(first_errors):
            raise first_errors[len(calls) - 1]
        return "ok"

    @flow(name="retry-probe")
    def probe():
        return flaky()

    return probe, calls


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.EIO, "Input/output error"),
        StorageError("a stale network mount"),
        TimeoutError("object store did not answer"),
    ],
)
def test_io_hiccups_are_retried_until_they_pass(prefect_harness, error):
    probe, calls = _failing([error, error])
    assert probe() == "ok"
    assert len(calls) == 3


@pytest.mark.parametrize(
    "error",
    [
        ConfigError("search.epochs received -1"),
        DataError("the file is not an .npz archive"),
        RegistryError("champion.json is unreadable"),
    ],
)
def test_bad_input_is_never_retried(prefect_harness, error):
    probe, calls = _failing([error])
    with pytest.raises(type(error)):
        probe()
    assert len(calls) == 1


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("a bug after the version was renamed into place"),
        ValueError("unexpected"),
        OSError(errno.ENOSPC, "No space left on device"),
    ],
)
def test_unexpected_errors_are_never_retried(prefect_harness, error):
    probe, calls = _failing([error])
    with pytest.raises(type(error)):
        probe()
    assert len(calls) == 1


def test_a_contract_violation_is_never_retried(prefect_harness):
    from data_contracts import ContractError

    probe, calls = _failing([ContractError("the contract file is not YAML")])
    with pytest.raises(ContractError):
        probe()
    assert len(calls) == 1


def test_load_and_publish_retry_with_backoff():
    for task in (load_dataset_task, publish_version_task):
        assert task.retries == 2
        assert task.retry_delay_seconds == [1, 5]  # growing waits


@pytest.mark.parametrize(
    ("number", "retryable"),
    [
        (errno.EIO, True),
        (errno.ESTALE, True),
        (errno.ETIMEDOUT, True),
        (errno.ENOSPC, False),
        (errno.ENOENT, False),
        (errno.EACCES, False),
    ],
)
def test_only_passing_io_errors_become_retryable(number, retryable, tmp_path):
    error = OSError(number, "boom")
    if retryable:
        with pytest.raises(StorageError, match=r"Reading .*x\.npz failed") as raised:
            raise_if_transient(error, "Reading", tmp_path / "x.npz")
        assert raised.value.retryable and raised.value.exit_code == 1
    else:
        raise_if_transient(error, "Reading", tmp_path / "x.npz")  # no error
