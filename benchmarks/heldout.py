"""Held-out sequence data nobody tuned on, generated from a seed and written to files.

The shared datasets have been looked at while the defaults were chosen; these
have not. Both are written as `.npz` archives with a kept train/test split
(`x_train`, `y_train`, `x_test`, `y_test`), the layout the pipeline reads:

- `cbf`: Saito's cylinder-bell-funnel (1994), the UCR archive's CBF recipe:
  3 classes, 128 steps, 30 training and 900 test series, each z-normalised.
- `bumps`: 3 channels x 60 steps, 2 classes; the class is which of the first
  two channels carries a Gaussian bump, the third carries a distractor bump in
  both classes, and every channel has unit Gaussian noise. 40 train / 200 test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CBF_CLASSES = ("cylinder", "bell", "funnel")
CBF_STEPS = 128
BUMP_CLASSES = ("first", "second")
BUMP_STEPS = 60
BUMP_CHANNELS = 3

SPLITS = {
    "cbf": "generated (seed 0), kept split: 30 train / 900 test series, 128 steps",
    "bumps": "generated (seed 1), kept split: 40 train / 200 test, 60 steps x 3",
    "sms_1000": "1,000 messages drawn (seed 2) from the SMS Spam Collection, "
    "split 70/10/20 by content (the small-text regime)",
}
SMS_SAMPLE = 1000


def cylinder_bell_funnel(
    num_series: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Series of Saito's three shapes, classes in turn, as the UCR recipe makes them.

    With a ~ U{16..32}, b - a ~ U{32..96}, eta and eps(t) ~ N(0, 1) and
    chi the indicator of [a, b]:
    cylinder (6 + eta) chi(t) + eps(t); bell the same ramped up by
    (t - a) / (b - a); funnel ramped down by (b - t) / (b - a). Each series is
    then z-normalised, as the archive's copy is.

    Args:
        num_series: how many series; class `i % 3` for the i-th.
        rng: the random generator (seed it for reproducible data).

    Returns:
        `x` float32 `(num_series, 128, 1)` and `y`, the class names.
    """
    t = np.arange(1, CBF_STEPS + 1, dtype="float64")
    x = np.empty((num_series, CBF_STEPS), dtype="float64")
    classes = np.arange(num_series) % len(CBF_CLASSES)
    for i, shape in enumerate(classes):
        a = rng.integers(16, 33)
        b = a + rng.integers(32, 97)
        inside = ((t >= a) & (t <= b)).astype("float64")
        series = (6.0 + rng.normal()) * inside * _cbf_ramp(shape, t, a, b)
        series += rng.normal(size=CBF_STEPS)
        x[i] = (series - series.mean()) / series.std()
    y = np.array([CBF_CLASSES[c] for c in classes])
    return x[..., np.newaxis].astype("float32"), y


def channel_bumps(
    num_series: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy 3-channel series; the class is which of the first two has a bump.

    Args:
        num_series: how many series; class `i % 2` for the i-th.
        rng: the random generator (seed it for reproducible data).

    Returns:
        `x` float32 `(num_series, 60, 3)` and `y`, the class names.
    """
    t = np.arange(BUMP_STEPS, dtype="float64")
    x = rng.normal(size=(num_series, BUMP_STEPS, BUMP_CHANNELS))
    classes = np.arange(num_series) % len(BUMP_CLASSES)
    for i, channel in enumerate(classes):
        for target in (channel, BUMP_CHANNELS - 1):
            centre = rng.uniform(10, BUMP_STEPS - 10)
            width = rng.uniform(2.0, 5.0)
            height = rng.uniform(1.5, 3.0)
            x[i, :, target] += height * np.exp(-0.5 * ((t - centre) / width) ** 2)
    y = np.array([BUMP_CLASSES[c] for c in classes])
    return x.astype("float32"), y


def make_cbf(seed: int = 0) -> dict[str, np.ndarray]:
    """The CBF set: 30 training and 900 test series from one seed."""
    return _kept_split(cylinder_bell_funnel, 30, 900, seed)


def make_bumps(seed: int = 1) -> dict[str, np.ndarray]:
    """The bumps set: 40 training and 200 test series from one seed."""
    return _kept_split(channel_bumps, 40, 200, seed)


def write_heldout(folder: str | Path, sms_source: str | Path) -> dict[str, dict]:
    """Write the held-out sets; return each one's `data` config.

    Args:
        folder: where the files go (created if missing).
        sms_source: the SMS Spam Collection's TSV, sampled for `sms_1000`.

    Returns:
        `{name: data config}` for `cbf`, `bumps` (`.npz`) and `sms_1000` (TSV).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    configs = {}
    for name, arrays in (("cbf", make_cbf()), ("bumps", make_bumps())):
        path = folder / f"{name}.npz"
        np.savez(path, **arrays)
        configs[name] = {"source": str(path), "kind": "sequence"}
    path = folder / "sms_1000.tsv"
    write_sms_sample(sms_source, path)
    configs["sms_1000"] = {
        "source": str(path),
        "kind": "text",
        "label": "Label",
        "text_column": "SMS",
    }
    return configs


def write_sms_sample(source: str | Path, path: Path, seed: int = 2) -> None:
    """`SMS_SAMPLE` lines of the collection, drawn without replacement, as read.

    The lines are copied verbatim (header first), so the sample parses exactly
    as the whole file does.
    """
    header, *lines = Path(source).read_text(encoding="utf-8").splitlines()
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(lines), size=SMS_SAMPLE, replace=False))
    path.write_text("\n".join([header, *(lines[i] for i in chosen)]) + "\n")


def _cbf_ramp(shape: int, t: np.ndarray, a: int, b: int) -> np.ndarray:
    """Cylinder: flat; bell: rising from a to b; funnel: falling from a to b."""
    if shape == 0:
        return np.ones_like(t)
    if shape == 1:
        return (t - a) / (b - a)
    return (b - t) / (b - a)


def _kept_split(make, num_train: int, num_test: int, seed: int) -> dict:
    """Train and test series from one generator, each split shuffled."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, count in (("train", num_train), ("test", num_test)):
        x, y = make(count, rng)
        order = rng.permutation(count)
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x[order], y[order]
    return arrays
