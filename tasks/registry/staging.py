"""Names for files being written into the registry, and the removal of those
whose writer died.

A version folder is written as `.tmp-<pid>@<host>-<hex>` and renamed into
place; `champion.json` is replaced from `.champion-<pid>@<host>-<hex>.json`.
The writer's pid and host in the name say whether a leftover's writer is
gone, so a later publish removes what a killed writer left, never a live
writer's files.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import uuid
from pathlib import Path

# `.tmp-<pid>@<host>-<hex>` (a version folder) or `.champion-...json`: the
# writer's pid and host say whether a leftover's writer is gone.
TEMPORARY_PATTERN = re.compile(
    r"^\.(?:tmp|champion)-(?P<pid>\d+)@(?P<host>[^/@]+)-[0-9a-f]{32}(?:\.json)?$"
)


def write_text_atomically(
    path: str | Path, text: str, staging_name: str | None = None
) -> None:
    """Replace `path` with `text` whole: a hidden sibling is written, then renamed.

    A reader sees the old content or the new, never half; a failed write
    leaves `path` as it was and removes the sibling. `staging_name` names the
    sibling (default: `.<name>.<pid>-<hex>`).
    """
    path = Path(path)
    name = staging_name or f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging = path.with_name(name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging.write_text(text, encoding="utf-8")
        os.replace(staging, path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise


def temporary_name(kind: str) -> str:
    """A hidden name for something being written: `.<kind>-<pid>@<host>-<hex>`."""
    return f".{kind}-{os.getpid()}@{socket.gethostname()}-{uuid.uuid4().hex}"


def remove_abandoned(pipeline: Path) -> list[str]:
    """Remove temporary versions and champion files whose writer has died.

    Only leftovers of processes on this host that no longer run are removed:
    a live (or unknown, or remote) writer's files are never touched. Call it
    with the lock held. Returns the names removed.
    """
    removed = []
    host = socket.gethostname()
    for path in pipeline.iterdir():
        match = TEMPORARY_PATTERN.match(path.name)
        if not match or match["host"] != host or _is_running(int(match["pid"])):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path.name)
    return removed


def _is_running(pid: int) -> bool:
    """Whether `pid` is a live process here (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust os.kill
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
