"""The engine server and its client: real models, real HTTP on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
import io
import threading
import time
from unittest.mock import patch

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from PIL import Image
import pytest

from custom_components.plate_tracker.engine import (
    ImageError,
    PlateRecognizer,
    remote as remote_module,
    server as server_module,
)
from custom_components.plate_tracker.engine.remote import (
    EngineRequestError,
    EngineUnavailableError,
    RemoteEngine,
)
from custom_components.plate_tracker.engine.server import (
    MAX_IMAGE_BYTES,
    MAX_WAITING_READS,
    create_app,
    parse_box,
    parse_regions,
)
from custom_components.plate_tracker.engine.types import Box, FrameResult, PlateRead

from ..synthetic import scene_jpeg
from .test_imaging import DAMAGED_QOI

pytestmark = [pytest.mark.enable_socket, pytest.mark.usefixtures("socket_enabled")]

TOKEN = "s3cret-token"  # noqa: S105 - a test server's token
UA_PLATE = "AE1234BK"

type Start = Callable[..., Awaitable[tuple[str, aiohttp.ClientSession]]]


@pytest.fixture
async def start(recognizer: PlateRecognizer) -> AsyncGenerator[Start]:
    """Start an engine server (or any app) on loopback; closed after the test."""
    servers: list[TestServer] = []
    session = aiohttp.ClientSession()

    async def run(
        *, token: str | None = TOKEN, app: web.Application | None = None
    ) -> tuple[str, aiohttp.ClientSession]:
        server = TestServer(
            app if app is not None else create_app(recognizer, token=token),
            host="127.0.0.1",
        )
        await server.start_server()
        servers.append(server)
        return f"http://127.0.0.1:{server.port}", session

    yield run
    await session.close()
    for server in servers:
        await server.close()


async def test_remote_read_equals_the_local_read(
    start: Start, recognizer: PlateRecognizer
) -> None:
    """Home Assistant OS gets the same plates, boxes and crops as an in-process engine."""
    url, session = await start()
    image = scene_jpeg(UA_PLATE)
    remote = await RemoteEngine(session, url, token=TOKEN).read(image)
    local = recognizer.read(image)
    assert remote.plates[0].text == UA_PLATE
    assert [plate.text for plate in remote.plates] == [
        plate.text for plate in local.plates
    ]
    assert remote.plates[0].box == local.plates[0].box
    assert remote.plates[0].alternatives == tuple(
        (text, round(score, 4)) for text, score in local.plates[0].alternatives
    )
    crop = remote.plates[0].crop_jpeg
    assert crop is not None
    assert Image.open(io.BytesIO(crop)).format == "JPEG"
    assert (remote.width, remote.height) == (local.width, local.height)


async def test_vehicle_box_and_regions_reach_the_engine(start: Start) -> None:
    """A box outside the plate finds nothing; the same frame without it finds the plate."""
    url, session = await start()
    image = scene_jpeg(UA_PLATE)
    ukrainian = RemoteEngine(session, url, token=TOKEN, regions=["ua", "eu"])
    assert (await ukrainian.read(image)).plates[0].region == "ua"
    assert (await ukrainian.read(image, (0, 0, 40, 40))).plates == ()
    american = RemoteEngine(session, url, token=TOKEN, regions=["us"])
    assert (await american.read(image)).plates[0].region == "us"


async def test_a_plate_hint_reaches_the_engine(start: Start) -> None:
    """The region around the hint is read first, and the answer says it was enough."""
    url, session = await start()
    image = scene_jpeg(UA_PLATE)
    remote = RemoteEngine(session, url, token=TOKEN)
    first = await remote.read(image)
    assert not first.read_at_hint
    hinted = await remote.read(image, None, first.plates[0].box)
    assert hinted.plates[0].text == UA_PLATE
    assert hinted.read_at_hint


async def test_a_corrupt_image_is_an_image_error(start: Start) -> None:
    """A bad image is the camera's fault (counted and skipped), not a dead engine."""
    url, session = await start()
    remote = RemoteEngine(session, url, token=TOKEN)
    with pytest.raises(ImageError, match="not an image format"):
        await remote.read(b"\xff\xd8 not really a jpeg")
    with pytest.raises(ImageError, match="no image"):
        await remote.read(b"")


