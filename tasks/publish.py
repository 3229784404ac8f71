"""Publish stage: an immutable version folder and the champion/challenger gate.

A version is written to a hidden temporary folder and renamed into place, so a
reader never sees half a version. `champion.json` is replaced atomically, and
only when the candidate beats the champion on the gate metric.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tasks.errors import RegistryError
from tasks.stage import stage

if TYPE_CHECKING:
    import keras

VERSION_PATTERN = re.compile(r"^v(\d{4,})$")
MAX_RENAME_ATTEMPTS = 20


@dataclass(frozen=True)
class PublishResult:
    """Where the version went and what the gate decided."""

    name: str
    version: str
    path: str
    promoted: bool
    metric: str
    candidate_score: float
    champion_version: str | None
    champion_score: float | None
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def publish_version(
    registry_dir: str | Path,
    name: str,
    model: keras.Model,
    metrics: dict,
    documents: dict[str, str | dict | list],
    metric: str = "f1_macro",
    min_improvement: float = 0.0,
) -> PublishResult:
    """Write a new version and move the champion if the candidate is better.

    Args:
        registry_dir: the registry root; versions go to `<root>/<name>/vNNNN`.
        name: the pipeline name.
        model: the trained model, saved as `model.keras`.
        metrics: test-split metrics, saved as `metrics.json`.
        documents: more files for the version folder: `.json` names take a
            dict or list, `.csv` names a list of flat dicts, others a string.
        metric: the `metrics` key the gate compares.
        min_improvement: how much the candidate must beat the champion by.

    Raises:
        RegistryError: the registry cannot be written, or `champion.json` is
            unreadable (it is never silently reset).
    """
    pipeline_dir = Path(registry_dir) / name
    champion = read_champion(pipeline_dir)
    champion_score = None
    if champion is not None:
        champion_score = _champion_score(pipeline_dir, champion["version"], metric)
    candidate_score = float(metrics[metric])

    staging = pipeline_dir / f".tmp-{uuid.uuid4().hex}"
    try:
        staging.mkdir(parents=True)
        model.save(staging / "model.keras")
        _write(staging / "metrics.json", metrics)
        for filename, content in documents.items():
            _write(staging / filename, content)
        version = _rename_into_place(staging, pipeline_dir)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise RegistryError(
                f"Could not write a new version under {pipeline_dir} ({exc}). "
                "Check free disk space and permissions; nothing was published."
            ) from None
        raise

    promoted, reason = _gate(candidate_score, champion_score, min_improvement, metric)
    if promoted:
        write_champion(
            pipeline_dir,
            {
                "version": version,
                "metric": metric,
                "score": candidate_score,
                "previous": None if champion is None else champion["version"],
                "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )
    return PublishResult(
        name=name,
        version=version,
        path=str(pipeline_dir / version),
        promoted=promoted,
        metric=metric,
        candidate_score=candidate_score,
        champion_version=None if champion is None else champion["version"],
        champion_score=champion_score,
        reason=reason,
    )


def read_champion(pipeline_dir: str | Path) -> dict | None:
    """The champion record, or None when no version was ever promoted.

    Raises:
        RegistryError: `champion.json` exists but is not a valid record.
    """
    path = Path(pipeline_dir) / "champion.json"
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
        raise RegistryError(
            f"{path} is unreadable ({exc}). Expected a JSON object such as "
            '{"version": "v0003"}. Restore it from a backup or rewrite it by hand; '
            "it is never reset automatically."
        ) from None
    if not isinstance(record, dict) or not VERSION_PATTERN.match(
        str(record.get("version", ""))
    ):
        raise RegistryError(
            f"{path} holds {record!r}; expected an object with a 'version' like "
            "'v0003'. Fix the file by hand; it is never reset automatically."
        )
    return record


def write_champion(pipeline_dir: str | Path, record: dict) -> None:
    """Replace `champion.json` atomically: write a temporary file, then rename."""
    path = Path(pipeline_dir) / "champion.json"
    staging = path.with_name(f".champion-{uuid.uuid4().hex}.json")
    staging.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    os.replace(staging, path)


def list_versions(pipeline_dir: str | Path) -> list[str]:
    """Published version names, oldest first."""
    pipeline_dir = Path(pipeline_dir)
    if not pipeline_dir.is_dir():
        return []
    found = [p.name for p in pipeline_dir.iterdir() if VERSION_PATTERN.match(p.name)]
    return sorted(found, key=lambda v: int(v[1:]))


def _champion_score(pipeline_dir: Path, version: str, metric: str) -> float:
    path = pipeline_dir / version / "metrics.json"
    try:
        return float(json.loads(path.read_text(encoding="utf-8"))[metric])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RegistryError(
            f"The champion {version} has no readable {metric!r} in {path} ({exc}). "
            "Restore that version, or point champion.json at a valid version."
        ) from None


def _gate(
    candidate: float, champion: float | None, min_improvement: float, metric: str
) -> tuple[bool, str]:
    if champion is None:
        return True, f"first version: {metric} {candidate:.4f}"
    delta = candidate - champion
    if delta > 0 and delta >= min_improvement:
        return True, (
            f"{metric} {candidate:.4f} beats champion {champion:.4f} "
            f"by {delta:+.4f} (required > 0 and >= {min_improvement})"
        )
    return False, (
        f"not promoted: {metric} {candidate:.4f} vs champion {champion:.4f} "
        f"({delta:+.4f}; required > 0 and >= {min_improvement})"
    )


def _rename_into_place(staging: Path, pipeline_dir: Path) -> str:
    """Claim the next free version number; a concurrent claim moves us one up."""
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


def _write(path: Path, content: str | dict | list) -> None:
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
