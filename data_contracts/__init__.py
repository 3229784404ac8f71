"""Data contracts: what valid data looks like, checked with Great Expectations.

A contract compiles to a Great Expectations 1.x suite that runs over a
per-example profile table, so images, sequences and tables share one
mechanism::

    contract = builtin_contract("digits")
    report = validate_frame(profile_arrays(images, labels), contract, "data_docs")

Great Expectations is imported lazily, on the first compile or validation.
"""

from data_contracts.bootstrap import contract_yaml, infer_contract
from data_contracts.contract import (
    ColumnSpec,
    DataContract,
    DriftThresholds,
    builtin_contract,
    default_contract,
    load_contract,
)
from data_contracts.drift import data_profile, drift_outcomes
from data_contracts.errors import ContractError, ContractViolation
from data_contracts.profile import (
    profile_arrays,
    profile_pixel_table,
    profile_sequences,
    profile_statistics,
    profile_texts,
)
from data_contracts.report import ExpectationOutcome, ValidationReport
from data_contracts.suite import compile_suite
from data_contracts.validate import validate_frame

__all__ = [
    "ColumnSpec",
    "ContractError",
    "ContractViolation",
    "DataContract",
    "DriftThresholds",
    "ExpectationOutcome",
    "ValidationReport",
    "builtin_contract",
    "compile_suite",
    "contract_yaml",
    "infer_contract",
    "data_profile",
    "drift_outcomes",
    "default_contract",
    "load_contract",
    "profile_arrays",
    "profile_pixel_table",
    "profile_sequences",
    "profile_statistics",
    "profile_texts",
    "validate_frame",
]
