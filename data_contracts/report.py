"""Plain, JSON-friendly results of validating data against a contract."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MAX_SAMPLES = 5

# The `observed` text of an expectation whose column is absent from the data.
COLUMN_NOT_FOUND = "column not found"


@dataclass(frozen=True)
class ExpectationOutcome:
    """What one expectation checked, what it saw, and a few offending values.

    Attributes:
        expectation: the Great Expectations type, e.g. `expect_column_to_exist`.
        column: the field it checks; None for table-level expectations.
        success: whether the data met it.
        expected: what valid data looks like, in words ("values in [0, 16]").
        observed: what the data showed ("3 of 64 rows unexpected").
        sample_bad_values: at most 5 distinct offending values, JSON-friendly.
        sample_rows: at most 5 row labels (index values) where they occur.
    """

    expectation: str
    column: str | None
    success: bool
    expected: str
    observed: str
    sample_bad_values: list = field(default_factory=list)
    sample_rows: list = field(default_factory=list)

    def describe(self) -> str:
        """One clause for a message: expectation, field, expected, observed, samples."""
        where = f" on '{self.column}'" if self.column is not None else ""
        parts = [f"expected {self.expected}", f"observed {self.observed}"]
        if self.sample_bad_values:
            parts.append(f"sample bad values: {self.sample_bad_values}")
        if self.sample_rows:
            parts.append(f"at rows {self.sample_rows}")
        return f"{self.expectation}{where} ({'; '.join(parts)})"


@dataclass(frozen=True)
class ValidationReport:
    """The result of validating one dataset against its contract.

    Attributes:
        contract: the contract's name.
        success: True when every expectation passed.
        evaluated: number of expectations run.
        failed: number that failed.
        outcomes: one `ExpectationOutcome` per expectation, in suite order.
        data_docs: path of the Data Docs index.html, when they were built.
        source: where the contract came from (file path or "default ...").
    """

    contract: str
    success: bool
    evaluated: int
    failed: int
    outcomes: list[ExpectationOutcome]
    data_docs: str | None = None
    source: str = "<default>"

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.success]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (written to validation.json by the pipeline)."""
        return dataclasses.asdict(self)

    def summary(self) -> str:
        """A few lines of plain text for the CLI and the model card."""
        status = "passed" if self.success else "FAILED"
        lines = [
            f"Data contract '{self.contract}' {status}: "
            f"{self.evaluated - self.failed} of {self.evaluated} expectations met "
            f"(contract: {self.source})."
        ]
        lines += [f"  - {outcome.describe()}" for outcome in self.failures]
        if self.data_docs:
            lines.append(f"Data Docs: {self.data_docs}")
        return "\n".join(lines)

    def describe_failure(self) -> str:
        """One paragraph: what failed, on which field, sample values, how to fix."""
        clauses = _failure_clauses(self.failures)
        text = (
            f"Data contract '{self.contract}' failed {self.failed} of "
            f"{self.evaluated} expectations: {'; '.join(clauses)}. "
            f"Fix the data or the contract ({self.source}), then run again."
        )
        if self.data_docs:
            text += f" Data Docs: {self.data_docs}"
        return text


def _failure_clauses(failures: list[ExpectationOutcome]) -> list[str]:
    """Describe each failure; expectations blocked by a missing column share one."""
    missing = [o for o in failures if o.observed == COLUMN_NOT_FOUND]
    blocked: dict[str | None, list[str]] = {}
    for outcome in missing:
        blocked.setdefault(outcome.column, []).append(outcome.expectation)
    clauses = []
    reported: set[str | None] = set()
    for outcome in failures:
        if outcome.observed != COLUMN_NOT_FOUND:
            clauses.append(outcome.describe())
        elif outcome.column not in reported:
            reported.add(outcome.column)
            names = blocked[outcome.column]
            others = f"; {', '.join(names[1:])} could not run" if names[1:] else ""
            clauses.append(
                f"{names[0]} on '{outcome.column}' (column not found{others})"
            )
    return clauses


def plain_value(value: Any) -> Any:
    """A JSON-friendly python value: numpy scalars unwrapped, NaN as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return str(value)
        return value
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


def plain_samples(values: list | None, limit: int = MAX_SAMPLES) -> list:
    """At most `limit` distinct JSON-friendly values, in first-seen order."""
    samples: list = []
    for value in values or []:
        plain = plain_value(value)
        if plain not in samples:
            samples.append(plain)
        if len(samples) == limit:
            break
    return samples
