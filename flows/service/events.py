"""The `automl.data.landed` event: sent with Prefect's `emit_event`, confirmed.

`emit_event` hands an event to Prefect's background events worker and returns
at once; whether it reached the server, the worker only logs. So an event
counts as sent here once the API returns it by its id (`POST /events/filter`),
which the server's event persister makes true within its flush interval
(`PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL`, 5 s by default).

A resend keeps the event's id: the server stores an id once, and its
triggers skip an id they have already seen, so a change whose first send did
get through still starts one retrain, not two.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from uuid import UUID, uuid4

from tasks.errors import AutoMLError

DATA_LANDED = "automl.data.landed"
# Longer than the persister's flush interval, with room for a busy server.
CONFIRM_SECONDS = 30.0
# Seconds between tries while the API is down: quick at first, then steady.
RETRY_SECONDS = (1.0, 2.0, 4.0, 8.0, 10.0)

logger = logging.getLogger(__name__)


class EventNotDelivered(AutoMLError):
    """Prefect's API did not answer, or did not store an event sent to it."""


def dataset_resource(name: str) -> str:
    """The Prefect event resource id that stands for one pipeline's dataset."""
    return f"automl.dataset.{name}"


def emit_data_landed(
    name: str,
    path: str | Path,
    event_id: UUID | None = None,
    timeout: float = CONFIRM_SECONDS,
) -> str:
    """Send one `automl.data.landed` event; return its id once the API has it.

    Args:
        name: the pipeline; the event's resource is its dataset, which the
            deployment's trigger matches.
        path: where the new data landed (sent resolved, as `automl.path`).
        event_id: the id to send under; a retry passes the first try's id.
        timeout: seconds to wait for the API to store the event.

    Raises:
        EventNotDelivered: the API did not answer or did not store the event.
    """
    from prefect.client.orchestration import get_client
    from prefect.events import emit_event

    event_id = event_id or uuid4()
    with get_client(sync_client=True) as client:
        url = client.api_url
        error = client.api_healthcheck()
        if error is not None:
            raise EventNotDelivered(
                f"Received no answer from Prefect's API at {url} ({_describe(error)}); "
                "expected it to take the event. Check that the server is running."
            )
        if _stored(client, event_id):
            return str(event_id)  # an earlier try got through after all
        event = emit_event(
            DATA_LANDED,
            resource={
                "prefect.resource.id": dataset_resource(name),
                "prefect.resource.name": name,
                "automl.path": str(Path(path).resolve()),
            },
            payload={"host": os.uname().nodename},
            id=event_id,
        )
        if event is None:
            raise EventNotDelivered(
                f"Received no event from Prefect's emit_event for {name}; expected "
                "Prefect to send events. Set PREFECT_API_URL to a Prefect server."
            )
        _wait_stored(client, event_id, timeout, url)
    return str(event_id)


def _stored(client, event_id: UUID) -> bool:
    from prefect.events.filters import EventFilter, EventIDFilter

    # limit: Prefect 3.8 client asks for 100 by default, its server allows 50.
    only = EventFilter(id=EventIDFilter(id=[event_id]))
    page = client.read_events(filter=only, limit=1)
    return any(event.id == event_id for event in page.events)


def _wait_stored(client, event_id: UUID, timeout: float, url) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if _stored(client, event_id):
                return
        except Exception as error:  # the API went away while we waited
            raise EventNotDelivered(
                f"Received no answer from Prefect's API at {url} while confirming "
                f"event {event_id} ({_describe(error)}); expected it to store it."
            ) from error
        if time.monotonic() > deadline:
            raise EventNotDelivered(
                f"Received no stored event {event_id} from Prefect's API at {url} "
                f"within {timeout:.0f} s; expected its event persister to store it. "
                "Check the server's log."
            )
        time.sleep(0.5)


class DataLandedSender:
    """Sends each change's event until the API has it, logging each failed try.

    A brief outage of Prefect's API delays the event; it neither drops it nor
    sends it twice (every try of one change keeps one event id).

    Args:
        stop: set it to give up waiting (the sender then returns `None`).
        retry_seconds: waits between tries; the last one repeats.
        timeout: seconds each try waits for the API to store the event.
    """

    def __init__(
        self,
        stop: threading.Event | None = None,
        retry_seconds: tuple[float, ...] = RETRY_SECONDS,
        timeout: float = CONFIRM_SECONDS,
    ):
        self.stop = stop or threading.Event()
        self.retry_seconds = retry_seconds
        self.timeout = timeout

    def __call__(self, name: str, path: str | Path) -> str | None:
        """Send the event for new data of `name` at `path`; its id, once stored."""
        event_id = uuid4()
        tries = 0
        while True:
            try:
                return emit_data_landed(name, path, event_id, self.timeout)
            except Exception as error:  # never end the watch: log it and retry
                wait = self.retry_seconds[min(tries, len(self.retry_seconds) - 1)]
                tries += 1
                logger.warning(
                    "Could not send %s for %s (%s), try %d: %s. Retrying in %.0f s "
                    "with the same event id, until Prefect's API takes it.",
                    DATA_LANDED,
                    name,
                    path,
                    tries,
                    _describe(error),
                    wait,
                )
            if self.stop.wait(wait):
                return None


def _describe(error: BaseException) -> str:
    text = str(error).rstrip(".")
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
