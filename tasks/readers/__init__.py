"""Readers: tables, long-format sequences, image folders, NPZ, prediction inputs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Examples:
    """Arrays ready to split: inputs and original labels, maybe a kept test split."""

    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
