"""A failing listener of the engine server's health costs no read and hides no outage."""

from __future__ import annotations

import aiohttp
import pytest

from custom_components.plate_tracker.engine.remote import (
    EngineUnavailableError,
    RemoteEngine,
)
from custom_components.plate_tracker.sources.health import FAILURES_UNTIL_UNAVAILABLE

from .engine.test_remote_client_failures import FakeEngineServer, fake_server, session  # noqa: F401 - fixtures

pytestmark = [pytest.mark.enable_socket, pytest.mark.usefixtures("socket_enabled")]


class FailingListener:
    """A health listener that raises, as a repair issue's update might."""

    def __init__(self) -> None:
        """Count the calls."""
        self.calls = 0

    def __call__(self) -> None:
        """Fail every time."""
        self.calls += 1
        raise RuntimeError("the repair issue could not be updated")


async def test_a_failing_health_listener_does_not_throw_away_a_good_read(
    fake_server: FakeEngineServer,  # noqa: F811 - the fixture imported above
    session: aiohttp.ClientSession,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The read the server answered must reach the pipeline, whatever the listener does.

    The listener's error (raised when the server first answers, or answers
    again after an outage) came out of the request instead of the read: the
    frame was taken for one the engine failed on, and only the NVR's own
    read of it, if any, was stored.
    """
    listener = FailingListener()
    remote = RemoteEngine(session, fake_server.url(), on_health_change=listener)

    result = await remote.read(b"\xff\xd8 image")

    assert result.width == 640
    assert listener.calls == 1
    assert remote.connection.available is True
    assert "Reporting the engine server's state failed" in caplog.text


async def test_a_failing_health_listener_does_not_hide_the_outage(
    session: aiohttp.ClientSession,  # noqa: F811 - the fixture imported above
    unused_tcp_port: int,
) -> None:
    """A server that is down must still be ``EngineUnavailableError``.

    The listener's ``RuntimeError`` took its place: the pipeline tells an
    engine outage from a broken frame by it, and keeps the NVR's own read of a
    frame only when the engine is unavailable.
    """
    listener = FailingListener()
    remote = RemoteEngine(
        session, f"http://127.0.0.1:{unused_tcp_port}", on_health_change=listener
    )

    for _ in range(FAILURES_UNTIL_UNAVAILABLE):
        with pytest.raises(EngineUnavailableError):
            await remote.read(b"\xff\xd8 image")

    assert listener.calls == 1
    assert remote.connection.available is False
