"""The registry lock holds across processes: one writer at a time."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from filelock import Timeout

from tasks.registry.lock import LOCK_FILE, registry_lock

ROOT = Path(__file__).resolve().parents[3]

# Takes the lock, says so, and keeps it until its stdin closes.
HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from tasks.registry.lock import registry_lock

    with registry_lock(Path(sys.argv[1])):
        print("held", flush=True)
        sys.stdin.read()
    """
)


def _start_holder(pipeline: Path) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(pipeline)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = holder.stdout.readline()  # blocks until the child holds the lock
    assert line == "held\n", holder.communicate(timeout=60)
    return holder


def test_a_lock_held_by_another_process_waits_until_it_is_released(tmp_path):
    pipeline = tmp_path / "p"
    holder = _start_holder(pipeline)
    try:
        with pytest.raises(Timeout), registry_lock(pipeline, timeout=0.2):
            pass
    finally:
        # Closing its stdin lets the child leave its `with` and exit.
        _, errors = holder.communicate(timeout=60)
    assert holder.returncode == 0, errors
    with registry_lock(pipeline, timeout=0):
        assert (pipeline / LOCK_FILE).exists()


def test_a_killed_holder_releases_the_lock(tmp_path):
    pipeline = tmp_path / "p"
    holder = _start_holder(pipeline)
    holder.kill()  # a publisher killed mid-publish must not block the next one
    holder.communicate(timeout=60)
    with registry_lock(pipeline, timeout=0):
        pass


def test_the_lock_is_exclusive_within_one_process_too(tmp_path):
    pipeline = tmp_path / "p"
    with registry_lock(pipeline), pytest.raises(Timeout):
        registry_lock(pipeline, timeout=0).acquire()
