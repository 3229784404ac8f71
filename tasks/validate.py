"""Validate stage: check the raw data against its contract before any training."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd

from data_contracts import (
    DataContract,
    ValidationReport,
    builtin_contract,
    data_profile,
    default_contract,
    infer_contract,
    load_contract,
    profile_arrays,
    profile_pixel_table,
    profile_sequences,
    profile_statistics,
    profile_texts,
    validate_frame,
)
from data_contracts.magnitude import array_magnitudes, extreme_magnitudes
from data_contracts.suite import ARRAY_KINDS
from tasks.errors import ConfigError, DataError
from tasks.load import RawData
from tasks.readers.array_rows import ArrayRows
from tasks.readers.image_files import ImageFiles
from tasks.registry.champion import read_champion
from tasks.stage import stage

BUILTIN_FOR_SOURCE = {"sklearn:digits": "digits"}
DATA_PROFILE_FILE = "data_profile.json"


def resolve_contract(
    name: str,
    source: str,
    kind: str,
    label: str = "label",
    image_shape: list[int] | None = None,
    contract: str | None = None,
    text_column: str | None = None,
) -> DataContract:
    """The contract for a dataset: a named file or built-in, else a default.

    Args:
        name: the pipeline name (names the default contract).
        source: the data source; built-in sources ship their own contract.
        kind: the data kind.
        label: the label column.
        image_shape: the expected per-example shape, when the config says it.
        contract: a YAML path or the name of a built-in contract.
        text_column: for text tables, the column the default contract requires.

    Raises:
        ConfigError: `contract` names neither a file nor a built-in contract.
    """
    if contract is not None:
        if Path(contract).suffix in {".yaml", ".yml"} or Path(contract).exists():
            if not Path(contract).is_file():
                raise ConfigError(
                    f"data.contract {contract!r} does not exist. Point it at a "
                    "contract YAML file, or remove it to use a default contract."
                )
            return load_contract(contract)
        found = builtin_contract(contract)
        if found is None:
            raise ConfigError(
                f"data.contract {contract!r} is neither a file nor a built-in "
                "contract. Point it at a contract YAML file, or remove it."
            )
        return found
    if source in BUILTIN_FOR_SOURCE:
        return builtin_contract(BUILTIN_FOR_SOURCE[source])
    return default_contract(
        name,
        kind,
        label=label,
        example_shape=image_shape,
        text_column=text_column if kind == "text" else None,
    )


def profile_raw(
    raw: RawData,
    label: str = "label",
    text_column: str = "text",
    image_shape: list[int] | None = None,
) -> pd.DataFrame:
    """The table the contract checks: one profile row per example.

    Raises:
        DataError: a table lacks what its kind needs to be read at all (the
            text column, or the long-format sequence columns).
    """
    if raw.kind == "sequence" and (raw.table is not None or raw.scanned is not None):
        raise DataError(
            f"{raw.source} is a table of sequences, but data.sequence_id and "
            "data.step are not set. Set them to the columns naming each "
            "series and ordering its steps (one row per step)."
        )
    if raw.scanned is not None:  # profiled by the pass over its batches
        return raw.scanned.profile
    if raw.table is not None:
        table = raw.table
        labels = table[label] if label in table.columns else None
        if raw.kind == "text":
            if text_column not in table.columns:
                # The contract reports the missing column (and the label's).
                return labels.to_frame() if labels is not None else pd.DataFrame()
            return profile_texts(table[text_column], labels, label=label)
        return profile_pixel_table(table, label, image_shape or [])
    if isinstance(raw.x, ImageFiles):  # profiled by the decode pass
        stats = raw.x.stats
        return profile_statistics(
            stats.shapes,
            stats.minimum,
            stats.maximum,
            stats.mean,
            stats.digests,
            raw.y,
            label=label,
        )
    profile = {
        "image": profile_arrays,
        "sequence": profile_sequences,
        "text": profile_texts,
    }[raw.kind]
    if isinstance(raw.x, ArrayRows):  # a large table's examples: a block at a time
        frames = [
            profile(
                values,
                None if raw.y is None else raw.y[start : start + len(values)],
                label=label,
            )
            for start, values in raw.x.chunks()
        ]
        return pd.concat(frames, ignore_index=True)
    frames = [profile(raw.x, raw.y, label=label)]
    if raw.x_test is not None:
        frames.append(profile(raw.x_test, raw.y_test, label=label))
    return pd.concat(frames, ignore_index=True)


def validate_data(
    raw: RawData,
    contract: DataContract,
    data_docs_dir: str | Path | None,
    label: str = "label",
    text_column: str = "text",
    image_shape: list[int] | None = None,
    reference: dict | None = None,
) -> ValidationReport:
    """Profile the raw data and validate it, drift included when `reference` is set.

    Returns:
        The report; its `data_profile` is the reference later runs compare with.

    Raises:
        ContractViolation: the data broke the contract (or drifted, when the
            contract says drift fails).
    """
    frame = profile_raw(
        raw, label=label, text_column=text_column, image_shape=image_shape
    )
    report = validate_frame(
        frame.join(raw_magnitudes(raw, contract)),
        contract,
        data_docs_dir=data_docs_dir,
        table=raw.table,
        table_batches=None if raw.scanned is None else raw.scanned.batches,
        reference=reference,
    )
    return dataclasses.replace(report, data_profile=data_profile(frame, label))


def raw_magnitudes(raw: RawData, contract: DataContract) -> pd.DataFrame:
    """Each array example's largest |value| and, beyond the contract, where it is.

    Rows match `profile_raw`'s (the kept test split after the others). Tables
    get none here: `validate_frame` names a table's columns itself.
    """
    limit = contract.max_abs_value
    if raw.scanned is not None and raw.kind in ARRAY_KINDS:
        return raw.scanned.magnitudes(limit)  # as `validate_frame` names a table's
    if raw.table is not None or raw.x is None or raw.kind not in ARRAY_KINDS:
        return pd.DataFrame()
    if isinstance(raw.x, ImageFiles):
        stats = raw.x.stats
        return extreme_magnitudes(stats.minimum, stats.maximum, raw.x.paths, limit)
    if isinstance(raw.x, ArrayRows):
        frames = [
            array_magnitudes(values, limit, kind=raw.kind, first=start)
            for start, values in raw.x.chunks()
        ]
        return pd.concat(frames)
    frames = [array_magnitudes(raw.x, limit, kind=raw.kind)]
    if raw.x_test is not None:
        frames.append(
            array_magnitudes(raw.x_test, limit, kind=raw.kind, prefix="test example")
        )
    return pd.concat(frames, ignore_index=True)


def bootstrap_contract(
    raw: RawData,
    name: str,
    label: str = "label",
    text_column: str = "text",
    image_shape: list[int] | None = None,
) -> DataContract:
    """A contract describing `raw` as it is, for `automl contract init`."""
    frame = profile_raw(
        raw, label=label, text_column=text_column, image_shape=image_shape
    )
    table = raw.table if raw.scanned is None else raw.scanned.summaries
    return infer_contract(
        frame, name, raw.kind, label=label, table=table, source=raw.source
    )


def champion_data_profile(registry_dir: str | Path, name: str) -> dict | None:
    """The training-data profile stored with the champion, or None.

    Its label shares hold the champion's label set; `champion` names its
    version, for the contract's messages.

    Raises:
        RegistryError: `champion.json` exists but is unreadable.
    """
    pipeline_dir = Path(registry_dir) / name
    champion = read_champion(pipeline_dir)
    if champion is None:
        return None
    path = pipeline_dir / champion["version"] / DATA_PROFILE_FILE
    if not path.is_file():
        return None  # published before profiles were stored
    profile = json.loads(path.read_text(encoding="utf-8"))
    return profile | {"champion": champion["version"]}  # named in messages


validate_data_task = stage("validate")(validate_data)
