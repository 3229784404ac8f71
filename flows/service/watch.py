"""Watch deployed pipelines' data sources; say when new data has landed.

Watchdog says when something under a source changed: native file-system
events on local disks, its `PollingObserver` on network and FUSE mounts,
where new data for scheduled retrains usually lands and no native event
comes (see `flows.service.observers`). A source counts as changed once no
event has come for one interval and its signature (size and modification
time of the file, or of every file in the folder) differs from the last one
reported: a file written in several chunks starts one retrain, not one per
write, and a file only read is no change.

The report is `automl.data.landed`, sent by `flows.service.events`: while
Prefect's API is down, each try is logged and retried until the API takes
the event, and the watch goes on.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler

from flows.config import parse_config
from flows.service.events import DataLandedSender
from flows.service.observers import make_observer, needs_polling

Signature = tuple[tuple[str, int, int], ...]

# Opening or reading a file (the pipeline reading its data) changes nothing.
IGNORED_EVENTS = frozenset({"opened", "closed_no_write"})


def source_signature(path: str | Path) -> Signature:
    """Size and mtime of the file, or of every file under the folder; () if gone."""
    path = Path(path)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
    else:
        return ()
    signature = []
    for file in files:
        try:
            stat = file.stat()
        except FileNotFoundError:
            continue
        signature.append((str(file), stat.st_size, stat.st_mtime_ns))
    return tuple(signature)


class _SourceEvents(FileSystemEventHandler):
    """Passes the events at or under one source's path on to the watcher."""

    def __init__(self, watcher: SourceWatcher, name: str, path: str):
        self.watcher = watcher
        self.name = name
        self.root = os.path.realpath(path)

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in IGNORED_EVENTS:
            return
        paths = [os.fsdecode(event.src_path)]
        if event.dest_path:
            paths.append(os.fsdecode(event.dest_path))
        if any(p == self.root or p.startswith(self.root + os.sep) for p in paths):
            # A folder source made anew needs a new watch of its own.
            again = self.root in paths and event.event_type in {"created", "moved"}
            self.watcher.note_change(self.name, rewatch=again)


