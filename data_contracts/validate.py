"""Run a contract's suite on a frame with Great Expectations and report plainly."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from data_contracts.contract import DataContract
from data_contracts.drift import champion_label_outcomes, drift_outcomes
from data_contracts.errors import ContractViolation
from data_contracts.magnitude import MAGNITUDE, profile_magnitudes, table_magnitudes
from data_contracts.outcomes import plain_outcome
from data_contracts.profile import DIGEST
from data_contracts.report import ExpectationOutcome, ValidationReport
from data_contracts.suite import (
    ARRAY_KINDS,
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


def validate_frame(
    frame: pd.DataFrame,
    contract: DataContract,
    data_docs_dir: str | Path | None = None,
    table: pd.DataFrame | None = None,
    reference: dict[str, Any] | None = None,
    table_batches: Callable[[], Iterable[pd.DataFrame]] | None = None,
) -> ValidationReport:
    """Check a profile table (or any table) against a contract with Great Expectations.

    Args:
        frame: the data to check, usually from `profile_arrays`.
        contract: the contract; compiled with `compile_suite`.
        data_docs_dir: folder for the Data Docs HTML site (its index.html is
            recorded in the report); None builds no Data Docs.
        table: the raw table, for sources that are tables: its columns are
            checked against `contract.columns` (`compile_table_suite`), and
            a value too large for float32 is named by its column.
        reference: the champion's `data_profile`, for the drift checks and
            the comparison with the champion's labels.
        table_batches: instead of `table`, for a table too large to hold:
            gives its rows a batch at a time. The column checks run on each
            batch and their counts add up (`_merged`); the other checks run
            on `frame`, which then holds the magnitude columns.

    Returns:
        The report, when no expectation of severity `error` failed.

    Raises:
        ContractViolation: some expectation failed; Data Docs are written first.
    """
    gx = import_gx()
    data = _with_derived_columns(frame, contract, table)
    context = _new_context(gx, data_docs_dir)
    datasource = context.data_sources.add_pandas(_DATASOURCE)
    runs = [(compile_suite(contract), lambda: [data])]
    table_suite = compile_table_suite(contract)
    if table_suite is not None and table is not None:
        runs.insert(0, (table_suite, lambda: [_with_object_strings(table)]))
    elif table_suite is not None and table_batches is not None:
        needed = _needed(table_batches, table_suite)
        runs.insert(0, (table_suite, lambda: map(_with_object_strings, needed())))
    outcomes = []
    for suite, batches in runs:
        batch_definition = datasource.add_dataframe_asset(
            suite.name
        ).add_batch_definition_whole_dataframe("whole table")
        suite = context.suites.add(suite)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=suite.name, data=batch_definition, suite=suite)
        )
        result = first = None
        for batch in batches():
            found = definition.run(
                batch_parameters={"dataframe": batch}, result_format=_RESULT_FORMAT
            )
            result = _merged(result, found)
            first = batch if first is None else first
        outcomes += _outcomes(result, suite, first, contract)
    if reference is not None:
        outcomes += champion_label_outcomes(frame, reference, contract)
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


# Expectations a table's first batch decides for all of it (its header).
_SCHEMA_ONLY = {"expect_table_columns_to_match_set", "expect_column_to_exist"}
_PARTIAL = 20  # unexpected values and rows a merged result keeps, as GE does


def _needed(
    table_batches: Callable[[], Iterable[pd.DataFrame]], suite: Any
) -> Callable[[], Iterable[pd.DataFrame]]:
    """All the batches, or just the first when the suite checks only the header."""
    if {e.expectation_type for e in suite.expectations} <= _SCHEMA_ONLY:
        return lambda: itertools.islice(table_batches(), 1)
    return table_batches


def _merged(total: Any, batch: Any) -> Any:
    """Two batches' results of one suite as one result over both (in place).

    Row counts add up, a check passes when it passed on every batch, and
    the unexpected values and rows shown are the first batches'.
    """
    if total is None:
        return batch
    later = {r.expectation_config.id: r for r in batch.results}
    for result in total.results:
        other = later[result.expectation_config.id]
        result.success = bool(result.success and other.success)
        raised = (result.exception_info or {}).get("raised_exception")
        if not raised and (other.exception_info or {}).get("raised_exception"):
            result.exception_info = other.exception_info
        details, more = result.result or {}, other.result or {}
        for count in ("element_count", "unexpected_count", "missing_count"):
            if count in details and count in more:
                details[count] += more[count]
        for partial in ("partial_unexpected_list", "partial_unexpected_index_list"):
            if partial in details and partial in more:
                details[partial] = (list(details[partial]) + list(more[partial]))[
                    :_PARTIAL
                ]
    total.success = bool(total.success and batch.success)
    return total


def _outcomes(
    result: Any, suite: Any, data: pd.DataFrame, contract: DataContract
) -> list[ExpectationOutcome]:
    """Outcomes in suite order (GE runs them in its own order)."""
    order = {expectation.id: i for i, expectation in enumerate(suite.expectations)}
    results = sorted(
        result.results, key=lambda r: order.get(r.expectation_config.id, len(order))
    )
    return [plain_outcome(r, data, contract) for r in results]


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


def _with_derived_columns(
    frame: pd.DataFrame, contract: DataContract, table: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Add the columns the class, duplicate and magnitude rules check.

    `examples_in_class`: the rows sharing each row's label; `class_ratio`: the
    biggest class's size over that; `duplicate`: the row's content repeats an
    earlier row's; `magnitude`: the row's largest absolute value, from the
    table when given (naming the column), else from `min` and `max`, unless
    the caller added it (see `magnitude.array_magnitudes`).
    """
    derived: dict[str, Any] = {}
    if contract.label in frame.columns:
        labels = frame[contract.label]
        sizes = labels.groupby(labels, dropna=False).transform("size")
        if contract.min_examples_per_class > 1:
            derived[EXAMPLES_IN_CLASS] = sizes.astype("int64")
        if contract.max_imbalance is not None and len(sizes):
            derived[CLASS_RATIO] = sizes.max() / sizes.astype("float64")
    if contract.duplicates != "allow" and DIGEST in frame.columns:
        derived[DUPLICATE] = frame[DIGEST].duplicated()
    if contract.kind in ARRAY_KINDS and MAGNITUDE not in frame.columns:
        if table is not None and len(table) == len(frame):
            found = table_magnitudes(table, contract.label, contract.max_abs_value)
            derived.update(found.set_axis(frame.index).to_dict("series"))
        elif (magnitudes := profile_magnitudes(frame)) is not None:
            derived[MAGNITUDE] = magnitudes
    return frame.assign(**derived) if derived else frame
