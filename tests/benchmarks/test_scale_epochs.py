"""The image scale benchmark reads each side's epoch times: ours from the
trial's TensorBoard events (`benchmarks/scale_data.py`)."""

from __future__ import annotations

import importlib
from pathlib import Path

import keras
import numpy as np
import pytest

from tasks.tuning.callbacks import TensorBoard

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def scale_data():
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCHMARKS))
        yield importlib.import_module("scale_data")


def test_epoch_ends_are_read_from_a_trials_tensorboard_events(scale_data, tmp_path):
    # A real fit with the trials' TensorBoard callback: the events it writes
    # hold one `epoch_loss` a epoch, stamped as the epoch ends.
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, y = np.zeros((8, 4), "float32"), np.zeros(8, "int64")
    model.fit(x, y, epochs=3, verbose=0, callbacks=[TensorBoard(str(tmp_path))])

    found = scale_data.epoch_ends(str(tmp_path / "train" / "events.out.tfevents.*"))
    assert len(found) == 3
    assert found == sorted(found)
    assert len(scale_data.gaps(found)) == 2
    assert scale_data.epoch_ends(str(tmp_path / "missing" / "*")) == []


def test_gaps_are_the_seconds_between_consecutive_times(scale_data):
    assert scale_data.gaps([10.0, 12.5, 13.0]) == [2.5, 0.5]
    assert scale_data.gaps([10.0]) == []
