"""Diagnostic: does the search's callback set slow `fit` down (issue 7)?

Fits the overhead benchmark's ratio architecture (seed 1's first trial) on
digits, alternating a bare `fit` with one carrying the callbacks a Keras Tuner
trial gets in the flow: EarlyStopping, TensorBoard, Keras Tuner's
TunerCallback (per-batch hooks) and SaveBestEpoch; and once more with the
callbacks issue 8 added per epoch (FailOnNonFinite's weight check and
TrialBackup's epoch logs, with its default 30 s between backups). Same
process, no Prefect, so only the callbacks differ.

    .venv/bin/python benchmarks/fit_callbacks.py     # ~2 min on 2 cores
"""

from __future__ import annotations

import tempfile
import time
import warnings

import harness
import keras
import keras_tuner as kt
from keras_tuner.src.engine import tuner_utils

from flows.config import demo_config
from tasks.augment import build_augmenter, make_datasets
from tasks.hypermodel import PipelineHyperModel
from tasks.load import load_dataset, to_examples
from tasks.preprocess import fit_preprocessing
from tasks.resume import TrialBackup
from tasks.split import split_examples
from tasks.tuning import FailOnNonFinite

EPOCHS = 40
REPEATS = 3
HPARAMS = {  # what seed 1's first trial samples (overhead.py's ratio run)
    "family": "cnn",
    "cnn/num_blocks": 3,
    "cnn/filters": 16,
    "cnn/kernel_size": 3,
    "cnn/pooling": "max",
    "cnn/dense_units": 256,
    "cnn/dropout": 0.1,
    "learning_rate": 0.00028406107009737317,
}


class _Tuner:
    """Stands in for the tuner TunerCallback calls: its hooks do nothing, as
    in `kt.Tuner`, so only the per-batch dispatch is measured."""

    def on_epoch_begin(self, *args, **kwargs): ...
    def on_batch_begin(self, *args, **kwargs): ...
    def on_batch_end(self, *args, **kwargs): ...
    def on_epoch_end(self, *args, **kwargs): ...


def search_callbacks(folder: str) -> list[keras.callbacks.Callback]:
    objective = kt.Objective("val_f1_macro", "max")
    return [
        keras.callbacks.EarlyStopping(
            monitor="val_f1_macro", mode="max", patience=EPOCHS
        ),
        keras.callbacks.TensorBoard(log_dir=folder, write_graph=False, profile_batch=0),
        tuner_utils.TunerCallback(_Tuner(), None),
        tuner_utils.SaveBestEpoch(objective, f"{folder}/checkpoint.weights.h5"),
    ]


def main() -> None:
    warnings.filterwarnings("ignore", message=".*shuffle=True.*")
    config = demo_config()
    data = config.data
    examples = to_examples(
        load_dataset(data.source, **data.loader_options()), **data.reader_options()
    )
    splits = split_examples(examples, seed=1)
    preprocessing = fit_preprocessing(splits.x_train)
    augmenter = build_augmenter(
        "image", seed=1, **config.augment.model_dump(exclude={"enabled"})
    )
    datasets = make_datasets(splits, 32, augmenter=augmenter, seed=1)
    hypermodel = PipelineHyperModel(preprocessing, splits.num_classes, ["cnn"])
    times: dict[str, list[float]] = {
        "bare": [],
        "search callbacks": [],
        "search + resume/NaN callbacks": [],
    }
    for _ in range(REPEATS):
        for variant in times:
            hp = kt.HyperParameters()
            hp.values.update(HPARAMS)
            model = hypermodel.build(hp)
            callbacks = []
            folder = tempfile.mkdtemp()
            if variant != "bare":
                callbacks = search_callbacks(folder)
            if variant.startswith("search +"):
                callbacks += [FailOnNonFinite(), TrialBackup(f"{folder}/backup", 30.0)]
            started = time.monotonic()
            model.fit(
                datasets.train,
                validation_data=datasets.validation,
                epochs=EPOCHS,
                callbacks=callbacks,
                verbose=0,
            )
            times[variant].append(time.monotonic() - started)
    print(f"{EPOCHS} epochs, load average {harness.load_average()}")
    for variant, seconds in times.items():
        listed = ", ".join(f"{s:.1f}" for s in seconds)
        print(f"{variant}: median {harness.median(seconds):.1f} s ({listed})")


if __name__ == "__main__":
    main()
