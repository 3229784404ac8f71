"""The scale benchmark's parts: generated image folders, the configs that run
them, a child process's wall time and peak memory, and the bare Keras fit
(run as `python scale_data.py ARGS_JSON`, a fresh process).

Images are drawn with numpy and saved by PIL, so generating costs a few
minutes for 100,000 files on two cores. Each image's content depends only on
(seed, size, index): folders of different counts share their first images.
"""

from __future__ import annotations

import glob
import itertools
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import yaml

# One shape per class, drawn in random colours, place and scale over noise:
# learnable from the shape alone, but not from a pixel's colour.
SHAPES = (
    "checker",
    "cross",
    "diagonal",
    "disc",
    "frame",
    "hbars",
    "ring",
    "square",
    "triangle",
    "vbars",
)
PROCESSES = 2
BATCH_SIZE = 32


def draw_image(label: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """One `size` x `size` RGB uint8 image of `SHAPES[label]`."""
    y, x = np.mgrid[0:size, 0:size] / size
    cy, cx = rng.uniform(0.3, 0.7, 2)
    radius = rng.uniform(0.15, 0.3)
    dy, dx = y - cy, x - cx
    box = np.maximum(abs(dy), abs(dx))
    circle = np.hypot(dy, dx)
    waves = rng.uniform(3.0, 6.0) * 2 * np.pi
    phase = rng.uniform(0, 2 * np.pi)
    masks = {
        "checker": np.sin(x * waves + phase) * np.sin(y * waves) > 0,
        "cross": ((abs(dy) < radius / 3) & (abs(dx) < radius))
        | ((abs(dx) < radius / 3) & (abs(dy) < radius)),
        "diagonal": np.sin((x + y) * waves + phase) > 0,
        "disc": circle < radius,
        "frame": (box < radius) & (box > 0.6 * radius),
        "hbars": np.sin(y * waves + phase) > 0,
        "ring": (circle < radius) & (circle > 0.6 * radius),
        "square": box < radius,
        "triangle": (abs(dy) < radius) & (abs(dx) < (dy + radius) / 2),
        "vbars": np.sin(x * waves + phase) > 0,
    }
    mask = masks[SHAPES[label]][..., None]
    background, foreground = rng.uniform(0, 255, (2, 3))
    image = np.where(mask, foreground, background)
    image = image + rng.normal(0.0, 24.0, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def folder_path(root: Path, count: int, size: int) -> Path:
    return root / f"images-{count}-{size}"


def ensure_folder(root: Path, count: int, size: int, seed: int = 0) -> Path:
    """The folder of `count` JPEGs at `size` px, generated unless present.

    A folder is written under a temporary name and renamed when complete, so
    an interrupted generation is never mistaken for a finished one.

    Returns:
        `<root>/images-<count>-<size>`, with one subfolder per class.
    """
    final = folder_path(root, count, size)
    if final.is_dir():
        return final
    partial = final.with_name(final.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    for shape in SHAPES:
        (partial / shape).mkdir(parents=True)
    started = time.monotonic()
    chunks = [(partial, size, seed, start, count) for start in range(PROCESSES)]
    with Pool(PROCESSES) as pool:
        pool.starmap(_write_images, chunks)
    partial.rename(final)
    print(f"generated {final} in {time.monotonic() - started:.0f} s", flush=True)
    return final


def _write_images(folder: Path, size: int, seed: int, start: int, count: int):
    from PIL import Image

    for index in range(start, count, PROCESSES):
        label = index % len(SHAPES)
        rng = np.random.default_rng([seed, size, index])
        path = folder / SHAPES[label] / f"{index:06d}.jpg"
        Image.fromarray(draw_image(label, size, rng)).save(path, quality=90)


def write_config(
    folder: Path, size: int, work: Path, epochs: int = 1
) -> tuple[str, Path]:
    """A config that trains exactly once: one `cnn` trial of `epochs`, holdout.

    No cross-validation, refit, ensemble or augmentation, so the trial's
    epochs are comparable with a bare `fit` of the same model.

    Returns:
        The pipeline's name and the YAML's path (`<work>/config.yaml`).
    """
    count = sum(1 for _ in folder.glob("*/*.jpg"))
    name = f"scale_{count}_{size}"
    raw = {
        "name": name,
        "data": {"source": str(folder), "kind": "image", "image_size": [size, size]},
        "augment": {"enabled": False},
        "search": one_training_search("cnn", BATCH_SIZE, epochs),
        "output_dir": str(work / "output"),
    }
    return name, write_yaml(raw, work)


def one_training_search(family: str, batch_size: int, epochs: int = 1) -> dict:
    """The `search` section of a run that trains exactly once: one trial of
    `family`, `epochs` epochs (never stopped early), holdout, no refit or
    ensemble."""
    return {
        "families": [family],
        "tuner": "random",
        "max_trials": 1,
        "epochs": epochs,
        "patience": epochs,
        "batch_size": batch_size,
        "validation": "holdout",
        "refit": "never",
        "ensemble_size": 1,
        "time_budget_minutes": 600.0,
    }


def write_yaml(raw: dict, work: Path) -> Path:
    """`raw` as `<work>/config.yaml` (the folder made when missing)."""
    work.mkdir(parents=True, exist_ok=True)
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@dataclass(frozen=True)
class Measured:
    """A finished child process: its exit code, wall time and peak memory."""

    returncode: int
    wall_s: float
    peak_main_mb: float  # the process itself (kernel high-water mark)
    peak_tree_mb: float  # it and its descendants together, sampled
    log: str


def run_measured(command: list[str], log_path: Path, env: dict, timeout: float):
    """Run `command`, its output to `log_path`, sampling its memory every 0.1 s.

    Returns:
        A `Measured`; the log's text included.
    """
    started = time.monotonic()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env
        )
        sampler = TreeSampler(process.pid, started + timeout)
        sampler.start()
        # wait4, not wait: its rusage carries the child's own peak RSS, which
        # covers the last moments no sampler sees.
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    sampler.stopped.set()
    sampler.join()
    return Measured(
        returncode=process.returncode,
        wall_s=wall,
        peak_main_mb=max(sampler.peak_main_mb, usage.ru_maxrss / 1024),
        peak_tree_mb=max(sampler.peak_tree_mb, usage.ru_maxrss / 1024),
        log=log_path.read_text(errors="replace"),
    )


class TreeSampler(threading.Thread):
    """Reads a process's VmHWM and its tree's summed VmRSS every `interval` s;
    kills the process once the monotonic clock passes `deadline`."""

    def __init__(self, pid: int, deadline: float, interval: float = 0.1):
        super().__init__(daemon=True)
        self.pid, self.deadline, self.interval = pid, deadline, interval
        self.peak_main_mb = 0.0
        self.peak_tree_mb = 0.0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            main = _status_mb(self.pid, "VmHWM")
            tree = sum(_status_mb(pid, "VmRSS") for pid in _tree(self.pid))
            self.peak_main_mb = max(self.peak_main_mb, main)
            self.peak_tree_mb = max(self.peak_tree_mb, tree)
            if time.monotonic() > self.deadline and not self.stopped.is_set():
                os.kill(self.pid, 9)
                return


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants now (those that exit meanwhile are skipped)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                pending.extend(int(child) for child in children.read_text().split())
            except OSError:
                continue
    return found


def _status_mb(pid: int, field: str) -> float:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0.0
    for line in lines:
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def bare_fit(
    folder: str,
    size: int,
    model: str,
    num_train: int,
    num_validation: int,
    seed: int = 0,
    epochs: int = 1,
    ours_events: str | None = None,
) -> dict:
    """The bare Keras pipeline over `folder`: decode rate and `epochs` of fit.

    The training subset holds `num_train` images, the validation pass sees
    `num_validation`, as in the run's split; the model is the run's, cloned
    to fresh weights and compiled with Adam and sparse cross-entropy.
    `epoch_s` holds each epoch's seconds (its validation pass included).
    With `ours_events` (the run's trial's TensorBoard train event files, a
    glob), `ours_epoch_ends` holds the wall time each of its epochs ended.
    """
    import keras

    import model_builders  # noqa: F401  (registers the custom layers)

    keras.utils.set_random_seed(seed)
    total = sum(1 for _ in Path(folder).glob("*/*.jpg"))
    held_out = (total - num_train + 0.5) / total  # int() of it: total - num_train
    train, rest = keras.utils.image_dataset_from_directory(
        folder,
        image_size=(size, size),
        batch_size=BATCH_SIZE,
        seed=seed,
        validation_split=held_out,
        subset="both",
    )
    validation = rest.take(math.ceil(num_validation / BATCH_SIZE))
    started = time.monotonic()
    decoded = sum(int(images.shape[0]) for images, _ in train)
    decode_s = time.monotonic() - started
    started = time.monotonic()
    published = keras.saving.load_model(model, safe_mode=True)
    fresh = keras.models.clone_model(published)
    fresh.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    build_s = time.monotonic() - started
    ends: list[float] = []  # each epoch's end, validation included
    timer = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: ends.append(time.monotonic())
    )
    started = time.monotonic()
    history = fresh.fit(
        train, validation_data=validation, epochs=epochs, verbose=0, callbacks=[timer]
    )
    figures = {
        "train_images": decoded,
        "decode_s": decode_s,
        "decode_ips": decoded / decode_s,
        "build_s": build_s,
        "fit_s": time.monotonic() - started,
        "epoch_s": gaps([started, *ends]),
        "val_accuracy": history.history["val_accuracy"][-1],
    }
    if ours_events:
        figures["ours_epoch_ends"] = epoch_ends(ours_events)
    return figures


def epoch_ends(pattern: str) -> list[float]:
    """The wall time of each epoch's `epoch_loss` summary in TensorBoard event
    files matching `pattern`, in epoch order (written as the epoch ends)."""
    from tensorboard.backend.event_processing.event_file_loader import (
        EventFileLoader,
    )

    ends = {}
    for path in sorted(glob.glob(pattern)):
        for event in EventFileLoader(path).Load():
            if any(value.tag == "epoch_loss" for value in event.summary.value):
                ends[event.step] = event.wall_time
    return [ends[step] for step in sorted(ends)]


def gaps(times: list[float]) -> list[float]:
    """Seconds between consecutive `times`."""
    return [later - earlier for earlier, later in itertools.pairwise(times)]


if __name__ == "__main__":  # the bare-fit child: one JSON line of figures out
    print(json.dumps(bare_fit(**json.loads(sys.argv[1]))), flush=True)
