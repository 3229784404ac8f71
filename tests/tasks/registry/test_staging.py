"""Whole-file replacement: readers see the old content or the new, never half."""

import pytest

from tasks.registry.staging import write_text_atomically


def test_a_write_replaces_the_file_whole_and_leaves_no_sibling(tmp_path):
    path = tmp_path / "deep" / "run.json"
    write_text_atomically(path, "old")
    write_text_atomically(path, "new")
    assert path.read_text() == "new"
    assert [p.name for p in path.parent.iterdir()] == ["run.json"]


def test_a_failed_write_keeps_the_old_content_and_removes_its_sibling(tmp_path):
    path = tmp_path / "champion.json"
    write_text_atomically(path, "old")
    with pytest.raises(UnicodeEncodeError):  # fails halfway through the write
        write_text_atomically(path, "half" + "\ud800", staging_name=".champion-x")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["champion.json"]
