"""Frigate's HTTP API, on its open port 5000 and its authenticated port 8971 (plain Python).

A small fake Frigate runs on a real aiohttp server, so the login cookie is
parsed from a real ``Set-Cookie`` header, as Frigate sends it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from itertools import count

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
import pytest

from custom_components.plate_tracker.sources import frigate
from custom_components.plate_tracker.sources.frigate import (
    FrigateAuthError,
    FrigateClient,
    FrigateError,
    FrigateUnreachableError,
)

# The fake listens on 127.0.0.1; nothing leaves the machine.
pytestmark = [pytest.mark.enable_socket, pytest.mark.usefixtures("socket_enabled")]

SNAPSHOT = b"\xff\xd8 a jpeg \xff\xd9"
LARGE_SNAPSHOT = bytes(range(256)) * 4096
"""1 MiB, about a 1080p snapshot at quality 95."""


@dataclass
class FakeFrigate:
    """Frigate 0.14+: public /api/version and /api/login, everything else behind the JWT."""

    auth: bool = True
    """False for port 5000, which asks nobody to log in."""
    users: dict[str, str] = field(default_factory=lambda: {"police": "s3cret"})
    valid_tokens: set[str] = field(default_factory=set)
    logins: int = 0
    refused: int = 0
    event_list: bytes = b"[]"
    """What ``/api/events`` answers, as JSON text."""
    _numbers: count[int] = field(default_factory=count)

    def expire_tokens(self) -> None:
        """End every session, as Frigate does when a JWT expires or it restarts with a new secret."""
        self.valid_tokens.clear()

    async def version(self, _: web.Request) -> web.Response:
        """Answer the version to anyone, as Frigate does on both ports."""
        return web.Response(text="0.16.2-4d58206")

    async def login(self, request: web.Request) -> web.Response:
        """Check the JSON body and set the ``frigate_token`` cookie."""
        body = await request.json()
        if self.users.get(body.get("user")) != body.get("password"):
            self.refused += 1
            return web.json_response({"message": "Login failed"}, status=401)
        self.logins += 1
        token = f"jwt-{next(self._numbers)}"
        self.valid_tokens.add(token)
        response = web.Response(text="")
        response.set_cookie("frigate_token", token, httponly=True)
        return response

    def _authorised(self, request: web.Request) -> bool:
        if not self.auth:
            return True
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else ""
        token = token or request.cookies.get("frigate_token", "")
        return token in self.valid_tokens

    async def stats(self, request: web.Request) -> web.Response:
        """Need a login on the authenticated port."""
        if not self._authorised(request):
            return web.Response(status=401)
        return web.json_response({"service": {"version": "0.16.2"}})

    async def snapshot(self, request: web.Request) -> web.Response:
        """Return an event's snapshot to a logged-in client."""
        if not self._authorised(request):
            return web.Response(status=401)
        return web.Response(body=SNAPSHOT, content_type="image/jpeg")

    async def events(self, _: web.Request) -> web.Response:
        """Answer the event list as it is set (to a client that needs no login)."""
        return web.Response(body=self.event_list, content_type="application/json")

    async def large_snapshot(self, request: web.Request) -> web.StreamResponse:
        """Send LARGE_SNAPSHOT in packets, as a real network delivers a 1080p JPEG."""
        response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        await response.prepare(request)
        for start in range(0, len(LARGE_SNAPSHOT), 16 * 1024):
            await response.write(LARGE_SNAPSHOT[start : start + 16 * 1024])
            await asyncio.sleep(0)
        await response.write_eof()
        return response

    def app(self) -> web.Application:
        """Return the fake's routes."""
        app = web.Application()
        app.router.add_get("/api/events/large/snapshot.jpg", self.large_snapshot)
        app.router.add_get("/api/version", self.version)
        app.router.add_post("/api/login", self.login)
        app.router.add_get("/api/stats", self.stats)
        app.router.add_get("/api/events", self.events)
        app.router.add_get("/api/events/{event_id}/snapshot.jpg", self.snapshot)
        return app


type Connect = Callable[..., Awaitable[tuple[FakeFrigate, FrigateClient]]]


