"""Benchmark: tables read a batch of rows at a time (issue 18, item 5).

Generated CSV tables of three kinds: texts (ham/spam), pixel rows (8x8x1,
10 classes) and long-format sequences (one row per step), each in fresh
processes whose wall time and peak resident memory are measured from
outside (`scale_data.run_measured`):

- `automl validate` on the streamed path (the table read in batches);
- the same validation on the whole-read path (`tasks.load.STREAM_BYTES`
  raised and `data.cache_megabytes: 100000`, in-process through the CLI);
- `automl run`, streamed, training exactly once (one trial, one epoch,
  holdout, no refit, ensemble or augmentation).

The streamed configs set `data.cache_megabytes: 0`, so every table streams,
also those smaller on disk than `tasks.load.STREAM_BYTES` (64 MiB).

    .venv/bin/python benchmarks/scale_tables.py          # ~1 h on 2 cores
    .venv/bin/python benchmarks/scale_tables.py --quick --no-write   # ~3 min
    .venv/bin/python benchmarks/scale_tables.py --kinds text --run-all

Tables are cached under --root (default /tmp/automl-scale-tables); run
outputs go to a scratch folder removed at the end (--keep keeps it). Prints
a table, writes benchmarks/RESULTS-scale-tables.json and rewrites its
section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import harness
import numpy as np
import pandas as pd
import scale_data
from scale import _commit, _process

SECTION = "Scale: tables read in batches (issue 18)"
RESULTS_JSON = harness.ROOT / "benchmarks" / "RESULTS-scale-tables.json"
SIZES = {
    "text": [200_000, 2_000_000],
    "pixels": [100_000, 1_000_000],
    "sequence": [5_000, 50_000],  # series, of STEPS rows each
}
QUICK_SIZES = {"text": [20_000], "pixels": [10_000], "sequence": [500]}
# `automl run` by default only on these sizes (the largest text table's run
# is long on two cores); --run-all runs every case.
RUN_SIZES = {"text": {200_000, 20_000}}
FAMILIES = {"text": "ngram", "pixels": "cnn", "sequence": "cnn"}
CHUNK_ROWS = 100_000
VOCABULARY = 2_000
SPAM_SHARE = 0.13
NEWLINE_EVERY = 50
PIXEL_SIDE, PIXEL_CLASSES = 8, 10
STEPS, SHUFFLE_BLOCK = 100, 25
BATCH_SIZE = 64
# The whole-read child: the threshold raised before the CLI validates.
WHOLE_VALIDATE = (
    "import sys, tasks.load; tasks.load.STREAM_BYTES = 2**62; "
    "from flows.cli.main import app; app(['validate', sys.argv[1]])"
)


def ensure_table(root: Path, kind: str, size: int, seed: int = 0) -> tuple[Path, dict]:
    """The generated table of `kind` and `size`, written unless present.

    Written under a temporary name and renamed when complete, so an
    interrupted generation is never taken for a finished one; its figures
    (rows, in-memory size of the examples) sit beside it as JSON.

    Returns:
        The CSV's path and its figures.
    """
    final = root / f"{kind}-{size}.csv"
    meta = final.with_suffix(".json")
    if final.is_file() and meta.is_file():
        return final, json.loads(meta.read_text())
    root.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(final.name + ".partial")
    partial.unlink(missing_ok=True)
    started = time.monotonic()
    writer = {"text": _text_chunks, "pixels": _pixel_chunks}.get(kind, _series_chunks)
    rows, example_bytes = 0, 0
    for index, (frame, nbytes) in enumerate(writer(size, seed)):
        frame.to_csv(partial, mode="a", header=index == 0, index=False)
        rows, example_bytes = rows + len(frame), example_bytes + nbytes
    figures = {"rows": rows, "example_bytes": example_bytes}
    meta.write_text(json.dumps(figures))
    partial.rename(final)
    print(f"generated {final} in {time.monotonic() - started:.0f} s", flush=True)
    return final, figures


def _text_chunks(count: int, seed: int):
    """Frames of (label, text): ham or spam, 5-40 words of a fixed vocabulary.

    Spam draws a third of its words from the first 100 of the vocabulary, so
    a model can learn it; every NEWLINE_EVERY-th text holds a newline, which
    the CSV quotes. Yields each frame with the texts' UTF-8 bytes.
    """
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words_rng = np.random.default_rng([seed, 1])
    vocabulary = np.array(
        [
            "".join(words_rng.choice(letters, words_rng.integers(2, 10)))
            for _ in range(VOCABULARY)
        ],
        dtype=object,
    )
    for start in range(0, count, CHUNK_ROWS):
        rng = np.random.default_rng([seed, start])
        n = min(CHUNK_ROWS, count - start)
        spam = rng.random(n) < SPAM_SHARE
        lengths = rng.integers(5, 41, n)
        texts = []
        for row in range(n):
            picks = rng.integers(0, VOCABULARY, lengths[row])
            if spam[row]:
                marked = rng.random(lengths[row]) < 1 / 3
                picks[marked] = rng.integers(0, 100, marked.sum())
            words = vocabulary[picks]
            if (start + row) % NEWLINE_EVERY == 0:
                words[len(words) // 2] += "\n"
            texts.append(" ".join(words))
        labels = np.where(spam, "spam", "ham")
        nbytes = sum(len(text.encode()) for text in texts)
        yield pd.DataFrame({"label": labels, "text": texts}), nbytes


def _pixel_chunks(count: int, seed: int):
    """Frames of label + 64 integer pixels 0..16: a class's template plus noise.

    Yields each frame with its examples' float32 bytes.
    """
    side = PIXEL_SIDE * PIXEL_SIDE
    templates = np.random.default_rng([seed, 2]).integers(0, 17, (PIXEL_CLASSES, side))
    columns = [f"p{i}" for i in range(side)]
    for start in range(0, count, CHUNK_ROWS):
        rng = np.random.default_rng([seed, start])
        n = min(CHUNK_ROWS, count - start)
        labels = rng.integers(0, PIXEL_CLASSES, n)
        noisy = templates[labels] * 0.6 + rng.normal(3.0, 3.0, (n, side))
        pixels = np.clip(np.rint(noisy), 0, 16).astype(np.int64)
        frame = pd.DataFrame(pixels, columns=columns)
        frame.insert(0, "label", labels)
        yield frame, pixels.size * 4


def _series_chunks(count: int, seed: int):
    """Long-format rows (sid, t, label, f0, f1): sines (0) and square waves (1).

    Rows of each chunk of series are shuffled in blocks of SHUFFLE_BLOCK
    steps, so a series' steps are not all contiguous. Yields each frame with
    its series' float32 bytes.
    """
    per_chunk = CHUNK_ROWS // STEPS
    t = np.arange(STEPS)
    for start in range(0, count, per_chunk):
        rng = np.random.default_rng([seed, start])
        n = min(per_chunk, count - start)
        labels = rng.integers(0, 2, n)
        period = rng.uniform(10, 40, (n, 1))
        phase = rng.uniform(0, 2 * np.pi, (n, 1))
        wave = np.sin(2 * np.pi * t / period + phase)
        wave = np.where(labels[:, None] == 1, np.sign(wave), wave)
        f0 = wave + rng.normal(0, 0.3, wave.shape)
        f1 = np.cos(2 * np.pi * t / period + phase) + rng.normal(0, 0.3, wave.shape)
        frame = pd.DataFrame(
            {
                "sid": np.repeat(np.arange(start, start + n), STEPS),
                "t": np.tile(t, n),
                "label": np.repeat(labels, STEPS),
                "f0": f0.ravel().round(4),
                "f1": f1.ravel().round(4),
            }
        )
        blocks = rng.permutation(len(frame) // SHUFFLE_BLOCK)
        order = (blocks[:, None] * SHUFFLE_BLOCK + np.arange(SHUFFLE_BLOCK)).ravel()
        yield frame.iloc[order], n * STEPS * 2 * 4


def write_config(table: Path, kind: str, work: Path, cache_mb: int) -> Path:
    """A config over `table` that trains exactly once (as `scale_data`'s).

    Returns:
        The YAML's path, `<work>/config.yaml`.
    """
    data = {"source": str(table), "kind": kind, "cache_megabytes": cache_mb}
    if kind == "pixels":
        data.update(kind="image", image_shape=[PIXEL_SIDE, PIXEL_SIDE, 1])
    elif kind == "sequence":
        data.update(sequence_id="sid", step="t")
    raw = {
        "name": f"scale_tables_{table.stem.replace('-', '_')}",
        "data": data,
        "augment": {"enabled": False},
        "search": scale_data.one_training_search(FAMILIES[kind], BATCH_SIZE),
        "output_dir": str(work / "output"),
    }
    return scale_data.write_yaml(raw, work)


def measure_case(
    root: Path, kind: str, size: int, work: Path, timeout: float, train: bool
) -> dict:
    """One table through validate (streamed, whole) and maybe run; one row."""
    table, figures = ensure_table(root, kind, size)
    streamed = write_config(table, kind, work / f"{kind}-{size}", cache_mb=0)
    whole = write_config(table, kind, work / f"{kind}-{size}-whole", cache_mb=100000)
    automl = str(Path(sys.executable).with_name("automl"))
    env = {**os.environ, **harness.CHILD_ENV}

    def child(config: Path, step: str, command: list[str]) -> dict:
        return measure_child(command, config.with_name(f"{step}.log"), env, timeout)

    row = {
        "kind": kind,
        "size": size,
        "rows": figures["rows"],
        "file_mb": table.stat().st_size / 2**20,
        "example_mb": figures["example_bytes"] / 2**20,
        "validate_streamed": child(
            streamed, "validate", [automl, "validate", str(streamed)]
        ),
        "validate_whole": child(
            whole, "validate", [sys.executable, "-c", WHOLE_VALIDATE, str(whole)]
        ),
        "run_streamed": None,
    }
    if train:
        row["run_streamed"] = child(streamed, "run", [automl, "run", str(streamed)])
    row["peak_ratio"] = (
        row["validate_streamed"]["peak_main_mb"] / row["validate_whole"]["peak_main_mb"]
    )
    return row


def measure_floor(work: Path, timeout: float) -> dict:
    """`automl validate` of the built-in digits demo: the peak of no table."""
    automl = str(Path(sys.executable).with_name("automl"))
    command = [automl, "validate", "--output-dir", str(work / "floor")]
    env = {**os.environ, **harness.CHILD_ENV}
    return measure_child(command, work / "floor.log", env, timeout)


def measure_child(command: list[str], log: Path, env: dict, timeout: float) -> dict:
    """Wall time and peaks of one child; a failure is recorded, not raised.

    A child killed at its timeout (or exiting non-zero) keeps its figures and
    the end of its log, so one slow case does not lose the others' rows.
    """
    print(f"$ {' '.join(Path(part).name for part in command[:2])} ...", flush=True)
    measured = scale_data.run_measured(command, log, env, timeout)
    figures = {**_process(measured), "returncode": measured.returncode}
    if measured.returncode != 0:
        tail = "\n".join(measured.log.splitlines()[-15:])
        print(
            f"exited with {measured.returncode} after {measured.wall_s:.0f} s; "
            f"expected 0. Its log ({log}) ends:\n{tail}",
            flush=True,
        )
        figures["log_tail"] = tail[-2000:]
    return figures


def render(f: dict) -> str:
    """The RESULTS.md section: one table row per generated table."""
    lines = [
        "`benchmarks/scale_tables.py`: generated CSV tables (texts ham/spam, "
        f"{PIXEL_SIDE}x{PIXEL_SIDE}x1 pixel rows of {PIXEL_CLASSES} classes, "
        f"long-format series of {STEPS} steps and 2 features), each through "
        "`automl validate` read in batches (streamed: `data.cache_megabytes: "
        "0`), the same validation read whole (`tasks.load.STREAM_BYTES` "
        "raised, `cache_megabytes: 100000`) and `automl run` streamed (one "
        "trial of one family, one epoch, holdout, no refit, ensemble or "
        f"augmentation, batch {BATCH_SIZE}). Each is a fresh process; peak is "
        "its kernel high-water mark (tree: with its children, sampled every "
        "0.1 s). Examples MB: the texts' UTF-8 bytes, or the float32 arrays.",
        "",
        f"Machine: {f['machine']}. Commit {f['commit']}, {f['date']} (load "
        f"average {f['load']} at the end).",
        "",
        "| kind | rows | file MB | examples MB | validate streamed s / peak MB "
        "(tree) | validate whole s / peak MB (tree) | streamed / whole peak "
        "| run streamed s / peak MB (tree) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in f["rows"]:
        kind = r["kind"]
        if kind == "sequence":
            kind = f"sequence ({r['size']} series)"
        lines.append(
            f"| {kind} | {r['rows']} | {_mb(r['file_mb'])} "
            f"| {_mb(r['example_mb'])} | {_cell(r['validate_streamed'])} "
            f"| {_cell(r['validate_whole'])} | {r['peak_ratio']:.2f} "
            f"| {_cell(r['run_streamed'])} |"
        )
    floor = f.get("floor")
    if floor is not None:
        lines += [
            "",
            "Floor (the imports and the contract, almost no data): `automl "
            f"validate` of the built-in digits demo, {_cell(floor)}.",
        ]
    return "\n".join(lines)


def _mb(value: float) -> str:
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def _cell(measured: dict | None) -> str:
    if measured is None:
        return "not run"
    failed = "" if measured["returncode"] == 0 else f"exit {measured['returncode']}: "
    return failed + (
        f"{measured['wall_s']:.0f} / {measured['peak_main_mb']:.0f} "
        f"({measured['peak_tree_mb']:.0f})"
    )


def main(argv: list[str]) -> None:
    options = _parse_args(argv)
    root = Path(options.root)
    work = Path(tempfile.mkdtemp(prefix="automl-scale-tables-runs-"))
    rows, floor = [], None
    try:
        floor = measure_floor(work, options.timeout)
        for kind, size in cases(options):
            train = options.run_all or size in RUN_SIZES.get(kind, {size})
            rows.append(measure_case(root, kind, size, work, options.timeout, train))
            print(json.dumps(rows[-1]), flush=True)
    finally:
        if not options.keep:
            shutil.rmtree(work, ignore_errors=True)
    figures = {
        "machine": harness.machine(),
        "cpu_count": os.cpu_count(),
        "commit": _commit(),
        "date": harness.now(),
        "load": harness.load_average(),
        "floor": floor,
        "rows": rows,
    }
    report = render(figures)
    print(report)
    if options.keep:
        print(f"run outputs kept in {work}")
    if not options.no_write:
        RESULTS_JSON.write_text(json.dumps(figures, indent=1) + "\n")
        harness.replace_section(SECTION, report)


def cases(options: argparse.Namespace) -> list[tuple[str, int]]:
    """(kind, size) pairs to measure, in order."""
    sizes = QUICK_SIZES if options.quick else SIZES
    return [(kind, size) for kind in options.kinds for size in sizes[kind]]


def _kinds(text: str) -> list[str]:
    kinds = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(kinds) - set(SIZES))
    if unknown:
        raise argparse.ArgumentTypeError(
            f"received kinds {unknown}; expected some of {sorted(SIZES)}, "
            "comma-separated"
        )
    return kinds


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="/tmp/automl-scale-tables", help="tables")
    parser.add_argument("--kinds", type=_kinds, default=list(SIZES))
    parser.add_argument("--quick", action="store_true", help="a smoke run, ~3 min")
    parser.add_argument("--run-all", action="store_true", help="automl run on all")
    parser.add_argument("--keep", action="store_true", help="keep run outputs")
    parser.add_argument("--timeout", type=float, default=20 * 60, help="per process")
    parser.add_argument("--no-write", action="store_true", help="skip RESULTS*")
    return parser.parse_args(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