class SourceWatcher:
    """Calls `on_change(name, path)` once per settled change of each source.

    Args:
        sources: pipeline name -> its data file or folder.
        on_change: called from the watching thread with the name and path.
        interval: seconds without an event before a change counts (and the
            polling observer's period).
        clock: monotonic seconds; tests pass their own.
    """

    def __init__(
        self,
        sources: dict[str, str],
        on_change: Callable[[str, str], None],
        interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.sources = dict(sources)
        self.on_change = on_change
        self.interval = interval
        self.clock = clock
        self.reported = {name: source_signature(p) for name, p in sources.items()}
        self.polling = False
        self._touched: dict[str, float] = {}
        self._rewatch: set[str] = set()
        self._lock = threading.Lock()
        self._observer = None
        self._folder_watches: dict[str, object] = {}

    def note_change(self, name: str, rewatch: bool = False) -> None:
        """Something changed under `name`'s source (called by watchdog)."""
        with self._lock:
            self._touched[name] = self.clock()
            if rewatch:
                self._rewatch.add(name)

    def settle(self) -> list[str]:
        """Report the sources quiet for one interval whose content changed."""
        now = self.clock()
        with self._lock:
            due = [n for n, t in self._touched.items() if now - t >= self.interval]
            for name in due:
                del self._touched[name]
            rewatch, self._rewatch = self._rewatch, set()
        for name in rewatch:
            self._watch_folder(name)
        changed = []
        for name in due:
            path = self.sources[name]
            signature = source_signature(path)
            if not signature or signature == self.reported[name]:
                continue  # gone (not a change), or back as it was
            self.reported[name] = signature
            self.on_change(name, path)
            changed.append(name)
        return changed

    def start(self, polling: bool | None = None) -> None:
        """Start watchdog's observer; `polling` None chooses by the mounts."""
        if polling is None:
            polling = needs_polling(list(self.sources.values()))
        try:
            self._start_observer(polling)
        except OSError as error:  # e.g. inotify's watch limit: poll instead
            if polling:
                raise
            _say(f"native file events unavailable ({error}); polling instead")
            self._start_observer(True)

    def stop(self) -> None:
        """Stop the observer and wait for its threads."""
        if self._observer is not None:
            self._observer.stop()
            self._observer.join()
            self._observer = None

    def run(self, stop: threading.Event | None = None) -> None:
        """Watch (starting the observer if needed) until `stop` is set."""
        stop = stop or threading.Event()
        if self._observer is None:
            self.start()
        try:
            while not stop.wait(self.interval / 2):
                self.settle()
        finally:
            self.stop()

    def _start_observer(self, polling: bool) -> None:
        self.stop()
        self.polling = polling
        self._observer = make_observer(polling, self.interval)
        self._folder_watches = {}
        for name, path in self.sources.items():
            # The parent sees the source itself appear, go or be replaced.
            parent = os.path.dirname(os.path.realpath(path))
            self._observer.schedule(_SourceEvents(self, name, path), parent)
            self._watch_folder(name)
        self._observer.start()

    def _watch_folder(self, name: str) -> None:
        """(Re)start the recursive watch of a folder source, if it is one."""
        path = self.sources[name]
        old = self._folder_watches.pop(name, None)
        if old is not None:
            # KeyError: its emitter already ended with the old folder.
            with contextlib.suppress(KeyError):
                self._observer.unschedule(old)
        if os.path.isdir(path):
            handler = _SourceEvents(self, name, path)
            watch = self._observer.schedule(handler, path, recursive=True)
            self._folder_watches[name] = watch


def deployed_sources(names: list[str] | None = None) -> dict[str, str]:
    """Each deployed pipeline's data source that is a local file or folder."""
    from flows.service.deploy import list_deployments

    sources = {}
    for deployment in list_deployments():
        if names and deployment.name not in names:
            continue
        config = parse_config(deployment.parameters.get("config"), deployment.name)
        if Path(config.data.source).exists():
            sources[config.name] = config.data.source
        else:
            _say(
                f"not watching {config.name}: its source {config.data.source} "
                "is not a local file or folder"
            )
    return sources


def announcer(stop: threading.Event | None = None) -> Callable[[str, str], None]:
    """Send `automl.data.landed` for a change (retrying while the API is down)."""
    send = DataLandedSender(stop)

    def announce(name: str, path: str) -> None:
        event_id = send(name, path)
        if event_id is not None:
            _say(f"new data for {name} at {path}: sent automl.data.landed ({event_id})")

    return announce


def watch_sources(names: list[str] | None = None, interval: float = 2.0) -> None:
    """Watch the deployed pipelines' sources until interrupted."""
    _deployed_watcher(names, interval).run()


def start_watching(names: list[str] | None = None, interval: float = 2.0) -> None:
    """Watch in a background thread (for `automl serve --watch`)."""
    watcher = _deployed_watcher(names, interval)
    threading.Thread(target=watcher.run, daemon=True, name="automl-watch").start()


def _deployed_watcher(names: list[str] | None, interval: float) -> SourceWatcher:
    # The baseline is taken and the observer started here, before "watching"
    # is said: a change after the line is always a change.
    watcher = SourceWatcher(deployed_sources(names), announcer(), interval)
    watcher.start()
    if watcher.polling and watcher.sources:
        _say(
            f"polling the sources every {interval:.1f}s: a network mount (no native "
            "file events reach it) or AUTOML_WATCH_POLLING is set"
        )
    for name, path in watcher.sources.items():
        _say(f"watching {path} for {name} every {interval:.1f}s")
    return watcher


def _say(line: str) -> None:
    print(line, flush=True)
