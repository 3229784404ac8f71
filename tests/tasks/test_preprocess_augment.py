import keras
import numpy as np
import pytest

from tasks.augment import build_augmenter, make_datasets
from tasks.load import Examples
from tasks.preprocess import fit_preprocessing
from tasks.split import split_examples


def test_normalisation_is_fitted_on_train_and_ignores_nan():
    x = np.array([[[1.0, 10.0]], [[3.0, np.nan]], [[5.0, 10.0]]], dtype="float32")
    prep = fit_preprocessing(x)
    assert prep.mean == [3.0, 10.0]
    assert prep.variance[1] == 1.0  # a constant feature is not divided by zero
    out = prep.layer()(x[:1]).numpy()
    np.testing.assert_allclose(out[0, 0, 0], (1.0 - 3.0) / np.sqrt(8 / 3), rtol=1e-5)


def test_normalisation_computes_in_float32_under_mixed_bfloat16(bf16_policy):
    rng = np.random.default_rng(0)
    x = (1000.0 + rng.normal(size=(256, 12, 1))).astype("float32")
    prep = fit_preprocessing(x, kind="sequence")
    assert prep.mean[0] == pytest.approx(1000.0, abs=0.1)
    exact = fit_preprocessing(np.array([[[999.0]], [[1001.0]]], "float32"))
    layer = exact.layer()  # mean 1000, variance 1
    raw = np.array([[[1000.0], [1001.0], [1002.5], [999.3]]], "float32")
    out = layer(raw)
    assert layer.compute_dtype == "float32" and out.dtype == "float32"
    # In bfloat16 these came out as 0, 0, 4, 0: 8 bits cannot tell 1000 from 1001.
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(out).ravel(), [0.0, 1.0, 2.5, -0.7], atol=1e-4
    )


def test_no_augmentation_unless_asked():
    assert build_augmenter("image") is None
    assert build_augmenter("sequence", rotation=0.1) is None


def test_augmentation_is_train_only_and_seeded(tiny_images):
    x, y = tiny_images
    splits = split_examples(Examples(x=x, y=y), 0.25, 0.25)
    augmenter = build_augmenter("image", rotation=0.1, translation=0.1, seed=3)
    datasets = make_datasets(splits, batch_size=8, augmenter=augmenter, seed=3)
    batch_x, batch_y = next(iter(datasets.train))
    assert batch_x.shape == (8, 8, 8, 1) and batch_y.shape == (8, 3)
    assert datasets.num_train == len(splits.x_train)
    val_x, _ = next(iter(datasets.validation))
    # Validation data passes through untouched.
    np.testing.assert_array_equal(val_x.numpy(), splits.x_val[: len(val_x)])
    # Augmented training batches differ from every raw training image.
    raw = {img.tobytes() for img in splits.x_train}
    assert any(img.tobytes() not in raw for img in batch_x.numpy())
