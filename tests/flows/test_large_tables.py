"""A table too large for the memory budget through the real flow: its pixels
go to a row file, and the published model is the one the same rows in
memory would make it (same split), predicting the same from the table."""

from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits

from flows.config import PipelineConfig
from flows.pipeline import automl_pipeline
from tasks.load import load_dataset, to_examples
from tasks.predict import predict_batch
from tasks.readers.array_rows import ArrayRows
from tasks.split import split_examples

# One k-fold search with a refit (~45 s on 2 cores): `make test-slow`; the
# row file's parts are checked in `tests/tasks/readers/test_table_scan.py`.
pytestmark = pytest.mark.slow


def test_a_table_over_the_budget_trains_from_its_row_file(prefect_harness, tmp_path):
    digits = load_digits()
    table = pd.DataFrame(digits.data[:240], columns=[f"p{i}" for i in range(64)])
    table.insert(0, "label", digits.target[:240])
    source = tmp_path / "digits.csv"
    table.to_csv(source, index=False)
    data = {
        "source": str(source),
        "kind": "image",
        "image_shape": [8, 8, 1],
        "cache_megabytes": 0,  # every table streams; every example to a file
    }
    raw = load_dataset(
        str(source), kind="image", image_shape=[8, 8, 1], cache_megabytes=0
    )
    assert isinstance(raw.scanned.x, ArrayRows)
    config = PipelineConfig(
        name="rows",
        data=data,
        search={
            "families": ["cnn"],
            "tuner": "random",
            "validation": "kfold",
            "folds": 2,
            "refit": "always",
            "max_trials": 1,
            "epochs": 2,
            "patience": 2,
        },
        augment={"enabled": False},
        output_dir=str(tmp_path / "out"),
    )
    version = Path(automl_pipeline(config).publish.path)
    in_memory = split_examples(
        to_examples(load_dataset(str(source), kind="image"), image_shape=[8, 8, 1])
    )
    published = pd.read_parquet(version / "splits.parquet")
    assert published["digest"].tolist() == in_memory.membership()["digest"].tolist()
    assert published["split"].tolist() == in_memory.membership()["split"].tolist()
    model = keras.saving.load_model(version / "model.keras", safe_mode=True)
    expected = model.predict(
        digits.data[:240].reshape(-1, 8, 8, 1).astype("float32"), verbose=0
    )
    predicted = predict_batch(version, source)
    np.testing.assert_allclose(
        predicted["probability"], expected.max(axis=1), rtol=1e-5, atol=1e-6
    )
