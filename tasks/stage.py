"""The one way a pure stage function becomes a Prefect task."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from data_contracts import ContractError, ContractViolation
from tasks.errors import AutoMLError, is_transient

# Errors that say the input is wrong: retrying cannot help.
NOT_RETRIED = (AutoMLError, ContractError, ContractViolation)


def stage(name: str, **options: Any) -> Callable[[Callable], Any]:
    """A task decorator for a pipeline stage.

    Stages pass arrays and Keras models between them in memory, so Prefect's
    input hashing and result caching are off: a retrain must retrain. Stages
    given `retries` retry only I/O errors that may pass: our errors marked
    `retryable` and `OSError`s with a transient errno, time-outs and dropped
    connections (`tasks.errors.is_transient`). Never a config, data or
    contract error, and never an unexpected one: a bug does not pass with
    time, and a retried publish could land a second version.
    """
    if options.get("retries"):
        options.setdefault("retry_condition_fn", _may_retry)
    return task(name=name, cache_policy=NO_CACHE, **options)


def _may_retry(task, task_run, state) -> bool:
    try:
        state.result()
    except NOT_RETRIED as exc:
        return bool(getattr(exc, "retryable", False))
    except Exception as exc:
        return is_transient(exc)
    return False
