"""Errors raised by data contracts: a broken contract file, or data that breaks one."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from data_contracts.report import ValidationReport


class ContractError(Exception):
    """The contract itself is unreadable or invalid (bad YAML, unknown key, bad value).

    The message names the file, the problem and how to fix it.
    """


class ContractViolation(Exception):
    """The data broke its contract; the run must stop before training.

    Attributes:
        report: the full `ValidationReport`, with one outcome per expectation.
    """

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        super().__init__(report.describe_failure())
