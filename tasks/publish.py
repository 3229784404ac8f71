"""Publish stage: an immutable version folder and the champion/challenger gate.

A version is written to a hidden temporary folder and renamed into place, so a
reader never sees half a version. Under the registry lock, the next version
number is claimed, the gate decides (`tasks.registry.gate`), `champion.json`
is replaced atomically if the candidate wins, and the decision is appended to
the history. The temporary folder's name holds the writer's pid and host, so
a later publish removes what a killed writer left, and never a live writer's
folder.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tasks.errors import ExportError, RegistryError, is_transient
from tasks.export import export_saved_model
from tasks.registry.champion import read_champion
from tasks.registry.gate import GateDecision, judge_candidate, record_decision
from tasks.registry.lock import registry_lock
from tasks.registry.staging import remove_abandoned, temporary_name
from tasks.registry.versions import list_versions
from tasks.registry.versions import pipeline_dir as pipeline_folder
from tasks.stage import stage

if TYPE_CHECKING:
    import keras
    import numpy as np
    import pandas as pd

    from tasks.registry.rescore import ChampionComparison

MAX_RENAME_ATTEMPTS = 20


@dataclass(frozen=True)
class PublishResult:
    """Where the version went and what the gate decided.

    The scores are those the gate compared (on the same test examples when
    `p_value`, McNemar's exact test, is set: `num_compared` of them).
    """

    name: str
    version: str
    path: str
    promoted: bool
    metric: str
    candidate_score: float
    champion_version: str | None
    champion_score: float | None
    reason: str
    p_value: float | None = None
    num_compared: int | None = None

    @classmethod
    def of(cls, name: str, path: Path, decision: GateDecision) -> PublishResult:
        return cls(
            name=name,
            version=path.name,
            path=str(path),
            promoted=decision.promoted,
            metric=decision.metric,
            candidate_score=decision.candidate_score,
            champion_version=decision.champion_version,
            champion_score=decision.champion_score,
            reason=decision.reason,
            p_value=decision.p_value,
            num_compared=decision.num_compared,
        )

    def to_dict(self) -> dict:
        return asdict(self)


def publish_version(
    registry_dir: str | Path,
    name: str,
    model: keras.Model,
    metrics: dict,
    documents: dict[str, str | dict | list | pd.DataFrame],
    metric: str = "f1_macro",
    min_improvement: float = 0.0,
    thresholds: dict[str, float] | None = None,
    min_class_recall: float | None = None,
    champion_rescore: ChampionComparison | None = None,
    export_sample: np.ndarray | None = None,
    max_p_value: float | None = None,
) -> PublishResult:
    """Write a new version and move the champion if the candidate is better.

    Args:
        registry_dir: the registry root; versions go to `<root>/<name>/vNNNN`.
        name: the pipeline name.
        model: the trained model, saved as `model.keras`.
        metrics: test-split metrics, saved as `metrics.json`.
        documents: more files for the version folder: `.json` names take a
            dict or list, `.csv` names a list of flat dicts, `.parquet` names
            a DataFrame (`splits.parquet`), others a string.
        metric: the `metrics` key the gate compares.
        min_improvement: how much the candidate must beat the champion by.
        thresholds: absolute floors (`{"accuracy": 0.9}`) a champion must meet.
        min_class_recall: a floor on every class's recall.
        champion_rescore: the champion and the candidate on the same unseen
            test examples (`tasks.registry.rescore.rescore_champion`); used
            when that version is still champion, else its stored score is.
        export_sample: raw inputs (the test split) on which the SavedModel
            written to `export/` must reproduce the Keras model; None skips
            the serving export.
        max_p_value: when set, the candidate must also be significantly better
            (McNemar's p <= this); without a paired comparison it stays out.

    Raises:
        RegistryError: the registry cannot be written (a full disk included),
            or `champion.json` is unreadable (it is never silently reset).
        ExportError: the SavedModel does not reproduce the model; nothing is
            published.
    """
    pipeline = pipeline_folder(registry_dir, name)
    read_champion(pipeline)  # fail before training output is written
    staging = pipeline / temporary_name("tmp")
    version = None
    try:
        _write_version(staging, model, metrics, documents, export_sample)
        with registry_lock(pipeline):
            remove_abandoned(pipeline)
            version = _rename_into_place(staging, pipeline)
            decision = judge_candidate(
                pipeline,
                metrics,
                metric,
                min_improvement,
                thresholds,
                min_class_recall,
                champion_rescore,
                max_p_value,
                version,
            )
            record_decision(pipeline, version, decision)
    except (OSError, ExportError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, ExportError) and not _no_space(exc):
            raise
        raise _write_failure(pipeline, version, exc) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return PublishResult.of(name, pipeline / version, decision)


def _write_version(
    staging: Path,
    model: keras.Model,
    metrics: dict,
    documents: dict[str, str | dict | list | pd.DataFrame],
    export_sample: np.ndarray | None,
) -> None:
    """Everything a version holds, written to its (new) temporary folder."""
    staging.mkdir(parents=True)
    model.save(staging / "model.keras")
    if export_sample is not None:
        check = export_saved_model(model, staging / "export", export_sample)
        _write(staging / "export.json", check.to_dict())
    _write(staging / "metrics.json", metrics)
    for filename, content in documents.items():
        _write(staging / filename, content)


def _no_space(exc: BaseException | None) -> bool:
    """Whether `exc` (or what caused it) says the disk is full.

    TensorFlow reports a full disk in its own error types, with the words only.
    """
    while exc is not None:
        if getattr(exc, "errno", None) == errno.ENOSPC:
            return True
        if "No space left on device" in str(exc):
            return True
        exc = exc.__cause__
    return False


def _write_failure(
    pipeline: Path, version: str | None, exc: BaseException
) -> RegistryError:
    """The error for a publish that could not write: what happened, what to do."""
    if version is not None:  # renamed into place; the champion step failed
        outcome = (
            f"{version} was published but the champion and history may not "
            f"record it; check `automl models list {pipeline.name}`"
        )
    else:
        outcome = "nothing was published and the champion is unchanged"
    if _no_space(exc):
        return RegistryError(
            f"Received 'No space left on device' (ENOSPC) while writing a new "
            f"version under {pipeline}; expected room for a version folder (the "
            f"last one takes {_folder_megabytes(pipeline):.1f} MB). Free space on "
            f"that filesystem or set output_dir to a larger one, then run again; "
            f"{outcome}."
        )
    error = RegistryError(
        f"Could not write a new version under {pipeline} ({exc}); expected a "
        f"writable registry folder. Check free disk space and permissions, then "
        f"run again; {outcome}."
    )
    # An I/O hiccup before anything landed: the publish task's retry may cure it.
    error.retryable = version is None and is_transient(exc)
    return error


def _folder_megabytes(pipeline: Path) -> float:
    """The size of the newest version folder (0 when none)."""
    versions = list_versions(pipeline)
    if not versions:
        return 0.0
    files = (pipeline / versions[-1]).rglob("*")
    return sum(f.stat().st_size for f in files if f.is_file()) / 1e6


def _rename_into_place(staging: Path, pipeline_dir: Path) -> str:
    """Claim the next free version number (under the lock; a writer without
    it, such as an older release, only moves us one number up)."""
    for _ in range(MAX_RENAME_ATTEMPTS):
        existing = list_versions(pipeline_dir)
        number = int(existing[-1][1:]) + 1 if existing else 1
        version = f"v{number:04d}"
        try:
            os.rename(staging, pipeline_dir / version)
            return version
        except OSError:
            if not (pipeline_dir / version).exists():
                raise
    raise OSError(f"no free version number after {MAX_RENAME_ATTEMPTS} attempts")


def _write(path: Path, content: str | dict | list | pd.DataFrame) -> None:
    if path.suffix == ".parquet":
        content.to_parquet(path, index=False)
        return
    if path.suffix == ".json":
        text = json.dumps(content, indent=2, default=str) + "\n"
    elif path.suffix == ".csv":
        text = _csv(content)
    else:
        text = str(content)
    path.write_text(text, encoding="utf-8")


def _csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue()


publish_version_task = stage("publish", retries=2, retry_delay_seconds=[1, 5])(
    publish_version
)
