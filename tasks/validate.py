"""Validate stage: check the raw data against its contract before any training."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from data_contracts import (
    DataContract,
    ValidationReport,
    builtin_contract,
    default_contract,
    load_contract,
    profile_arrays,
    profile_pixel_table,
    profile_sequences,
    profile_texts,
    validate_frame,
)
from tasks.errors import ConfigError, DataError
from tasks.load import RawData
from tasks.stage import stage

BUILTIN_FOR_SOURCE = {"sklearn:digits": "digits"}


def resolve_contract(
    name: str,
    source: str,
    kind: str,
    label: str = "label",
    image_shape: list[int] | None = None,
    contract: str | None = None,
) -> DataContract:
    """The contract for a dataset: a named file or built-in, else a default.

    Args:
        name: the pipeline name (names the default contract).
        source: the data source; built-in sources ship their own contract.
        kind: the data kind.
        label: the label column.
        image_shape: the expected per-example shape, when the config says it.
        contract: a YAML path or the name of a built-in contract.

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
    return default_contract(name, kind, label=label, example_shape=image_shape)


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
    if raw.table is not None:
        table = raw.table
        labels = table[label] if label in table.columns else None
        if raw.kind == "text":
            if text_column not in table.columns:
                raise DataError(
                    f"{raw.source} has no text column {text_column!r}; its columns "
                    f"are {list(table.columns)}. Set data.text_column."
                )
            return profile_texts(table[text_column], labels, label=label)
        if raw.kind == "sequence":
            raise DataError(
                f"{raw.source} is a table of sequences, but data.sequence_id and "
                "data.step are not set. Set them to the columns naming each "
                "series and ordering its steps (one row per step)."
            )
        return profile_pixel_table(table, label, image_shape or [])
    profile = {
        "image": profile_arrays,
        "sequence": profile_sequences,
        "text": profile_texts,
    }[raw.kind]
    frames = [profile(raw.x, raw.y, label=label)]
    if raw.x_test is not None:
        frames.append(profile(raw.x_test, raw.y_test, label=label))
    return pd.concat(frames, ignore_index=True)


def validate_data(
    raw: RawData,
    contract: DataContract,
    data_docs_dir: str | Path,
    label: str = "label",
    text_column: str = "text",
    image_shape: list[int] | None = None,
) -> ValidationReport:
    """Profile the raw data and validate it; raises `ContractViolation` on failure."""
    frame = profile_raw(
        raw, label=label, text_column=text_column, image_shape=image_shape
    )
    return validate_frame(frame, contract, data_docs_dir=data_docs_dir)


validate_data_task = stage("validate")(validate_data)
