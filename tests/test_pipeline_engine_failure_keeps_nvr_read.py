"""An engine that fails on a frame in an unforeseen way still leaves the NVR's own read."""

from __future__ import annotations

import asyncio

import pytest

from custom_components.plate_tracker.engine.types import Box, FrameResult
from custom_components.plate_tracker.pipeline import SightingPipeline
from custom_components.plate_tracker.records import Reader

from .helpers import wait_until
from .test_pipeline import Harness, _stop, frame, read


async def test_an_engine_crash_keeps_the_plate_the_nvr_read(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A wanted car must not go unseen because the engine crashed on its picture.

    Frigate read the plate itself; the local engine's inference session then
    fails on the image (an ONNX runtime error, out of memory). As with an
    image the engine refuses or an engine server that is down, the NVR's read
    is stored and announced, the frame is counted as not read by the engine,
    and the failure is logged with its camera.
    """
    h = Harness()
    h.script[b"ok"] = [read("KA7777OO", 0.9)]

    async def crashing_read(
        image: bytes, box: Box | None, plate_hint: Box | None
    ) -> FrameResult:
        if image == b"crash":
            raise RuntimeError("inference session died")
        return await h.read_frame(image, box, plate_hint)

    pipeline = SightingPipeline(
        read_frame=crashing_read, record=h.record, publish=h.publish, publish_after=0.2
    )
    worker = asyncio.get_running_loop().create_task(pipeline.run())
    pipeline.offer(frame(b"crash", event="wanted", final=True, anpr_plate="AE 1234 BK"))
    pipeline.offer(frame(b"ok", event="next", final=True, at=1))
    await wait_until(lambda: len(h.published) == 2, 5)
    await _stop(worker)

    assert [(new.plate, new.reader) for new in h.stored.values()] == [
        ("AE1234BK", Reader.NVR),
        ("KA7777OO", Reader.ENGINE),
    ]
    assert [plate for _, plate in h.published] == ["AE1234BK", "KA7777OO"]
    assert pipeline.counters.frames_engine_unavailable == 1
    assert "inference session died" in caplog.text
    assert "bridge" in caplog.text


async def test_an_engine_crash_fails_a_camera_that_waits_without_its_own_read() -> None:
    """A camera that pushed only a picture hears the failure and keeps its picture to send again."""
    h = Harness()

    async def crashing_read(
        image: bytes, box: Box | None, plate_hint: Box | None
    ) -> FrameResult:
        raise RuntimeError("inference session died")

    pipeline = SightingPipeline(
        read_frame=crashing_read, record=h.record, publish=h.publish, publish_after=0.2
    )
    worker = asyncio.get_running_loop().create_task(pipeline.run())
    with pytest.raises(RuntimeError, match="inference session died"):
        await pipeline.submit(frame(b"crash", event=None, final=True), may_spool=True)
    sightings = await pipeline.submit(
        frame(b"crash", event=None, final=True, anpr_plate="AE1234BK"), may_spool=True
    )
    await _stop(worker)
    assert [s.plate for s in sightings] == ["AE1234BK"]
    assert h.published == [(1, "AE1234BK")]
