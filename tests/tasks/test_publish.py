import keras
import pytest

from tasks.errors import RegistryError
from tasks.publish import publish_version
from tasks.registry.champion import read_champion
from tasks.registry.versions import list_versions


def _model():
    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))


def _publish(registry, score, **options):
    return publish_version(
        registry,
        "p",
        _model(),
        {"f1_macro": score},
        documents={
            "config.json": {"name": "p"},
            "model_card.md": "# card",
            "leaderboard.csv": [{"trial": "0", "score": score}],
        },
        **options,
    )


def test_first_version_becomes_champion(tmp_path):
    result = _publish(tmp_path, 0.8)
    assert result.version == "v0001" and result.promoted
    folder = tmp_path / "p" / "v0001"
    assert {p.name for p in folder.iterdir()} == {
        "model.keras",
        "metrics.json",
        "config.json",
        "model_card.md",
        "leaderboard.csv",
    }
    loaded = keras.saving.load_model(folder / "model.keras", safe_mode=True)
    assert loaded.output_shape == (None, 2)
    assert read_champion(tmp_path / "p")["version"] == "v0001"
    assert not list((tmp_path / "p").glob(".tmp-*"))


def test_champion_moves_only_when_beaten(tmp_path):
    _publish(tmp_path, 0.8)
    worse = _publish(tmp_path, 0.7)
    assert worse.version == "v0002" and not worse.promoted
    assert "not promoted" in worse.reason and worse.champion_score == 0.8
    assert read_champion(tmp_path / "p")["version"] == "v0001"
    equal = _publish(tmp_path, 0.8)
    assert not equal.promoted
    better = _publish(tmp_path, 0.85)
    assert better.promoted
    record = read_champion(tmp_path / "p")
    assert record["version"] == "v0004" and record["previous"] == "v0001"
    assert list_versions(tmp_path / "p") == ["v0001", "v0002", "v0003", "v0004"]


def test_min_improvement_is_required(tmp_path):
    _publish(tmp_path, 0.8)
    small = _publish(tmp_path, 0.805, min_improvement=0.01)
    assert not small.promoted


def test_corrupted_champion_is_an_error_not_a_reset(tmp_path):
    _publish(tmp_path, 0.8)
    (tmp_path / "p" / "champion.json").write_text("{broken")
    with pytest.raises(RegistryError, match="never reset automatically"):
        _publish(tmp_path, 0.9)
    assert list_versions(tmp_path / "p") == ["v0001"]
    assert (tmp_path / "p" / "champion.json").read_text() == "{broken"


def test_failed_write_leaves_no_partial_version(tmp_path):
    documents = {"missing-folder/a.json": {"x": 1}}
    with pytest.raises(RegistryError, match="nothing was published"):
        publish_version(tmp_path, "p", _model(), {"f1_macro": 1.0}, documents)
    assert list_versions(tmp_path / "p") == []
    assert list((tmp_path / "p").iterdir()) == []


def test_an_io_hiccup_before_anything_landed_is_retryable(tmp_path):
    import errno

    from tasks.publish import _write_failure

    pipeline = tmp_path / "p"
    pipeline.mkdir()
    hiccup = OSError(errno.EIO, "Input/output error")
    assert _write_failure(pipeline, None, hiccup).retryable
    # Once the version is in place, a retry would publish it twice.
    assert not _write_failure(pipeline, "v0001", hiccup).retryable
    full = OSError(errno.ENOSPC, "No space left on device")
    assert not _write_failure(pipeline, None, full).retryable


def test_a_dataframe_document_is_written_as_parquet_with_the_version(tmp_path):
    import pandas as pd

    membership = pd.DataFrame(
        {"digest": ["a", "b", "a"], "split": ["train", "test", "train"]}
    )
    result = publish_version(
        tmp_path, "p", _model(), {"f1_macro": 0.8}, {"splits.parquet": membership}
    )
    written = pd.read_parquet(tmp_path / "p" / result.version / "splits.parquet")
    pd.testing.assert_frame_equal(written, membership)
