"""Client of the engine server (``server.py``): the same reads, from another machine.

``RemoteEngine.read`` answers like ``PlateRecognizer.read``: a ``FrameResult``,
or ``ImageError`` (a ``ValueError``) for an image the engine refuses. A server
that cannot be reached, times out, refuses the token, breaks off or answers
nonsense raises ``EngineUnavailableError`` instead, so the caller can tell a bad
image from a dead engine. A request the server refuses as such (a query it does
not take, say a region only a newer server knows) raises ``EngineRequestError``,
a ``ValueError`` too: the server works, this frame cannot be read there.

Once the server is down (``connection``), requests raise at once and one every
``DOWN_RETRY_SECONDS`` tries the server: with a hung server every frame waited
out the time-out, and the frames behind it, with the plates their NVR read,
waited or were dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import json
import logging
import time
from typing import Any

import aiohttp
from yarl import URL

from ..sources.health import ConnectionHealth
from .imaging import ImageError
from .types import Box, FrameResult

_LOGGER = logging.getLogger(__name__)

READ_TIMEOUT_SECONDS = 30.0
"""A read of a large frame takes about 0.5 s; a queue of them at the server, longer."""
HEALTH_TIMEOUT_SECONDS = 10.0
ATTEMPTS = 2
"""A dropped keep-alive connection fails one request; the second gets a new one.
A request that timed out is not sent again: the server has it, or is hung."""
DOWN_RETRY_SECONDS = 30.0
"""While the server is down, how often a request tries it (the others fail at once)."""
MAX_ANSWER_BYTES = 16 * 1024 * 1024
"""A read's answer is a few plates with their crops: far less. A larger one is
not the engine server (a camera stream at that address, say), and is not held."""


class EngineUnavailableError(Exception):
    """The engine server did not give a usable answer."""

    def __init__(self, url: str, reason: str, *, unauthorized: bool = False) -> None:
        """Keep which server, why, and whether it was the token."""
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.unauthorized = unauthorized


class EngineRequestError(ValueError):
    """The engine server refused the request's query (``400 invalid_request``); the message says why."""


