"""Image folders, index first: one decode pass, then datasets over the files.

The folder path must give what the array path gives for the same pixels:
the same profile (digests included), splits, normalisation statistics and
training batches, whether the decoded pixels are kept in memory or decoded
again every epoch.
"""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from data_contracts.digests import example_digests
from tasks.augment import make_datasets
from tasks.errors import DataError
from tasks.load import load_dataset, to_examples
from tasks.preprocess import fit_preprocessing
from tasks.readers.image_files import decode_image
from tasks.split import split_examples
from tasks.validate import profile_raw


def _folder(root, count=30, size=(12, 10), mode="RGB", seed=0):
    """`count` random images a class, 3 classes; returns the pixels and labels."""
    rng = np.random.default_rng(seed)
    channels = 3 if mode == "RGB" else 1
    pixels, labels = [], []
    for label in ("ant", "bee", "cat"):
        (root / label).mkdir(parents=True)
        for i in range(count):
            image = rng.integers(0, 256, (*size, channels), dtype=np.uint8)
            if label == "bee" and i == 0:
                image = pixels[-1]  # a copy across classes: one digest, one split
            Image.fromarray(image.squeeze(-1) if channels == 1 else image).save(
                root / label / f"{i:03d}.png"
            )
            pixels.append(image)
            labels.append(label)
    return np.stack(pixels), np.array(labels)


@pytest.mark.parametrize("cache_megabytes", [512, 0], ids=["kept", "streamed"])
def test_a_folder_gives_what_an_array_of_its_pixels_gives(tmp_path, cache_megabytes):
    pixels, labels = _folder(tmp_path / "images")
    np.savez(tmp_path / "same.npz", x=pixels, y=labels)
    files = load_dataset(
        str(tmp_path / "images"), kind="image", cache_megabytes=cache_megabytes
    )
    arrays = load_dataset(str(tmp_path / "same.npz"), kind="image")
    assert (files.x.store is not None) == (cache_megabytes > 0)
    assert files.x.shape == arrays.x.shape == (90, 12, 10, 3)
    profile = profile_raw(files)
    assert profile.equals(profile_raw(arrays))
    assert profile["digest"].tolist() == example_digests(pixels)

    by_files, by_arrays = (split_examples(to_examples(raw)) for raw in (files, arrays))
    assert by_files.membership().equals(by_arrays.membership())
    assert by_files.duplicates == by_arrays.duplicates == 1
    moments = fit_preprocessing(by_files.x_train), fit_preprocessing(by_arrays.x_train)
    np.testing.assert_allclose(moments[0].mean, moments[1].mean, rtol=1e-12)
    np.testing.assert_allclose(moments[0].variance, moments[1].variance, rtol=1e-9)

    streams = make_datasets(by_files, 8, seed=3), make_datasets(by_arrays, 8, seed=3)
    for _ in range(2):  # two epochs: reshuffled alike
        for (x, y), (x_ref, y_ref) in zip(*(s.train for s in streams), strict=True):
            np.testing.assert_array_equal(x.numpy(), x_ref.numpy())
            np.testing.assert_array_equal(y.numpy(), y_ref.numpy())
    for (x, _), (x_ref, _) in zip(*(s.validation for s in streams), strict=True):
        np.testing.assert_array_equal(x.numpy(), x_ref.numpy())


def test_resized_pixels_are_the_decoders_whether_kept_or_decoded_again(tmp_path):
    _folder(tmp_path, count=4, size=(20, 16), mode="L")
    kept = load_dataset(str(tmp_path), kind="image", image_size=[8, 6])
    streamed = load_dataset(
        str(tmp_path), kind="image", image_size=[8, 6], cache_megabytes=0
    )
    assert kept.x.shape == (12, 8, 6, 1) and kept.x.store is not None
    expected = np.stack(
        [decode_image(tf.constant(p), 1, (8, 6)).numpy() for p in kept.x.paths]
    )
    np.testing.assert_array_equal(kept.x.store, expected)
    np.testing.assert_array_equal(streamed.x.to_array(), expected.astype("float32"))
    assert profile_raw(kept).equals(profile_raw(streamed))


def test_grey_and_colour_files_become_rgb(tmp_path):
    _folder(tmp_path / "grey", count=2, mode="L")
    (tmp_path / "grey" / "cat" / "colour.png").write_bytes(b"")
    Image.new("RGB", (10, 12), (255, 0, 0)).save(
        tmp_path / "grey" / "cat" / "colour.png"
    )
    raw = load_dataset(str(tmp_path / "grey"), kind="image")
    assert raw.x.shape == (7, 12, 10, 3)
    red = raw.x[np.flatnonzero(raw.x.paths == str(tmp_path / "grey/cat/colour.png"))]
    assert red.to_array()[0, 0, 0].tolist() == [255.0, 0.0, 0.0]


def test_files_that_do_not_decode_are_all_named_after_the_pass(tmp_path):
    _folder(tmp_path, count=3)
    for name in ("ant/001.png", "cat/002.png"):
        path = tmp_path / name
        path.write_bytes(path.read_bytes()[:60])  # the header reads, the pixels do not
    with pytest.raises(DataError) as error:
        load_dataset(str(tmp_path), kind="image")
    message = str(error.value)
    assert message.startswith("2 file(s) are not a readable image")
    assert "ant/001.png" in message and "cat/002.png" in message


def test_subsets_and_joins_share_the_store_and_keep_their_statistics(tmp_path):
    _folder(tmp_path, count=5)
    files = load_dataset(str(tmp_path), kind="image").x
    first, second = files[[4, 0]], files[np.arange(15) > 12]
    joined = first.join(second)
    assert joined.store is files.store and len(joined) == 4
    assert joined.digests.tolist() == [files.digests[i] for i in (4, 0, 13, 14)]
    np.testing.assert_array_equal(joined.to_array(), files.to_array()[[4, 0, 13, 14]])
