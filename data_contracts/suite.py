"""Compile a `DataContract` into a Great Expectations 1.x ExpectationSuite.

The suite runs over a profile table (see `profile.py`) plus one derived
column, `examples_in_class`, that `validate_frame` adds: the number of rows
sharing each row's label. Each rule below turns some contract fields into
expectations; a new contract field is a new rule in `RULES`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from data_contracts.contract import DataContract
from data_contracts.profile import LENGTH, MAX, MIN, NAN_COUNT, SHAPE

if TYPE_CHECKING:
    import great_expectations as gx

EXAMPLES_IN_CLASS = "examples_in_class"
_ARRAY_KINDS = ("image", "sequence")


def import_gx() -> ModuleType:
    """Import Great Expectations offline: analytics off before its first import.

    Imported lazily because it takes seconds; `import data_contracts` stays cheap.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations

    return great_expectations


def compile_suite(contract: DataContract) -> gx.ExpectationSuite:
    """Build the expectation suite that checks data against `contract`.

    Args:
        contract: the contract to compile.

    Returns:
        A new, unsaved `ExpectationSuite` named after the contract. Its
        expectations refer to profile-table columns: the label, `shape`,
        `min`, `max`, `nan_count` and the derived `examples_in_class`.
    """
    gx = import_gx()
    # Built in one go: add_expectation() on a suite needs an active context.
    expectations = [e for rule in RULES for e in rule(gx.expectations, contract)]
    return gx.ExpectationSuite(
        name=contract.name, expectations=expectations, meta={"source": contract.source}
    )


def _label_rules(e: Any, contract: DataContract) -> list:
    label = contract.label
    rules = [
        e.ExpectColumnToExist(column=label),
        e.ExpectColumnValuesToNotBeNull(column=label),
    ]
    if contract.labels is not None:
        rules.append(
            e.ExpectColumnValuesToBeInSet(column=label, value_set=contract.labels)
        )
    return rules


def _size_rules(e: Any, contract: DataContract) -> list:
    return [e.ExpectTableRowCountToBeBetween(min_value=contract.min_rows)]


def _class_rules(e: Any, contract: DataContract) -> list:
    rules = [
        e.ExpectColumnUniqueValueCountToBeBetween(
            column=contract.label, min_value=contract.min_classes
        )
    ]
    if contract.min_examples_per_class > 1:
        rules.append(
            e.ExpectColumnValuesToBeBetween(
                column=EXAMPLES_IN_CLASS,
                min_value=contract.min_examples_per_class,
                meta={"notes": f"rows per class of '{contract.label}'"},
            )
        )
    return rules


def _shape_rules(e: Any, contract: DataContract) -> list:
    if contract.kind not in _ARRAY_KINDS:
        return []
    if contract.example_shape is None:
        return [
            e.ExpectColumnUniqueValueCountToBeBetween(
                column=SHAPE, min_value=1, max_value=1
            )
        ]
    expected = "x".join(str(size) for size in contract.example_shape)
    return [e.ExpectColumnValuesToBeInSet(column=SHAPE, value_set=[expected])]


def _value_rules(e: Any, contract: DataContract) -> list:
    rules = []
    if not contract.allow_nan:
        rules.append(
            e.ExpectColumnValuesToBeBetween(column=NAN_COUNT, min_value=0, max_value=0)
        )
    if contract.kind not in _ARRAY_KINDS:
        return rules
    if contract.min_value is not None:
        rules.append(
            e.ExpectColumnValuesToBeBetween(column=MIN, min_value=contract.min_value)
        )
    if contract.max_value is not None:
        rules.append(
            e.ExpectColumnValuesToBeBetween(column=MAX, max_value=contract.max_value)
        )
    return rules


def _length_rules(e: Any, contract: DataContract) -> list:
    """Valid steps of a sequence, characters of a text."""
    if contract.min_length is None and contract.max_length is None:
        return []
    return [
        e.ExpectColumnValuesToBeBetween(
            column=LENGTH,
            min_value=contract.min_length,
            max_value=contract.max_length,
        )
    ]


RULES: tuple[Callable[[Any, DataContract], list], ...] = (
    _label_rules,
    _size_rules,
    _class_rules,
    _shape_rules,
    _value_rules,
    _length_rules,
)
