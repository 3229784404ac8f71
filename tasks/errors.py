"""Errors that carry meaning: each one maps to a CLI exit code.

Messages follow one form: what was received, what was expected, how to fix it.
`data_contracts.ContractViolation` (exit code 3) lives beside the contracts.
"""

from __future__ import annotations


class AutoMLError(Exception):
    """Base class for errors the CLI turns into one paragraph and an exit code."""

    exit_code = 1


class ConfigError(AutoMLError):
    """The pipeline config is missing, malformed or inconsistent."""

    exit_code = 2


class DataError(AutoMLError):
    """The data source cannot be read as the config says it should."""

    exit_code = 2


class SearchError(AutoMLError):
    """The search produced no usable model (for example, every trial failed)."""


class RegistryError(AutoMLError):
    """The model registry is inconsistent or cannot be written."""


class GateRefused(RegistryError):
    """A version asked to be champion fails the gate's absolute thresholds."""

    exit_code = 4


class ModelReferenceError(RegistryError):
    """A `NAME[:VERSION]` reference is malformed or names no published version.

    Exit code 2: the user asked for something that is not there (bad usage),
    unlike a damaged registry (exit code 1).
    """

    exit_code = 2


class ExportError(AutoMLError):
    """The serving export does not reproduce the Keras model's predictions."""