class RemoteEngine:
    """Reads plates on an engine server; one instance per Home Assistant entry."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        *,
        token: str | None = None,
        regions: Sequence[str] | None = None,
        read_timeout: float = READ_TIMEOUT_SECONDS,
        on_health_change: Callable[[], None] | None = None,
    ) -> None:
        """``url`` is the server's base address, e.g. ``http://engine:8790``.

        ``on_health_change`` is called when the server goes down or comes back
        (``connection`` says which), from the event loop the requests run on.
        """
        self.connection = ConnectionHealth()
        self._on_health_change = on_health_change
        self._session = session
        self._base = URL(url.rstrip("/") + "/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._regions = ",".join(regions) if regions else None
        self._read_timeout = read_timeout
        self._unsendable = _unsendable_setting(self._base, token)
        self._retry_at = 0.0
        """While down: the monotonic time from which a request tries the server again."""
        self._trying = False

    @property
    def url(self) -> str:
        """The server's base address, without a password it holds (shown in issues and logs)."""
        return str(self._base.with_password(None))

    async def health(self) -> dict[str, Any]:
        """Return the server's health answer; EngineUnavailableError when it has none."""
        return await self._request(
            "GET", "v1/health", HEALTH_TIMEOUT_SECONDS, _health_answer
        )

    async def read(
        self,
        image: bytes,
        vehicle_box: Box | None = None,
        plate_hint: Box | None = None,
    ) -> FrameResult:
        """Read ``image`` on the server, as ``PlateRecognizer.read`` would here."""
        params: dict[str, str] = {}
        if vehicle_box is not None:
            params["box"] = ",".join(str(int(value)) for value in vehicle_box)
        if plate_hint is not None:
            params["hint"] = ",".join(str(int(value)) for value in plate_hint)
        if self._regions:
            params["regions"] = self._regions
        return await self._request(
            "POST",
            "v1/read",
            self._read_timeout,
            FrameResult.from_dict,
            params=params,
            data=image,
        )

    async def _request[T](
        self,
        method: str,
        path: str,
        seconds: float,
        parse: Callable[[Any], T],
        **send: Any,
    ) -> T:
        """Return ``parse`` of the server's JSON answer, keeping ``connection`` up to date.

        A refused image or request is an answer (the server works); an answer
        ``parse`` finds malformed is not. While the server is down, only one
        request every DOWN_RETRY_SECONDS is sent; the others fail at once,
        leaving the outage's reason and count as they are.
        """
        trying = self.connection.available is False
        if trying:
            if self._trying or time.monotonic() < self._retry_at:
                raise EngineUnavailableError(
                    self.url,
                    f"still unavailable: {self.connection.last_error}",
                    unauthorized=self.connection.auth_failed,
                )
            self._trying = True
        try:
            answer = await self._answer(method, path, seconds, send)
            try:
                result = parse(answer)
            except ValueError as err:
                raise EngineUnavailableError(self.url, str(err)) from err
        except EngineUnavailableError as err:
            self._health_changed(
                self.connection.failed(err.reason, auth=err.unauthorized)
            )
            if self.connection.available is False:
                self._retry_at = time.monotonic() + DOWN_RETRY_SECONDS
            raise
        except (ImageError, EngineRequestError):
            self._health_changed(self.connection.succeeded())
            raise
        finally:
            if trying:
                self._trying = False
        self._health_changed(self.connection.succeeded())
        return result

    def _health_changed(self, changed: bool) -> None:
        if changed and self._on_health_change is not None:
            try:
                self._on_health_change()
            except Exception:
                # The listener's failure is its own: the read the server gave
                # stands, and an outage stays EngineUnavailableError.
                _LOGGER.exception("Reporting the engine server's state failed")

    async def _answer(
        self, method: str, path: str, seconds: float, send: dict[str, Any]
    ) -> Any:
        if self._unsendable is not None:
            raise EngineUnavailableError(self.url, self._unsendable)
        last: Exception | None = None
        for _ in range(ATTEMPTS):
            try:
                async with self._session.request(
                    method,
                    self._base.join(URL(path)),
                    headers={
                        **self._headers,
                        "Content-Type": "application/octet-stream",
                    },
                    timeout=aiohttp.ClientTimeout(total=seconds),
                    **send,
                ) as response:
                    body = await read_at_most(response.content, MAX_ANSWER_BYTES)
                    if len(body) > MAX_ANSWER_BYTES:
                        raise EngineUnavailableError(
                            self.url, f"answer larger than {MAX_ANSWER_BYTES} bytes"
                        )
                    return _json_of(self.url, response.status, body)
            except TimeoutError as err:
                raise EngineUnavailableError(
                    self.url, f"unreachable: no answer within {seconds:g} s"
                ) from err
            except aiohttp.ClientError as err:
                # Besides a refused connection: an answer broken off (the
                # server was stopped mid-read) or one that is no HTTP (another
                # service at the port).
                last = err
        how = (
            "unreachable"
            if isinstance(last, aiohttp.ClientConnectionError)
            else "broken answer"
        )
        raise EngineUnavailableError(
            self.url, f"{how}: {str(last) or type(last).__name__}"
        )


async def read_at_most(content: aiohttp.StreamReader, limit: int) -> bytes:
    """Return the whole body, or its first bytes past ``limit`` when it is larger.

    ``StreamReader.read(n)`` returns only what has arrived so far: a snapshot
    that came in several network packets was cut to its first one.
    """
    chunks: list[bytes] = []
    size = 0
    async for chunk in content.iter_any():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return b"".join(chunks)


def _unsendable_setting(base: URL, token: str | None) -> str | None:
    """Why the address and token cannot make a request (aiohttp would raise ValueError), or None."""
    if token and any(char in token for char in "\r\n"):
        return "the token holds a line break"
    if token and (base.user is not None or base.password is not None):
        # Both go in the one Authorization header: a proxy's login, the server's token.
        return "the address holds a login (user:password@), which cannot be sent with a token"
    return None


def _health_answer(answer: Any) -> dict[str, Any]:
    if not isinstance(answer, dict) or answer.get("status") != "ok":
        raise ValueError(f"unexpected health answer {answer!r}")
    return answer


def _json_of(url: str, status: int, body: bytes) -> Any:
    """Return the JSON of a 200 answer; raise the right error for any other."""
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError):
        answer = None
    message = answer.get("message") if isinstance(answer, dict) else None
    if status == 200 and answer is not None:
        return answer
    error = answer.get("error") if isinstance(answer, dict) else None
    if (status, error) in ((400, "invalid_image"), (413, "too_large")):
        raise ImageError(str(message))
    if (status, error) == (400, "invalid_request"):
        raise EngineRequestError(str(message))
    if status == 401:
        raise EngineUnavailableError(
            url, "the engine server refused the token", unauthorized=True
        )
    detail = message or body[:200].decode("utf-8", "replace")
    raise EngineUnavailableError(url, f"answered {status}: {detail}")
