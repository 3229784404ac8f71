"""Same data or refuse: the run's data fingerprint, recorded and compared."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tasks.errors import ConfigError
from tasks.load import Examples
from tasks.registry.run_data import (
    DataChangedError,
    check_worker_data,
    data_fingerprint,
    record_data,
)
from tasks.registry.runs import read_run, start_run
from tasks.split import split_examples


def _splits(x, y, seed=0):
    return split_examples(Examples(x=x, y=y), seed=seed)


def test_the_fingerprint_is_stable_for_the_same_data_in_any_order(tiny_images):
    x, y = tiny_images
    first = data_fingerprint(_splits(x, y))
    assert data_fingerprint(_splits(x.copy(), y.copy())) == first
    order = np.random.default_rng(0).permutation(len(x))
    assert data_fingerprint(_splits(x[order], y[order])) == first
    assert len(first) == 16 and int(first, 16) >= 0


def test_the_fingerprint_changes_with_one_value_label_row_or_split(tiny_images):
    x, y = tiny_images
    first = data_fingerprint(_splits(x, y))
    one_value = x.copy()
    one_value[5, 0, 0, 0] += 1.0
    one_label = y.copy()
    one_label[5] = (y[5] + 1) % 3
    changed = {
        "one value": _splits(one_value, y),
        "one label": _splits(x, one_label),
        "one row fewer": _splits(x[1:], y[1:]),
        "one copy more": _splits(np.concatenate([x, x[:1]]), np.append(y, y[0])),
        "another split": _splits(x, y, seed=1),
    }
    fingerprints = {name: data_fingerprint(s) for name, s in changed.items()}
    assert first not in fingerprints.values(), fingerprints
    assert len(set(fingerprints.values())) == len(fingerprints)


def _run(tmp_path, name="20260101T000000Z-abcdef12"):
    run_dir = tmp_path / "runs" / "tiny" / name
    start_run(run_dir, run_dir.name, {"name": "tiny", "seed": 0}, "flow-run-1")
    return run_dir


def test_a_run_records_its_data_then_refuses_other_data(tmp_path, tiny_images):
    x, y = tiny_images
    run_dir = _run(tmp_path)
    same = _splits(x, y)
    fingerprint = record_data(run_dir, same)
    record = read_run(run_dir)
    assert record["data_fingerprint"] == fingerprint
    assert record["data_examples"] == 48 and record["status"] == "running"
    assert record_data(run_dir, _splits(x.copy(), y)) == fingerprint  # resumed

    other = _splits(x[1:], y[1:])
    with pytest.raises(DataChangedError) as refused:
        record_data(run_dir, other)
    message = str(refused.value)
    assert refused.value.exit_code == 2 and isinstance(refused.value, ConfigError)
    assert f"received data with fingerprint {data_fingerprint(other)} (47" in message
    assert f"expected {fingerprint} (48 examples)" in message
    assert "Restore the data the run started on" in message
    assert "start a new run (without --resume)" in message
    assert read_run(run_dir)["data_fingerprint"] == fingerprint  # unchanged


def test_a_new_search_in_the_folder_replaces_the_fingerprint(tmp_path, tiny_images):
    x, y = tiny_images
    run_dir = _run(tmp_path, "distributed-8000")
    record_data(run_dir, _splits(x, y), new_search=True)
    other = _splits(x[1:], y[1:])
    assert record_data(run_dir, other, new_search=True) == data_fingerprint(other)
    assert read_run(run_dir)["data_fingerprint"] == data_fingerprint(other)


def test_a_worker_on_the_chiefs_data_goes_on(tmp_path, tiny_images):
    x, y = tiny_images
    run_dir = _run(tmp_path, "distributed-8000")
    chief = record_data(run_dir, _splits(x, y), new_search=True)
    assert check_worker_data(run_dir, _splits(x, y), timeout_seconds=0) == chief


def test_a_worker_on_other_data_refuses_naming_both(tmp_path, tiny_images):
    x, y = tiny_images
    run_dir = _run(tmp_path, "distributed-8000")
    chief = record_data(run_dir, _splits(x, y), new_search=True)
    one_value = x.copy()
    one_value[0, 1, 1, 0] = 100.0
    worker = _splits(one_value, y)
    with pytest.raises(DataChangedError) as refused:
        check_worker_data(run_dir, worker, timeout_seconds=0)
    message = str(refused.value)
    assert refused.value.exit_code == 2
    assert f"received data with fingerprint {data_fingerprint(worker)}" in message
    assert f"expected the chief's {chief} (48 examples" in message
    assert "same data.source" in message and "new --run-id" in message


def test_a_worker_waits_for_the_chief_at_most_its_timeout(tmp_path, tiny_images):
    x, y = tiny_images
    run_dir = tmp_path / "runs" / "tiny" / "distributed-8000"  # no chief yet
    with pytest.raises(ConfigError, match=r"recorded no data fingerprint .* within 0"):
        check_worker_data(run_dir, _splits(x, y), timeout_seconds=0)


def test_a_worker_refuses_a_run_that_already_published(tmp_path, tiny_images):
    x, y = tiny_images
    run_dir = _run(tmp_path, "distributed-8000")
    record_data(run_dir, _splits(x, y), new_search=True)
    record = {**read_run(run_dir), "status": "published", "version": "v0003"}
    (run_dir / "run.json").write_text(json.dumps(record))
    with pytest.raises(ConfigError, match=r"already published v0003; expected the"):
        check_worker_data(run_dir, _splits(x, y), timeout_seconds=0)
