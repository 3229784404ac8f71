"""Which watchdog observer watches a source: native events, or polling.

Native file-system events (inotify, FSEvents, ReadDirectoryChangesW) come
only for changes made through this machine's kernel. On a network or FUSE
mount (NFS, SMB/CIFS, sshfs, s3fs, gcsfuse, ...) the new data is written by
another machine, so no event ever comes: there watchdog's `PollingObserver`
looks at the files every interval instead. The choice is automatic (on Linux,
from the mount's file-system type in `/proc/self/mounts`);
`AUTOML_WATCH_POLLING=1` forces polling for mounts it does not recognise.
A native observer that cannot start (for example, inotify's watch limit
reached) also falls back to polling, with a warning.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

POLLING_ENV = "AUTOML_WATCH_POLLING"
NETWORK_FILE_SYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "ncpfs",
        "afs",
        "9p",
        "ceph",
        "glusterfs",
        "lustre",
        "gpfs",
        "beegfs",
        "davfs",
        "fuse",
        "fuseblk",
    }
)


def file_system_type(path: str | Path, mounts: str = "/proc/self/mounts") -> str:
    """The file-system type of the mount holding `path`; "" where unknown."""
    target = os.path.realpath(path)
    best, kind = "", ""
    try:
        lines = Path(mounts).read_text().splitlines()
    except OSError:  # not Linux: no mount table to read
        return ""
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        # The table escapes spaces and tabs in mount points as octal (\040).
        point = fields[1].encode().decode("unicode_escape")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind


def on_network_mount(path: str | Path, mounts: str = "/proc/self/mounts") -> bool:
    """Whether `path` lies on a network or FUSE file system (no native events)."""
    kind = file_system_type(path, mounts)
    return kind in NETWORK_FILE_SYSTEMS or kind.startswith("fuse.")


def needs_polling(paths: list[str]) -> bool:
    """Poll when asked to (`AUTOML_WATCH_POLLING=1`) or any path is on a network
    mount."""
    forced = os.environ.get(POLLING_ENV, "").strip().lower() in {"1", "true", "yes"}
    return forced or any(on_network_mount(path) for path in paths)


def make_observer(polling: bool, interval: float):
    """A watchdog observer: `PollingObserver` every `interval` s, else native."""
    from watchdog.observers import Observer
    from watchdog.observers.polling import PollingObserver

    return PollingObserver(timeout=interval) if polling else Observer()
