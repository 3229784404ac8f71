"""The registry's lock: one writer of version numbers and champion at a time."""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock

LOCK_FILE = ".lock"


def registry_lock(pipeline: Path, timeout: float = -1) -> FileLock:
    """The pipeline's lock (`<pipeline>/.lock`), to hold with `with`.

    An exclusive OS lock through `filelock`: `flock` on Unix (so processes on
    one machine, and on shared filesystems that honour it, take turns),
    `LockFileEx` on Windows, and a lock file where the filesystem has neither.
    The lock file stays in place; only the lock on it comes and goes.

    Args:
        pipeline: the pipeline's registry folder; created when missing.
        timeout: seconds to wait for the lock; -1 (the default) waits as long
            as it takes.

    Raises:
        filelock.Timeout: (on acquiring) the lock was still held after `timeout`.
    """
    pipeline.mkdir(parents=True, exist_ok=True)
    return FileLock(pipeline / LOCK_FILE, timeout=timeout)
