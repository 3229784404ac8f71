import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits

from tasks.errors import DataError
from tasks.load import Examples
from tasks.split import Splits, split_examples
from tasks.split_hash import unit_hash


def _digits(rows: slice = slice(None)) -> Examples:
    digits = load_digits()
    x = digits.images.astype("float32")[..., np.newaxis]
    return Examples(x=x[rows], y=digits.target[rows])


def _hashed_split(seed: int, digest: str) -> str:
    """Rule 1 alone, with the default fractions (0.2 test, 0.1 validation)."""
    u = unit_hash(seed, digest)
    return "test" if u < 0.2 else "validation" if u < 0.3 else "train"


def _split_of(splits: Splits) -> dict[str, str]:
    membership = splits.membership()
    return dict(zip(membership["digest"], membership["split"], strict=True))


def test_split_is_stratified_seeded_and_disjoint(tiny_images):
    x, y = tiny_images
    examples = Examples(x=x, y=np.array(["cat", "dog", "eel"])[y])
    first = split_examples(examples, test_fraction=0.25, validation_fraction=0.25)
    again = split_examples(examples, test_fraction=0.25, validation_fraction=0.25)
    assert first.labels == ["cat", "dog", "eel"]
    assert len(first.x_train) + len(first.x_val) + len(first.x_test) == 48
    np.testing.assert_array_equal(first.x_test, again.x_test)
    np.testing.assert_array_equal(first.digests_train, again.digests_train)
    for part in (first.y_train, first.y_val, first.y_test):
        assert set(part) == {0, 1, 2}
    counts = first.class_counts()
    assert counts.index.tolist() == ["cat", "dog", "eel"]
    assert counts.columns.tolist() == ["train", "validation", "test"]
    assert counts.sum(axis=1).tolist() == [16, 16, 16]


def test_digits_split_is_stable_when_30_percent_new_rows_arrive():
    old = split_examples(_digits(slice(0, 1382)))
    grown = split_examples(_digits())  # 1797 rows: 30% more
    before, after = _split_of(old), _split_of(grown)
    assert len(before) == 1382
    assert {digest: after[digest] for digest in before} == before


def test_digits_split_is_stable_when_rows_are_removed():
    full = _split_of(split_examples(_digits()))
    fewer = _split_of(split_examples(_digits(slice(300, None))))
    assert {digest: full[digest] for digest in fewer} == fewer


def test_digits_fractions_are_within_three_points():
    splits = split_examples(_digits(), test_fraction=0.2, validation_fraction=0.1)
    shares = splits.membership()["split"].value_counts(normalize=True)
    assert shares["test"] == pytest.approx(0.2, abs=0.03)
    assert shares["validation"] == pytest.approx(0.1, abs=0.03)
    assert (splits.class_counts() > 0).all().all()


def test_the_seed_picks_the_split():
    same = [_split_of(split_examples(_digits(), seed=7)) for _ in range(2)]
    other = _split_of(split_examples(_digits(), seed=8))
    assert same[0] == same[1]
    changed = sum(same[0][digest] != other[digest] for digest in other)
    assert changed > 500  # of 1797: about half move under another hash


def test_duplicates_never_straddle_splits_and_are_counted():
    digits = _digits()
    rows = np.concatenate([np.arange(1797), np.arange(0, 1797, 3)])  # 599 repeats
    splits = split_examples(Examples(x=digits.x[rows], y=digits.y[rows]))
    membership = splits.membership()
    assert len(membership) == len(rows)
    assert splits.duplicates == 599
    assert membership.groupby("digest")["split"].nunique().max() == 1
    assert membership["digest"].nunique() == 1797


def test_repeated_texts_land_together():
    texts = ["win a prize now", "see you at 5", "call me", "free entry!!"] * 5
    texts += [f"message {i}" for i in range(30)]
    labels = ["spam", "ham", "ham", "spam"] * 5 + ["ham", "spam"] * 15
    frame = pd.DataFrame({"text": texts, "label": labels})
    examples = Examples(
        x=frame["text"].astype(str).to_numpy(dtype=object),
        y=frame["label"].to_numpy(),
    )
    splits = split_examples(examples)
    membership = splits.membership()
    assert splits.duplicates == 16
    assert len(membership) == 50
    assert membership.groupby("digest")["split"].nunique().max() == 1
    assert set(membership["split"]) == {"train", "validation", "test"}
    for x, digests in (
        (splits.x_train, splits.digests_train),
        (splits.x_test, splits.digests_test),
    ):
        assert all(isinstance(text, str) for text in x)
        assert len(x) == len(digests)


