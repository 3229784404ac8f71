"""The contract on its own: `automl validate` and `automl contract init`.

Plain functions over the same stages the flow runs (load, resolve, profile,
validate), without a Prefect server: a check that takes a second should not
wait for one to start.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from data_contracts import DataContract, ValidationReport, contract_yaml, load_contract
from flows.config import PipelineConfig
from tasks.errors import ConfigError
from tasks.load import load_dataset
from tasks.registry.staging import write_text_atomically
from tasks.validate import (
    bootstrap_contract,
    champion_data_profile,
    resolve_contract,
    validate_data,
)


def pipeline_contract(config: PipelineConfig) -> DataContract:
    """The contract a pipeline's data is checked against (file, built-in, default)."""
    data = config.data
    return resolve_contract(
        config.name,
        data.source,
        data.kind,
        label=data.label,
        image_shape=data.image_shape,
        contract=data.contract,
        text_column=data.text_column,
    )


def validate_pipeline_data(config: PipelineConfig) -> ValidationReport:
    """Load the pipeline's data and check it, drift from the champion included.

    Raises:
        ContractViolation: the data broke the contract.
        DataError, ConfigError: the data or the contract cannot be read.
    """
    data = config.data
    raw = load_dataset(data.source, **data.loader_options(), keep_examples=False)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    output = Path(config.output_dir)
    run_dir = output / "runs" / config.name / f"validate-{stamp}"
    return validate_data(
        raw,
        pipeline_contract(config),
        data_docs_dir=run_dir / "data_docs",
        reference=champion_data_profile(output / "registry", config.name),
        **data.reader_options(),
    )


def write_contract(
    config: PipelineConfig, path: str | Path, overwrite: bool = False
) -> DataContract:
    """Profile the pipeline's data and write a contract YAML describing it.

    The file is written whole (temporary file, then rename) and read back, so
    what is on disk is a contract the same data passes.

    Raises:
        ConfigError: `path` exists and `overwrite` is False.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise ConfigError(
            f"{path} already exists; expected a new file. Pass --force to "
            "overwrite it, or --out to write elsewhere."
        )
    data = config.data
    raw = load_dataset(data.source, **data.loader_options(), keep_examples=False)
    contract = bootstrap_contract(raw, config.name, **data.reader_options())
    header = (
        f"Data contract for '{config.name}', bootstrapped by `automl contract init`\n"
        f"from {data.source} ({raw.num_rows} rows) on "
        f"{datetime.now(UTC):%Y-%m-%d}. Review every line:\n"
        "it is what valid data must look like from now on."
    )
    write_text_atomically(path, contract_yaml(contract, header))
    return load_contract(path)
