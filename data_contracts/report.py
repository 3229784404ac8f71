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
        severity: `error` stops the run when unmet; `warning` is only reported.
        fix: how to fix it, when the contract's general advice is not enough.
    """

    expectation: str
    column: str | None
    success: bool
    expected: str
    observed: str
    sample_bad_values: list = field(default_factory=list)
    sample_rows: list = field(default_factory=list)
    severity: str = "error"
    fix: str = ""

    def describe(self) -> str:
        """One clause for a message: expectation, field, expected, observed, samples."""
        where = f" on '{self.column}'" if self.column is not None else ""
        parts = [f"expected {self.expected}", f"observed {self.observed}"]
        if self.sample_bad_values:
            parts.append(f"sample bad values: {self.sample_bad_values}")
        if self.sample_rows:
            parts.append(f"at rows {self.sample_rows}")
        if self.fix:
            parts.append(f"to fix: {self.fix}")
        return f"{self.expectation}{where} ({'; '.join(parts)})"


@dataclass(frozen=True)
class ValidationReport:
    """The result of validating one dataset against its contract.

    Attributes:
        contract: the contract's name.
        success: True when no expectation of severity `error` failed.
        evaluated: number of expectations run.
        failed: number of `error` expectations that failed (warnings aside).
        outcomes: one `ExpectationOutcome` per expectation, in suite order.
        data_docs: path of the Data Docs index.html, when they were built.
        source: where the contract came from (file path or "default ...").
        data_profile: the data's summary for later drift checks (see
            `data_contracts.drift.data_profile`), when the caller added it.
    """

    contract: str
    success: bool
    evaluated: int
    failed: int
    outcomes: list[ExpectationOutcome]
    data_docs: str | None = None
    source: str = "<default>"
    data_profile: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_outcomes(
        cls,
        contract: str,
        outcomes: list[ExpectationOutcome],
        data_docs: str | None = None,
        source: str = "<default>",
    ) -> ValidationReport:
        """Count the outcomes: only failed `error` outcomes fail the report."""
        failed = sum(not o.success and o.severity == "error" for o in outcomes)
        return cls(
            contract=contract,
            success=failed == 0,
            evaluated=len(outcomes),
            failed=failed,
            outcomes=outcomes,
            data_docs=data_docs,
            source=source,
        )

    @property
    def failures(self) -> list[ExpectationOutcome]:
        """Unmet expectations that stop the run."""
        return [o for o in self.outcomes if not o.success and o.severity == "error"]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        """Unmet expectations that are only reported."""
        return [o for o in self.outcomes if not o.success and o.severity != "error"]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (written to validation.json by the pipeline).

        The data profile is left out: it is stored on its own, as the drift
        reference.
        """
        as_dict = dataclasses.asdict(self)
        as_dict.pop("data_profile")
        return as_dict

    def summary(self) -> str:
        """A few lines of plain text for the CLI and the model card."""
        status = "passed" if self.success else "FAILED"
        lines = [
            f"Data contract '{self.contract}' {status}: "
            f"{self.evaluated - self.failed} of {self.evaluated} expectations met "
            f"(contract: {self.source})."
        ]
        lines += [f"  - {outcome.describe()}" for outcome in self.failures]
        lines += [f"  - warning: {outcome.describe()}" for outcome in self.warnings]
        if self.data_docs:
            lines.append(f"Data Docs: {self.data_docs}")
        return "\n".join(lines)

    def markdown(self) -> str:
        """A markdown table of every expectation, for the Prefect dashboard."""
        status = "passed" if self.success else "**FAILED**"
        lines = [
            f"## Data contract `{self.contract}`: {status}",
            "",
            f"{self.evaluated - self.failed} of {self.evaluated} expectations met"
            f"{f', {len(self.warnings)} warning(s)' if self.warnings else ''}; "
            f"contract: `{self.source}`.",
            "",
            "| result | expectation | field | expected | observed | bad values |",
            "|---|---|---|---|---|---|",
        ]
        for o in self.outcomes:
            result = (
                "ok" if o.success else ("FAIL" if o.severity == "error" else "warn")
            )
            cells = [result, o.expectation, o.column or "", o.expected, o.observed]
            cells.append(", ".join(map(str, o.sample_bad_values)))
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        if self.data_docs:
            lines += ["", f"Data Docs: `{self.data_docs}`"]
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


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


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