def test_identical_inputs_with_two_labels_share_a_split(tiny_images):
    x, y = tiny_images
    x = np.concatenate([x, x[:1]])
    y = np.concatenate([y, [2]])  # x[0] (class 0) again, labelled 2
    splits = split_examples(Examples(x=x, y=y), seed=3)
    membership = splits.membership()
    assert membership.groupby("digest")["split"].nunique().max() == 1
    assert membership["digest"].nunique() == 48
    assert splits.duplicates == 1


def test_small_classes_reach_every_split_without_leaking_into_test():
    """Rule 2 (a class the hash leaves out of a split) under growing data."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 4)).astype("float32")
    y = np.repeat(np.arange(3), 30)
    used_rule, checked = 0, 0
    for seed in range(40):
        order = np.concatenate([rng.permutation(30) + 30 * c for c in range(3)])
        first = order.reshape(3, 30)[:, :4].ravel()  # four per class
        try:
            old = split_examples(Examples(x=x[first], y=y[first]), seed=seed)
        except DataError:
            continue  # rule 3: the hash left too few outside test
        checked += 1
        used_rule += any(
            _hashed_split(seed, digest) != split
            for digest, split in _split_of(old).items()
        )
        for counts in old.class_counts().to_numpy():
            assert (counts > 0).all()
        grown_rows = np.concatenate([first, order.reshape(3, 30)[:, 4:12].ravel()])
        grown = split_examples(Examples(x=x[grown_rows], y=y[grown_rows]), seed=seed)
        new_test = set(grown.digests_test)
        trained_before = set(old.digests_train) | set(old.digests_val)
        assert not new_test & trained_before, seed
    assert checked >= 30
    assert used_rule >= 5  # the rule really moved examples in these splits


def test_kept_test_split_is_used_as_is(tiny_images):
    x, y = tiny_images
    splits = split_examples(Examples(x=x, y=y, x_test=x[:5], y_test=y[:5]))
    assert len(splits.x_test) == 5
    assert splits.labels == [0, 1, 2]
    assert len(splits.x_train) + len(splits.x_val) == 48
    assert set(splits.y_val) == {0, 1, 2}
    membership = splits.membership()
    assert (membership["split"] == "test").sum() == 5
    assert len(membership) == 53
    assert splits.duplicates == 5  # the kept test repeats five training examples


def test_unseen_test_label_is_an_error(tiny_images):
    x, y = tiny_images
    with pytest.raises(DataError, match=r"never seen in training: \[7\]"):
        split_examples(Examples(x=x, y=y, x_test=x[:1], y_test=np.array([7])))


def test_too_small_class_is_an_error(tiny_images):
    x, y = tiny_images
    y = y.copy()
    y[0] = 9  # one example of class 9 cannot be stratified
    with pytest.raises(DataError, match="Every class needs enough examples"):
        split_examples(Examples(x=x, y=y))


def test_a_class_of_identical_copies_is_too_small(tiny_images):
    x, y = tiny_images
    x = np.concatenate([x, np.repeat(x[:1] + 100.0, 3, axis=0)])
    y = np.concatenate([y, [5, 5, 5]])
    with pytest.raises(DataError, match=r"Class 5 has 1 distinct example\(s\)"):
        split_examples(Examples(x=x, y=y))


def test_a_hash_that_crowds_test_is_an_error_naming_the_counts():
    x = np.arange(12, dtype="float32").reshape(12, 1)
    y = np.repeat(np.arange(3), 4)
    failures = []
    for seed in range(200):
        try:
            split_examples(Examples(x=x, y=y), test_fraction=0.5, seed=seed)
        except DataError as error:
            failures.append(str(error))
    assert failures
    assert "examples never leave test" in failures[0]
    assert "lower data.test_fraction, or pick another seed" in failures[0]


def test_membership_of_hand_made_splits_computes_digests(tiny_images):
    x, y = tiny_images
    splits = Splits(x[:30], y[:30], x[30:40], y[30:40], x[40:], y[40:], [0, 1, 2])
    membership = splits.membership()
    assert membership["split"].value_counts().to_dict() == {
        "train": 30,
        "validation": 10,
        "test": 8,
    }
    assert membership.columns.tolist() == ["digest", "split"]


def test_ragged_sequences_split_as_lists():
    series = [np.full((3 + i % 4, 2), float(i), "float32") for i in range(30)]
    y = np.arange(30) % 3
    splits = split_examples(Examples(x=series, y=y))
    assert isinstance(splits.x_train, list)
    assert len(splits.x_train) + len(splits.x_val) + len(splits.x_test) == 30
    assert len(splits.membership()) == 30
