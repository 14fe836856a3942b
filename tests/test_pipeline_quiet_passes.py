"""A pass whose end never came ends once quiet for an hour, and its memory is freed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
import tracemalloc

from freezegun.api import FrozenDateTimeFactory
import pytest

from custom_components.plate_tracker.engine.types import Box, FrameResult, PlateRead
from custom_components.plate_tracker.pipeline import SAME_EVENT_WITHIN, SightingPipeline
from custom_components.plate_tracker.records import NewSighting, Sighting

from .helpers import as_stored, wait_until
from .test_pipeline import _stop, frame

SNAPSHOT_BYTES = 1024 * 1024
"""A large Frigate snapshot: what a pass holds as its best frame's picture."""
CROP_BYTES = 16 * 1024
LOST_ENDS = 8
FRAMES_PER_PASS = 5


@dataclass
class LeanHarness:
    """An engine and a store that keep nothing of the frames: the pipeline alone holds them."""

    plates: dict[bytes, str] = field(default_factory=dict)
    """The plate each image shows, by its first bytes."""
    stored: dict[tuple[str, str, str], tuple[int, str, object, bool]] = field(
        default_factory=dict
    )
    """Per event: sighting id, plate, when it is dated, whether it was a revision."""
    crops: list[int | None] = field(default_factory=list)
    """The size of the crop each write gave the store."""
    announced: list[tuple[int, str]] = field(default_factory=list)

    async def read_frame(
        self, image: bytes, box: Box | None, plate_hint: Box | None = None
    ) -> FrameResult:
        """Read the plate named in the image's first bytes, with a crop of its own."""
        text = self.plates[image[:8]]
        crop = bytes(CROP_BYTES - 8) + image[:8]
        plate = PlateRead(
            text=text, raw=text, confidence=0.9, box=(0, 0, 10, 5), crop_jpeg=crop
        )
        return FrameResult(width=100, height=100, plates=(plate,), seconds=0.01)

    async def record(self, new: NewSighting) -> tuple[Sighting, bool]:
        """Keep one sighting per event, without its images."""
        key = (new.source, new.camera, new.event_id or "")
        created = key not in self.stored
        sighting_id = len(self.stored) + 1 if created else self.stored[key][0]
        self.stored[key] = (sighting_id, new.plate, new.seen_at, new.revises)
        self.crops.append(len(new.crop_jpeg) if new.crop_jpeg is not None else None)
        return as_stored(new, sighting_id), created

    def publish(self, sighting: Sighting) -> None:
        """Remember what was announced."""
        self.announced.append((sighting.id, sighting.plate))


def image(tag: bytes, frame_number: int, size: int = SNAPSHOT_BYTES) -> bytes:
    """Return an image of ``size`` bytes whose first bytes name its plate."""
    return tag + frame_number.to_bytes(4) + bytes(size)


@pytest.fixture
def traced_memory() -> object:
    """Trace Python's allocations during the test."""
    tracemalloc.start()
    yield
    tracemalloc.stop()


@pytest.mark.usefixtures("traced_memory")
async def test_passes_whose_end_never_came_end_when_quiet_and_free_their_memory(
    freezer: FrozenDateTimeFactory,
) -> None:
    """A lost Frigate ``end`` (an MQTT reconnect) must not hold a pass's images for good.

    Each such pass kept its best snapshot and its reads' crops until 256 later
    passes pushed it out: at a quiet camera, forever. Ended after an hour
    without a frame (a frame later than that is another pass anyway), its
    sighting stays stored and announced once, and its memory is given back.
    A car parked in view whose event sends a frame now and then keeps its
    pass: its later frames still revise the sighting dated by its first.
    """
    h = LeanHarness()
    pipeline = SightingPipeline(
        read_frame=h.read_frame, record=h.record, publish=h.publish
    )
    worker = asyncio.get_running_loop().create_task(pipeline.run())
    for number in range(LOST_ENDS):
        tag = b"LOST%04d" % number
        h.plates[tag] = f"AE{number:04d}BK"
        for frame_number in range(FRAMES_PER_PASS):
            pipeline.offer(
                frame(image(tag, frame_number), event=f"lost {number}", at=number)
            )
            await wait_until(lambda: pipeline.queue_depth == 0, 5)
    h.plates[b"PARKED00"] = "KA7777OO"
    pipeline.offer(frame(image(b"PARKED00", 0), event="parked", at=10))
    await wait_until(lambda: len(h.stored) == LOST_ENDS + 1, 5)
    await asyncio.sleep(0)
    opened = tracemalloc.get_traced_memory()[0]

    # A frame of the parked car within the hour: it is still in view, and
    # nothing ended yet.
    freezer.tick(timedelta(minutes=50))
    pipeline.offer(frame(image(b"PARKED00", 1), event="parked", at=50 * 60))
    await wait_until(lambda: pipeline.queue_depth == 0, 5)
    await asyncio.sleep(0)
    held = tracemalloc.get_traced_memory()[0]
    assert held > opened - SNAPSHOT_BYTES

    freezer.tick(SAME_EVENT_WITHIN - timedelta(minutes=50) + timedelta(seconds=1))
    for _ in range(3):
        await asyncio.sleep(0)
    freed = held - tracemalloc.get_traced_memory()[0]

    # Each lost pass gave back at least its snapshot; the parked car's is kept.
    assert freed >= LOST_ENDS * SNAPSHOT_BYTES
    assert sorted(h.announced) == [
        *((number + 1, f"AE{number:04d}BK") for number in range(LOST_ENDS)),
        (LOST_ENDS + 1, "KA7777OO"),
    ]

    # 55 minutes after its latest frame, the parked car's frame is still its pass.
    freezer.tick(timedelta(minutes=45))
    pipeline.offer(frame(image(b"PARKED00", 2), event="parked", at=105 * 60))
    await wait_until(lambda: pipeline.queue_depth == 0, 5)
    await asyncio.sleep(0)
    await _stop(worker)
    sighting_id, plate, dated, revised = h.stored[("frigate", "bridge", "parked")]
    assert (plate, revised) == ("KA7777OO", True)
    assert dated == frame(None, at=10).seen_at
    assert h.announced.count((sighting_id, "KA7777OO")) == 1


@pytest.mark.usefixtures("traced_memory")
async def test_a_long_pass_keeps_one_crop_not_one_per_read() -> None:
    """A car parked in view sends a frame now and then for hours, up to 200 reads.

    Every read kept its plate crop for the vote, which needs only the texts:
    200 crops per pass, for each of up to 256 open passes. The best read's
    crop is the sighting's evidence, and is still stored with it.
    """
    h = LeanHarness()
    h.plates[b"PARKED00"] = "KA7777OO"
    pipeline = SightingPipeline(
        read_frame=h.read_frame, record=h.record, publish=h.publish
    )
    worker = asyncio.get_running_loop().create_task(pipeline.run())
    pipeline.offer(frame(image(b"PARKED00", 0, 64), event="parked", at=0))
    await wait_until(lambda: len(h.crops) == 1, 5)
    before = tracemalloc.get_traced_memory()[0]
    frames = 100
    for number in range(1, frames + 1):
        pipeline.offer(frame(image(b"PARKED00", number, 64), event="parked", at=number))
        await wait_until(lambda: pipeline.queue_depth == 0, 5)
    await wait_until(lambda: len(h.crops) == frames + 1, 5)
    await asyncio.sleep(0)
    grown = tracemalloc.get_traced_memory()[0] - before
    await _stop(worker)

    assert grown < frames * CROP_BYTES / 4
    assert set(h.crops) == {CROP_BYTES}
