"""The model registry on disk: versions, the champion, its history, a lock.

    <registry>/<name>/
      v0001/ v0002/ ...    immutable version folders
      champion.json        {"version": "v0002", ...}; replaced atomically
      history.jsonl        one JSON line per publish, promote and rollback
      .lock                held while a version number or the champion changes
      .tmp-PID@HOST-*      a version being written (or `.champion-PID@HOST-*.json`)

Every change of the champion goes through `set_champion`, under the lock,
and is appended to the history, so `rollback` can always say what came
before. The lock is an advisory `flock`: it serialises processes on one
machine (and on shared filesystems that honour it).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from tasks.errors import GateRefused, ModelReferenceError, RegistryError
from tasks.registry.staging import temporary_name, write_text_atomically

logger = logging.getLogger(__name__)

NAME_PATTERN = re.compile(r"^[a-z0-9_-]+$")
VERSION_PATTERN = re.compile(r"^v(\d{4,})$")
HISTORY_FILE = "history.jsonl"


def pipeline_dir(registry_dir: str | Path, name: str) -> Path:
    """The folder of one pipeline's versions; the name is checked first.

    Raises:
        ModelReferenceError: the name could escape the registry (`..`, `/`) or is
            not `[a-z0-9_-]+`.
    """
    return Path(registry_dir) / check_name(name)


def check_name(name: str) -> str:
    """`name` itself, when it is a pipeline name (`[a-z0-9_-]+`, no `..` or `/`).

    Raises:
        ModelReferenceError: anything else, which could leave the folder it
            names a child of.
    """
    if not NAME_PATTERN.match(name):
        raise ModelReferenceError(
            f"Received the pipeline name {name!r}; expected lowercase letters, "
            "digits, '_' and '-' only (as in the config's `name`)."
        )
    return name


def check_version(version: str) -> str:
    """`version` itself, when it looks like `v0003`.

    Raises:
        ModelReferenceError: anything else (a path, a number without `v`, ...).
    """
    if not VERSION_PATTERN.match(version):
        raise ModelReferenceError(
            f"Received the version {version!r}; expected a version name such as "
            "'v0003' (see `automl models list NAME`)."
        )
    return version


@contextlib.contextmanager
def registry_lock(pipeline: Path) -> Iterator[None]:
    """Hold the pipeline's lock: one writer of numbers and champion at a time."""
    pipeline.mkdir(parents=True, exist_ok=True)
    with open(pipeline / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def list_versions(pipeline: str | Path) -> list[str]:
    """Published version names, oldest first."""
    pipeline = Path(pipeline)
    if not pipeline.is_dir():
        return []
    found = [p.name for p in pipeline.iterdir() if VERSION_PATTERN.match(p.name)]
    return sorted(found, key=lambda v: int(v[1:]))


def read_champion(pipeline: str | Path) -> dict | None:
    """The champion record, or None when no version was ever promoted.

    Raises:
        RegistryError: `champion.json` exists but is not a valid record.
    """
    path = Path(pipeline) / "champion.json"
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
        raise RegistryError(
            f"{path} is unreadable ({exc}). Expected a JSON object such as "
            '{"version": "v0003"}. Restore it from a backup or rewrite it by hand'
            f"{_recorded_hint(Path(pipeline))}; it is never reset automatically."
        ) from None
    if not isinstance(record, dict) or not VERSION_PATTERN.match(
        str(record.get("version", ""))
    ):
        raise RegistryError(
            f"{path} holds {record!r}; expected an object with a 'version' like "
            f"'v0003'. Fix the file by hand{_recorded_hint(Path(pipeline))}; it is "
            "never reset automatically."
        )
    if not (Path(pipeline) / record["version"]).is_dir():
        raise RegistryError(
            f"{path} names {record['version']}, which is not a published version; "
            f"expected one of {list_versions(pipeline)}. Restore that version's "
            f"folder or fix the file by hand{_recorded_hint(Path(pipeline))}; it is "
            "never reset automatically."
        )
    return record


def _recorded_hint(pipeline: Path) -> str:
    """Where the history says the champion was, as advice for a hand fix."""
    try:
        line = champion_line(pipeline)
    except (OSError, ValueError, KeyError, IndexError):
        return ""
    if not line or not (pipeline / line[-1]).is_dir():
        return ""
    return (
        f' (history.jsonl says the champion was {line[-1]}: {{"version": '
        f'"{line[-1]}"}})'
    )


def write_champion(pipeline: str | Path, record: dict) -> None:
    """Replace `champion.json` atomically: write a temporary file, then rename.

    Readers only ever open `champion.json`, so a temporary file left by a
    writer that was killed is ignored (and removed by
    `tasks.registry.staging.remove_abandoned`).
    """
    write_text_atomically(
        Path(pipeline) / "champion.json",
        json.dumps(record, indent=2) + "\n",
        staging_name=temporary_name("champion") + ".json",
    )


def set_champion(pipeline: Path, version: str, event: str, **details) -> dict:
    """Make `version` the champion and record it in the history (lock held)."""
    previous = read_champion(pipeline)
    record = {
        "version": version,
        "previous": None if previous is None else previous["version"],
        "event": event,
        "champion": True,
        "at": _now(),
        **details,
    }
    write_champion(pipeline, record)
    append_history(pipeline, record)
    return record


def append_history(pipeline: Path, record: dict) -> None:
    """Add one line to `history.jsonl` (never rewritten)."""
    path = pipeline / HISTORY_FILE
    # A write cut short (a kill, a full disk) leaves a line without its end:
    # the next record starts on a line of its own.
    torn = path.exists() and path.stat().st_size and not _ends_with_newline(path)
    with open(path, "a", encoding="utf-8") as handle:
        line = json.dumps({"at": _now(), **record}, default=str) + "\n"
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


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


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


def promote(
    registry_dir: str | Path, name: str, version: str, force: bool = False
) -> dict:
    """Make `version` champion, if it meets the thresholds it was published under.

    Raises:
        GateRefused: it fails them and `force` is False.
        ModelReferenceError: no such version.
    """
    pipeline = pipeline_dir(registry_dir, name)
    metrics = read_metrics(pipeline, version)
    gate = _published_gate(pipeline, version)
    failures = threshold_failures(
        metrics, gate.get("thresholds") or {}, gate.get("min_class_recall")
    )
    if failures and not force:
        raise GateRefused(
            f"{name} {version} fails its absolute thresholds: {'; '.join(failures)}. "
            "Expected a version that meets publish.thresholds and "
            "publish.min_class_recall; pass --force to promote it anyway."
        )
    with registry_lock(pipeline):
        return set_champion(
            pipeline, version, "promote", forced=bool(failures), failures=failures
        )


def rollback(registry_dir: str | Path, name: str) -> dict:
    """Restore the champion that was in force before the current one.

    Raises:
        RegistryError: there is no earlier champion to go back to.
    """
    pipeline = pipeline_dir(registry_dir, name)
    with registry_lock(pipeline):
        line = champion_line(pipeline)
        current = read_champion(pipeline)
        if len(line) < 2 or current is None or line[-1] != current["version"]:
            raise RegistryError(
                f"{name} has no earlier champion to roll back to (champions in "
                f"force, oldest first: {line or 'none'}). Use `automl models "
                "promote NAME VERSION` to pick one."
            )
        return set_champion(pipeline, line[-2], "rollback", replaced=line[-1])


def _published_gate(pipeline: Path, version: str) -> dict:
    path = pipeline / version / "config.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8")).get("publish", {})


def read_metrics(pipeline: Path, version: str) -> dict:
    """A version's `metrics.json`.

    Raises:
        RegistryError: the version does not exist or its metrics are unreadable.
    """
    path = pipeline / check_version(version) / "metrics.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RegistryError(
            f"{pipeline.name} {version} has no readable metrics at {path} ({exc}). "
            f"Expected one of {list_versions(pipeline)}."
        ) from None


def threshold_failures(
    metrics: dict, thresholds: dict[str, float], min_class_recall: float | None
) -> list[str]:
    """What keeps a version from being champion on absolute grounds, in words."""
    failures = [
        f"{metric} {metrics.get(metric, float('nan')):.4f} < {floor:g}"
        for metric, floor in thresholds.items()
        if not metrics.get(metric, float("-inf")) >= floor
    ]
    if min_class_recall is not None:
        for label, scores in metrics.get("per_class", {}).items():
            if scores["recall"] < min_class_recall:
                failures.append(
                    f"recall of class {label!r} {scores['recall']:.4f} "
                    f"< {min_class_recall:g}"
                )
    return failures


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
