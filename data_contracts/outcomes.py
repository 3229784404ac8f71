"""Great Expectations results in plain words: what was expected, what was seen."""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from data_contracts.contract import DataContract
from data_contracts.magnitude import MAGNITUDE, MAGNITUDE_AT
from data_contracts.profile import DIGEST
from data_contracts.report import (
    COLUMN_NOT_FOUND,
    MAX_SAMPLES,
    ExpectationOutcome,
    plain_samples,
    plain_value,
)
from data_contracts.suite import CLASS_RATIO, DUPLICATE, EXAMPLES_IN_CLASS

_COUNT_NOUNS = {  # plural nouns for count expectations
    "expect_table_row_count_to_be_between": "rows",
    "expect_column_unique_value_count_to_be_between": "distinct values",
}


def plain_outcome(
    result: Any, data: pd.DataFrame, contract: DataContract
) -> ExpectationOutcome:
    """Translate one GE expectation result into plain words and values."""
    config = result.expectation_config
    kwargs = dict(config.kwargs)
    column = kwargs.get("column")
    details = dict(result.result or {})
    samples: list = []
    rows: list = []
    error = _exception_message(result.exception_info)
    if column is not None and column not in data.columns:
        observed = COLUMN_NOT_FOUND
    elif error:
        observed = f"an error: {error}"
    elif "unexpected_count" in details:
        observed = (
            f"{details['unexpected_count']} of {details['element_count']} "
            "rows unexpected"
        )
        samples = plain_samples(details.get("partial_unexpected_list"))
        rows = plain_samples(details.get("partial_unexpected_index_list"))
    else:
        observed = str(plain_value(details.get("observed_value")))
        if config.type in _COUNT_NOUNS and column is not None and not result.success:
            samples = plain_samples(sorted(data[column].dropna().unique(), key=str))
    severity = "warning" if "warning" in str(config.severity).lower() else "error"
    outcome = ExpectationOutcome(
        expectation=config.type,
        column=column,
        success=bool(result.success),
        expected=_expected(config.type, kwargs),
        observed=observed,
        sample_bad_values=samples,
        sample_rows=rows,
        severity=severity,
    )
    reword = _DERIVED.get(column)
    return outcome if reword is None else reword(outcome, details, data, contract)


def _class_words(
    outcome: ExpectationOutcome,
    details: dict,
    data: pd.DataFrame,
    contract: DataContract,
) -> ExpectationOutcome:
    """Rows per class and class ratio, in classes (GE flags rows)."""
    if outcome.column == EXAMPLES_IN_CLASS:
        expected = f"at least {contract.min_examples_per_class} rows per class"
    else:
        expected = (
            f"the biggest class at most {contract.max_imbalance:g} times "
            "the size of any other"
        )
    outcome = dataclasses.replace(outcome, expected=expected)
    if contract.label not in data.columns:  # blocked by the missing label
        return dataclasses.replace(outcome, column=contract.label)
    if outcome.success:
        return outcome
    observed, samples, rows = _small_classes(data, contract, outcome.column)
    return dataclasses.replace(
        outcome, observed=observed, sample_bad_values=samples, sample_rows=rows
    )


def _duplicate_words(
    outcome: ExpectationOutcome,
    details: dict,
    data: pd.DataFrame,
    contract: DataContract,
) -> ExpectationOutcome:
    """How many examples repeat, and where the copies go (one split)."""
    expected = (
        f"at most {contract.max_duplicate_fraction:.1%} of the examples "
        "repeating an earlier one"
        if contract.max_duplicate_fraction
        else "no example repeating an earlier one"
    )
    outcome = dataclasses.replace(outcome, expected=expected)
    if outcome.observed == COLUMN_NOT_FOUND or "unexpected_count" not in details:
        return outcome
    count = details["unexpected_count"]
    share = count / max(details["element_count"], 1)
    observed = f"{count} duplicates ({share:.1%})"
    if count:
        repeated = data.loc[data[DUPLICATE], DIGEST].nunique()
        observed += (
            f", copies of {_plural(repeated, 'distinct examples')}; splits are by "
            "content digest, so each example and its copies are kept in one split"
        )
    return dataclasses.replace(outcome, observed=observed, sample_bad_values=[])


