"""The engine server (``scripts/engine serve``) hangs up on clients that never send a request."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
import socket
import subprocess
import sys
import textwrap
import time

import pytest

pytestmark = [pytest.mark.enable_socket, pytest.mark.usefixtures("socket_enabled")]

HEAD_TIMEOUT = 1.0
"""The server's time for a request head, shortened so the test takes seconds."""

# The real ``serve`` (its own event loop, as ``scripts/engine serve`` runs it), in a
# process of its own; the connection handling under test never reaches a
# recognizer, so one that only names its regions stands in for the models.
_SERVE = textwrap.dedent(
    """
    import sys
    from custom_components.plate_tracker.engine import server

    class Regions:
        regions = ("ua",)

    server.HEAD_TIMEOUT_SECONDS = {timeout}
    server.serve([Regions()], host="127.0.0.1", port={port}, token=None)
    """
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served_port() -> Generator[int]:
    """Run ``serve`` in a process of its own until the test ends; yield its port."""
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", _SERVE.format(timeout=HEAD_TIMEOUT, port=port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    _, errors = process.communicate()
                    pytest.fail(f"the server did not start: {errors.decode()}")
                time.sleep(0.2)
            else:
                break
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


async def _health(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"GET /v1/health HTTP/1.1\r\nHost: engine\r\nConnection: close\r\n\r\n"
    )
    await writer.drain()
    try:
        async with asyncio.timeout(10):
            return await reader.read()
    finally:
        writer.close()


async def test_a_client_that_never_finishes_its_request_is_hung_up_on(
    served_port: int,
) -> None:
    """A request head that never ends held its connection for good.

    Aiohttp sets no time for the head of a connection's first request: each
    such connection (a port scanner, a broken proxy, an attack) kept a socket
    and a file descriptor until the server stopped, and enough of them left
    it unable to accept Home Assistant's reads. Now each is closed after
    HEAD_TIMEOUT_SECONDS, and reads go on meanwhile.
    """
    silent = []
    for partial in (b"", b"POST /v1/read HTTP/1.1\r\nHost: engine\r\n"):
        reader, writer = await asyncio.open_connection("127.0.0.1", served_port)
        writer.write(partial)
        await writer.drain()
        silent.append((reader, writer))
    assert b'"status": "ok"' in await _health(served_port)
    started = time.monotonic()
    try:
        for reader, _ in silent:
            async with asyncio.timeout(HEAD_TIMEOUT * 10):
                assert await reader.read() == b""
    finally:
        for _, writer in silent:
            writer.close()
    assert time.monotonic() - started < HEAD_TIMEOUT * 10
    assert b'"status": "ok"' in await _health(served_port)
