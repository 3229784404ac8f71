"""Watch deployed pipelines' data sources; say when new data has landed.

A poller, not inotify: it works the same on network and object-store mounts,
where new data for scheduled retrains usually lands. A source counts as
changed once its signature (size and modification time of the file, or of
every file in the folder) differs from the last one reported and has then
stayed the same for one interval, so a file still being copied starts one
retrain, not one per write.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from flows.config import parse_config

Signature = tuple[tuple[str, int, int], ...]


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


class SourceWatcher:
    """Calls `on_change(name, path)` once per settled change of each source."""

    def __init__(self, sources: dict[str, str], on_change: Callable[[str, str], None]):
        self.sources = dict(sources)
        self.on_change = on_change
        self.reported = {name: source_signature(p) for name, p in sources.items()}
        self.pending: dict[str, Signature] = {}

    def poll(self) -> list[str]:
        """Look at every source once; return the names reported as changed."""
        changed = []
        for name, path in self.sources.items():
            now = source_signature(path)
            if now == self.reported[name] or not now:
                self.pending.pop(name, None)
                continue
            if self.pending.get(name) != now:
                self.pending[name] = now  # changed; report once it settles
                continue
            del self.pending[name]
            self.reported[name] = now
            self.on_change(name, path)
            changed.append(name)
        return changed

    def run(self, interval: float, stop: threading.Event | None = None) -> None:
        """Poll every `interval` seconds until `stop` is set (or forever)."""
        stop = stop or threading.Event()
        while not stop.wait(interval):
            self.poll()


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


def _announce(name: str, path: str) -> None:
    from flows.service.deploy import emit_data_landed

    event_id = emit_data_landed(name, path)
    _say(f"new data for {name} at {path}: sent automl.data.landed ({event_id})")


def watch_sources(names: list[str] | None = None, interval: float = 2.0) -> None:
    """Watch the deployed pipelines' sources until interrupted."""
    _deployed_watcher(names, interval).run(interval)


def start_watching(names: list[str] | None = None, interval: float = 2.0) -> None:
    """Watch in a background thread (for `automl serve --watch`)."""
    watcher = _deployed_watcher(names, interval)
    threading.Thread(
        target=watcher.run, args=(interval,), daemon=True, name="automl-watch"
    ).start()


def _deployed_watcher(names: list[str] | None, interval: float) -> SourceWatcher:
    # The baseline is taken here, before "watching" is said: a change after
    # the line is always a change.
    watcher = SourceWatcher(deployed_sources(names), _announce)
    for name, path in watcher.sources.items():
        _say(f"watching {path} for {name} every {interval:.1f}s")
    return watcher


def _say(line: str) -> None:
    print(line, flush=True)
