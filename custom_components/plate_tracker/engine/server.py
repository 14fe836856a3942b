"""The engine as an HTTP service, for a Home Assistant that cannot run it itself.

Home Assistant OS and the official container are Alpine (musl) images, for
which onnxruntime publishes no wheels. There the integration sends each image
to this server, run on any glibc machine or container that can reach it
(``scripts/engine serve``: the engine's command line without Home Assistant), and gets back
what the engine would have returned in process, plate crops included.

``POST /v1/read`` takes the image as the body; the query may give ``box``
(the vehicle's ``x1,y1,x2,y2``), ``hint`` (where the plate likely is, the same
way: its place in an earlier frame of the pass; a server older than ``hint``
ignores it) and ``regions`` (``ua,eu,...``, in priority order). Boxes are taken
as the engine in Home Assistant takes them: a vehicle box that leaves too little
of itself inside the image reads nothing, a hint that does is not used.
``GET /v1/health`` says the server is up and which regions it reads by
default. With a token set, both need ``Authorization: Bearer <token>``.
Each loaded recognizer (``--workers``, one by default) reads one image at a
time on a worker thread of its own; on 2 cores, 2 workers of 1 thread each
read about a fifth more full frames and a quarter more vehicle boxes per
second than 1 worker of 2 threads (``bench --workers``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
import hmac
import logging
import queue
from typing import Any

from aiohttp import web

from .formats import FORMATS
from .imaging import ImageError
from .recognizer import PlateRecognizer
from .types import Box, FrameResult

_LOGGER = logging.getLogger(__name__)

API_VERSION = 1
MAX_IMAGE_BYTES = 30 * 1024 * 1024
"""Largest image body accepted (the integration's own services take as much)."""
KNOWN_REGIONS = tuple(dict.fromkeys(plate_format.region for plate_format in FORMATS))
"""Regions the engine has plate formats for: what a request may ask for."""
BODY_TIMEOUT_SECONDS = 30.0
"""Time an image's upload may take; a stalled one is answered 408 and gives up its
place among the waiting reads (a hung client must not fill them all)."""
MAX_WAITING_READS = 8
"""Reads queued behind the running ones; more are refused (503) rather than held in
memory: at 0.1-0.5 s a read, a deeper queue answers too late to be of use."""
HEAD_TIMEOUT_SECONDS = 10.0
"""Time a new connection has to send its first request's line and headers, or it is
hung up on. Aiohttp sets none: each connection that never sent one (a port scanner,
a broken proxy, an attack) held a socket for good, and enough of them left the
server unable to accept Home Assistant's reads."""
KEEPALIVE_SECONDS = 75.0
"""Time an idle connection is kept for the client's next request (aiohttp's
``run_app`` default); a next request's head must arrive within it too."""

_READERS: web.AppKey[_Readers] = web.AppKey("readers")
_TOKEN: web.AppKey[str | None] = web.AppKey("token")
_WORKER: web.AppKey[ThreadPoolExecutor] = web.AppKey("worker")
_WAITING: web.AppKey[list[int]] = web.AppKey("waiting")
_STARTED: web.AppKey[set[object]] = web.AppKey("started")
"""Connections (aiohttp's request handlers) that have sent a whole request head."""


class _Readers:
    """Loaded recognizers, each reading one image at a time on a worker thread."""

    def __init__(self, recognizers: Sequence[PlateRecognizer]) -> None:
        self.count = len(recognizers)
        self.regions = recognizers[0].regions
        self._free: queue.SimpleQueue[PlateRecognizer] = queue.SimpleQueue()
        for recognizer in recognizers:
            self._free.put(recognizer)
        self._twins: dict[tuple[int, tuple[str, ...]], PlateRecognizer] = {}

    def read(
        self,
        image: bytes,
        box: Box | None,
        regions: tuple[str, ...] | None,
        hint: Box | None = None,
    ) -> FrameResult:
        """Read on a free recognizer (in a worker thread), in ``regions`` if given."""
        recognizer = self._free.get()
        try:
            reader = recognizer
            if regions is not None and regions != recognizer.regions:
                key = (id(recognizer), regions)
                if key not in self._twins:
                    self._twins[key] = recognizer.for_regions(regions)
                reader = self._twins[key]
            return reader.read(image, box, hint)
        finally:
            self._free.put(recognizer)


def create_app(
    *recognizers: PlateRecognizer, token: str | None = None
) -> web.Application:
    """Return the server's application around loaded recognizers: as many reads at once."""
    app = web.Application(
        client_max_size=MAX_IMAGE_BYTES,
        middlewares=[_note_started, _errors_as_json, _authorized],
    )
    app[_READERS] = _Readers(recognizers)
    app[_TOKEN] = token or None
    app[_WAITING] = [0]
    app[_STARTED] = set()
    app[_WORKER] = ThreadPoolExecutor(
        max_workers=len(recognizers), thread_name_prefix="plate-engine"
    )
    app.router.add_get("/v1/health", _health)
    app.router.add_post("/v1/read", _read)
    app.on_cleanup.append(_stop_worker)
    return app


async def _stop_worker(app: web.Application) -> None:
    app[_WORKER].shutdown(wait=True, cancel_futures=True)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


@web.middleware
async def _note_started(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    """Note that the request's connection sent a head: it is not hung up on for silence."""
    request.app[_STARTED].add(request.protocol)
    response: web.StreamResponse = await handler(request)
    return response


@web.middleware
async def _errors_as_json(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    """Every failure answers JSON the client can name, never an HTML page."""
    try:
        response: web.StreamResponse = await handler(request)
    except web.HTTPRequestEntityTooLarge:
        return _error(
            413, "too_large", f"images are limited to {MAX_IMAGE_BYTES} bytes"
        )
    except web.HTTPException as err:
        return _error(err.status, "http_error", err.reason)
    except Exception as err:
        # A fault of the engine, not of the image: logged here, a 500 there.
        _LOGGER.exception("Read failed")
        return _error(500, "engine_error", f"{type(err).__name__}: {err}")
    return response


@web.middleware
async def _authorized(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    token = request.app[_TOKEN]
    if token is not None:
        # aiohttp decodes headers as UTF-8 with surrogateescape: encoding them
        # back the same way gives the bytes sent, whatever they were.
        given = request.headers.get("Authorization", "").encode(
            "utf-8", "surrogateescape"
        )
        if not hmac.compare_digest(given, f"Bearer {token}".encode()):
            return _error(401, "unauthorized", "a valid bearer token is required")
    response: web.StreamResponse = await handler(request)
    return response


async def _health(request: web.Request) -> web.Response:
    readers = request.app[_READERS]
    return web.json_response(
        {
            "status": "ok",
            "api": API_VERSION,
            "workers": readers.count,
            "regions": list(readers.regions),
            "known_regions": list(KNOWN_REGIONS),
        }
    )


async def _read(request: web.Request) -> web.Response:
    try:
        box = parse_box(request.query.get("box"))
        hint = parse_box(request.query.get("hint"), name="hint")
        regions = parse_regions(request.query.get("regions"))
    except ValueError as err:
        return _error(400, "invalid_request", str(err))
    waiting = request.app[_WAITING]
    if waiting[0] >= MAX_WAITING_READS + request.app[_READERS].count:
        return _error(503, "busy", f"{waiting[0]} reads are already waiting")
    # Counted before the body arrives: requests coming together all see it.
    waiting[0] += 1
    try:
        image = await _body_in_time(request)
        if image is None:
            response = _error(
                408,
                "timeout",
                f"the image did not arrive within {BODY_TIMEOUT_SECONDS:g} s",
            )
            # The rest of the body may never come: the connection is not kept.
            response.force_close()
            return response
        if not image:
            return _error(400, "invalid_image", "the request body holds no image")
        result = await asyncio.get_running_loop().run_in_executor(
            request.app[_WORKER],
            request.app[_READERS].read,
            image,
            box,
            regions,
            hint,
        )
    except ImageError as err:
        return _error(400, "invalid_image", str(err))
    except web.RequestPayloadError as err:
        # Aiohttp inflates a gzip or deflate body itself: one that does not
        # inflate, or inflates past the limit, is the client's fault, not the engine's.
        response = _error(
            400, "invalid_image", f"the image could not be received: {err}"
        )
        response.force_close()
        return response
    finally:
        waiting[0] -= 1
    return web.json_response(result.to_dict(with_crops=True))


async def _body_in_time(request: web.Request) -> bytes | None:
    """Return the request's body, or None when it did not arrive within BODY_TIMEOUT_SECONDS."""
    try:
        async with asyncio.timeout(BODY_TIMEOUT_SECONDS):
            return await request.read()
    except TimeoutError:
        return None


def parse_box(text: str | None, *, name: str = "box") -> Box | None:
    """``x1,y1,x2,y2`` in pixels, or None; ValueError for anything but four integers.

    Where the box lies is the recognizer's to judge, as for a box given in
    Home Assistant: an inverted or empty box, or one outside the image, reads
    nothing; such a hint is not used. Refused here, it made a working server
    look dead to the client.
    """
    if not text:
        return None
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"{name} {text!r} is not four integers") from None
    if len(values) != 4:
        raise ValueError(f"{name} {text!r} is not four integers x1,y1,x2,y2")
    return (values[0], values[1], values[2], values[3])


def parse_regions(text: str | None) -> tuple[str, ...] | None:
    """Regions in priority order, or None for the server's own; ValueError for unknown ones."""
    if not text:
        return None
    regions = tuple(
        dict.fromkeys(part.strip() for part in text.split(",") if part.strip())
    )
    unknown = [region for region in regions if region not in KNOWN_REGIONS]
    if unknown or not regions:
        raise ValueError(f"regions {text!r}: use some of {','.join(KNOWN_REGIONS)}")
    return regions


def serve(
    recognizers: Sequence[PlateRecognizer],
    *,
    host: str,
    port: int,
    token: str | None,
    print_fn: Callable[[str], None] = print,
) -> None:
    """Serve until interrupted (Ctrl+C or SIGTERM)."""
    app = create_app(*recognizers, token=token)
    with suppress(web.GracefulExit, KeyboardInterrupt):
        asyncio.run(_serve_until_stopped(app, host, port, print_fn))


async def _serve_until_stopped(
    app: web.Application, host: str, port: int, print_fn: Callable[[str], None]
) -> None:
    runner = await start_server(app, host=host, port=port, handle_signals=True)
    print_fn(f"Serving on http://{host}:{port} (Ctrl+C to stop)")
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


async def start_server(
    app: web.Application, *, host: str, port: int, handle_signals: bool = False
) -> web.AppRunner:
    """Start serving ``app`` (from ``create_app``); ``cleanup()`` on the runner stops it.

    ``web.run_app`` is not used: a connection that sends no request head
    within HEAD_TIMEOUT_SECONDS is hung up on here, which needs the server's
    list of connections.
    """
    runner = web.AppRunner(
        app,
        access_log=None,
        handle_signals=handle_signals,
        keepalive_timeout=KEEPALIVE_SECONDS,
    )
    guards: list[asyncio.Task[None]] = []

    async def stop_guard(_: web.Application) -> None:
        for guard in guards:
            guard.cancel()

    app.on_shutdown.append(stop_guard)
    await runner.setup()
    if runner.server is not None:
        guards.append(
            asyncio.create_task(
                _hang_up_on_silent_connections(runner.server, app[_STARTED])
            )
        )
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


async def _hang_up_on_silent_connections(
    server: web.Server, started: set[object]
) -> None:
    """Close connections that sent no request head within HEAD_TIMEOUT_SECONDS, for good.

    Connections that sent one are aiohttp's to keep or close (KEEPALIVE_SECONDS),
    and a body that does not arrive is answered 408 (BODY_TIMEOUT_SECONDS).
    """
    loop = asyncio.get_running_loop()
    opened: dict[object, float] = {}
    while True:
        await asyncio.sleep(HEAD_TIMEOUT_SECONDS / 4)
        now = loop.time()
        connections = server.connections
        # Seen first at this pass at the latest: hung up on within 1.25 x the time.
        opened = {connection: opened.get(connection, now) for connection in connections}
        started.intersection_update(connections)
        for connection in connections:
            if (
                connection not in started
                and now - opened[connection] >= HEAD_TIMEOUT_SECONDS
            ):
                connection.force_close()
