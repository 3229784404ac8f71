"""Run folders: which run a flow writes to, and resuming a killed one.

    <output_dir>/runs/<name>/<run_id>/
      run.json      the run's record: config fingerprint, attempts, outcome
      tuner/        Keras Tuner's project folder, what a resume continues

`run.json` is written when a run starts and when it publishes. A resume
(`automl run CONFIG --resume RUN_ID`, or Prefect retrying the flow run) goes
on in the same folder, only with the config the run started with, and never
for a run that already published.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

from tasks.errors import ConfigError
from tasks.registry.staging import write_text_atomically

RUN_FILE = "run.json"
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
# Settings a resume may change: where outputs go, nothing that shapes a trial.
NOT_FINGERPRINTED = ("output_dir",)


def check_run_id(run_id: str, option: str = "--resume") -> str:
    """`run_id` itself, when it names one folder under `runs/<name>/`.

    Raises:
        ConfigError: it could leave that folder (`/`, `..`) or is not a plain
            name of letters, digits, `_`, `.` and `-`.
    """
    if not RUN_ID.match(run_id) or ".." in run_id:
        raise ConfigError(
            f"{option} received {run_id!r}; expected one folder name of letters, "
            "digits, '_', '.' and '-' (not starting with '.', no '/'), such as "
            "20261123T101500Z-1a2b3c4d or nightly-7. Pass the name of a folder "
            "under <output_dir>/runs/<name>/."
        )
    return run_id


def config_fingerprint(config: dict) -> str:
    """A hash of the config's settings that shape the search."""
    kept = {k: v for k, v in config.items() if k not in NOT_FINGERPRINTED}
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:16]


def start_run(run_dir: Path, run_id: str, config: dict, flow_run_id: str | None):
    """Record a new run, or one more attempt at a resumed one, in `run.json`."""
    record = read_run(run_dir) or {
        "run_id": run_id,
        "config_fingerprint": config_fingerprint(config),
        "config": config,
        "attempts": [],
        "status": "running",
    }
    record["attempts"].append({"started": _now(), "flow_run_id": flow_run_id})
    _write(run_dir, record)


def finish_run(run_dir: Path, version: str) -> None:
    """Mark the run published: there is nothing left to resume."""
    record = read_run(run_dir) or {}
    record.update(status="published", version=version, finished=_now())
    _write(run_dir, record)


def read_run(run_dir: Path) -> dict | None:
    """The run's record, or None if it has none yet."""
    try:
        return json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"{run_dir / RUN_FILE} is unreadable ({exc}); expected the JSON record "
            "written when the run started. Start a new run instead of resuming."
        ) from None


def resume_run(runs_dir: Path, run_id: str, config: dict) -> Path:
    """The folder of the run to resume, checked against `config`.

    Raises:
        ConfigError: no such run, nothing to resume, already published, or
            started with other settings.
    """
    run_dir = runs_dir / check_run_id(run_id)
    record = read_run(run_dir) if run_dir.is_dir() else None
    if record is None:
        known = sorted(p.name for p in runs_dir.glob("*") if (p / RUN_FILE).is_file())
        raise ConfigError(
            f"--resume received {run_id!r}, but {runs_dir} holds no such run; "
            f"expected one of {known[-5:] or 'its runs (there are none yet)'}. "
            "Resume a run of this pipeline and output folder, or run without "
            "--resume."
        )
    if record.get("status") == "published":
        raise ConfigError(
            f"Run {run_id} already finished and published {record.get('version')}; "
            "expected an interrupted run. Run without --resume to train again."
        )
    if record.get("config_fingerprint") != config_fingerprint(config):
        before = record.get("config", {})
        changed = sorted(
            key
            for key in set(before) | set(config)
            if key not in NOT_FINGERPRINTED and before.get(key) != config.get(key)
        )
        raise ConfigError(
            f"Run {run_id} started with other settings (received changes in "
            f"{', '.join(changed) or 'the config'}); expected the config it started "
            "with, since its finished trials were trained on it. Resume with "
            f"that config (saved in {run_dir / RUN_FILE}), or start a new run."
        )
    return run_dir


def retried_run(runs_dir: Path, flow_run_id: str) -> Path | None:
    """The unpublished run folder an earlier attempt of this flow run started."""
    for run_dir in sorted(runs_dir.glob(f"*-{flow_run_id[:8]}")):
        record = read_run(run_dir)
        if record and record.get("status") != "published":
            return run_dir
    return None


def _write(run_dir: Path, record: dict) -> None:
    write_text_atomically(run_dir / RUN_FILE, json.dumps(record, indent=1, default=str))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
