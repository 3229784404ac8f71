"""What examples kept outside one array share: image files and row files.

`ImageFiles` (an image folder) and `ArrayRows` (a large table's examples in
a file) stand where an array of examples stood. Stages that only split,
batch and predict treat them alike through this base: they index them
with positions, join two of them, read each example's digest, and build
`tf.data` batches with `batches`, never holding the whole array.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

# A predict or validation batch stays under this many bytes of float32
# values: 256 images of 64x64 RGB, 53 of 224x224 (a 256-image batch of
# those is 154 MB, and the parallel map keeps several in flight).
BATCH_BYTES = 32 * 2**20


class StoredExamples:
    """The interface; subclasses are frozen dataclasses."""

    shape: tuple[int, ...]

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, where):
        raise NotImplementedError

    def join(self, other):
        raise NotImplementedError

    @property
    def digests(self) -> np.ndarray:
        raise NotImplementedError

    def batches(
        self,
        batch_size: int,
        labels: np.ndarray | None = None,
        shuffle_seed: int | None = None,
    ) -> tf.data.Dataset:
        raise NotImplementedError

    @property
    def inference_batch(self) -> int:
        """Examples a predict or validation batch holds: 256, or fewer so a
        batch of float32 values stays within `BATCH_BYTES` (large examples)."""
        example_bytes = 4 * max(1, int(np.prod(self.shape[1:])))
        return max(1, min(256, BATCH_BYTES // example_bytes))

    def to_array(self) -> np.ndarray:
        """The examples as one float32 array: for small subsets only."""
        parts = [batch.numpy() for batch in self.batches(self.inference_batch)]
        if not parts:
            return np.zeros((0, *self.shape[1:]), dtype="float32")
        return np.concatenate(parts)


def key_dataset(
    keys: np.ndarray, labels: np.ndarray | None, shuffle_seed: int | None
) -> tf.data.Dataset:
    """(key, label) or key elements, shuffled with a full buffer when seeded.

    Keys are paths or row positions, never pixels, so the shuffle is cheap;
    reshuffled every epoch, it takes the order an array of the examples
    shuffled with the same seed takes.
    """
    parts = (keys,) if labels is None else (keys, labels)
    dataset = tf.data.Dataset.from_tensor_slices(parts)
    if shuffle_seed is not None:
        dataset = dataset.shuffle(
            len(keys), seed=shuffle_seed, reshuffle_each_iteration=True
        )
    return dataset
