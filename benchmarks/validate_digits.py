"""Benchmark: how long the data contract takes on digits (target: under 2 s).

Times `automl validate`'s work in one process, after a warm-up (imports and
Great Expectations' first-use setup are start-up costs, reported apart):
loading sklearn's digits, profiling them, and validating the profile against
the built-in contract with Data Docs, drift included against a reference
profile. Side by side, the same suite without Data Docs, and a bare Great
Expectations run of the same suite over the same frame, so the wrapper's own
cost shows.

    .venv/bin/python benchmarks/validate_digits.py
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time

from data_contracts import builtin_contract, data_profile, validate_frame
from data_contracts.suite import compile_suite, import_gx
from data_contracts.validate import _new_context, _with_derived_columns
from tasks.load import load_dataset
from tasks.validate import profile_raw, validate_data

REPEATS = 7


def _median_seconds(work) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    started = time.perf_counter()
    contract = builtin_contract("digits")
    raw = load_dataset("sklearn:digits", kind="image")
    frame = profile_raw(raw)
    reference = data_profile(frame, "label")
    validate_frame(frame, contract, reference=reference)  # warm-up
    first_use = time.perf_counter() - started
    docs = tempfile.mkdtemp()

    def full():
        validate_data(
            load_dataset("sklearn:digits", kind="image"),
            contract,
            data_docs_dir=docs,
            reference=reference,
        )

    gx = import_gx()

    def bare_gx():
        context = _new_context(gx, None)
        batch = (
            context.data_sources.add_pandas("bare")
            .add_dataframe_asset("digits")
            .add_batch_definition_whole_dataframe("all")
        )
        suite = context.suites.add(compile_suite(contract))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name="bare", data=batch, suite=suite)
        )
        definition.run(
            batch_parameters={"dataframe": _with_derived_columns(frame, contract)}
        )

    rows = {
        "load + profile + validate + drift + Data Docs (automl validate)": full,
        "profile + validate + drift, no Data Docs": lambda: validate_frame(
            profile_raw(raw), contract, reference=reference
        ),
        "bare Great Expectations run of the same suite": bare_gx,
    }
    results = {name: _median_seconds(work) for name, work in rows.items()}
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    print(f"digits: {len(frame)} examples; {machine}")
    print(f"first use (imports excluded, GE setup included): {first_use:.2f} s")
    for name, seconds in results.items():
        print(f"{name}: {seconds:.3f} s (median of {REPEATS})")


if __name__ == "__main__":
    main()
