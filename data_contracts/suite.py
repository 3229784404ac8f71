"""Compile a `DataContract` into a Great Expectations 1.x ExpectationSuite.

The suite runs over a profile table (see `profile.py`) plus derived columns
that `validate_frame` adds: `examples_in_class` (rows sharing each row's
label), `class_ratio` (the biggest class's size over the row's class size),
`duplicate` (the row repeats an earlier example) and `magnitude` (the row's
largest absolute value, see `magnitude.py`). Each rule below turns
some contract fields into expectations; a new contract field is a new rule in
`RULES`. A table's own columns get a second suite, `compile_table_suite`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from data_contracts.contract import DataContract
from data_contracts.magnitude import MAGNITUDE
from data_contracts.profile import FEATURES, LENGTH, MAX, MIN, NAN_COUNT, SHAPE

if TYPE_CHECKING:
    import great_expectations as gx

EXAMPLES_IN_CLASS = "examples_in_class"
CLASS_RATIO = "class_ratio"
DUPLICATE = "duplicate"
TYPE_NAMES = {
    "integer": ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"]
    + ["uint64", "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32"],
    "number": ["float16", "float32", "float64", "Float32", "Float64"],
    "string": ["object", "str", "string"],
    "boolean": ["bool", "boolean"],
}
TYPE_NAMES["number"] = TYPE_NAMES["integer"] + TYPE_NAMES["number"]
ARRAY_KINDS = ("image", "sequence")


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
    if contract.max_imbalance is not None:
        rules.append(
            e.ExpectColumnValuesToBeBetween(
                column=CLASS_RATIO,
                max_value=contract.max_imbalance,
                meta={"notes": f"biggest class over this class, '{contract.label}'"},
            )
        )
    return rules


def _duplicate_rules(e: Any, contract: DataContract) -> list:
    if contract.duplicates == "allow":
        return []
    return [
        e.ExpectColumnValuesToBeInSet(
            column=DUPLICATE,
            value_set=[False],
            mostly=1.0 - contract.max_duplicate_fraction,
            severity="warning" if contract.duplicates == "warn" else "critical",
        )
    ]


def _shape_rules(e: Any, contract: DataContract) -> list:
    if contract.kind not in ARRAY_KINDS:
        return []
    if contract.example_shape is None:
        return [
            e.ExpectColumnUniqueValueCountToBeBetween(
                column=SHAPE, min_value=1, max_value=1
            )
        ]
    expected = "x".join(str(size) for size in contract.example_shape)
    return [e.ExpectColumnValuesToBeInSet(column=SHAPE, value_set=[expected])]


def _feature_rules(e: Any, contract: DataContract) -> list:
    if contract.kind != "sequence" or contract.num_features is None:
        return []
    return [
        e.ExpectColumnValuesToBeInSet(
            column=FEATURES, value_set=[contract.num_features]
        )
    ]


def _value_rules(e: Any, contract: DataContract) -> list:
    rules = []
    if not contract.allow_nan:
        rules.append(
            e.ExpectColumnValuesToBeBetween(column=NAN_COUNT, min_value=0, max_value=0)
        )
    if contract.kind not in ARRAY_KINDS:
        return rules
    if contract.min_value is not None:
        rules.append(
            e.ExpectColumnValuesToBeBetween(column=MIN, min_value=contract.min_value)
        )
    if contract.max_value is not None:
        rules.append(
            e.ExpectColumnValuesToBeBetween(column=MAX, max_value=contract.max_value)
        )
    # Finite and float32-safe, whatever min_value and max_value say.
    rules.append(
        e.ExpectColumnValuesToBeBetween(
            column=MAGNITUDE,
            max_value=contract.max_abs_value,
            meta={"notes": "largest absolute value of each example"},
        )
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
    _feature_rules,
    _value_rules,
    _length_rules,
    _duplicate_rules,
)


def compile_table_suite(contract: DataContract) -> gx.ExpectationSuite | None:
    """The suite for a table's own columns (`contract.columns`), or None.

    Checks that each declared column exists, has the declared type, has no
    missing values unless nullable, and stays in range; with
    `allow_extra_columns: false`, that no other column is present.
    """
    if not contract.columns:
        return None
    gx = import_gx()
    e = gx.expectations
    expectations = []
    if not contract.allow_extra_columns:
        expectations.append(
            e.ExpectTableColumnsToMatchSet(
                column_set=list(contract.columns), exact_match=True
            )
        )
    for column, spec in contract.columns.items():
        expectations.append(e.ExpectColumnToExist(column=column))
        if spec.type is not None:
            expectations.append(
                e.ExpectColumnValuesToBeInTypeList(
                    column=column, type_list=TYPE_NAMES[spec.type]
                )
            )
        if not spec.nullable:
            expectations.append(e.ExpectColumnValuesToNotBeNull(column=column))
        if spec.min_value is not None or spec.max_value is not None:
            expectations.append(
                e.ExpectColumnValuesToBeBetween(
                    column=column, min_value=spec.min_value, max_value=spec.max_value
                )
            )
    return gx.ExpectationSuite(
        name=f"{contract.name}-columns",
        expectations=expectations,
        meta={"source": contract.source},
    )
