"""The tables scale benchmark's pieces: its tables, configs, cases and report
(the benchmark itself runs from `benchmarks/scale_tables.py`)."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flows.config import load_pipeline_config
from tasks.load import load_dataset, to_examples

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    """The benchmark script as the benchmarks import each other: top-level."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCHMARKS))
        yield importlib.import_module("scale_tables")


@pytest.mark.parametrize(
    ("kind", "size", "rows", "columns"),
    [
        ("text", 120, 120, ["label", "text"]),
        ("pixels", 40, 40, ["label"] + [f"p{i}" for i in range(64)]),
        ("sequence", 6, 600, ["sid", "t", "label", "f0", "f1"]),
    ],
)
def test_each_table_is_written_once_and_streams_into_its_examples(
    bench, tmp_path, kind, size, rows, columns
):
    path, figures = bench.ensure_table(tmp_path, kind, size)
    assert figures["rows"] == rows
    assert list(pd.read_csv(path, nrows=0).columns) == columns
    assert not list(tmp_path.glob("*.partial"))
    written = path.stat().st_mtime_ns
    assert bench.ensure_table(tmp_path, kind, size) == (path, figures)  # cached
    assert path.stat().st_mtime_ns == written

    config = load_pipeline_config(bench.write_config(path, kind, tmp_path, 0))
    assert config.data.cache_megabytes == 0
    raw = load_dataset(config.data.source, **config.data.loader_options())
    examples = to_examples(raw, **config.data.reader_options())
    assert len(examples.y) == size
    if kind == "text":
        assert raw.scanned is not None  # streamed, although a few kB
        assert sum(len(t.encode()) for t in examples.x) == figures["example_bytes"]
        assert set(examples.y) == {"ham", "spam"}
        assert sum("\n" in text for text in examples.x) == 3  # every 50th
    else:
        assert examples.x.dtype == "float32"
        # An array, or rows kept in a file (`ArrayRows`): shape and dtype alike.
        nbytes = int(np.prod(examples.x.shape)) * examples.x.dtype.itemsize
        assert nbytes == figures["example_bytes"]
        assert examples.x.shape[1:] == {"pixels": (8, 8, 1), "sequence": (100, 2)}[kind]


def test_sequence_rows_are_shuffled_in_blocks_of_steps(bench, tmp_path):
    path, _ = bench.ensure_table(tmp_path, "sequence", 4)
    table = pd.read_csv(path)
    runs = (table["sid"] != table["sid"].shift()).sum()
    assert runs > 4  # some series' steps are apart
    steps = table.groupby("sid")["t"].apply(sorted)
    assert all(found == list(range(100)) for found in steps)


def test_cases_follow_the_flags(bench):
    quick = bench._parse_args(["--quick", "--kinds", "text,sequence"])
    assert bench.cases(quick) == [("text", 20_000), ("sequence", 500)]
    full = bench._parse_args([])
    assert len(bench.cases(full)) == 6 and full.timeout == 20 * 60
    with pytest.raises(SystemExit):
        bench._parse_args(["--kinds", "images"])


def test_render_gives_one_row_per_table_and_names_failures(bench):
    def measured(wall, peak, returncode=0):
        return {"wall_s": wall, "peak_main_mb": peak, "peak_tree_mb": peak + 1}

    row = {
        "kind": "text",
        "rows": 200000,
        "file_mb": 29.4,
        "example_mb": 27.9,
        "validate_streamed": {**measured(12, 400), "returncode": 0},
        "validate_whole": {**measured(10, 800), "returncode": 0},
        "run_streamed": None,
        "peak_ratio": 0.5,
    }
    failed = {**row, "kind": "pixels", "run_streamed": {**measured(1200, 900)}}
    failed["run_streamed"]["returncode"] = -9
    figures = {
        "machine": "a machine",
        "commit": "abc1234",
        "date": "2025-01-01 00:00 UTC",
        "load": "1 1 1",
        "floor": {**measured(9, 780), "returncode": 0},
        "rows": [row, failed],
    }
    report = bench.render(figures)
    assert (
        "| text | 200000 | 29 | 28 | 12 / 400 (401) | 10 / 800 (801) | 0.50 " in report
    )
    assert "| not run |" in report
    assert "| exit -9: 1200 / 900 (901) |" in report
    assert "Commit abc1234" in report
    assert "digits demo, 9 / 780 (781)." in report
