"""Run a contract's suite on a frame with Great Expectations and report plainly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from data_contracts.contract import DataContract
from data_contracts.drift import drift_outcomes
from data_contracts.errors import ContractViolation
from data_contracts.profile import DIGEST
from data_contracts.report import (
    COLUMN_NOT_FOUND,
    MAX_SAMPLES,
    ExpectationOutcome,
    ValidationReport,
    plain_samples,
    plain_value,
)
from data_contracts.suite import (
    CLASS_RATIO,
    DUPLICATE,
    EXAMPLES_IN_CLASS,
    compile_suite,
    compile_table_suite,
    import_gx,
)

_DATASOURCE = "data_contracts"
_DOCS_SITE = "run_data_docs"
_RESULT_FORMAT = {"result_format": "SUMMARY"}
_COUNT_NOUNS = {  # plural nouns for count expectations
    "expect_table_row_count_to_be_between": "rows",
    "expect_column_unique_value_count_to_be_between": "distinct values",
}


def validate_frame(
    frame: pd.DataFrame,
    contract: DataContract,
    data_docs_dir: str | Path | None = None,
    table: pd.DataFrame | None = None,
    reference: dict[str, Any] | None = None,
) -> ValidationReport:
    """Check a profile table (or any table) against a contract with Great Expectations.

    Args:
        frame: the data to check, usually from `profile_arrays`.
        contract: the contract; compiled with `compile_suite`.
        data_docs_dir: folder for the Data Docs HTML site (its index.html is
            recorded in the report); None builds no Data Docs.
        table: the raw table, for sources that are tables: its columns are
            checked against `contract.columns` (`compile_table_suite`).
        reference: the champion's `data_profile`, for the drift checks.

    Returns:
        The report, when no expectation of severity `error` failed.

    Raises:
        ContractViolation: some expectation failed; Data Docs are written first.
    """
    gx = import_gx()
    data = _with_derived_columns(frame, contract)
    context = _new_context(gx, data_docs_dir)
    datasource = context.data_sources.add_pandas(_DATASOURCE)
    runs = [(compile_suite(contract), data)]
    table_suite = compile_table_suite(contract)
    if table is not None and table_suite is not None:
        runs.insert(0, (table_suite, _with_object_strings(table)))
    outcomes = []
    for suite, batch in runs:
        batch_definition = datasource.add_dataframe_asset(
            suite.name
        ).add_batch_definition_whole_dataframe("whole table")
        suite = context.suites.add(suite)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=suite.name, data=batch_definition, suite=suite)
        )
        result = definition.run(
            batch_parameters={"dataframe": batch}, result_format=_RESULT_FORMAT
        )
        outcomes += _outcomes(result, suite, batch, contract)
    if reference is not None:
        outcomes += drift_outcomes(frame, reference, contract)
    docs = None
    if data_docs_dir is not None:
        context.build_data_docs(site_names=[_DOCS_SITE])
        docs = str(Path(data_docs_dir).resolve() / "index.html")
    report = ValidationReport.from_outcomes(
        contract.name, outcomes, data_docs=docs, source=contract.source
    )
    if not report.success:
        raise ContractViolation(report)
    return report


def _outcomes(
    result: Any, suite: Any, data: pd.DataFrame, contract: DataContract
) -> list[ExpectationOutcome]:
    """Outcomes in suite order (GE runs them in its own order)."""
    order = {expectation.id: i for i, expectation in enumerate(suite.expectations)}
    results = sorted(
        result.results, key=lambda r: order.get(r.expectation_config.id, len(order))
    )
    return [_outcome(r, data, contract) for r in results]


def _new_context(gx: Any, data_docs_dir: str | Path | None) -> Any:
    """A fresh in-memory context (a few ms): no state leaks between validations.

    Progress bars are off (they print on every validation), analytics off.
    """
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
    )

    sites = {}
    if data_docs_dir is not None:
        sites[_DOCS_SITE] = {
            "class_name": "SiteBuilder",
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(Path(data_docs_dir).resolve()),
            },
        }
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        data_docs_sites=sites,
        progress_bars={"globally": False, "metric_calculations": False},
        analytics_enabled=False,
    )
    return gx.get_context(project_config=config, mode="ephemeral")


def _with_object_strings(table: pd.DataFrame) -> pd.DataFrame:
    """String columns as `object`: GE's type checks do not know pandas 3's `str`."""
    strings = {
        column: object
        for column, dtype in table.dtypes.items()
        if not pd.api.types.is_object_dtype(dtype)
        and pd.api.types.is_string_dtype(dtype)
    }
    return table.astype(strings) if strings else table


def _with_derived_columns(frame: pd.DataFrame, contract: DataContract) -> pd.DataFrame:
    """Add the columns the class and duplicate rules check, when they apply.

    `examples_in_class`: the rows sharing each row's label; `class_ratio`: the
    biggest class's size over that; `duplicate`: the row's content repeats an
    earlier row's.
    """
    derived = {}
    if contract.label in frame.columns:
        labels = frame[contract.label]
        sizes = labels.groupby(labels, dropna=False).transform("size")
        if contract.min_examples_per_class > 1:
            derived[EXAMPLES_IN_CLASS] = sizes.astype("int64")
        if contract.max_imbalance is not None and len(sizes):
            derived[CLASS_RATIO] = sizes.max() / sizes.astype("float64")
    if contract.duplicates != "allow" and DIGEST in frame.columns:
        derived[DUPLICATE] = frame[DIGEST].duplicated()
    return frame.assign(**derived) if derived else frame


def _outcome(
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
    expected = _expected(config.type, kwargs)
    if column in (EXAMPLES_IN_CLASS, CLASS_RATIO):
        if column == EXAMPLES_IN_CLASS:
            expected = f"at least {contract.min_examples_per_class} rows per class"
        else:
            expected = (
                f"the biggest class at most {contract.max_imbalance:g} times "
                "the size of any other"
            )
        if contract.label not in data.columns:
            column = contract.label  # blocked by the missing label: report it there
        elif not result.success:
            observed, samples, rows = _small_classes(data, contract, column)
    elif column == DUPLICATE:
        expected = (
            f"at most {contract.max_duplicate_fraction:.1%} of the examples "
            "repeating an earlier one"
        )
        if observed != COLUMN_NOT_FOUND and "unexpected_count" in details:
            share = details["unexpected_count"] / max(details["element_count"], 1)
            observed = f"{details['unexpected_count']} duplicates ({share:.1%})"
            samples = []
    severity = "warning" if "warning" in str(config.severity).lower() else "error"
    return ExpectationOutcome(
        expectation=config.type,
        column=column,
        success=bool(result.success),
        expected=expected,
        observed=observed,
        sample_bad_values=samples,
        sample_rows=rows,
        severity=severity,
    )


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