@pytest.fixture
async def connect() -> AsyncGenerator[Connect]:
    """Start a fake Frigate and return a client for it; both are closed after the test."""
    servers: list[TestServer] = []
    session = aiohttp.ClientSession()

    async def start(
        *, auth: bool = True, login: tuple[str, str] | None = None
    ) -> tuple[FakeFrigate, FrigateClient]:
        username, password = login or (None, None)
        fake = FakeFrigate(auth=auth)
        server = TestServer(fake.app(), host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        url = f"http://127.0.0.1:{server.port}"
        return fake, FrigateClient(session, url, username=username, password=password)

    yield start
    await session.close()
    for server in servers:
        await server.close()


async def test_open_port_needs_no_login(connect: Connect) -> None:
    """Port 5000 keeps working exactly as before: no login is attempted or needed."""
    fake, client = await connect(auth=False)
    assert await client.version() == "0.16.2-4d58206"
    await client.check_access()
    assert await client.event_snapshot("ev1") == SNAPSHOT
    assert fake.logins == 0


async def test_a_snapshot_that_arrives_in_packets_is_read_whole(
    connect: Connect,
) -> None:
    """A real snapshot comes in many packets; every byte of it must reach the engine.

    The client read only what had arrived when it first looked: a cut JPEG,
    which the engine refuses as truncated.
    """
    _, client = await connect(auth=False)
    assert await client.event_snapshot("large") == LARGE_SNAPSHOT


async def test_a_snapshot_over_the_limit_is_refused(
    connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The limit holds however the body arrives: a runaway answer is an error, not memory."""
    monkeypatch.setattr(frigate, "MAX_SNAPSHOT_BYTES", 100_000)
    _, client = await connect(auth=False)
    with pytest.raises(FrigateError, match="answer larger than 100000 bytes"):
        await client.event_snapshot("large")


async def test_login_once_then_token_on_every_request(connect: Connect) -> None:
    """One login serves many snapshots: Frigate rate-limits logins, and events come in bursts."""
    fake, client = await connect(login=("police", "s3cret"))
    await client.check_access()
    for _ in range(3):
        assert await client.event_snapshot("ev1") == SNAPSHOT
    assert fake.logins == 1


async def test_expired_token_logs_in_again_once(connect: Connect) -> None:
    """A session that ended (Frigate restarted, the JWT expired) must not stop the downloads."""
    fake, client = await connect(login=("police", "s3cret"))
    assert await client.event_snapshot("ev1") == SNAPSHOT
    fake.expire_tokens()
    assert await client.event_snapshot("ev2") == SNAPSHOT
    assert fake.logins == 2


async def test_wrong_password_is_an_auth_error(connect: Connect) -> None:
    """A refused login is told apart from a dead NVR, so the user is asked for the password."""
    fake, client = await connect(login=("police", "wrong"))
    # The version is public on both ports: it still tells a Frigate from a typo in the URL...
    assert await client.version() == "0.16.2-4d58206"
    assert fake.refused == 0
    # ...while everything else needs the login, and fails as an authentication error.
    with pytest.raises(FrigateAuthError):
        await client.check_access()
    assert fake.refused == 1


async def test_authenticated_port_without_login_is_an_auth_error(
    connect: Connect,
) -> None:
    """Port 8971 without a username says that a login is needed, not that Frigate is down."""
    _, client = await connect()
    with pytest.raises(FrigateAuthError, match="a login is needed"):
        await client.event_snapshot("ev1")


async def test_password_changed_while_running(connect: Connect) -> None:
    """When the password changes, the one retry fails and the error says the login was refused."""
    fake, client = await connect(login=("police", "s3cret"))
    await client.check_access()
    fake.users["police"] = "new password"
    fake.expire_tokens()
    with pytest.raises(FrigateAuthError):
        await client.event_snapshot("ev1")
    assert fake.refused == 1


async def test_nothing_listening_is_unreachable() -> None:
    """A dead NVR is reported as unreachable, which the source counts towards an outage."""
    async with aiohttp.ClientSession() as session:
        client = FrigateClient(session, "http://127.0.0.1:9", username="u")
        with pytest.raises(FrigateUnreachableError):
            await client.version()


async def test_event_list_keeps_only_events_with_an_id_and_a_camera(
    connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    """Entries the events topic could not carry are skipped, counted in one warning.

    Their id and camera are looked up in the store: an id that is a list
    raised TypeError there, a camera with a lone surrogate UnicodeEncodeError,
    and either ended the reading of every missed event.
    """
    fake, client = await connect(auth=False)
    fake.event_list = (
        b'[{"id": "e2", "camera": "gate"}, {"id": ["e"], "camera": "gate"},'
        b' {"id": {"a": 1}, "camera": "gate"}, {"id": "../e", "camera": "gate"},'
        b' {"id": "e3", "camera": "gate\\udc00"}, {"id": "e4", "camera": null},'
        b' "e5", {"id": "e1", "camera": "bridge"}]'
    )
    assert await client.ended_events(0, 1) == [
        {"id": "e1", "camera": "bridge"},
        {"id": "e2", "camera": "gate"},
    ]
    assert "Skipped 6 entries of Frigate's event list" in caplog.text
