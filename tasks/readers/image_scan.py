"""One streaming decode pass over an image folder: profile, digests, statistics.

The pass decodes every file once, in a parallel `tf.data` map (the one
decoder, `decode_image`), a batch at a time, and keeps per file only what
later stages need: the profile's min, max and mean, the content digest (the
same hash an array of the same pixels gets, `data_contracts.digests`), and
per-channel sums of the values and their squares, from which the
preprocessing takes the training split's mean and variance without ever
holding the split. Memory stays flat in the number of files, except for the
decoded pixels themselves when they fit the cache budget: then they are kept
(uint8) and training gathers from them instead of decoding again.

A file that cannot be decoded is named, all of them at once, after the pass.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import replace

import numpy as np
import tensorflow as tf

from data_contracts.digests import exact_row_digests
from tasks.errors import DataError, name_some
from tasks.readers.image_files import ImageFiles, ImageStats, decode_image

logger = logging.getLogger("tasks.load")

# Decoded pixels are kept in memory up to this many bytes (uint8): enough for
# 40,000 64x64 RGB images, and little enough that a folder ten times that
# size streams in a few hundred megabytes. `data.cache_megabytes` sets it.
CACHE_BYTES = 512 * 2**20
_BATCH = 256
_PROGRESS_FROM = 20000  # files: a progress bar from here on, on a terminal


def scan_images(files: ImageFiles, cache_bytes: int = CACHE_BYTES) -> ImageFiles:
    """`files` with each file's statistics, and its pixels when they fit.

    Args:
        files: an index (`index_image_folder`).
        cache_bytes: decoded pixels are kept when all of them fit in this
            many bytes (uint8); 0 never keeps them.

    Raises:
        DataError: files that cannot be decoded as images (named).
    """
    started = time.perf_counter()
    if files.size is None:
        scanned = _scan_one_by_one(files)
    else:
        scanned = _scan_batches(files, cache_bytes)
    seconds = time.perf_counter() - started
    logger.info(
        "decoded %d images in %.1f s (%.0f images/s)%s",
        len(files),
        seconds,
        len(files) / max(seconds, 1e-9),
        "; kept in memory" if scanned.store is not None else "",
    )
    return scanned


def _scan_batches(files: ImageFiles, cache_bytes: int) -> ImageFiles:
    """The pass over files of one size: batched, parallel, optionally cached."""
    count, shape = len(files), (*files.size, files.channels)
    width = int(np.prod(shape))
    keep = count * width <= cache_bytes
    store = np.empty((count, *shape), dtype=np.uint8) if keep else None
    stats = _empty_stats(count, files.channels, "x".join(map(str, shape)))
    size = files.size if files.resize else None

    def decode(path: tf.Tensor) -> tuple[tf.Tensor, ...]:
        image = decode_image(path, files.channels, size)
        image.set_shape(shape)  # a file of another size fails here, and is named
        return path, image, _numbers(image)

    seen, position = [], 0
    for paths, pixels, numbers in _progress(
        _dataset(files, decode).batch(_BATCH), count
    ):
        pixels = pixels.numpy()
        found = len(pixels)
        rows = slice(position, position + found)
        _record(stats, rows, pixels.reshape(found, width), numbers.numpy())
        if store is not None:
            store[rows] = pixels
        seen.extend(paths.numpy())
        position += found
    _raise_undecodable(files, seen)
    rows = np.arange(count) if store is not None else None
    return replace(files, stats=stats, store=store, rows=rows)


def _scan_one_by_one(files: ImageFiles) -> ImageFiles:
    """The pass over files of different sizes: one at a time, nothing kept.

    Such a folder fails the contract's shape check (the profile names the
    shapes); this pass still profiles every file, so the report is complete.
    """
    stats = _empty_stats(len(files), files.channels, "")

    def decode(path: tf.Tensor) -> tuple[tf.Tensor, ...]:
        image = decode_image(path, files.channels)
        return path, image, _numbers(image)

    seen = []
    for i, (path, pixels, numbers) in enumerate(
        _progress(_dataset(files, decode), len(files))
    ):
        pixels = pixels.numpy()
        stats.shapes[i] = "x".join(map(str, pixels.shape))
        _record(stats, slice(i, i + 1), pixels.reshape(1, -1), numbers.numpy()[None])
        seen.append(path.numpy())
    _raise_undecodable(files, seen)
    return replace(files, stats=stats)


def _dataset(files: ImageFiles, decode) -> tf.data.Dataset:
    """(path, pixels) per file, in order; files that fail to decode are skipped."""
    paths = tf.data.Dataset.from_tensor_slices(files.paths.astype(str))
    decoded = paths.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    return decoded.ignore_errors(log_warning=False)


def _empty_stats(count: int, channels: int, shape: str) -> ImageStats:
    return ImageStats(
        shapes=np.full(count, shape, dtype=object),
        minimum=np.zeros(count),
        maximum=np.zeros(count),
        mean=np.zeros(count),
        digests=np.empty(count, dtype=object),
        sums=np.zeros((count, channels)),
        squares=np.zeros((count, channels)),
    )


def _numbers(image: tf.Tensor) -> tf.Tensor:
    """[min, max, per-channel sums, per-channel sums of squares], float64.

    Computed in the parallel map. Sums of 8-bit values are whole numbers far
    below 2**53, so they are exact in any order: the same as NumPy's.
    """
    values = tf.cast(tf.reshape(image, [-1, tf.shape(image)[-1]]), tf.float64)
    return tf.concat(
        [
            [tf.reduce_min(values), tf.reduce_max(values)],
            tf.reduce_sum(values, axis=0),
            tf.reduce_sum(tf.square(values), axis=0),
        ],
        axis=0,
    )


def _record(
    stats: ImageStats, rows: slice, pixels: np.ndarray, numbers: np.ndarray
) -> None:
    """Fill `rows` of `stats`: one file a row, its uint8 pixels flat."""
    channels = stats.sums.shape[1]
    stats.minimum[rows], stats.maximum[rows] = numbers[:, 0], numbers[:, 1]
    stats.sums[rows] = numbers[:, 2 : 2 + channels]
    stats.squares[rows] = numbers[:, 2 + channels :]
    stats.mean[rows] = stats.sums[rows].sum(axis=1) / max(1, pixels.shape[1])
    # 8-bit values are exact in float32: the digest of the float64 values.
    stats.digests[rows] = exact_row_digests(pixels.astype(np.float64))


def _raise_undecodable(files: ImageFiles, seen: list[bytes]) -> None:
    if len(seen) == len(files):
        return
    decoded = {path.decode() for path in seen}
    failed = [path for path in files.paths if path not in decoded]
    raise DataError(
        f"{len(failed)} file(s) are not a readable image of the folder's size "
        f"and mode: {name_some(failed, 5)} is not a readable image (TensorFlow "
        "cannot decode it, or it decodes to another size). Replace or remove "
        "the file(s), then run again."
    )


def _progress(batches, total: int):
    """`batches`, with a progress bar on a terminal when the folder is long."""
    if total < _PROGRESS_FROM or not sys.stderr.isatty():
        yield from batches
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("decoding images", total=total)
        for batch in batches:
            yield batch
            bar.advance(task, len(batch[0]) if batch[0].shape.rank else 1)
