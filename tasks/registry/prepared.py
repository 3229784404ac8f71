"""The chief's prepared run data, read by its workers: `<run folder>/prepared/`.

A distributed chief loads, validates and splits its data once, and fits the
preprocessing; its workers read what it made instead of doing all of that
again (an image folder's decode pass included), so a cluster costs one
preparation, not one per machine. The folder holds:

- `splits.json`: the labels, the number of repeated examples, each split's
  size, and for an image folder what its files share (root, size, channels,
  resize);
- `images.parquet` (an image folder: one row per file with its split, label
  index, digest and decode-pass statistics), `rows.bin` and `rows.npz` (a
  table whose examples went to a row file: the file, and each split's
  positions in it, digests and sums) or `arrays.npz` (any other source: the
  split arrays, labels and digests);
- `preprocessing.json` (and `reference_series.npy` for sequences);
- `validation.json`: the data contract's report, for the record (workers
  need none of it to train).

Nothing is pickled: a run folder shared by many machines must not be a way
to run code on them. The folder is written under a hidden name and renamed
into place, so a reader finds all of it or none. The chief writes it before
it records its data fingerprint (`tasks.registry.run_data.record_data`), so
a worker that has seen the fingerprint finds the folder; the worker still
compares its fingerprint with the chief's, as the guard it always was.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data_contracts import ValidationReport
from tasks.errors import ConfigError
from tasks.preprocess import Preprocessing
from tasks.readers import example_digests_of
from tasks.readers.array_rows import ArrayRows
from tasks.readers.image_files import ImageFiles
from tasks.registry.prepared_examples import (
    SPLIT_KEYS,
    image_facts,
    read_arrays,
    read_images,
    read_rows,
    write_arrays,
    write_images,
    write_rows,
)
from tasks.registry.staging import temporary_name
from tasks.split import Splits

PREPARED_DIR = "prepared"
FACTS_FILE = "splits.json"
PREPROCESSING_FILE = "preprocessing.json"
REFERENCE_FILE = "reference_series.npy"
REPORT_FILE = "validation.json"
FORMAT = 1  # bumped when the files change meaning


@dataclass(frozen=True)
class PreparedData:
    """Prepared run data as read back.

    Attributes:
        splits: the chief's splits; image files carry the chief's statistics
            and no decoded pixels (they are decoded while training).
        preprocessing: the chief's fitted preprocessing.
        report: the chief's contract report (`ValidationReport.to_dict`), or
            None when it wrote none.
        path: the folder read.
    """

    splits: Splits
    preprocessing: Preprocessing
    report: dict | None
    path: Path

    @property
    def num_examples(self) -> int:
        splits = self.splits
        return len(splits.y_train) + len(splits.y_val) + len(splits.y_test)


def write_prepared(
    run_dir: Path,
    splits: Splits,
    preprocessing: Preprocessing,
    report: ValidationReport | None = None,
) -> Path:
    """Write the prepared data to `run_dir/prepared/`, replacing any earlier one.

    Returns:
        The folder written.

    Raises:
        DataError: examples that cannot be kept without pickle (object arrays
            that are not one string per example).
    """
    run_dir = Path(run_dir)
    target = run_dir / PREPARED_DIR
    staging = run_dir / temporary_name("prepared")
    try:
        staging.mkdir(parents=True)
        _write_into(staging, splits, preprocessing, report)
        _swap(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def has_prepared(run_dir: Path) -> bool:
    """Whether `run_dir` holds a chief's prepared data (a plain run's has none)."""
    return (Path(run_dir) / PREPARED_DIR / FACTS_FILE).is_file()


def read_prepared(run_dir: Path, image_root: Path | None = None) -> PreparedData:
    """Read the prepared data a chief wrote to `run_dir/prepared/`.

    Args:
        run_dir: the run folder the chief and its workers share.
        image_root: where this machine finds the chief's image folder (the
            worker's `data.source`); None: where the chief found it.

    Raises:
        ConfigError: no prepared data in `run_dir`, or of another format.
        DataError: image files of the chief's folder missing here.
        DataChangedError: sampled image files here whose pixels differ from
            the chief's (`prepared_examples.read_images`).
    """
    folder = Path(run_dir) / PREPARED_DIR
    facts_path = folder / FACTS_FILE
    if not facts_path.is_file():
        raise ConfigError(
            f"Received the run folder {run_dir}, which holds no prepared data "
            f"({facts_path} is missing); expected the distributed chief of run "
            f"{Path(run_dir).name} to have written it before recording its data. "
            "Start the chief (`automl run CONFIG --distributed`) with this "
            "version of automl, the same --run-id and --output-dir."
        )
    facts = json.loads(facts_path.read_text(encoding="utf-8"))
    if facts.get("format") != FORMAT:
        raise ConfigError(
            f"The prepared data in {folder} has format {facts.get('format')!r}; "
            f"expected {FORMAT}. Run the chief and its workers with the same "
            "version of automl."
        )
    if facts["images"] is not None:
        parts = read_images(folder, facts["images"], image_root)
    elif facts.get("rows") is not None:
        parts = read_rows(folder, facts["rows"])
    else:
        parts = read_arrays(folder)
    splits = Splits(**parts, labels=facts["labels"], duplicates=facts["duplicates"])
    report_path = folder / REPORT_FILE
    report = (
        json.loads(report_path.read_text(encoding="utf-8"))
        if report_path.is_file()
        else None
    )
    return PreparedData(splits, _read_preprocessing(folder), report, folder)


def _write_into(
    folder: Path,
    splits: Splits,
    preprocessing: Preprocessing,
    report: ValidationReport | None,
) -> None:
    parts = {}
    for key in SPLIT_KEYS:
        x = getattr(splits, f"x_{key}")
        digests = getattr(splits, f"digests_{key}")
        parts[f"x_{key}"] = x
        parts[f"y_{key}"] = np.asarray(getattr(splits, f"y_{key}"), dtype="int64")
        parts[f"digests_{key}"] = np.asarray(
            example_digests_of(x) if digests is None else digests, dtype=object
        )
    facts = {
        "format": FORMAT,
        "labels": list(splits.labels),
        "duplicates": int(splits.duplicates),
        "counts": {key: len(parts[f"y_{key}"]) for key in SPLIT_KEYS},
        "images": None,
        "rows": None,
    }
    if isinstance(splits.x_train, ImageFiles):
        facts["images"] = image_facts(parts)
        write_images(folder, parts, facts["images"])
    elif isinstance(splits.x_train, ArrayRows):
        facts["rows"] = write_rows(folder, parts)
    else:
        write_arrays(folder, parts)
    _write_json(folder / FACTS_FILE, facts)
    _write_preprocessing(folder, preprocessing)
    if report is not None:
        _write_json(folder / REPORT_FILE, report.to_dict())


def _write_preprocessing(folder: Path, preprocessing: Preprocessing) -> None:
    fields = {
        field.name: getattr(preprocessing, field.name)
        for field in dataclasses.fields(preprocessing)
        if field.name != "reference_series"
    }
    fields["input_shape"] = [int(n) for n in preprocessing.input_shape]
    _write_json(folder / PREPROCESSING_FILE, fields)
    if preprocessing.reference_series is not None:
        np.save(folder / REFERENCE_FILE, preprocessing.reference_series)


def _read_preprocessing(folder: Path) -> Preprocessing:
    fields = json.loads((folder / PREPROCESSING_FILE).read_text(encoding="utf-8"))
    fields["input_shape"] = tuple(fields["input_shape"])
    reference = folder / REFERENCE_FILE
    if reference.is_file():
        fields["reference_series"] = np.load(reference, allow_pickle=False)
    return Preprocessing(**fields)


def _write_json(path: Path, value: dict) -> None:
    path.write_text(json.dumps(value, indent=1), encoding="utf-8")


def _swap(staging: Path, target: Path) -> None:
    """Put `staging` at `target`; an earlier folder there is moved aside first
    (a directory cannot replace a non-empty one), then removed."""
    old = None
    if target.exists():
        old = target.with_name(temporary_name("prepared-old"))
        os.replace(target, old)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
