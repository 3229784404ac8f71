"""A large table's examples in a row file, standing in for an array.

When a streamed table's examples (float32 pixels, NaN-padded series) do
not fit the memory budget, its pass writes them to a `RowFile` instead of
an array, with each example's digest and its per-channel sums (NaN
ignored), and `ArrayRows` stands where the array stood: splitting, folds
and refits take positions, training gathers each shuffled batch from the
file in a parallel `tf.data` map, and the normalisation statistics come
from the sums. The batches are the ones an in-memory array of the same
values gives with the same seed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import tensorflow as tf

from tasks.readers.row_file import RowFile, RowWriter
from tasks.readers.stored import StoredExamples, key_dataset

_FIELDS = ("rows", "digest_values", "sums", "squares", "counts")


@dataclass(frozen=True, eq=False)
class ArrayRows(StoredExamples):
    """Examples at positions `rows` of `store`, with their statistics.

    Attributes:
        store: the row file (every example of the table, in table order).
        rows: each example's position in `store`.
        digest_values: each example's content digest.
        sums, squares, counts: per example and channel (the last axis): the
            sum of its values, of their squares, and how many are not NaN.
    """

    store: RowFile
    rows: np.ndarray
    digest_values: np.ndarray
    sums: np.ndarray
    squares: np.ndarray
    counts: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return f"ArrayRows({len(self)} of {self.store!r})"

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), *self.store.row_shape)

    @property
    def dtype(self) -> np.dtype:
        return self.store.dtype

    @property
    def digests(self) -> np.ndarray:
        return self.digest_values

    def __getitem__(self, where: np.ndarray | slice | list) -> ArrayRows:
        """The examples at `where` (positions, a boolean mask or a slice)."""
        where = np.arange(len(self))[where]
        if where.ndim != 1:
            raise TypeError("index stored rows with positions, a mask or a slice")
        return replace(self, **{name: getattr(self, name)[where] for name in _FIELDS})

    def join(self, other: ArrayRows) -> ArrayRows:
        """These examples, then `other`'s (both of one row file)."""
        if other.store is not self.store:
            raise ValueError("only examples of one row file can be joined")
        return replace(
            self,
            **{
                name: np.concatenate([getattr(self, name), getattr(other, name)])
                for name in _FIELDS
            },
        )

    def chunks(self, size: int = 4096):
        """(first position, values) of consecutive examples, `size` at a time."""
        for start in range(0, len(self), size):
            yield start, self.store[self.rows[start : start + size]]

    def channel_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel mean and variance of every value (NaN ignored)."""
        count = np.maximum(self.counts.sum(axis=0), 1.0)
        mean = self.sums.sum(axis=0) / count
        variance = np.maximum(self.squares.sum(axis=0) / count - mean**2, 0.0)
        return np.nan_to_num(mean), np.nan_to_num(variance)

    def batches(
        self,
        batch_size: int,
        labels: np.ndarray | None = None,
        shuffle_seed: int | None = None,
    ) -> tf.data.Dataset:
        """Batches of examples (and `labels`' rows), gathered from the file.

        With `shuffle_seed`, positions are shuffled with a full buffer and
        reshuffled every epoch: the order an array shuffled with this seed
        takes.
        """
        dataset = key_dataset(self.rows, labels, shuffle_seed)
        return dataset.batch(batch_size).map(
            self._gather, num_parallel_calls=tf.data.AUTOTUNE
        )

    def _gather(self, rows: tf.Tensor, *labels: tf.Tensor):
        store = self.store
        values = tf.numpy_function(
            lambda at: store[at], [rows], tf.as_dtype(store.dtype)
        )
        values.set_shape((None, *store.row_shape))
        values = tf.cast(values, tf.float32)
        return (values, *labels) if labels else values


def row_statistics(values: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per example and channel: sums, sums of squares and non-NaN counts."""
    flat = values.reshape(len(values), -1, values.shape[-1]).astype(np.float64)
    present = ~np.isnan(flat)
    filled = np.where(present, flat, 0.0)
    return filled.sum(axis=1), (filled**2).sum(axis=1), present.sum(axis=1)


class ExampleSink:
    """Batches of examples, kept in memory up to `budget` bytes, then in a file.

    `add` each batch of float32 examples (with their digests, unless `bare`);
    `finish` gives one array when all of them fit the budget (None: always),
    else an `ArrayRows` over a row file holding every one of them (`bare`:
    the `RowFile` alone, no digests or statistics kept).
    """

    def __init__(self, budget: int | None = None, bare: bool = False):
        self.budget = budget
        self.bare = bare
        self.parts: list[np.ndarray] = []
        self.digests: list[np.ndarray] = []
        self.stats: list[tuple[np.ndarray, ...]] = []
        self.kept = 0
        self.writer: RowWriter | None = None

    def add(self, values: np.ndarray, digests=None) -> None:
        if not self.bare:
            self.digests.append(np.asarray(digests, dtype=object))
        if self.writer is None:
            self.parts.append(values)
            self.kept += values.nbytes
            if self.budget is None or self.kept <= self.budget:
                return
            self.writer = RowWriter(values.shape[1:], "float32")
            values, self.parts = np.concatenate(self.parts), []
        self.writer.append(values)
        if not self.bare:
            self.stats.append(row_statistics(values))

    def finish(self) -> np.ndarray | ArrayRows | RowFile | None:
        if self.writer is None:
            return np.concatenate(self.parts) if self.parts else None
        store = self.writer.close()
        if self.bare:
            return store
        sums, squares, counts = (
            np.concatenate(s) for s in zip(*self.stats, strict=True)
        )
        return ArrayRows(
            store,
            np.arange(len(store)),
            np.concatenate(self.digests),
            sums,
            squares,
            counts,
        )
