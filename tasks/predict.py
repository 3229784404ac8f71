"""Batch prediction: a published version's model over a file of raw inputs.

A version folder says everything needed to read new inputs: `config.json`
(the data kind and how its examples were read), `metrics.json` (the original
label of each class index) and `model.keras` (which takes raw inputs). Inputs
need no label column or `y` array.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import tensorflow as tf

from tasks.errors import DataError, ModelReferenceError, RegistryError
from tasks.readers.image_files import ImageFiles, predict_probabilities
from tasks.readers.inputs import fit_to_model, read_inputs
from tasks.registry.champion import read_champion
from tasks.registry.model_file import load_published_model
from tasks.registry.staging import write_text_atomically
from tasks.registry.versions import NAME_PATTERN, VERSION_PATTERN, list_versions
from tasks.stage import stage


def parse_model_reference(reference: str) -> tuple[str, str | None]:
    """Split `NAME` or `NAME:v0003` into the name and the version (or None)."""
    name, _, version = reference.partition(":")
    return name, version or None


def resolve_version(
    registry_dir: str | Path, name: str, version: str | None = None
) -> Path:
    """The folder of a published version: the champion, or the one asked for.

    Raises:
        ModelReferenceError: the name or version is malformed (only
            `[a-z0-9_-]` names and `vNNNN` versions, so no path leaves the
            registry), or names nothing published.
        RegistryError: `champion.json` is unreadable.
    """
    if not NAME_PATTERN.match(name):
        raise ModelReferenceError(
            f"Received the pipeline name {name!r}; expected lowercase letters, "
            "digits, '_' and '-' only (the config's `name`). Pass NAME or "
            "NAME:v0003, e.g. digits:v0001."
        )
    if version is not None and not VERSION_PATTERN.match(version):
        raise ModelReferenceError(
            f"Received the version {version!r}; expected 'v' and at least four "
            f"digits, like v0003. Pass {name}:v0003, or {name} alone for the "
            "champion."
        )
    registry_dir = Path(registry_dir)
    pipeline_dir = registry_dir / name
    published = list_versions(pipeline_dir)
    if not published:
        names = sorted(p.name for p in registry_dir.glob("*") if list_versions(p))
        raise ModelReferenceError(
            f"Received the pipeline name {name!r}, but {registry_dir} holds no "
            f"published version of it; published pipelines: {names or 'none'}. "
            "Check the name and --output-dir, or run `automl run` first."
        )
    if version is None:
        champion = read_champion(pipeline_dir)
        if champion is None:
            raise ModelReferenceError(
                f"{name} has no champion yet; expected champion.json in "
                f"{pipeline_dir}. Pass a version explicitly: {published}."
            )
        version = champion["version"]
    if version not in published:
        raise ModelReferenceError(
            f"Received {name}:{version}, which is not published; expected one "
            f"of {published}. Pass one of those, or {name} for the champion."
        )
    return pipeline_dir / version


def predict_batch(
    version_dir: str | Path,
    input_source: str | Path,
    kind: str | None = None,
    batch_size: int = 256,
) -> pd.DataFrame:
    """Predict every example of `input_source` with a published version.

    Args:
        version_dir: a version folder (see `resolve_version`).
        input_source: raw inputs in a format the pipeline reads (an `.npz`
            with `x`, a table, an image folder, `sklearn:digits`); labels
            are not needed and are ignored when present.
        kind: the data kind the caller expects; None takes the version's.
        batch_size: examples per predict batch.

    Returns:
        One row per example, in input order: for an image folder `path` (the
        file), then `prediction` (the original label), `probability` (its
        probability) and `p_<label>` per class.

    Raises:
        UnsafeModelError: the model file would run code on load (a Lambda).
        RegistryError: the version folder lacks a readable model or document.
        DataError: the input cannot be read, or its examples do not have the
            kind or shape the model takes.
    """
    version_dir = Path(version_dir)
    data = _read_document(version_dir / "config.json").get("data", {})
    labels = _read_document(version_dir / "metrics.json").get("labels")
    model_kind = data.get("kind", "image")
    if kind is not None and kind != model_kind:
        raise DataError(
            f"Received kind {kind!r}, but {version_dir} holds a {model_kind} "
            f"model; expected {model_kind!r} inputs. Pick the model trained on "
            "this kind of data."
        )
    model = load_published_model(version_dir / "model.keras")
    if not labels or len(labels) != model.output_shape[-1]:
        raise RegistryError(
            f"{version_dir / 'metrics.json'} lists the labels {labels!r}; "
            f"expected {model.output_shape[-1]}, one per model output. The "
            "version is damaged: republish it, or predict with another version."
        )
    x = fit_to_model(read_inputs(str(input_source), data), model, str(input_source))
    try:
        probabilities = predict_probabilities(model, x, batch_size=batch_size)
    except tf.errors.InvalidArgumentError as exc:
        if not isinstance(x, ImageFiles):
            raise
        # A file whose header reads but whose pixels do not decode.
        raise DataError(
            f"An image in {input_source} could not be decoded "
            f"({exc.message.splitlines()[0][:200]}); expected readable images "
            f"of one size. `automl validate` with a config whose data.source "
            "is this folder names every such file; replace or remove them."
        ) from None
    best = probabilities.argmax(axis=1)
    columns = {"path": x.paths} if isinstance(x, ImageFiles) else {}
    columns |= {
        "prediction": [labels[i] for i in best],
        "probability": probabilities.max(axis=1),
    }
    for i, label in enumerate(labels):
        columns[f"p_{label}"] = probabilities[:, i]
    return pd.DataFrame(columns)


def write_predictions(frame: pd.DataFrame, out_path: str | Path) -> Path:
    """Write `frame` as CSV atomically: a temporary sibling, then a rename.

    Raises:
        DataError: the file cannot be written (named, with the reason).
    """
    out_path = Path(out_path)
    try:
        write_text_atomically(out_path, frame.to_csv(index=False))
    except OSError as exc:
        raise DataError(
            f"Could not write predictions to {out_path} ({exc}); expected a "
            "writable file path. Choose another --out or fix the permissions."
        ) from None
    return out_path


def _read_document(path: Path) -> dict:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RegistryError(
            f"{path} is missing or unreadable ({exc}); expected the JSON every "
            "published version holds. Republish, or predict with another version."
        ) from None
    if not isinstance(document, dict):
        raise RegistryError(
            f"{path} holds a JSON {type(document).__name__}; expected an object. "
            "Republish, or predict with another version."
        )
    return document


resolve_version_task = stage("resolve-version")(resolve_version)
predict_batch_task = stage("predict")(predict_batch)
write_predictions_task = stage("write-predictions")(write_predictions)