def _magnitude_words(
    outcome: ExpectationOutcome,
    details: dict,
    data: pd.DataFrame,
    contract: DataContract,
) -> ExpectationOutcome:
    """Name where the values too large for float32 are: column, or example."""
    limit = contract.max_abs_value
    expected = (
        f"finite values within +-{limit:g} (a larger value overflows float32 "
        "once squared for the normalisation's variance)"
    )
    outcome = dataclasses.replace(outcome, expected=expected)
    if outcome.success or MAGNITUDE_AT not in data.columns:
        return outcome
    bad = data[data[MAGNITUDE_AT].notna()].head(MAX_SAMPLES)
    places = [
        f"{plain_value(value)} in {place}"
        for value, place in zip(bad[MAGNITUDE], bad[MAGNITUDE_AT], strict=True)
    ]
    return dataclasses.replace(
        outcome, observed=f"{outcome.observed}: {'; '.join(places)}"
    )


_DERIVED = {
    EXAMPLES_IN_CLASS: _class_words,
    CLASS_RATIO: _class_words,
    DUPLICATE: _duplicate_words,
    MAGNITUDE: _magnitude_words,
}


def _small_classes(
    data: pd.DataFrame, contract: DataContract, column: str
) -> tuple[str, list, list]:
    """Name the classes with too few rows (GE flags rows; people think in classes)."""
    counts = data[contract.label].value_counts(dropna=False)
    if column == EXAMPLES_IN_CLASS:
        floor, what = contract.min_examples_per_class, "classes with too few rows"
    else:
        floor = counts.max() / contract.max_imbalance
        what = f"classes too small next to the biggest ({counts.max()} rows)"
    short = counts[counts < floor].sort_values()
    listed = ", ".join(
        f"{plain_value(label)!r} ({_plural(count, 'rows')})"
        for label, count in list(short.items())[:MAX_SAMPLES]
    )
    more = f" and {len(short) - MAX_SAMPLES} more" if len(short) > MAX_SAMPLES else ""
    observed = f"{what}: {listed}{more}"
    short_rows = data.index[data[contract.label].isin(short.index)]
    return observed, plain_samples(list(short.index)), plain_samples(list(short_rows))


def _expected(kind: str, kwargs: dict[str, Any]) -> str:
    if kind == "expect_column_to_exist":
        return "the column to exist"
    if kind == "expect_column_values_to_not_be_null":
        return "no missing values"
    if "value_set" in kwargs:
        values = list(kwargs["value_set"])
        shown = values[:10] + (["..."] if len(values) > 10 else [])
        return f"values in {shown}"
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    noun = _COUNT_NOUNS.get(kind)
    if noun is not None:
        if low is not None and low == high:
            return f"exactly {_plural(low, noun)}"
        if high is None:
            return f"at least {_plural(low, noun)}"
        if low is None:
            return f"at most {_plural(high, noun)}"
        return f"between {_number(low)} and {_plural(high, noun)}"
    if "min_value" in kwargs or "max_value" in kwargs:
        if high is None:
            return f"values >= {_number(low)}"
        if low is None:
            return f"values <= {_number(high)}"
        return f"values in [{_number(low)}, {_number(high)}]"
    ignored = ("batch_id", "column")
    return ", ".join(f"{k}={v}" for k, v in kwargs.items() if k not in ignored)


def _plural(count: Any, noun: str) -> str:
    """'1 row', '3 rows', '1 distinct value' (nouns are given in the plural)."""
    return f"{_number(count)} {noun.removesuffix('s') if count == 1 else noun}"


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _exception_message(info: Any) -> str | None:
    """The first exception message in GE's (possibly per-metric nested) info."""
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    for value in info.values():
        message = _exception_message(value)
        if message:
            return message
    return None
