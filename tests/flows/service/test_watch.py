"""The source watcher: one report per settled change, files and folders.

The debounce is tested on a clock the test moves; watchdog's real observers
(native events and polling) are tested by waiting, with a time-out, for the
report a change must bring.
"""

import os
import shutil
import threading
import time

import pytest

from flows.service.observers import file_system_type, on_network_mount
from flows.service.watch import SourceWatcher, source_signature


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _watcher(sources, interval=2.0):
    seen = []
    clock = Clock()
    watcher = SourceWatcher(
        sources, lambda name, path: seen.append(name), interval, clock=clock
    )
    return watcher, seen, clock


def _bump(path, seconds=10):
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + seconds * 10**9))


def test_a_touched_file_is_reported_once_after_it_settles(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    watcher, seen, clock = _watcher({"p": str(data)})
    assert watcher.settle() == []  # nothing changed
    _bump(data)
    watcher.note_change("p")
    clock.now = 1.9
    assert watcher.settle() == []  # changed: waits one quiet interval
    clock.now = 2.0
    assert watcher.settle() == ["p"]
    clock.now = 10.0
    assert watcher.settle() == [] and watcher.settle() == []
    assert seen == ["p"]


def test_a_file_still_being_written_is_reported_once_when_done(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a\n")
    watcher, seen, clock = _watcher({"p": str(data)})
    for row in range(5):
        with data.open("a") as handle:
            handle.write(f"{row}\n")
        watcher.note_change("p")
        clock.now += 1.0  # the next chunk comes within the interval
        assert watcher.settle() == []
    clock.now += 1.0
    assert watcher.settle() == ["p"]
    assert seen == ["p"]


def test_an_event_without_a_change_is_not_reported(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a\n")
    watcher, seen, clock = _watcher({"p": str(data)})
    watcher.note_change("p")  # e.g. written with the same bytes and time
    clock.now = 5.0
    assert watcher.settle() == [] and seen == []


def test_a_new_file_in_a_watched_folder_is_a_change(tmp_path):
    folder = tmp_path / "images"
    (folder / "cat").mkdir(parents=True)
    (folder / "cat" / "1.png").write_bytes(b"x")
    watcher, seen, clock = _watcher({"p": str(folder)})
    (folder / "cat" / "2.png").write_bytes(b"y")
    watcher.note_change("p")
    clock.now = 2.0
    watcher.settle()
    assert seen == ["p"]


def test_a_missing_source_is_not_a_change(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a\n")
    watcher, seen, clock = _watcher({"p": str(data)})
    data.unlink()
    assert source_signature(data) == ()
    watcher.note_change("p")
    clock.now = 2.0
    watcher.settle()
    assert seen == []
    data.write_text("a\n2\n")  # back again, different: one change
    watcher.note_change("p")
    clock.now = 4.0
    watcher.settle()
    assert seen == ["p"]


def _wait(condition, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.fixture(params=[False, True], ids=["native", "polling"])
def running(request):
    """Start a real watcher over given sources; yields a starter."""
    started = []

    def start(sources):
        seen = []
        watcher = SourceWatcher(sources, lambda n, p: seen.append(n), interval=0.3)
        watcher.start(polling=request.param)
        assert watcher.polling is request.param
        stop = threading.Event()
        thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
        thread.start()
        started.append((stop, thread))
        return seen

    yield start
    for stop, thread in started:
        stop.set()
        thread.join(timeout=30)


def test_a_file_replaced_in_place_is_reported_by_the_observer(running, tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    seen = running({"p": str(data)})
    staged = tmp_path / "staged.csv"
    staged.write_text("a\n1\n2\n")
    staged.replace(data)  # how copy tools land a file: write, then rename
    _wait(lambda: seen, "the replaced file was not reported")
    assert seen == ["p"]


def test_a_folder_made_anew_is_still_watched(running, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "1.png").write_bytes(b"x")
    seen = running({"p": str(folder)})
    (folder / "2.png").write_bytes(b"y")
    _wait(lambda: seen == ["p"], "the new file in the folder was not reported")
    shutil.rmtree(folder)
    folder.mkdir()
    (folder / "3.png").write_bytes(b"z")
    _wait(lambda: seen == ["p", "p"], "the folder made anew was not reported")
    (folder / "4.png").write_bytes(b"w")  # its new watch sees inside it
    _wait(lambda: seen == ["p", "p", "p"], "a file in the new folder was missed")


def test_network_mounts_are_polled_local_disks_are_not(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/sda1 / ext4 rw 0 0\n"
        "server:/export /mnt/data nfs4 rw 0 0\n"
        "sshfs#me@host: /mnt/my\\040drive fuse.sshfs rw 0 0\n"
        "/dev/sdb1 /mnt/data/local xfs rw 0 0\n"
    )
    table = str(mounts)
    assert file_system_type("/mnt/data/x.npz", table) == "nfs4"
    assert on_network_mount("/mnt/data/x.npz", table)
    assert on_network_mount("/mnt/my drive/x.csv", table)
    assert not on_network_mount("/mnt/data/local/x.csv", table)  # deepest mount
    assert not on_network_mount("/home/x.csv", table)
    assert not on_network_mount("/mnt/database/x.csv", table)  # not under /mnt/data
    assert file_system_type("/x", str(tmp_path / "no-such-table")) == ""
