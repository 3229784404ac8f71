"""The champion: the version a pipeline serves, in `champion.json`.

Every change of the champion goes through `set_champion`, under the registry
lock (`tasks.registry.lock`), and is appended to the history
(`tasks.registry.history`), so `rollback` can always say what came before.
Whether a version may become champion is the gate's (`tasks.registry.gate`).
"""

from __future__ import annotations

import json
from pathlib import Path

from tasks.errors import RegistryError
from tasks.registry.history import append_history, champion_line, now
from tasks.registry.lock import registry_lock
from tasks.registry.staging import temporary_name, write_text_atomically
from tasks.registry.versions import VERSION_PATTERN, list_versions, pipeline_dir

CHAMPION_FILE = "champion.json"


def read_champion(pipeline: str | Path) -> dict | None:
    """The champion record, or None when no version was ever promoted.

    Raises:
        RegistryError: `champion.json` exists but is not a valid record.
    """
    path = Path(pipeline) / CHAMPION_FILE
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
        Path(pipeline) / CHAMPION_FILE,
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
        "at": now(),
        **details,
    }
    write_champion(pipeline, record)
    append_history(pipeline, record)
    return record


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
