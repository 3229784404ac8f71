"""Run folders: which run a flow writes to, and resuming a killed one.

    <output_dir>/runs/<name>/<run_id>/
      run.json      the run's record: config fingerprint, attempts, outcome
      tuner/        Keras Tuner's project folder, what a resume continues

`run.json` is written when a run starts, when it has prepared its data (the
data fingerprint, `tasks.registry.run_data`) and when it publishes. A resume
(`automl run CONFIG --resume RUN_ID`, or Prefect retrying the flow run) goes
on in the same folder, only with the config and the data the run started
with. `--resume` refuses a run that already published; a Prefect retry of the
flow run that published gets that version back (`tasks.registry.retry`), so a
version is never published twice by one run.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

from tasks.errors import ConfigError
from tasks.registry.staging import write_text_atomically
from tasks.registry.versions import list_versions

RUN_FILE = "run.json"
LINEAGE_FILE = "lineage.json"  # in a version folder: the run that published it
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
    write_run(run_dir, record)


def finish_run(run_dir: Path, version: str) -> None:
    """Mark the run published: there is nothing left to resume."""
    record = read_run(run_dir) or {}
    record.update(status="published", version=version, finished=_now())
    write_run(run_dir, record)


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


def continued_run(
    runs_dir: Path,
    resume: str | None,
    config: dict,
    flow_run_id: str | None = None,
    run_count: int = 1,
) -> Path | None:
    """The folder a run goes on in: the one `resume` names, the one an earlier
    attempt of this flow run started (`run_count > 1`), or None for a new run.

    Raises:
        ConfigError: `resume` cannot be continued (see `resume_run`).
    """
    if resume is not None:
        return resume_run(runs_dir, resume, config, flow_run_id)
    if run_count > 1 and flow_run_id:
        return retried_run(runs_dir, flow_run_id)
    return None


def resume_run(
    runs_dir: Path, run_id: str, config: dict, flow_run_id: str | None = None
) -> Path:
    """The folder of the run to resume, checked against `config`.

    A run that published is not resumed, unless `flow_run_id` is one of the
    run's own flow runs (Prefect retrying it; `--resume` starts a new flow
    run): that one gets its version back (`tasks.registry.retry`).

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
    ours = _attempted_by(record, flow_run_id)  # Prefect retrying this run
    if record.get("status") == "published" and not ours:
        _refuse_published(run_id, record.get("version"))
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
    # Died after its version was renamed into place, before run.json said so.
    version = published_version(run_dir, pipeline_of(runs_dir))
    if version is not None and not ours:
        _refuse_published(run_id, version)
    return run_dir


def _refuse_published(run_id: str, version: str | None) -> None:
    raise ConfigError(
        f"Run {run_id} already finished and published {version}; expected an "
        "interrupted run. Run without --resume to train again."
    )


def retried_run(runs_dir: Path, flow_run_id: str) -> Path | None:
    """The run folder an earlier attempt of this flow run started, published
    or not (a retry of a run that published returns its version)."""
    for run_dir in sorted(runs_dir.glob(f"*-{flow_run_id[:8]}")):
        record = read_run(run_dir)
        if record and _attempted_by(record, flow_run_id):
            return run_dir
    return None


def published_version(run_dir: Path, pipeline: Path) -> str | None:
    """The version this run published, or None.

    `run.json` says so once the run finished; until then the registry does:
    a version's `lineage.json` names the run and the flow run that published
    it, and it is renamed into place whole, so a run that died right after
    the rename is known to have published.
    """
    record = read_run(run_dir) or {}
    if record.get("status") == "published":
        return record.get("version")
    flow_runs = {a.get("flow_run_id") for a in record.get("attempts", [])} - {None}
    if not flow_runs or not pipeline.is_dir():
        return None
    for version in reversed(list_versions(pipeline)):
        try:
            lineage = json.loads((pipeline / version / LINEAGE_FILE).read_text())
        except (OSError, ValueError):
            continue  # an older version without lineage, or an unreadable one
        # The flow run too: a run id (`distributed-8000`) may name a new run
        # in a folder made again after an earlier one was removed.
        if (
            lineage.get("run_id") == run_dir.name
            and lineage.get("flow_run_id") in flow_runs
        ):
            return version
    return None


def _attempted_by(record: dict, flow_run_id: str | None) -> bool:
    """Whether an attempt of the flow run `flow_run_id` is in the run's record."""
    attempts = record.get("attempts", [])
    return bool(flow_run_id) and any(
        a.get("flow_run_id") == flow_run_id for a in attempts
    )


def pipeline_of(runs_dir: Path) -> Path:
    """The registry folder `<output>/registry/<name>` of `<output>/runs/<name>`."""
    return runs_dir.parent.parent / "registry" / runs_dir.name


def write_run(run_dir: Path, record: dict) -> None:
    """Replace the run's record in `run.json` whole."""
    write_text_atomically(run_dir / RUN_FILE, json.dumps(record, indent=1, default=str))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
