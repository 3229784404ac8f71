"""An image folder as files, not as an array: the one decoder, and datasets over it.

An `ImageFiles` stands where an image array stood (`Examples.x`, the
`Splits`): it has a length, a shape and a dtype, and indexing it with
positions gives the files at those positions, so splitting, folds and
refits work on paths. Nothing is decoded until a dataset is iterated, and
every stage that decodes (training, evaluation, the champion re-score,
`automl predict`) does it with `decode_image`, so a published model sees at
serving time exactly the pixels it trained on.

The decode pass (`tasks.readers.image_scan`) fills in each file's statistics
(the profile's min, max, mean and digest, and per-channel sums for the
normalisation) and, when the decoded folder fits the cache budget, keeps the
pixels as uint8 in `store`; datasets then gather from it instead of decoding
again. Subsets share the store.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import tensorflow as tf

from tasks.readers.stored import StoredExamples, key_dataset


def decode_image(
    path: tf.Tensor, channels: int, size: tuple[int, int] | None = None
) -> tf.Tensor:
    """The pixels of one image file, as uint8 (height, width, channels).

    Every format `tf.io.decode_image` reads (PNG, JPEG, BMP, the first frame
    of a GIF); grey images get three equal channels when `channels` is 3,
    and colour ones lose their alpha. With `size` (height, width), the image
    is resized bilinearly (`tf.image.resize`) and rounded back to 8 bits, so
    a cached example and a decoded one are the same bytes.
    """
    image = tf.io.decode_image(
        tf.io.read_file(path), channels=channels, expand_animations=False
    )
    if size is not None:
        image = tf.image.resize(image, size)
        image = tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)
    return image


@dataclass(frozen=True, eq=False)
class ImageStats:
    """Each file's statistics from the decode pass, aligned with its paths.

    Attributes:
        shapes: the decoded shape as the profile writes it ("64x64x3").
        minimum, maximum, mean: over the file's pixel values.
        digests: the content digest (`data_contracts.digests`).
        sums, squares: per-channel sums of the values and of their squares
            (float64, shape (N, channels)), for normalisation statistics.
    """

    shapes: np.ndarray
    minimum: np.ndarray
    maximum: np.ndarray
    mean: np.ndarray
    digests: np.ndarray
    sums: np.ndarray
    squares: np.ndarray

    def take(self, where: np.ndarray) -> ImageStats:
        return ImageStats(*(getattr(self, name)[where] for name in _STAT_FIELDS))

    def join(self, other: ImageStats) -> ImageStats:
        return ImageStats(
            *(
                np.concatenate([getattr(self, name), getattr(other, name)])
                for name in _STAT_FIELDS
            )
        )


_STAT_FIELDS = ("shapes", "minimum", "maximum", "mean", "digests", "sums", "squares")


@dataclass(frozen=True, eq=False)
class ImageFiles(StoredExamples):
    """Image files standing in for an array of images (N, height, width, channels).

    Attributes:
        paths: each file's path (str), in the folder's sorted order.
        size: (height, width) of every decoded image; None when the files
            differ in size and no `data.image_size` resizes them.
        channels: 1 when every file is grey, else 3.
        resize: whether decoding resizes to `size` (`data.image_size` is set).
        stats: per-file statistics, once the decode pass has run.
        store: the decoded pixels of the whole folder (uint8), when they fit
            the cache budget; `rows` gives each file's row in it.
        rows: each file's row in `store` (its position in the folder).
    """

    paths: np.ndarray
    size: tuple[int, int] | None
    channels: int
    resize: bool = False
    stats: ImageStats | None = None
    store: np.ndarray | None = None
    rows: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def __repr__(self) -> str:
        shape = "x".join(map(str, (*self.size, self.channels))) if self.size else "?"
        kept = ", kept in memory" if self.store is not None else ""
        return f"ImageFiles({len(self)} files, {shape}{kept})"

    @property
    def shape(self) -> tuple[int, ...]:
        """(N, height, width, channels), as the array it stands for."""
        if self.size is None:
            raise ValueError("image files of different sizes have no common shape")
        return (len(self), *self.size, self.channels)

    @property
    def digests(self) -> np.ndarray:
        """Each file's content digest (the decode pass must have run)."""
        return self._stats().digests

    def __getitem__(self, where: np.ndarray | slice | list) -> ImageFiles:
        """The files at `where` (positions, a boolean mask or a slice)."""
        where = np.arange(len(self))[where]
        if where.ndim != 1:
            raise TypeError("index image files with positions, a mask or a slice")
        return replace(
            self,
            paths=self.paths[where],
            stats=None if self.stats is None else self.stats.take(where),
            rows=None if self.rows is None else self.rows[where],
        )

    def join(self, other: ImageFiles) -> ImageFiles:
        """These files, then `other`'s (both from one folder and one pass)."""
        if other.store is not self.store or (self.stats is None) != (
            other.stats is None
        ):
            raise ValueError("only files of one folder's decode pass can be joined")
        return replace(
            self,
            paths=np.concatenate([self.paths, other.paths]),
            stats=None if self.stats is None else self.stats.join(other.stats),
            rows=None if self.rows is None else np.concatenate([self.rows, other.rows]),
        )

    def channel_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel mean and variance of every pixel value, from the pass's sums."""
        stats = self._stats()
        count = max(1, len(self)) * int(np.prod(self.shape[1:3]))
        mean = stats.sums.sum(axis=0) / count
        variance = np.maximum(stats.squares.sum(axis=0) / count - mean**2, 0.0)
        return mean, variance

    def batches(
        self,
        batch_size: int,
        labels: np.ndarray | None = None,
        shuffle_seed: int | None = None,
    ) -> tf.data.Dataset:
        """Batches of float32 images (and `labels`' rows, when given).

        With `shuffle_seed`, the files are shuffled (cheap: positions or
        paths, never pixels) with a full buffer, reshuffled every epoch,
        which is the order an array pipeline shuffled with the same seed
        takes. Decoding runs in a parallel, order-keeping map.
        """
        keys = self.rows if self.store is not None else self.paths
        dataset = key_dataset(keys, labels, shuffle_seed)
        if self.store is not None:
            return dataset.batch(batch_size).map(
                self._gather, num_parallel_calls=tf.data.AUTOTUNE
            )
        return dataset.map(self._decode, num_parallel_calls=tf.data.AUTOTUNE).batch(
            batch_size
        )

    def _decode(self, path: tf.Tensor, *labels: tf.Tensor):
        size = self.size if self.resize else None
        image = decode_image(path, self.channels, size)
        image.set_shape((*self.shape[1:3], self.channels))
        return (
            (tf.cast(image, tf.float32), *labels)
            if labels
            else tf.cast(image, tf.float32)
        )

    def _gather(self, rows: tf.Tensor, *labels: tf.Tensor):
        store = self.store
        images = tf.numpy_function(lambda at: store[at], [rows], tf.uint8)
        images.set_shape((None, *store.shape[1:]))
        images = tf.cast(images, tf.float32)
        return (images, *labels) if labels else images

    def _stats(self) -> ImageStats:
        if self.stats is None:
            raise ValueError(
                "these image files have not been through the decode pass "
                "(tasks.readers.image_scan.scan_images)"
            )
        return self.stats


def predict_probabilities(model, x: np.ndarray | StoredExamples, batch_size: int = 256):
    """`model.predict` over an array, or over stored examples read in batches."""
    if isinstance(x, StoredExamples):
        batch = min(batch_size, x.inference_batch)
        return model.predict(x.batches(batch), verbose=0)
    return model.predict(x, batch_size=batch_size, verbose=0)
