"""`automl.data.landed` while Prefect's API does not answer: an error, or retries.

The API is a loopback port nobody listens on; the test with a real server
that goes down and comes back is `test_watch_outage.py`.
"""

import logging
import threading

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from flows.service.events import DataLandedSender, EventNotDelivered, emit_data_landed
from tests.helpers import free_port


@pytest.fixture
def api_down():
    url = f"http://127.0.0.1:{free_port()}/api"
    with temporary_settings(updates={PREFECT_API_URL: url}):
        yield url


def test_emit_to_an_api_that_is_down_says_so(api_down, tmp_path):
    with pytest.raises(EventNotDelivered, match="Received no answer from Prefect's"):
        emit_data_landed("tiny", tmp_path)


class _StopAfter(logging.Handler):
    """Collects warnings; sets `stop` once it has `count` of them."""

    def __init__(self, stop, count):
        super().__init__(logging.WARNING)
        self.stop, self.count, self.messages = stop, count, []

    def emit(self, record):
        self.messages.append(record.getMessage())
        if len(self.messages) >= self.count:
            self.stop.set()


def test_the_sender_logs_each_failed_try_and_keeps_trying(api_down, tmp_path):
    stop = threading.Event()
    handler = _StopAfter(stop, count=2)
    logger = logging.getLogger("flows.service.events")
    logger.addHandler(handler)
    try:
        sent = DataLandedSender(stop, retry_seconds=(0.01,))("tiny", tmp_path)
    finally:
        logger.removeHandler(handler)
    assert sent is None  # stopped while the API was down: nothing was sent
    assert len(handler.messages) == 2
    for number, message in enumerate(handler.messages, start=1):
        start = f"Could not send automl.data.landed for tiny ({tmp_path}), try {number}"
        assert message.startswith(start)
        assert api_down in message and "Retrying in" in message
