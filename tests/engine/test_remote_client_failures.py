"""The engine server's client and server against a hung, dead or hostile other side.

Real HTTP on loopback: a fake server where only its answers matter, the real
engine server where its handling of bodies does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
import gzip
import time

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
import pytest

from custom_components.plate_tracker.engine import (
    PlateRecognizer,
    remote as remote_module,
)
from custom_components.plate_tracker.engine.remote import (
    EngineUnavailableError,
    RemoteEngine,
)
from custom_components.plate_tracker.engine.server import MAX_IMAGE_BYTES, create_app

from ..synthetic import scene_jpeg

pytestmark = [pytest.mark.enable_socket, pytest.mark.usefixtures("socket_enabled")]

EMPTY_READ = {"width": 640, "height": 480, "seconds": 0.1, "plates": []}
TIMEOUT = 0.3


class FakeEngineServer:
    """Answers reads with an empty result, or hangs on them while ``hung``."""

    def __init__(self) -> None:
        """Count the requests; start answering."""
        self.requests = 0
        self.authorization: list[str | None] = []
        self.hung = False
        self._release = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_post("/v1/read", self._read)
        self.server = TestServer(self.app, host="127.0.0.1")

    async def _read(self, request: web.Request) -> web.Response:
        self.requests += 1
        self.authorization.append(request.headers.get("Authorization"))
        await request.read()
        if self.hung:
            await self._release.wait()
        return web.json_response(EMPTY_READ)

    def url(self, userinfo: str = "") -> str:
        """Return the address a client is given."""
        return f"http://{userinfo}127.0.0.1:{self.server.port}"

    async def close(self) -> None:
        """Let hung requests end, then stop."""
        self._release.set()
        await self.server.close()


@pytest.fixture
async def fake_server() -> AsyncGenerator[FakeEngineServer]:
    """Start a fake engine server on loopback; closed after the test."""
    server = FakeEngineServer()
    await server.server.start_server()
    yield server
    await server.close()


@pytest.fixture
async def session() -> AsyncGenerator[aiohttp.ClientSession]:
    """Open a client session, closed after the test."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session


async def _timed_read(remote: RemoteEngine) -> float:
    """Return how long a read took to fail as EngineUnavailableError."""
    started = time.monotonic()
    with pytest.raises(EngineUnavailableError):
        await remote.read(b"\xff\xd8 image")
    return time.monotonic() - started


async def test_a_read_that_timed_out_is_not_sent_again(
    fake_server: FakeEngineServer, session: aiohttp.ClientSession
) -> None:
    """A hung server made every frame wait twice the time-out, and read it twice.

    The retry is for a keep-alive connection the server dropped; a read that
    timed out was sent, and the server (still working on it, or hung) gets it
    again while the frame's sighting, and a police alert, wait another 30 s.
    """
    fake_server.hung = True
    remote = RemoteEngine(session, fake_server.url(), read_timeout=TIMEOUT)
    took = await _timed_read(remote)
    assert fake_server.requests == 1
    assert took < 2 * TIMEOUT


async def test_reads_fail_at_once_while_the_server_is_down(
    fake_server: FakeEngineServer,
    session: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Once the server is down, a frame does not wait out the time-out; one read now and then tries it.

    Every frame of a hung server waited the whole time-out: the queue filled,
    Frigate's frames were dropped with the plates the NVR read, and a listed
    plate's alert waited behind them. The pipeline keeps the NVR's reads of an
    unread frame and asks its NVR again once the engine answers.
    """
    monkeypatch.setattr(remote_module, "DOWN_RETRY_SECONDS", 0.5)
    fake_server.hung = True
    remote = RemoteEngine(session, fake_server.url(), read_timeout=TIMEOUT)
    for _ in range(3):
        await _timed_read(remote)
    assert remote.connection.available is False
    reason = remote.connection.last_error
    sent = fake_server.requests

    took = await _timed_read(remote)
    assert took < TIMEOUT / 3
    assert fake_server.requests == sent
    # The outage's reason and count stay as the server's failures left them.
    assert remote.connection.last_error == reason
    assert remote.connection.consecutive_failures == 3

    await asyncio.sleep(0.5)
    trying = asyncio.create_task(_timed_read(remote))
    await asyncio.sleep(TIMEOUT / 3)
    # While one read tries the server, the others do not wait with it.
    assert await _timed_read(remote) < TIMEOUT / 3
    await trying
    assert fake_server.requests == sent + 1

    fake_server.hung = False
    await asyncio.sleep(0.5)
    assert (await remote.read(b"\xff\xd8 image")).plates == ()
    # Up again (``available`` is narrowed to False above, for mypy).
    assert remote.connection.consecutive_failures == 0
    assert remote.connection.last_error is None
    assert fake_server.requests == sent + 2


async def test_a_password_in_the_address_stays_out_of_errors(
    fake_server: FakeEngineServer, session: aiohttp.ClientSession
) -> None:
    """A proxy's login in the address was shown in repair issues, service errors and logs.

    It still reaches the proxy.
    """
    url = fake_server.url("police:s3cret@")
    remote = RemoteEngine(session, url)
    await remote.read(b"\xff\xd8 image")
    assert fake_server.authorization == [aiohttp.BasicAuth("police", "s3cret").encode()]
    assert "s3cret" not in remote.url
    await fake_server.server.close()
    with pytest.raises(EngineUnavailableError) as caught:
        await remote.read(b"\xff\xd8 image")
    assert "s3cret" not in str(caught.value)
    assert "s3cret" not in caught.value.url
    assert caught.value.url == remote.url


@pytest.mark.parametrize(
    ("userinfo", "token"),
    [("police:s3cret@", "engine-token"), ("", "engine\ntoken")],
    ids=["login-and-token", "newline-in-token"],
)
async def test_settings_that_cannot_be_sent_are_a_clear_engine_error(
    fake_server: FakeEngineServer,
    session: aiohttp.ClientSession,
    userinfo: str,
    token: str,
) -> None:
    """Aiohttp refused them with a ValueError: every frame counted as a bad image.

    The options check crashed ("Unknown error") and setup failed unexpectedly.
    """
    remote = RemoteEngine(session, fake_server.url(userinfo), token=token)
    for call in (remote.health(), remote.read(b"\xff\xd8 image")):
        with pytest.raises(EngineUnavailableError) as caught:
            await call
        assert "s3cret" not in str(caught.value)
    assert fake_server.requests == 0


@pytest.mark.parametrize(
    "body",
    [b"not gzip at all", gzip.compress(b"\0" * 2 * MAX_IMAGE_BYTES)],
    ids=["corrupt", "bomb"],
)
async def test_a_compressed_body_that_cannot_be_read_is_refused_not_an_engine_fault(
    recognizer: PlateRecognizer,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
) -> None:
    """Aiohttp inflates gzip bodies; a broken or oversized one was a 500 "engine_error" with a trace.

    A client that counted it saw a dead engine; the server's log an engine fault.
    """
    server = TestServer(create_app(recognizer), host="127.0.0.1")
    await server.start_server()
    try:
        async with session.post(
            f"http://127.0.0.1:{server.port}/v1/read",
            data=body,
            headers={"Content-Encoding": "gzip"},
        ) as response:
            answer = await response.json()
            assert response.status in (400, 413)
        assert answer["error"] in ("invalid_image", "too_large")
        assert "Read failed" not in caplog.text
        # The server reads the next image as ever.
        remote = RemoteEngine(session, f"http://127.0.0.1:{server.port}")
        assert (await remote.read(scene_jpeg("AE1234BK"))).plates
    finally:
        await server.close()
