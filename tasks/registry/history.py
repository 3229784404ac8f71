"""The registry's history: `history.jsonl`, one JSON line per publish,
promotion and rollback, only ever appended to.

Every change of the champion is recorded here (`tasks.registry.champion`), so
the champions in force can be replayed and `rollback` can always say what
came before.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

logger = logging.getLogger(__name__)

HISTORY_FILE = "history.jsonl"


def append_history(pipeline: Path, record: dict) -> None:
    """Add one line to `history.jsonl` (never rewritten)."""
    path = pipeline / HISTORY_FILE
    # A write cut short (a kill, a full disk) leaves a line without its end:
    # the next record starts on a line of its own.
    torn = path.exists() and path.stat().st_size and not _ends_with_newline(path)
    with open(path, "a", encoding="utf-8") as handle:
        line = json.dumps({"at": now(), **record}, default=str) + "\n"
        handle.write("\n" + line if torn else line)
        handle.flush()
        os.fsync(handle.fileno())


def read_history(pipeline: Path) -> list[dict]:
    """Every recorded publish, promotion and rollback, oldest first."""
    path = pipeline / HISTORY_FILE
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:  # a write cut short; the decision it began is lost
            logger.warning("%s line %d is incomplete; skipped", path, number)
    return records


def champion_line(pipeline: Path) -> list[str]:
    """The champions in force, oldest first, replayed from the history.

    A publish or promote puts a version on top; a rollback takes the top off.
    """
    line: list[str] = []
    for record in read_history(pipeline):
        if not record.get("champion"):
            continue
        if record["event"] == "rollback":
            line.pop()
        else:
            line.append(record["version"])
    return line


def now() -> str:
    """The time a record is made, in UTC to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"
