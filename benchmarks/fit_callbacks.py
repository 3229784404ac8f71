"""Diagnostic: what do the search's callbacks cost `fit` (issue 7)?

Fits the overhead benchmark's ratio architecture (seed 1's first trial) on
digits, alternating a bare `fit` with one carrying the callbacks a Keras Tuner
trial would get from stock Keras and Keras Tuner (EarlyStopping, TensorBoard,
TunerCallback with its per-batch hooks, SaveBestEpoch), and with the ones it
gets in the flow (`tasks.tuning.callbacks`' TensorBoard and best-epoch
checkpoint, plus the NaN check and the resume backup with its default 30 s
between backups). Same process, no Prefect, so only the callbacks differ.
The spread of wall times on two shared cores is a few percent; for the cost
of a callback, `cProfile` call counts say more (see RESULTS.md).

    .venv/bin/python benchmarks/fit_callbacks.py     # ~3 min on 2 cores
"""

from __future__ import annotations

import cProfile
import pstats
import tempfile
import time
import warnings

import harness
import keras
import keras_tuner as kt

from flows.config import demo_config
from tasks.augment import build_augmenter, make_datasets
from tasks.load import load_dataset, to_examples
from tasks.preprocess import fit_preprocessing
from tasks.split import split_examples
from tasks.tuning import callbacks as trial_callbacks
from tasks.tuning.callbacks import BestEpochInMemory, FailOnNonFinite
from tasks.tuning.compat import SaveBestEpoch, TunerCallback
from tasks.tuning.hypermodel import PipelineHyperModel
from tasks.tuning.resume import TrialBackup

EPOCHS = 40
REPEATS = 5
PROFILED_EPOCHS = 10
HPARAMS = {  # what seed 1's first trial samples (overhead.py's ratio run)
    "family": "cnn",
    "cnn/num_blocks": 3,
    "cnn/filters": 16,
    "cnn/kernel_size": 3,
    "cnn/pooling": "max",
    "cnn/dense_units": 256,
    "cnn/dropout": 0.1,
    "cnn/learning_rate": 0.00028406107009737317,
}


class _Tuner:
    """Stands in for the tuner TunerCallback calls: its hooks do nothing, as
    in `kt.Tuner`, so only the per-batch dispatch is measured."""

    def on_epoch_begin(self, *args, **kwargs): ...
    def on_batch_begin(self, *args, **kwargs): ...
    def on_batch_end(self, *args, **kwargs): ...
    def on_epoch_end(self, *args, **kwargs): ...


OBJECTIVE = kt.Objective("val_f1_macro", "max")


def stock_callbacks(folder: str) -> list[keras.callbacks.Callback]:
    return [
        keras.callbacks.EarlyStopping(
            monitor="val_f1_macro", mode="max", patience=EPOCHS
        ),
        keras.callbacks.TensorBoard(log_dir=folder, write_graph=False, profile_batch=0),
        TunerCallback(_Tuner(), None),
        SaveBestEpoch(OBJECTIVE, f"{folder}/checkpoint.weights.h5"),
    ]


def flow_callbacks(folder: str) -> list[keras.callbacks.Callback]:
    saver = BestEpochInMemory(OBJECTIVE, f"{folder}/checkpoint.weights.h5")
    backup = TrialBackup(f"{folder}/backup", 30.0)
    backup.before_backup = saver.flush
    return [
        keras.callbacks.EarlyStopping(
            monitor="val_f1_macro", mode="max", patience=EPOCHS
        ),
        FailOnNonFinite(),
        trial_callbacks.TensorBoard(folder),
        TunerCallback(_Tuner(), None),
        saver,
        backup,
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
    variants = {
        "bare": lambda folder: [],
        "stock Keras / Keras Tuner callbacks": stock_callbacks,
        "the flow's callbacks": flow_callbacks,
    }

    def prepared(make, epochs: int):
        """A fresh model of the ratio architecture, ready to fit with `make`'s
        callbacks: the fit is the returned call, so only it gets timed."""
        hp = kt.HyperParameters()
        hp.values.update(HPARAMS)
        model = hypermodel.build(hp)
        callbacks = make(tempfile.mkdtemp())
        return lambda: model.fit(
            datasets.train,
            validation_data=datasets.validation,
            epochs=epochs,
            callbacks=callbacks,
            verbose=0,
        )

    times: dict[str, list[float]] = {variant: [] for variant in variants}
    for _ in range(REPEATS):
        for variant, make in variants.items():
            fit = prepared(make, EPOCHS)
            started = time.monotonic()
            fit()
            times[variant].append(time.monotonic() - started)
    calls = {}
    for variant, make in variants.items():  # counts do not move with the load
        profiler = cProfile.Profile()
        profiler.runcall(prepared(make, PROFILED_EPOCHS))
        calls[variant] = pstats.Stats(profiler).total_calls
    print(f"{EPOCHS} epochs, load average {harness.load_average()}")
    for variant, seconds in times.items():
        listed = ", ".join(f"{s:.1f}" for s in seconds)
        print(
            f"{variant}: median {harness.median(seconds):.1f} s ({listed}); "
            f"{calls[variant] / PROFILED_EPOCHS:.0f} Python calls per epoch"
        )


if __name__ == "__main__":
    main()
