"""Plain helpers the tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np


def tiny_image_arrays() -> tuple[np.ndarray, np.ndarray]:
    """48 8x8x1 images in 3 classes, each class a different bright region."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 4, size=(48, 8, 8, 1)).astype("float32")
    y = np.repeat(np.arange(3), 16)
    for label in range(3):
        x[y == label, label * 2 : label * 2 + 3, :, 0] += 12.0
    return x, y


def save_tiny_npz(path: Path) -> Path:
    """`tiny_image_arrays` as an .npz with `x` and `y`; returns `path`."""
    x, y = tiny_image_arrays()
    np.savez(path, x=x, y=y)
    return path


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
