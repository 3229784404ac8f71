"""The source watcher: one report per settled change, files and folders."""

import os

from flows.service.watch import SourceWatcher, source_signature


def _watcher(sources):
    seen = []
    watcher = SourceWatcher(sources, lambda name, path: seen.append(name))
    return watcher, seen


def _bump(path, seconds=10):
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + seconds * 10**9))


def test_a_touched_file_is_reported_once_after_it_settles(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    watcher, seen = _watcher({"p": str(data)})
    assert watcher.poll() == []  # nothing changed
    _bump(data)
    assert watcher.poll() == []  # changed: waits one interval to settle
    assert watcher.poll() == ["p"]
    assert watcher.poll() == [] and watcher.poll() == []
    assert seen == ["p"]


def test_a_file_still_being_written_is_reported_once_when_done(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a\n")
    watcher, seen = _watcher({"p": str(data)})
    for row in range(5):
        with data.open("a") as handle:
            handle.write(f"{row}\n")
        assert watcher.poll() == []
    assert watcher.poll() == ["p"]
    assert seen == ["p"]


def test_a_new_file_in_a_watched_folder_is_a_change(tmp_path):
    folder = tmp_path / "images"
    (folder / "cat").mkdir(parents=True)
    (folder / "cat" / "1.png").write_bytes(b"x")
    watcher, seen = _watcher({"p": str(folder)})
    (folder / "cat" / "2.png").write_bytes(b"y")
    watcher.poll()
    watcher.poll()
    assert seen == ["p"]


def test_a_missing_source_is_not_a_change(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a\n")
    watcher, seen = _watcher({"p": str(data)})
    data.unlink()
    assert source_signature(data) == ()
    watcher.poll()
    watcher.poll()
    assert seen == []
    data.write_text("a\n2\n")  # back again, different: one change
    watcher.poll()
    watcher.poll()
    assert seen == ["p"]
