"""The pipeline's pass logic with a scripted engine and store (plain asyncio)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from custom_components.plate_tracker.engine.types import Box, FrameResult, PlateRead
from custom_components.plate_tracker.pipeline import (
    Frame,
    ImageRejectedError,
    SightingPipeline,
)
from custom_components.plate_tracker.records import Direction, NewSighting, Sighting

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def read(text: str, confidence: float) -> PlateRead:
    """Return an engine read whose crop bytes name the plate."""
    return PlateRead(
        text=text,
        raw=text,
        confidence=confidence,
        box=(0, 0, 10, 5),
        crop_jpeg=text.encode(),
    )


@dataclass
class Harness:
    """A pipeline whose engine answers from a script and whose store is a dict."""

    script: dict[bytes, list[PlateRead]] = field(default_factory=dict)
    stored: dict[int, NewSighting] = field(default_factory=dict)
    published: list[tuple[int, str]] = field(default_factory=list)
    keys: dict[tuple[str, str, str], int] = field(default_factory=dict)

    async def read_frame(self, image: bytes, box: Box | None) -> FrameResult:
        """Answer from the script; ``corrupt`` is an image the engine refuses."""
        if image == b"corrupt":
            raise ValueError("cannot identify image file")
        return FrameResult(
            width=100,
            height=100,
            plates=tuple(self.script.get(image, [])),
            seconds=0.01,
        )

    async def record(self, new: NewSighting) -> tuple[Sighting, bool]:
        """Store like SightingStore.record: one sighting per (source, camera, event)."""
        key = (new.source, new.camera, new.event_id) if new.event_id else None
        created = key is None or key not in self.keys
        sighting_id = len(self.stored) + 1 if created else self.keys[key]  # type: ignore[index]
        if key is not None:
            self.keys[key] = sighting_id
        self.stored[sighting_id] = new
        return (
            Sighting(
                id=sighting_id,
                camera=new.camera,
                seen_at=new.seen_at,
                plate=new.plate,
                raw=new.raw,
                confidence=new.confidence,
                source=new.source,
                event_id=new.event_id,
                region=new.region,
                box=new.box,
                direction=new.direction,
                alternatives=new.alternatives,
                has_crop=new.crop_jpeg is not None,
                has_snapshot=new.snapshot_jpeg is not None,
            ),
            created,
        )

    def publish(self, sighting: Sighting) -> None:
        """Remember what was announced."""
        self.published.append((sighting.id, sighting.plate))


@pytest.fixture
async def harness() -> AsyncGenerator[tuple[Harness, SightingPipeline]]:
    """Run a pipeline with a short announce delay in the background."""
    h = Harness()
    pipeline = SightingPipeline(
        read_frame=h.read_frame,
        record=h.record,
        publish=h.publish,
        queue_size=2,
        publish_after=0.2,
    )
    worker = asyncio.get_running_loop().create_task(pipeline.run())
    yield h, pipeline
    worker.cancel()
    await asyncio.gather(worker, return_exceptions=True)


def frame(
    image: bytes | None, *, event: str | None = "ev", final: bool = False, at: int = 0
) -> Frame:
    """Return a frame of camera bridge, ``at`` seconds after T0."""
    return Frame(
        image=image,
        camera="bridge",
        seen_at=T0 + timedelta(seconds=at),
        source="frigate",
        event_id=event,
        final=final,
        direction=Direction.RECEDING,
    )


async def test_each_plate_of_a_single_image_is_a_sighting(
    harness: tuple[Harness, SightingPipeline],
) -> None:
    """A folder upload can show two cars; both plates are stored and announced, weak reads are not."""
    h, pipeline = harness
    h.script[b"two cars"] = [
        read("AE1234BK", 0.9),
        read("KA7777OO", 0.8),
        read("XX", 0.1),
    ]
    sightings = await pipeline.submit(frame(b"two cars", event=None, final=True))
    assert sorted(s.plate for s in sightings) == ["AE1234BK", "KA7777OO"]
    assert sorted(text for _, text in h.published) == ["AE1234BK", "KA7777OO"]
    assert pipeline.counters.reads_below_threshold == 1


async def test_frames_of_one_event_make_one_sighting_announced_at_the_end(
    harness: tuple[Harness, SightingPipeline],
) -> None:
    """Every frame improves the one stored sighting; it is announced once, when the pass ends."""
    h, pipeline = harness
    h.script[b"f1"] = [read("AE1234BK", 0.6)]
    h.script[b"f2"] = [read("AE1234BK", 0.95)]
    await pipeline.submit(frame(b"f1", at=0))
    await pipeline.submit(frame(b"f2", at=1))
    assert h.published == []
    await pipeline.submit(frame(None, final=True, at=2))
    assert h.published == [(1, "AE1234BK")]
    stored = h.stored[1]
    assert stored.seen_at == T0, "a pass is dated by its first frame"
    assert stored.crop_jpeg == b"AE1234BK"
    assert stored.snapshot_jpeg == b"f2", "the best frame is the evidence kept"
    assert stored.direction is Direction.RECEDING
    assert pipeline.counters.sightings_recorded == 1


async def test_long_pass_is_announced_before_it_ends(
    harness: tuple[Harness, SightingPipeline],
) -> None:
    """A car that stops in view must not delay the alert until it drives off."""
    h, pipeline = harness
    h.script[b"f1"] = [read("AE1234BK", 0.9)]
    await pipeline.submit(frame(b"f1"))
    await asyncio.sleep(0.4)
    assert h.published == [(1, "AE1234BK")]
    await pipeline.submit(frame(None, final=True))
    assert h.published == [(1, "AE1234BK")], (
        "the end does not announce it a second time"
    )


async def test_a_changed_read_is_announced_as_a_correction(
    harness: tuple[Harness, SightingPipeline],
) -> None:
    """When later frames show the first read was wrong, the corrected plate is announced too."""
    h, pipeline = harness
    h.script[b"f1"] = [read("AE1234BX", 0.6)]
    h.script[b"f2"] = [read("AE1234BK", 0.99)]
    h.script[b"f3"] = [read("AE1234BK", 0.99)]
    await pipeline.submit(frame(b"f1"))
    await asyncio.sleep(0.4)
    await pipeline.submit(frame(b"f2"))
    await pipeline.submit(frame(b"f3", final=True))
    assert [text for _, text in h.published] == ["AE1234BX", "AE1234BK"]


async def test_rejected_images_are_counted_and_reported(
    harness: tuple[Harness, SightingPipeline],
) -> None:
    """A corrupt image is skipped with a count, and the caller (the inbox) learns why."""
    _, pipeline = harness
    with pytest.raises(ImageRejectedError):
        await pipeline.submit(frame(b"corrupt", event=None))
    assert pipeline.counters.frames_rejected == 1


async def test_a_full_queue_drops_frames_but_never_an_end() -> None:
    """Under a burst, frames beyond the queue are dropped and counted; the end of a pass is kept."""
    h = Harness()
    pipeline = SightingPipeline(
        read_frame=h.read_frame, record=h.record, publish=h.publish, queue_size=1
    )
    assert pipeline.offer(frame(b"a"))
    assert not pipeline.offer(frame(b"b"))
    assert pipeline.offer(frame(None, final=True))
    assert pipeline.counters.frames_dropped == 1
    worker = asyncio.get_running_loop().create_task(pipeline.run())
    await asyncio.sleep(0.05)
    assert pipeline.queue_depth == 0
    worker.cancel()
    await asyncio.gather(worker, return_exceptions=True)
