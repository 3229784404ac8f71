"""The model registry on disk: names, published versions and their metrics.

    <registry>/<name>/
      v0001/ v0002/ ...    immutable version folders (`tasks.publish`): the model,
                           its metrics, card and `splits.parquet` (each example's
                           content digest and split: what the champion re-score
                           leaves out, `tasks.registry.rescore`)
      champion.json        {"version": "v0002", ...}; replaced atomically
                           (`tasks.registry.champion`)
      history.jsonl        one JSON line per publish, promote and rollback
                           (`tasks.registry.history`)
      .lock                held while a version number or the champion changes
                           (`tasks.registry.lock`)
      .tmp-PID@HOST-*      a version being written (or `.champion-PID@HOST-*.json`)
                           (`tasks.registry.staging`)

Whether a version may become champion is the gate's (`tasks.registry.gate`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tasks.errors import ModelReferenceError, RegistryError

NAME_PATTERN = re.compile(r"^[a-z0-9_-]+$")
VERSION_PATTERN = re.compile(r"^v(\d{4,})$")


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


def list_versions(pipeline: str | Path) -> list[str]:
    """Published version names, oldest first."""
    pipeline = Path(pipeline)
    if not pipeline.is_dir():
        return []
    found = [p.name for p in pipeline.iterdir() if VERSION_PATTERN.match(p.name)]
    return sorted(found, key=lambda v: int(v[1:]))


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