async def test_a_damaged_image_of_another_format_is_refused_not_an_outage(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    """Pillow's QOI decoder raised IndexError on this file: a 500, and three made the engine "down"."""
    url, session = await start()
    remote = RemoteEngine(session, url, token=TOKEN)
    for _ in range(3):
        with pytest.raises(ImageError, match="not an image format"):
            await remote.read(DAMAGED_QOI)
    assert remote.connection.available is True
    assert remote.connection.consecutive_failures == 0
    assert "Read failed" not in caplog.text


@pytest.mark.parametrize(
    "box",
    [(100, 100, 50, 50), (0, 0, 0, 0), (10, 10, 10, 500), (2000, 1200, 2600, 1800)],
)
async def test_a_box_the_engine_cannot_use_reads_nothing_there_too(
    start: Start, recognizer: PlateRecognizer, box: Box
) -> None:
    """The server takes boxes as the engine in Home Assistant does: the same (empty) read.

    It answered 400, which the client took for a dead engine: three such boxes
    marked a working server down.
    """
    url, session = await start()
    remote = RemoteEngine(session, url, token=TOKEN)
    image = scene_jpeg(UA_PLATE)
    for _ in range(3):
        assert (await remote.read(image, box)).plates == ()
    assert recognizer.read(image, box).plates == ()
    assert remote.connection.available is True
    assert remote.connection.consecutive_failures == 0


async def test_a_refused_request_is_a_request_error_not_an_outage(start: Start) -> None:
    """A query the server does not take (a region only a newer one knows) is not a dead server.

    The caller can name it, and as a ValueError it is what a frame the engine
    cannot read is to the pipeline and the services.
    """
    url, session = await start()
    remote = RemoteEngine(session, url, token=TOKEN, regions=["ua", "xx"])
    for _ in range(3):
        with pytest.raises(EngineRequestError, match="use some of") as caught:
            await remote.read(scene_jpeg(UA_PLATE))
        assert isinstance(caught.value, ValueError)
    assert remote.connection.available is True
    assert remote.connection.consecutive_failures == 0


async def test_a_huge_body_is_refused_as_too_large(start: Start) -> None:
    """The server never buffers more than its limit for one image."""
    url, session = await start()
    remote = RemoteEngine(session, url, token=TOKEN)
    with pytest.raises(ImageError, match="limited"):
        await remote.read(b"\0" * (MAX_IMAGE_BYTES + 1))


async def test_a_flood_of_reads_is_refused_not_queued_without_end(start: Start) -> None:
    """Beyond the waiting room the server answers busy at once: memory stays flat."""
    url, session = await start()
    remote = RemoteEngine(session, url, token=TOKEN)
    image = scene_jpeg(UA_PLATE)
    outcomes = await asyncio.gather(
        *(remote.read(image) for _ in range(MAX_WAITING_READS + 4)),
        return_exceptions=True,
    )
    read = [o for o in outcomes if isinstance(o, FrameResult)]
    busy = [o for o in outcomes if isinstance(o, EngineUnavailableError)]
    assert len(read) + len(busy) == len(outcomes)
    assert len(read) == MAX_WAITING_READS + 1
    assert len(busy) == 3
    assert all("answered 503" in str(o) and "waiting" in str(o) for o in busy)
    assert all(result.plates[0].text == UA_PLATE for result in read)
    # The room empties: the next read is served.
    assert (await remote.read(image)).plates[0].text == UA_PLATE


async def test_an_engine_fault_is_a_json_500_and_logged(
    start: Start, recognizer: PlateRecognizer, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug in the engine reaches the client as a dead engine (the NVR's read kept), not a hang."""
    url, session = await start()
    remote = RemoteEngine(session, url, token=TOKEN)
    with (
        patch.object(type(recognizer), "read", side_effect=RuntimeError("boom")),
        pytest.raises(EngineUnavailableError, match="answered 500: RuntimeError: boom"),
    ):
        await remote.read(scene_jpeg(UA_PLATE))
    assert "Read failed" in caplog.text
    assert (await remote.read(scene_jpeg(UA_PLATE))).plates[0].text == UA_PLATE


@pytest.mark.parametrize("status", [200, 500])
async def test_an_answer_nested_too_deep_is_a_dead_engine(
    start: Start, status: int
) -> None:
    """JSON nested deeper than Python's decoder recurses raised RecursionError out of the read."""

    async def deep(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=status, text="[" * 100_000)

    app = web.Application()
    app.router.add_post("/v1/read", deep)
    url, session = await start(app=app)
    with pytest.raises(EngineUnavailableError, match=f"answered {status}: \\[\\["):
        await RemoteEngine(session, url, token=TOKEN).read(scene_jpeg(UA_PLATE))


async def test_workers_read_images_at_once(
    start: Start, recognizer: PlateRecognizer
) -> None:
    """`serve --workers 2` reads two images at once, each on its own recognizer."""
    lock = threading.Lock()
    active: list[int] = [0, 0]  # now, most
    original = PlateRecognizer.read

    def counting(
        self: PlateRecognizer,
        image: bytes,
        vehicle_box: Box | None = None,
        plate_hint: Box | None = None,
    ) -> FrameResult:
        with lock:
            active[0] += 1
            active[1] = max(active[1], active[0])
        try:
            time.sleep(0.05)
            return original(self, image, vehicle_box, plate_hint)
        finally:
            with lock:
                active[0] -= 1

    app = create_app(
        recognizer, recognizer.for_regions(recognizer.regions), token=TOKEN
    )
    url, session = await start(app=app)
    remote = RemoteEngine(session, url, token=TOKEN)
    assert (await remote.health())["workers"] == 2
    with patch.object(PlateRecognizer, "read", counting):
        results = await asyncio.gather(
            *(remote.read(scene_jpeg(UA_PLATE)) for _ in range(4))
        )
    assert [result.plates[0].text for result in results] == [UA_PLATE] * 4
    assert active[1] == 2


def _content_length(head: bytes) -> int:
    """Return the Content-Length an HTTP message's head gives, 0 without one."""
    return next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )


async def _raw_request(port: int, request: bytes) -> bytes:
    """Send ``request`` as it is (bytes no HTTP client would send) and return the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    try:
        async with asyncio.timeout(10):
            head = await reader.readuntil(b"\r\n\r\n")
            return head + await reader.readexactly(_content_length(head))
    finally:
        writer.close()


async def test_a_token_that_is_no_utf8_is_refused(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    """Encoding the header back to compare it raised: a 500 and a logged traceback, not a 401."""
    url, _ = await start()
    answer = await _raw_request(
        int(url.rsplit(":", 1)[1]),
        b"GET /v1/health HTTP/1.1\r\nHost: engine\r\n"
        b"Authorization: Bearer \xff\xfe\r\nConnection: close\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 401 ")
    assert b'"unauthorized"' in answer
    assert "Read failed" not in caplog.text


async def test_a_stalled_upload_gives_its_place_back(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Uploads that stop halfway held every read's place for good: each real read got 503.

    Now each is answered 408 after BODY_TIMEOUT_SECONDS and its place is free again.
    """
    monkeypatch.setattr(server_module, "BODY_TIMEOUT_SECONDS", 0.5)
    url, session = await start()
    port = int(url.rsplit(":", 1)[1])
    stalled = (
        b"POST /v1/read HTTP/1.1\r\nHost: engine\r\n"
        + f"Authorization: Bearer {TOKEN}\r\n".encode()
        + b"Content-Length: 100000\r\n\r\n\xff\xd8"
        + b"\0" * 100
    )
    answers = await asyncio.gather(
        *(_raw_request(port, stalled) for _ in range(MAX_WAITING_READS + 1))
    )
    assert all(answer.startswith(b"HTTP/1.1 408 ") for answer in answers)
    read = await RemoteEngine(session, url, token=TOKEN).read(scene_jpeg(UA_PLATE))
    assert read.plates[0].text == UA_PLATE


class _BrokenServer:
    """Answers every request with the same bytes, then hangs up."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply

    async def answer(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await reader.readexactly(_content_length(await reader.readuntil(b"\r\n\r\n")))
        writer.write(self.reply)
        await writer.drain()
        writer.close()


@pytest.mark.parametrize(
    "reply",
    [
        (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b'Content-Length: 5000\r\n\r\n{"width": 1280, "hei'
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n"
        ),
        b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n\r\n",
    ],
    ids=["stopped-mid-answer", "broken-chunks", "not-http"],
)
async def test_a_broken_answer_is_engine_unavailable_and_counted(reply: bytes) -> None:
    """Aiohttp raises ClientPayloadError or ClientResponseError for these, not a connection error.

    They escaped the client: no fallback to the NVR's read, and the server's
    sensor never went off however often it happened.
    """
    server = await asyncio.start_server(_BrokenServer(reply).answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with aiohttp.ClientSession() as session:
            remote = RemoteEngine(session, f"http://127.0.0.1:{port}", read_timeout=5)
            with pytest.raises(EngineUnavailableError, match="broken answer"):
                await remote.read(scene_jpeg(UA_PLATE))
            with pytest.raises(EngineUnavailableError, match="broken answer"):
                await remote.health()
            assert remote.connection.consecutive_failures == 2
    finally:
        server.close()
        await server.wait_closed()


async def test_the_token_is_required_and_checked(start: Start) -> None:
    """A server reachable from the network reads plates only for its own Home Assistant."""
    url, session = await start()
    for token in (None, "wrong"):
        with pytest.raises(EngineUnavailableError) as caught:
            await RemoteEngine(session, url, token=token).health()
        assert caught.value.unauthorized
    assert (await RemoteEngine(session, url, token=TOKEN).health())["status"] == "ok"


async def test_a_server_without_token_answers_everyone(start: Start) -> None:
    """On a private network the operator may run it without one."""
    url, session = await start(token=None)
    health = await RemoteEngine(session, url).health()
    assert health["regions"] == ["ua", "eu", "us", "br"]


async def test_bad_query_is_a_clear_400(start: Start) -> None:
    """A wrong box or region names itself instead of reading something else."""
    url, session = await start()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for query, message in (
        ("box=1,2,3", "four integers"),
        ("box=1,2,3,4,5", "four integers"),
        ("box=1.5,2,3,4", "four integers"),
        ("hint=10,10,5", "hint"),
        ("regions=ua,xx", "use some of"),
    ):
        async with session.post(
            f"{url}/v1/read?{query}", data=scene_jpeg(UA_PLATE), headers=headers
        ) as response:
            assert response.status == 400
            answer = await response.json()
        assert answer["error"] == "invalid_request"
        assert message in answer["message"]


async def test_a_dead_server_is_engine_unavailable(start: Start) -> None:
    """Nothing listening is told apart from a bad image, so frames fall back to the NVR's read."""
    _, session = await start()
    dead = RemoteEngine(session, "http://127.0.0.1:9", read_timeout=2)
    with pytest.raises(EngineUnavailableError, match="unreachable"):
        await dead.read(scene_jpeg(UA_PLATE))
    with pytest.raises(EngineUnavailableError):
        await dead.health()


async def test_nonsense_answers_are_engine_unavailable(start: Start) -> None:
    """A proxy's error page or a different service at the address is not a read."""

    async def html(_: web.Request) -> web.Response:
        return web.Response(text="<html>502 Bad Gateway</html>", status=502)

    async def wrong_json(_: web.Request) -> web.Response:
        return web.json_response({"width": 1, "height": "x", "plates": []})

    app = web.Application()
    app.router.add_get("/v1/health", html)
    app.router.add_post("/v1/read", wrong_json)
    url, session = await start(app=app)
    remote = RemoteEngine(session, url)
    with pytest.raises(EngineUnavailableError, match="502"):
        await remote.health()
    with pytest.raises(EngineUnavailableError, match="malformed"):
        await remote.read(scene_jpeg(UA_PLATE))


async def test_an_endless_answer_is_engine_unavailable_not_held(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A camera stream at the engine's address must not fill Home Assistant's memory.

    The answer is read in packets up to the limit, then given up.
    """
    monkeypatch.setattr(remote_module, "MAX_ANSWER_BYTES", 200_000)
    packets: list[int] = []

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        try:
            for _ in range(1000):
                await response.write(b" " * 16_384)
                packets.append(1)
                await asyncio.sleep(0)
        except ConnectionError:
            pass
        return response

    app = web.Application()
    app.router.add_post("/v1/read", stream)
    url, session = await start(app=app)
    with pytest.raises(EngineUnavailableError, match="answer larger than 200000"):
        await RemoteEngine(session, url).read(scene_jpeg(UA_PLATE))
    # Each of the two attempts stopped soon after the limit, not at the stream's end.
    assert len(packets) < 200


def test_results_survive_the_wire_format() -> None:
    """to_dict(with_crops=True) and from_dict are exact inverses (at 4 decimals)."""
    result = FrameResult(
        width=1280,
        height=720,
        seconds=0.05,
        plates=(
            PlateRead(
                text="AE1234BK",
                raw="AE 1234 BK",
                confidence=0.9712,
                box=(1, 2, 30, 40),
                region="ua",
                plate_format="ua_standard",
                loose=False,
                alternatives=(("AE1234BX", 0.0123),),
                crop_jpeg=b"\xff\xd8jpeg",
            ),
        ),
    )
    back = FrameResult.from_dict(result.to_dict(with_crops=True))
    assert back == result
    assert back.plates[0].crop_jpeg == b"\xff\xd8jpeg"
    assert "crop_jpeg" not in result.to_dict()["plates"][0]
    hinted = FrameResult(width=1, height=1, seconds=0.0, plates=(), read_at_hint=True)
    assert FrameResult.from_dict(hinted.to_dict()) == hinted
    # A server older than plate hints leaves the key out.
    older = {
        key: value for key, value in hinted.to_dict().items() if key != "read_at_hint"
    }
    assert not FrameResult.from_dict(older).read_at_hint


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"width": 1, "height": 1, "seconds": 0.1, "plates": [{"plate": "A"}]},
        {"width": True, "height": 1, "seconds": 0.1, "plates": []},
        {"width": 1, "height": 1, "seconds": float("nan"), "plates": []},
        # Valid JSON: Python reads it as an int too large for a float.
        {"width": 1, "height": 1, "seconds": 10**400, "plates": []},
        {
            "width": 1,
            "height": 1,
            "seconds": 0.1,
            "plates": [
                {"plate": "A", "raw": "A", "confidence": 1, "box": [1, 2, 3]},
            ],
        },
        {
            "width": 1,
            "height": 1,
            "seconds": 0.1,
            "plates": [
                {
                    "plate": "A",
                    "raw": "A",
                    "confidence": 1,
                    "box": [1, 2, 3, 4],
                    "crop_jpeg": "not base64!",
                },
            ],
        },
    ],
)
def test_malformed_results_are_value_errors(broken: dict[str, object]) -> None:
    """Whatever the server sends, the client raises one error type, never a crash."""
    with pytest.raises(ValueError, match="malformed engine result"):
        FrameResult.from_dict(broken)


def test_box_and_region_parsing() -> None:
    """The query's box and regions, exactly as the client writes them."""
    assert parse_box("1,2,30,40") == (1, 2, 30, 40)
    # Where a box lies is the recognizer's to judge (it reads nothing there).
    assert parse_box("5,2,3,4") == (5, 2, 3, 4)
    assert parse_box(None) is None
    assert parse_regions("us, ua,us") == ("us", "ua")
    assert parse_regions("") is None
    for bad in ("a,b,c,d", "1,2,3,4,5", "1,2,3"):
        with pytest.raises(ValueError, match="box"):
            parse_box(bad)
    with pytest.raises(ValueError, match="use some of"):
        parse_regions("xx")
