"""Retries that cannot publish twice: a run publishes at most one version.

Prefect may retry a flow run that failed after its version was renamed into
place (while recording the run, writing its artifacts, or in the gate's own
records). The retry goes on in the same run folder
(`tasks.registry.runs.retried_run`) and, before loading any data, asks
`already_published`: the version the run published comes back, with the gate
decision the history recorded for it, and nothing is trained or published
again.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from tasks.errors import RegistryError
from tasks.publish import PublishResult
from tasks.registry.history import HISTORY_FILE, read_history
from tasks.registry.runs import finish_run, pipeline_of, published_version, read_run
from tasks.registry.versions import read_metrics

logger = logging.getLogger(__name__)


def already_published(run_dir: Path) -> tuple[PublishResult, dict] | None:
    """What this run already published and its metrics, or None.

    Only a continued run (a second attempt or later) can have published; a
    new run is not looked up.

    Args:
        run_dir: the run's folder (`<output>/runs/<name>/<run_id>`), its
            attempt recorded (`start_run`).

    Raises:
        RegistryError: the run published a version whose gate decision is not
            in the history (an attempt died between the two); it is not
            published again, and the message says how to settle it.
    """
    record = read_run(run_dir) or {}
    if len(record.get("attempts", [])) < 2:
        return None
    pipeline = pipeline_of(run_dir.parent)
    name = pipeline.name
    version = published_version(run_dir, pipeline)
    if version is None:
        return None
    history = pipeline / HISTORY_FILE
    try:
        decision, problem = _decision(pipeline, version), "holds no gate decision"
    except OSError as exc:
        decision, problem = None, f"cannot be read ({exc})"
    if decision is None:
        raise RegistryError(
            f"Run {run_dir.name} already published {version} in an earlier "
            f"attempt, but {history} {problem}: received no decision for it, "
            "expected one line per publish (that attempt failed between renaming "
            f"the version into place and recording the decision). {version} is "
            f"not published again. Check `automl models list {name}`, and "
            f"promote it by hand (`automl models promote {name} {version}`) if it "
            "should be champion."
        )
    if record.get("status") != "published":
        finish_run(run_dir, version)
    logger.info(
        "run %s already published %s in an earlier attempt; not published again",
        run_dir.name,
        version,
    )
    known = {field.name for field in dataclasses.fields(PublishResult)}
    published = PublishResult(
        **{
            **{key: value for key, value in decision.items() if key in known},
            "name": name,
            "version": version,
            "path": str(pipeline / version),
        }
    )
    published = dataclasses.replace(
        published,
        reason=f"{published.reason} (published by an earlier attempt of run "
        f"{run_dir.name}; not published again)",
    )
    return published, read_metrics(pipeline, version)


def _decision(pipeline: Path, version: str) -> dict | None:
    """The gate's decision line for `version` in the history, if recorded."""
    lines = [
        line
        for line in read_history(pipeline)
        if line.get("event") == "publish"
        and line.get("version") == version
        and "promoted" in line
    ]
    return lines[-1] if lines else None
