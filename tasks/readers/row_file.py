"""Examples of one shape and dtype in a file, written once, read by position.

A large table's examples go here when they do not fit the memory budget
(`tasks.readers.table_scan`): the file is raw rows, one after another, and
reading a batch of positions reads each run of consecutive rows with one
`pread` into a fresh array. The file is never memory-mapped, so what a
process holds stays what it reads (a mapped file's pages count towards its
resident memory as it is read). The file is removed when the last
`RowFile` over it is collected, unless it was made to outlive the process
(`keep`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import weakref
from pathlib import Path

import numpy as np


class RowFile:
    """Rows of `row_shape` and `dtype` in the file at `path`."""

    def __init__(
        self, path: Path, row_shape: tuple, dtype: str, rows: int, owned: bool = False
    ):
        self.path = Path(path)
        self.row_shape = tuple(int(n) for n in row_shape)
        self.dtype = np.dtype(dtype)
        self.rows = int(rows)
        self.row_bytes = self.dtype.itemsize * int(np.prod(self.row_shape))
        if owned:  # the process made it: remove it with the last reference
            weakref.finalize(self, _remove, self.path)

    def __len__(self) -> int:
        return self.rows

    def __repr__(self) -> str:
        return f"RowFile({self.path}, {self.shape}, {self.dtype})"

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.rows, *self.row_shape)

    def __getitem__(self, at: np.ndarray) -> np.ndarray:
        """The rows at positions `at`, in that order (repeats allowed)."""
        at = np.asarray(at, dtype=np.int64).reshape(-1)
        wanted, back = np.unique(at, return_inverse=True)
        found = np.empty((len(wanted), *self.row_shape), dtype=self.dtype)
        if len(wanted) and (wanted[0] < 0 or wanted[-1] >= self.rows):
            raise IndexError(f"rows {at.min()}..{at.max()} of {self.rows}")
        starts = np.flatnonzero(np.diff(wanted, prepend=-2) != 1)
        ends = np.append(starts[1:], len(wanted))
        handle = os.open(self.path, os.O_RDONLY)
        try:
            for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
                size = (end - start) * self.row_bytes
                data = os.pread(handle, size, int(wanted[start]) * self.row_bytes)
                if len(data) != size:
                    raise OSError(f"{self.path} is shorter than its {self.rows} rows")
                found[start:end] = np.frombuffer(data, self.dtype).reshape(
                    end - start, *self.row_shape
                )
        finally:
            os.close(handle)
        return found[back]


class RowWriter:
    """Appends batches of rows to a new file; `close` gives the `RowFile`.

    Args:
        row_shape: the shape of one example.
        dtype: the rows' dtype.
        folder: where the file goes (default: the system's temporary folder,
            `TMPDIR`); it is removed when the last `RowFile` over it goes.
    """

    def __init__(self, row_shape: tuple, dtype: str, folder: Path | None = None):
        handle, name = tempfile.mkstemp(
            prefix="automl-rows-", suffix=".bin", dir=folder
        )
        self._file = os.fdopen(handle, "wb")
        self.path = Path(name)
        self.row_shape = tuple(row_shape)
        self.dtype = np.dtype(dtype)
        self.rows = 0

    def append(self, rows: np.ndarray) -> None:
        rows = np.ascontiguousarray(rows, dtype=self.dtype)
        if rows.shape[1:] != self.row_shape:
            raise ValueError(f"rows of shape {rows.shape[1:]}, not {self.row_shape}")
        self._file.write(rows.tobytes())
        self.rows += len(rows)

    def close(self) -> RowFile:
        self._file.close()
        return RowFile(self.path, self.row_shape, self.dtype, self.rows, owned=True)

    def discard(self) -> None:
        self._file.close()
        _remove(self.path)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
