"""Errors that carry meaning: each one maps to a CLI exit code.

Messages follow one form: what was received, what was expected, how to fix it.
`data_contracts.ContractViolation` (exit code 3) lives beside the contracts.
"""

from __future__ import annotations

import errno


class AutoMLError(Exception):
    """Base class for errors the CLI turns into one paragraph and an exit code.

    `retryable` marks an error a retry may cure (a storage hiccup); stages
    with retries retry only those, and I/O errors that may pass
    (`is_transient`). Nothing else is retried: an unexpected error after a
    version was renamed into place must not publish it twice.
    """

    exit_code = 1
    retryable = False


# I/O failures that may pass on their own (network file systems, object-store
# mounts, busy devices). A missing file, a full disk or a permission error do
# not: retrying them only delays the error.
TRANSIENT_ERRNOS = frozenset(
    {
        errno.EIO,
        errno.EAGAIN,
        errno.EBUSY,
        errno.EINTR,
        errno.ETIMEDOUT,
        errno.ESTALE,
        errno.ENOTCONN,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
    }
)


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` is an I/O failure that a retry may cure.

    A time-out or a dropped connection counts even without an errno (object
    stores and HTTP clients raise them bare).
    """
    if isinstance(exc, TimeoutError | ConnectionError):
        return True
    return isinstance(exc, OSError) and exc.errno in TRANSIENT_ERRNOS


class StorageError(AutoMLError):
    """Storage failed in a way that may pass (EIO, a stale network mount)."""

    retryable = True


def raise_if_transient(exc: BaseException, action: str, path) -> None:
    """Raise a retryable `StorageError` for `exc` if it may pass; else return."""
    if is_transient(exc):
        raise StorageError(
            f"{action} {path} failed ({exc}); expected the storage to answer. It "
            "is an I/O error that may pass, so the stage was retried with backoff; "
            "check the disk or network mount, then run again."
        ) from exc


class ConfigError(AutoMLError):
    """The pipeline config is missing, malformed or inconsistent."""

    exit_code = 2


class DataError(AutoMLError):
    """The data source cannot be read as the config says it should."""

    exit_code = 2


class SearchError(AutoMLError):
    """The search produced no usable model (for example, every trial failed)."""


class RegistryError(AutoMLError):
    """The model registry is inconsistent or cannot be written."""


class GateRefused(RegistryError):
    """A version asked to be champion fails the gate's absolute thresholds."""

    exit_code = 4


class UnsafeModelError(RegistryError):
    """A model file Keras refuses under `safe_mode`: loading it could run code.

    Exit code 5, distinct from a damaged registry (1): the file may be hostile.
    """

    exit_code = 5


class ModelReferenceError(RegistryError):
    """A `NAME[:VERSION]` reference is malformed or names no published version.

    Exit code 2: the user asked for something that is not there (bad usage),
    unlike a damaged registry (exit code 1).
    """

    exit_code = 2


class ExportError(AutoMLError):
    """The serving export does not reproduce the Keras model's predictions."""


def name_some(items: list, limit: int) -> str:
    """The first `limit` of `items` for a message, then how many more there are."""
    named = "; ".join(str(item) for item in items[:limit])
    return named + (f"; and {len(items) - limit} more" if len(items) > limit else "")
