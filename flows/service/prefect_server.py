"""Start `automl run`'s temporary Prefect server safely beside other runs.

Without `PREFECT_API_URL`, Prefect starts a temporary server per process on
first use (`SubprocessASGIServer`), and every such server opens the same
SQLite database in `PREFECT_HOME`. Several runs started at once race twice:

- each new server runs the database migrations and block registration at
  start-up, guarded only by a thread lock, so two processes apply the same
  migration (`duplicate column name: infrastructure_pid`) and one server
  dies; Prefect retries it on a new port only while its 20-second start-up
  timeout lasts, which five runs training on two cores can outlast;
- each picks a random free port in 8000-8999 before its server binds it; two
  that pick the same one both see a healthy server there, and the loser runs
  against the winner's server, which stops when the winner's run ends.

Starting the server ourselves, before the flow, under an exclusive lock
beside the database, runs those start-ups one at a time: the next process
migrates nothing and picks its port only after the previous server is bound
to its own. Prefect then reuses this process's server for the flow.
"""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock

# Prefect's default (20 s) is short for a server starting beside busy runs.
STARTUP_TIMEOUT_SECONDS = 120


def start_temporary_server() -> None:
    """Start this process's temporary Prefect server, one process at a time.

    Does nothing when `PREFECT_API_URL` names a server or temporary servers
    are turned off (`PREFECT_SERVER_ALLOW_EPHEMERAL_MODE=false`).
    """
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    if settings.api.url or not settings.server.ephemeral.enabled:
        return
    from prefect.server.api.server import SubprocessASGIServer

    timeout = max(
        settings.server.ephemeral.startup_timeout_seconds, STARTUP_TIMEOUT_SECONDS
    )
    lock_path = _lock_path(settings)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(lock_path):  # exclusive, waits as long as it takes
        # The same instance Prefect's clients look up later (port None).
        SubprocessASGIServer().start(timeout=timeout)


def _lock_path(settings) -> Path:
    """A lock file beside the SQLite database, else in `PREFECT_HOME`."""
    from sqlalchemy.engine import make_url

    url = settings.server.database.connection_url
    url = make_url(url.get_secret_value() if url is not None else "sqlite://")
    database = url.database or ""
    if url.get_backend_name() == "sqlite" and database and "memory" not in database:
        path = Path(database).expanduser()
        return path.with_name(f".{path.name}.automl-start.lock")
    return Path(settings.home).expanduser() / ".automl-server-start.lock"
