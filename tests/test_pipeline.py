"""The pipeline's pass logic with a scripted engine and store (plain asyncio)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
import contextlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
import sqlite3
import threading

import pytest

from custom_components.plate_tracker.engine.remote import EngineUnavailableError
from custom_components.plate_tracker.engine.types import Box, FrameResult, PlateRead
from custom_components.plate_tracker.pipeline import (
    SPOOL_REPLAY_BATCH,
    Frame,
    ImageRejectedError,
    PipelineStoppedError,
    SightingPipeline,
    plate_moved_with,
)
from custom_components.plate_tracker.records import (
    Direction,
    NewSighting,
    Reader,
    Sighting,
)
from custom_components.plate_tracker.store.spool import SightingSpool

from .helpers import as_stored, wait_until

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def read(
    text: str, confidence: float, box: Box = (0, 0, 10, 5), *, loose: bool = False
) -> PlateRead:
    """Return an engine read whose crop bytes name the plate."""
    return PlateRead(
        text=text,
        raw=text,
        confidence=confidence,
        box=box,
        loose=loose,
        crop_jpeg=text.encode(),
    )


@dataclass
class Harness:
    """A pipeline whose engine answers from a script and whose store is a dict."""

    script: dict[bytes, list[PlateRead]] = field(default_factory=dict)
    stored: dict[int, NewSighting] = field(default_factory=dict)
    published: list[tuple[int, str]] = field(default_factory=list)
    announced: list[Sighting] = field(default_factory=list)
    keys: dict[tuple[object, ...], int] = field(default_factory=dict)
    """Sightings by (source, camera, event), or (source, camera, plate, time) without an event."""
    refuse_writes: bool = False
    """Answer writes like a full disk or a read-only database."""
    engine_down: bool = False
    """Answer reads like an engine server that cannot be reached."""
    reads: list[tuple[bytes, Box | None, Box | None]] = field(default_factory=list)
    """Each read asked for: image, vehicle box, plate hint."""

    async def read_frame(
        self, image: bytes, box: Box | None, plate_hint: Box | None = None
    ) -> FrameResult:
        """Answer from the script; ``corrupt`` is an image the engine refuses."""
        self.reads.append((image, box, plate_hint))
        if image == b"corrupt":
            raise ValueError("cannot identify image file")
        if self.engine_down:
            raise EngineUnavailableError("http://engine:8790/", "unreachable")
        return FrameResult(
            width=100,
            height=100,
            plates=tuple(self.script.get(image, [])),
            seconds=0.01,
            read_at_hint=plate_hint is not None,
        )

    async def record(self, new: NewSighting) -> tuple[Sighting, bool]:
        """Store like SightingStore.record: one sighting per (source, camera, event).

        Without an event id, one per (source, camera, plate, time): the same
        upload stored again is the row stored the first time.
        """
        return self.record_now(new)

    def record_now(self, new: NewSighting) -> tuple[Sighting, bool]:
        """Store at once, as SightingStore.record does in its executor thread."""
        if self.refuse_writes:
            raise sqlite3.OperationalError("database or disk is full")
        key = (
            (new.source, new.camera, new.event_id)
            if new.event_id
            else (new.source, new.camera, new.plate, new.seen_at)
        )
        created = key not in self.keys
        sighting_id = len(self.stored) + 1 if created else self.keys[key]
        self.keys[key] = sighting_id
        self.stored[sighting_id] = new
        return as_stored(new, sighting_id), created

    def publish(self, sighting: Sighting) -> None:
        """Remember what was announced."""
        self.published.append((sighting.id, sighting.plate))
        self.announced.append(sighting)


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
    image: bytes | None,
    *,
    event: str | None = "ev",
    final: bool = False,
    at: int = 0,
    direction: Direction = Direction.RECEDING,
    anpr_plate: str | None = None,
) -> Frame:
    """Return a frame of camera bridge, ``at`` seconds after T0."""
    return Frame(
        image=image,
        camera="bridge",
        seen_at=T0 + timedelta(seconds=at),
        source="frigate",
        event_id=event,
        final=final,
        direction=direction,
        anpr_plate=anpr_plate,
        vehicle_box=(100, 100, 900, 700),
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


async def test_text_beside_the_plate_of_a_single_image_is_not_a_sighting(
    harness: tuple[Harness, SightingPipeline],
) -> None:
    """Dealer names, sticker years and phone numbers fit only loose formats: counted, not stored.

    The first read stays a sighting even when loose (a vanity plate), and a
    further read that fits a plate format of its own is another car's plate.
    """
    h, pipeline = harness
    h.script[b"vanity plate"] = [
        read("DUKDAWG", 0.98, loose=True),
        read("SC0TT", 0.97, loose=True),
        read("2014", 0.99, loose=True),
        read("7ABC123", 0.9),
    ]
    sightings = await pipeline.submit(frame(b"vanity plate", event=None, final=True))
    assert [s.plate for s in sightings] == ["DUKDAWG", "7ABC123"]
    assert pipeline.counters.text_not_stored == 2


@contextlib.asynccontextmanager
async def watching(
    h: Harness, is_watched: Callable[[PlateRead, Frame], bool]
) -> AsyncIterator[SightingPipeline]:
    """Run a pipeline that asks ``is_watched`` about reads, in the background."""
    pipeline = SightingPipeline(
        read_frame=h.read_frame,
        record=h.record,
        publish=h.publish,
        is_watched=is_watched,
    )
    worker = asyncio.get_running_loop().create_task(pipeline.run())
    try:
        yield pipeline
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)


async def test_a_badge_read_on_a_car_whose_plate_is_not_seen_is_no_sighting() -> None:
    """A make, model or sign read as the first text is counted, not stored, unless watched.

    A vanity plate is stored as before, and so is a badge the police listed.
    """
    h = Harness()

    def is_watched(plate_read: PlateRead, seen: Frame) -> bool:
        return plate_read.text == "MUSTANG"

    h.script[b"badges"] = [read("QUEST", 0.91, loose=True)]
    h.script[b"sign"] = [read("EXIT0NLY", 0.96, loose=True)]
    h.script[b"misread badge, then a plate"] = [
        read("CHEVRDLE", 0.88, loose=True),
        read("7ABC123", 0.9),
    ]
    h.script[b"watched"] = [read("MUSTANG", 0.95, loose=True)]
    h.script[b"vanity"] = [read("DUKDAWG", 0.98, loose=True)]
    async with watching(h, is_watched) as pipeline:
        stored = [
            [s.plate for s in await pipeline.submit(frame(image, event=None))]
            for image in (
                b"badges",
                b"sign",
                b"misread badge, then a plate",
                b"watched",
                b"vanity",
            )
        ]
    assert stored == [[], [], ["7ABC123"], ["MUSTANG"], ["DUKDAWG"]]
    assert pipeline.counters.words_not_stored == 3
    assert pipeline.counters.text_not_stored == 0


async def test_a_watched_plate_below_the_minimum_is_kept() -> None:
    """A wanted car read unsurely is stored (and so alerted); another unsure read is not."""
    h = Harness()
    asked: list[tuple[str, str]] = []

    def is_watched(plate_read: PlateRead, seen: Frame) -> bool:
        asked.append((plate_read.text, seen.camera))
        return plate_read.text == "XI1469OO"

    h.script[b"unsure"] = [
        read("XI1469OO", 0.43),
        read("KA7777OO", 0.41),
        read("SC0TT", 0.9, loose=True),
        read("AE1234BK", 0.95),
    ]
    async with watching(h, is_watched) as pipeline:
        sightings = await pipeline.submit(frame(b"unsure", event=None, final=True))
    assert [(s.plate, s.confidence) for s in sightings] == [
        ("XI1469OO", 0.43),
        ("AE1234BK", 0.95),
    ]
    assert pipeline.counters.watched_below_threshold == 1
    assert pipeline.counters.reads_below_threshold == 1
    assert pipeline.counters.text_not_stored == 1
    # Confident reads of a plate format are never asked about.
    assert [text for text, _ in asked] == ["XI1469OO", "KA7777OO", "SC0TT"]


async def test_a_failing_watchlist_check_leaves_the_threshold_as_it_was() -> None:
    """The watchlist must never cost a read its normal handling."""
    h = Harness()

    def broken(plate_read: PlateRead, seen: Frame) -> bool:
        raise ValueError("at must be timezone aware")

    h.script[b"two"] = [read("AE1234BK", 0.9), read("XI1469OO", 0.43)]
    async with watching(h, broken) as pipeline:
        sightings = await pipeline.submit(frame(b"two", event=None, final=True))
    assert [s.plate for s in sightings] == ["AE1234BK"]
    assert pipeline.counters.reads_below_threshold == 1


async def test_an_event_never_takes_text_for_its_plate(
    harness: tuple[Harness, SightingPipeline],
) -> None:
    """An unsure plate and a sure dealer's name: the event keeps no plate from this frame."""
    h, pipeline = harness
    h.script[b"unsure"] = [read("AE1234BK", 0.3), read("0RIDAC0M", 0.95, loose=True)]
    h.script[b"sure"] = [read("AE1234BK", 0.9)]
    await pipeline.submit(frame(b"unsure"))
    assert h.stored == {}
    await pipeline.submit(frame(b"sure", final=True, at=1))
    assert [new.plate for new in h.stored.values()] == ["AE1234BK"]
    assert pipeline.counters.text_not_stored == 1


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


async def test_a_refused_image_keeps_the_nvrs_own_read(
    harness: tuple[Harness, SightingPipeline],
) -> None:
    """A corrupt snapshot must not cost the plate the NVR or camera read itself.

    The sighting is the NVR's read, without the picture the engine refused;
    a refused image without such a read still reaches the caller.
    """
    h, pipeline = harness
    stored = await pipeline.submit(
        frame(b"corrupt", event=None, anpr_plate="AE1234BK"), may_spool=True
    )
    assert [sighting.plate for sighting in stored] == ["AE1234BK"]
    (new,) = h.stored.values()
    assert (new.reader, new.snapshot_jpeg, new.crop_jpeg) == (Reader.NVR, None, None)
    assert pipeline.counters.frames_rejected == 1
    assert pipeline.counters.nvr_reads_without_image == 1
    with pytest.raises(ImageRejectedError):
        await pipeline.submit(frame(b"corrupt", event=None))


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


FAR_PLATE = (300, 200, 340, 210)
NEAR_PLATE = (290, 230, 350, 245)


async def test_plate_movement_gives_the_direction_the_source_lacks(
    harness: tuple[Harness, SightingPipeline],
) -> None:
    """A source that knows no direction still delivers several frames: the plate coming closer shows the way."""
    h, pipeline = harness
    h.script[b"far"] = [read("AE1234BK", 0.8, FAR_PLATE)]
    h.script[b"near"] = [read("AE1234BK", 0.9, NEAR_PLATE)]
    unknown = Direction.UNKNOWN
    await pipeline.submit(frame(b"far", direction=unknown))
    assert h.stored[1].direction is unknown, "one frame shows no movement"
    await pipeline.submit(frame(b"near", at=1, direction=unknown))
    await pipeline.submit(frame(None, final=True, at=2, direction=unknown))
    assert h.stored[1].direction is Direction.APPROACHING
    (announced,) = h.announced
    assert announced.direction is Direction.APPROACHING


async def test_a_later_frame_of_a_pass_is_read_where_its_plate_was(
    harness: tuple[Harness, SightingPipeline],
) -> None:
    """The engine is told where the pass's plate was, moved and scaled with the vehicle's box."""
    h, pipeline = harness
    h.script[b"first"] = [read("AE1234BK", 0.9, (300, 500, 400, 532))]
    h.script[b"second"] = [read("AE1234BK", 0.9, (400, 620, 525, 660))]
    await pipeline.submit(frame(b"first"))
    # The car came 50 px right, 20 px down and a quarter bigger.
    await pipeline.submit(
        replace(frame(b"second", at=1), vehicle_box=(150, 120, 1150, 870))
    )
    await pipeline.submit(replace(frame(b"no box", at=2), vehicle_box=None))
    await pipeline.submit(frame(b"another car", event="ev2", at=3))
    await pipeline.submit(frame(b"no event", event=None, at=4))
    assert [(image, hint) for image, _, hint in h.reads] == [
        (b"first", None),
        (b"second", (400, 620, 525, 660)),
        (b"no box", (400, 620, 525, 660)),
        (b"another car", None),
        (b"no event", None),
    ]
    assert pipeline.counters.frames_read_at_hint == 2
    assert pipeline.counters.frames_read == 5


async def test_the_nvrs_plate_box_is_the_first_hint_and_the_engines_the_next(
    harness: tuple[Harness, SightingPipeline],
) -> None:
    """Frigate+ gives the plate's box: the first frame is read there; later frames where the engine found it."""
    h, pipeline = harness
    h.script[b"first"] = [read("AE1234BK", 0.9, (300, 500, 400, 532))]
    nvr_plate = (290, 495, 410, 540)
    await pipeline.submit(replace(frame(b"first"), plate_box=nvr_plate))
    await pipeline.submit(replace(frame(b"second", at=1), plate_box=(1, 1, 9, 9)))
    await pipeline.submit(
        replace(frame(b"folder", event=None, at=2), plate_box=nvr_plate)
    )
    assert [(image, hint) for image, _, hint in h.reads] == [
        (b"first", nvr_plate),
        (b"second", (300, 500, 400, 532)),
        (b"folder", nvr_plate),
    ]
    assert pipeline.counters.frames_read_at_hint == 3


def test_a_plate_moves_with_its_vehicle() -> None:
    """Its place on the vehicle stays; a missing or empty box leaves the plate where it was."""
    plate = (300, 500, 400, 532)
    assert plate_moved_with(plate, (100, 100, 900, 700), (150, 120, 1150, 870)) == (
        400,
        620,
        525,
        660,
    )
    assert plate_moved_with(plate, None, (150, 120, 1150, 870)) == plate
    assert plate_moved_with(plate, (100, 100, 900, 700), None) == plate
    assert plate_moved_with(plate, (100, 100, 100, 700), (0, 0, 10, 10)) == plate


async def test_source_direction_wins_over_plate_movement(
    harness: tuple[Harness, SightingPipeline],
) -> None:
    """What the source knows (zones the user mapped, a camera's own field) is stronger than the plate's move."""
    h, pipeline = harness
    h.script[b"far"] = [read("AE1234BK", 0.8, FAR_PLATE)]
    h.script[b"near"] = [read("AE1234BK", 0.9, NEAR_PLATE)]
    await pipeline.submit(frame(b"far", direction=Direction.UNKNOWN))
    await pipeline.submit(frame(b"near", at=1, direction=Direction.LEFT))
    # A later frame that knows nothing keeps what the source said.
    await pipeline.submit(frame(None, final=True, at=2, direction=Direction.UNKNOWN))
    assert h.stored[1].direction is Direction.LEFT


async def test_small_plate_movement_stays_unknown(
    harness: tuple[Harness, SightingPipeline],
) -> None:
    """A car standing at a barrier is read many times; jitter of its plate box is no direction."""
    h, pipeline = harness
    h.script[b"f1"] = [read("AE1234BK", 0.8, (300, 200, 340, 210))]
    h.script[b"f2"] = [read("AE1234BK", 0.9, (302, 201, 342, 211))]
    await pipeline.submit(frame(b"f1", direction=Direction.UNKNOWN))
    await pipeline.submit(frame(b"f2", final=True, at=1, direction=Direction.UNKNOWN))
    assert h.stored[1].direction is Direction.UNKNOWN


async def test_camera_side_plate_box_is_no_plate_movement(
    harness: tuple[Harness, SightingPipeline],
) -> None:
    """Frigate's own plate read carries the vehicle's box: compared with a plate box it would fake a direction."""
    h, pipeline = harness
    h.script[b"near"] = [read("AE1234BK", 0.9, NEAR_PLATE)]
    await pipeline.submit(
        frame(b"no plate", direction=Direction.UNKNOWN, anpr_plate="AE1234BK")
    )
    await pipeline.submit(frame(b"near", final=True, at=1, direction=Direction.UNKNOWN))
    assert h.stored[1].direction is Direction.UNKNOWN


async def test_a_camera_side_read_longer_than_any_plate_is_no_sighting(
    harness: tuple[Harness, SightingPipeline],
) -> None:
    """A camera that sends a line of text as its plate read must not fill the store with it."""
    h, pipeline = harness
    await pipeline.submit(frame(b"no plate", event="ev1", anpr_plate="AE1234BK" * 2))
    await pipeline.submit(frame(b"no plate", event="ev2", anpr_plate="AE 1234 BK"))
    # A short plate in 100 kB of padding: the raw read would be stored whole.
    padded = "AE1234BK" + " " * 100_000
    await pipeline.submit(frame(b"no plate", event="ev3", anpr_plate=padded))
    assert [new.plate for new in h.stored.values()] == ["AE1234BK"]
    assert [new.raw for new in h.stored.values()] == ["AE 1234 BK"]


async def test_direction_learnt_at_the_end_is_stored_and_announced_again(
    harness: tuple[Harness, SightingPipeline],
) -> None:
    """A long pass is announced before the NVR knows its direction; the end that brings it must reach the store and the listeners.

    Route tracking decides "left the city" from the announced sighting, so the
    correction is what turns an exit sighting into a city exit.
    """
    h, pipeline = harness
    h.script[b"f1"] = [read("AE1234BK", 0.9)]
    await pipeline.submit(frame(b"f1", direction=Direction.UNKNOWN))
    await asyncio.sleep(0.4)
    assert [s.direction for s in h.announced] == [Direction.UNKNOWN]
    # The end brings no newer frame, only the direction.
    await pipeline.submit(frame(None, final=True, at=5, direction=Direction.RECEDING))
    assert h.stored[1].direction is Direction.RECEDING
    assert h.stored[1].confidence == 0.9
    assert h.stored[1].seen_at == T0
    assert [(s.id, s.direction) for s in h.announced] == [
        (1, Direction.UNKNOWN),
        (1, Direction.RECEDING),
    ]
    assert pipeline.counters.sightings_recorded == 1


async def test_an_unchanged_direction_is_not_announced_again(
    harness: tuple[Harness, SightingPipeline],
) -> None:
    """Frames that repeat what was announced must not flood listeners with copies of one pass."""
    h, pipeline = harness
    h.script[b"f1"] = [read("AE1234BK", 0.9)]
    h.script[b"f2"] = [read("AE1234BK", 0.8)]
    await pipeline.submit(frame(b"f1"))
    await asyncio.sleep(0.4)
    await pipeline.submit(frame(b"f2", at=1))
    await pipeline.submit(frame(None, final=True, at=2))
    assert [(s.id, s.direction) for s in h.announced] == [(1, Direction.RECEDING)]


async def _start(
    h: Harness, spool: SightingSpool, changes: list[int]
) -> tuple[SightingPipeline, asyncio.Task[None]]:
    pipeline = SightingPipeline(
        read_frame=h.read_frame,
        record=h.record,
        publish=h.publish,
        publish_after=0.2,
        spool=spool,
        on_spool_change=changes.append,
        spool_retry_seconds=0.05,
    )
    return pipeline, asyncio.get_running_loop().create_task(pipeline.run())


async def _stop(worker: asyncio.Task[None]) -> None:
    worker.cancel()
    await asyncio.gather(worker, return_exceptions=True)


async def test_a_refused_write_is_spooled_then_stored_and_announced(
    tmp_path: Path,
) -> None:
    """A full disk must not cost a sighting: it waits in the spool and is stored and announced once the disk has room."""
    h = Harness(refuse_writes=True)
    h.script[b"f1"] = [read("AE1234BK", 0.9)]
    spool = SightingSpool.open(tmp_path / "spool.jsonl")
    changes: list[int] = []
    pipeline, worker = await _start(h, spool, changes)
    pipeline.offer(frame(b"f1"))
    pipeline.offer(frame(None, final=True, at=1))
    await wait_until(lambda: pipeline.counters.sightings_spooled >= 1, 5)
    await asyncio.sleep(0.3)
    assert h.stored == {}
    assert h.published == [], "nothing is announced that is not stored"
    assert (tmp_path / "spool.jsonl").is_file()
    assert changes == [1]

    h.refuse_writes = False
    await wait_until(lambda: bool(h.published), 5)
    await _stop(worker)
    assert h.published == [(1, "AE1234BK")]
    assert h.stored[1].direction is Direction.RECEDING
    assert pipeline.counters.sightings_recorded == 1
    assert pipeline.spool_depth == 0
    assert not (tmp_path / "spool.jsonl").exists()
    assert changes == [1, 0]


async def test_sightings_behind_the_spool_keep_their_order(tmp_path: Path) -> None:
    """While older sightings wait, newer ones queue behind them, so the store sees passes in the order they happened."""
    h = Harness(refuse_writes=True)
    h.script[b"a"] = [read("AE1234BK", 0.9)]
    h.script[b"b"] = [read("KA7777OO", 0.9)]
    spool = SightingSpool.open(tmp_path / "spool.jsonl")
    pipeline, worker = await _start(h, spool, [])
    pipeline.offer(frame(b"a", event="first", final=True))
    await wait_until(lambda: pipeline.spool_depth == 1, 5)
    # The database works again, but the first sighting has not been replayed yet.
    h.refuse_writes = False
    pipeline.offer(frame(b"b", event="second", final=True, at=1))
    await wait_until(lambda: len(h.published) == 2, 5)
    await _stop(worker)
    assert [h.stored[i].plate for i in sorted(h.stored)] == ["AE1234BK", "KA7777OO"]


async def test_a_restart_replays_the_spool_before_new_sightings(tmp_path: Path) -> None:
    """Sightings spooled before Home Assistant stopped are stored first at the next start."""
    path = tmp_path / "spool.jsonl"
    h = Harness(refuse_writes=True)
    h.script[b"a"] = [read("AE1234BK", 0.9)]
    pipeline, worker = await _start(h, SightingSpool.open(path), [])
    pipeline.offer(frame(b"a", event="before", final=True))
    await wait_until(lambda: pipeline.spool_depth == 1, 5)
    await _stop(worker)

    restarted = Harness()
    restarted.script[b"b"] = [read("KA7777OO", 0.9)]
    pipeline, worker = await _start(restarted, SightingSpool.open(path), [])
    pipeline.offer(frame(b"b", event="after", final=True))
    await wait_until(lambda: len(restarted.published) == 2, 5)
    await _stop(worker)
    assert [text for _, text in restarted.published] == ["AE1234BK", "KA7777OO"]
    assert not path.exists()


async def test_a_long_spool_is_replayed_in_batches_off_the_event_loop(
    tmp_path: Path,
) -> None:
    """Hours of spooled sightings must neither block Home Assistant's event loop nor be loaded into memory at once.

    The store still gets every one, oldest first, with its images.
    """
    path = tmp_path / "spool.jsonl"
    spool = SightingSpool.open(path)
    count = SPOOL_REPLAY_BATCH * 2 + 3
    for number in range(count):
        spool.append(
            NewSighting(
                camera="bridge",
                seen_at=T0 + timedelta(seconds=number),
                plate=f"AA{number:04d}AA",
                raw=f"AA{number:04d}AA",
                confidence=0.9,
                source="frigate",
                event_id=f"event-{number}",
                region="ua",
                box=(0, 0, 10, 5),
                direction=Direction.RECEDING,
                alternatives=(),
                crop_jpeg=f"crop {number}".encode(),
                snapshot_jpeg=f"snapshot {number}".encode(),
            )
        )
    loop_thread = threading.get_ident()
    reads: list[tuple[int, bool]] = []
    read_spool = spool.read

    def read_off_the_loop(start: int, limit: int) -> list[NewSighting]:
        batch = read_spool(start, limit)
        reads.append((len(batch), threading.get_ident() != loop_thread))
        return batch

    spool.read = read_off_the_loop  # type: ignore[method-assign]
    h = Harness()
    pipeline, worker = await _start(h, spool, [])
    await wait_until(lambda: pipeline.counters.sightings_replayed == count, 5)
    await _stop(worker)

    assert reads == [
        (SPOOL_REPLAY_BATCH, True),
        (SPOOL_REPLAY_BATCH, True),
        (3, True),
    ]
    stored = [h.stored[i] for i in sorted(h.stored)]
    assert [new.plate for new in stored] == [f"AA{n:04d}AA" for n in range(count)]
    assert [new.snapshot_jpeg for new in stored] == [
        f"snapshot {n}".encode() for n in range(count)
    ]
    assert not path.exists()


async def test_inbox_frames_are_not_spooled(tmp_path: Path) -> None:
    """The inbox keeps its file until the sighting is stored, so its failure goes back to it instead."""
    h = Harness(refuse_writes=True)
    h.script[b"upload"] = [read("AE1234BK", 0.9)]
    spool = SightingSpool.open(tmp_path / "spool.jsonl")
    pipeline, worker = await _start(h, spool, [])
    with pytest.raises(sqlite3.OperationalError):
        await pipeline.submit(frame(b"upload", event=None))
    await _stop(worker)
    assert pipeline.spool_depth == 0
    assert pipeline.counters.store_errors == 1


async def test_the_engines_ranking_picks_the_pass_plate(
    harness: tuple[Harness, SightingPipeline],
) -> None:
    """A slogan read more confidently than the plate must not become the vehicle's sighting."""
    h, pipeline = harness
    h.script[b"img"] = [read("AE1455KH", 0.8), read("ANDOFLIN", 0.99)]
    await pipeline.submit(frame(b"img", final=True))
    await wait_until(lambda: h.published)
    assert [new.plate for new in h.stored.values()] == ["AE1455KH"]


async def test_a_failing_frame_or_listener_does_not_stop_the_worker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One bad frame or one broken listener must not end plate reading for the whole city.

    An engine crash on a pushed frame is logged with its camera; a publish
    listener that raises is logged; the next pass is still stored and announced.
    """
    h = Harness()
    h.script[b"ok"] = [read("AE1234BK", 0.9)]
    h.script[b"later"] = [read("KA7777OO", 0.9)]
    engine_read = h.read_frame

    async def crashing_read(
        image: bytes, box: Box | None, plate_hint: Box | None
    ) -> FrameResult:
        if image == b"crash":
            raise RuntimeError("inference session died")
        return await engine_read(image, box)

    calls = 0

    def flaky_publish(sighting: Sighting) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("listener bug")
        h.publish(sighting)

    pipeline = SightingPipeline(
        read_frame=crashing_read,
        record=h.record,
        publish=flaky_publish,
        publish_after=0.2,
    )
    worker = asyncio.get_running_loop().create_task(pipeline.run())
    pipeline.offer(frame(b"crash", event="first", final=True))
    pipeline.offer(frame(b"ok", event="second", final=True, at=1))
    pipeline.offer(frame(b"later", event="third", final=True, at=2))
    await wait_until(lambda: bool(h.published), 5)
    await _stop(worker)

    assert [h.stored[i].plate for i in sorted(h.stored)] == ["AE1234BK", "KA7777OO"]
    assert h.published == [(2, "KA7777OO")]
    messages = [record.getMessage() for record in caplog.records]
    assert "Frame of camera bridge failed" in messages
    assert "Publishing sighting 1 failed" in messages


async def test_a_broken_spool_report_does_not_lose_the_sighting(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """If showing the spool's state fails, the sighting is still spooled and later stored."""
    h = Harness(refuse_writes=True)
    h.script[b"f1"] = [read("AE1234BK", 0.9)]

    def broken_report(waiting: int) -> None:
        raise RuntimeError(f"issue registry gone ({waiting})")

    pipeline = SightingPipeline(
        read_frame=h.read_frame,
        record=h.record,
        publish=h.publish,
        publish_after=0.2,
        spool=SightingSpool.open(tmp_path / "spool.jsonl"),
        on_spool_change=broken_report,
        spool_retry_seconds=0.05,
    )
    worker = asyncio.get_running_loop().create_task(pipeline.run())
    pipeline.offer(frame(b"f1", final=True))
    await wait_until(lambda: pipeline.spool_depth == 1, 5)
    h.refuse_writes = False
    await wait_until(lambda: bool(h.published), 5)
    await _stop(worker)
    assert h.published == [(1, "AE1234BK")]
    assert "Reporting the spool's state failed" in [
        record.getMessage() for record in caplog.records
    ]


async def test_engine_down_keeps_the_nvr_read_and_counts_the_frame(
    harness: tuple[Harness, SightingPipeline], caplog: pytest.LogCaptureFixture
) -> None:
    """A dead engine server must not lose the sightings the NVR read itself, nor flood the log.

    Frigate's own plate read still makes the sighting; frames without one are
    counted, and the outage is logged once, not once per frame.
    """
    h, pipeline = harness
    h.engine_down = True
    assert pipeline.offer(frame(b"f1", event="ev1", anpr_plate="AE1234BK", final=True))
    assert pipeline.offer(frame(b"f2", event="ev2", final=True))
    await wait_until(lambda: pipeline.counters.frames_engine_unavailable == 2, 5)
    await wait_until(lambda: bool(h.published), 5)
    assert [new.plate for new in h.stored.values()] == ["AE1234BK"]
    assert caplog.text.count("The engine is unavailable") == 1

    h.engine_down = False
    h.script[b"f3"] = [read("BC5512HP", 0.9)]
    assert pipeline.offer(frame(b"f3", event="ev3", final=True))
    await wait_until(lambda: len(h.published) == 2, 5)
    assert "The engine answers again" in caplog.text


async def test_the_engine_back_tells_sources_since_when_frames_were_lost(
    harness: tuple[Harness, SightingPipeline], caplog: pytest.LogCaptureFixture
) -> None:
    """A source that can ask its NVR for the outage's frames again learns when it began, once."""
    h, pipeline = harness
    told: list[float] = []

    def broken(_: float) -> None:
        raise RuntimeError("a source that fails")

    pipeline.on_engine_back(broken)
    stop = pipeline.on_engine_back(told.append)
    h.engine_down = True
    assert pipeline.offer(frame(b"f1", event="ev1", final=True, at=5))
    assert pipeline.offer(frame(b"f2", event="ev2", final=True, at=9))
    await wait_until(lambda: pipeline.counters.frames_engine_unavailable == 2, 5)
    assert told == []
    h.engine_down = False
    assert pipeline.offer(frame(b"f3", event="ev3", final=True, at=12))
    assert pipeline.offer(frame(b"f4", event="ev4", final=True, at=13))
    await wait_until(lambda: pipeline.counters.frames_read == 2, 5)
    # The first lost frame's time (T0 is long past, so earlier than now).
    assert told == [(T0 + timedelta(seconds=5)).timestamp()]
    assert "could not ask for the frames of the outage" in caplog.text
    stop()
    h.engine_down = True
    assert pipeline.offer(frame(b"f5", event="ev5", final=True))
    await wait_until(lambda: pipeline.counters.frames_engine_unavailable == 3, 5)
    h.engine_down = False
    assert pipeline.offer(frame(b"f6", event="ev6", final=True))
    await wait_until(lambda: pipeline.counters.frames_read == 3, 5)
    assert len(told) == 1


async def test_engine_down_fails_a_service_call_that_waits(
    harness: tuple[Harness, SightingPipeline],
) -> None:
    """capture_camera's caller must hear that nothing was read, not get an empty answer."""
    h, pipeline = harness
    h.engine_down = True
    with pytest.raises(EngineUnavailableError):
        await pipeline.submit(frame(b"f1", final=True))
    assert pipeline.counters.frames_engine_unavailable == 1


async def test_parallel_reads_overlap_but_apply_in_order() -> None:
    """With two engines, two frames are read at once; a pass still sees its frames in order.

    The first frame's read is made the slowest: applied out of order, the later
    frames' reads would become the pass's first read and its direction.
    """
    h = Harness()
    active = 0
    most = 0
    order: list[bytes] = []

    async def slow_first(
        image: bytes, box: Box | None, plate_hint: Box | None
    ) -> FrameResult:
        nonlocal active, most
        active += 1
        most = max(most, active)
        await asyncio.sleep(0.2 if image == b"f1" else 0.01)
        active -= 1
        order.append(image)
        return await h.read_frame(image, box)

    recorded: list[Box | None] = []

    async def record(new: NewSighting) -> tuple[Sighting, bool]:
        recorded.append(new.box)
        return await h.record(new)

    pipeline = SightingPipeline(
        read_frame=slow_first,
        record=record,
        publish=h.publish,
        queue_size=8,
        publish_after=0.05,
        parallel_reads=2,
    )
    h.script[b"f1"] = [read("AE1234BK", 0.7, FAR_PLATE)]
    h.script[b"f2"] = [read("AE1234BK", 0.8, (295, 215, 345, 228))]
    h.script[b"f3"] = [read("AE1234BK", 0.9, NEAR_PLATE)]
    worker = asyncio.get_running_loop().create_task(pipeline.run())
    try:
        for number, image in enumerate((b"f1", b"f2", b"f3")):
            assert pipeline.offer(
                frame(
                    image, at=number, final=image == b"f3", direction=Direction.UNKNOWN
                )
            )
        await wait_until(lambda: pipeline.counters.frames_read == 3, 5)
        await wait_until(lambda: bool(h.published), 5)
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
    assert most == 2
    assert order[0] == b"f2"  # f2 finished first...
    (stored,) = h.stored.values()
    # ...yet the pass was built from f1, f2, f3 in that order: the plate grew nearer.
    assert stored.direction is Direction.APPROACHING
    assert recorded[0] == FAR_PLATE, recorded


async def test_an_end_whose_image_is_refused_still_ends_the_pass_with_its_direction(
    harness: tuple[Harness, SightingPipeline],
) -> None:
    """The end of an event brings the direction a city exit is told by: a truncated snapshot must not lose it.

    The pass learns the direction, is stored with it and announced as it
    ends; the refused image is still counted and its caller told.
    """
    h, pipeline = harness
    h.script[b"f1"] = [read("AE1234BK", 0.9)]
    await pipeline.submit(frame(b"f1", direction=Direction.UNKNOWN))
    with pytest.raises(ImageRejectedError):
        await pipeline.submit(frame(b"corrupt", final=True, at=2))
    assert h.stored[1].direction is Direction.RECEDING
    assert [(s.id, s.direction) for s in h.announced] == [(1, Direction.RECEDING)]
    assert pipeline.counters.frames_rejected == 1
    # The pass is over: a frame of the next event starts a sighting of its own.
    h.script[b"next"] = [read("AE1234BK", 0.9)]
    await pipeline.submit(frame(b"next", event="ev2", final=True, at=3))
    assert sorted(h.stored) == [1, 2]


async def test_an_engine_crash_on_the_end_of_a_pass_still_ends_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Whatever the engine does with the last image, the pass ends with what its source knew, and the crash is logged."""
    h = Harness()
    h.script[b"f1"] = [read("AE1234BK", 0.9)]

    async def crashing_read(
        image: bytes, box: Box | None, plate_hint: Box | None
    ) -> FrameResult:
        if image == b"crash":
            raise RuntimeError("inference session died")
        return await h.read_frame(image, box)

    pipeline = SightingPipeline(
        read_frame=crashing_read, record=h.record, publish=h.publish, publish_after=30
    )
    worker = asyncio.get_running_loop().create_task(pipeline.run())
    pipeline.offer(frame(b"f1", direction=Direction.UNKNOWN))
    pipeline.offer(frame(b"crash", final=True, at=2, direction=Direction.LEFT))
    await wait_until(lambda: bool(h.announced), 5)
    await _stop(worker)
    assert [(s.id, s.direction) for s in h.announced] == [(1, Direction.LEFT)]
    assert h.stored[1].direction is Direction.LEFT
    assert "Frame of camera bridge failed" in caplog.text


async def test_a_due_replay_is_not_starved_by_steady_traffic_with_parallel_reads(
    tmp_path: Path,
) -> None:
    """With several engines and a queue that never empties, the spool must still be replayed.

    Else every later sighting waits behind it, unstored and unannounced, for
    as long as the traffic lasts.
    """
    h = Harness(refuse_writes=True)

    async def slow_read(
        image: bytes, box: Box | None, plate_hint: Box | None
    ) -> FrameResult:
        await asyncio.sleep(0.01)
        return await h.read_frame(image, box)

    pipeline = SightingPipeline(
        read_frame=slow_read,
        record=h.record,
        publish=h.publish,
        queue_size=8,
        publish_after=0.05,
        spool=SightingSpool.open(tmp_path / "spool.jsonl"),
        spool_retry_seconds=0.05,
        parallel_reads=2,
    )
    worker = asyncio.get_running_loop().create_task(pipeline.run())
    h.script[b"first"] = [read("AE1234BK", 0.9)]
    pipeline.offer(frame(b"first", event="first", final=True))
    await wait_until(lambda: pipeline.spool_depth == 1, 5)
    h.refuse_writes = False
    try:
        for number in range(200):
            image = f"car {number}".encode()
            h.script[image] = [read(f"KA{number:04d}OO", 0.9)]
            await pipeline.put(frame(image, event=f"e{number}", final=True, at=number))
        replayed_under_traffic = pipeline.counters.sightings_replayed
        queued = pipeline.queue_depth
    finally:
        await _stop(worker)
    assert queued > 0, "the traffic had not stopped yet"
    assert replayed_under_traffic >= 1
    assert h.stored[1].plate == "AE1234BK", "the spooled sighting stays first"


async def _replay_into(
    h: Harness,
    spool: SightingSpool,
    record: Callable[[NewSighting], Awaitable[tuple[Sighting, bool]]],
) -> tuple[SightingPipeline, asyncio.Task[None]]:
    """Run a pipeline that gives ``spool`` to ``record`` first thing."""
    pipeline = SightingPipeline(
        read_frame=h.read_frame,
        record=record,
        publish=h.publish,
        spool=spool,
    )
    return pipeline, asyncio.get_running_loop().create_task(pipeline.run())


def _spool_without_event_ids(path: Path, count: int) -> SightingSpool:
    """Return a spool of ``count`` sightings without an event id: the store cannot merge them."""
    spool = SightingSpool.open(path)
    for number in range(count):
        spool.append(
            NewSighting(
                camera="gate",
                seen_at=T0 + timedelta(seconds=number),
                plate=f"AA{number:04d}BB",
                raw=f"AA{number:04d}BB",
                confidence=0.9,
                source="anpr",
                event_id=None,
                region=None,
                box=None,
                direction=Direction.UNKNOWN,
                alternatives=(),
            )
        )
    return spool


async def _stop_during_the_eleventh_write(
    path: Path,
) -> tuple[Harness, SightingPipeline]:
    """Replay a spool of 40 into a store whose 11th write is under way when the worker is stopped."""
    h = Harness()
    started, release, written = threading.Event(), threading.Event(), threading.Event()

    def slow_record(new: NewSighting) -> tuple[Sighting, bool]:
        if len(h.stored) != 10:
            return h.record_now(new)
        started.set()
        release.wait(5)
        try:
            return h.record_now(new)
        finally:
            written.set()

    pipeline, worker = await _replay_into(
        h,
        _spool_without_event_ids(path, 40),
        lambda new: asyncio.to_thread(slow_record, new),
    )
    await asyncio.to_thread(started.wait, 5)
    worker.cancel()
    await asyncio.sleep(0.05)
    release.set()
    await asyncio.gather(worker, return_exceptions=True)
    # The thread commits whether or not the worker waited for it.
    await asyncio.to_thread(written.wait, 5)
    return h, pipeline


async def test_a_stop_during_replay_stores_nothing_twice(tmp_path: Path) -> None:
    """A sighting without an event id stored once must not be stored again by the next start's replay.

    The write under way when the worker stops is waited for and leaves the
    spool with the others the store took; the rest is replayed after a restart.
    """
    path = tmp_path / "spool.jsonl"
    h, pipeline = await _stop_during_the_eleventh_write(path)
    assert len(h.stored) == 11
    assert pipeline.counters.sightings_replayed == 11
    assert len(SightingSpool.open(path)) == 29

    restarted = Harness()
    pipeline, worker = await _replay_into(
        restarted, SightingSpool.open(path), restarted.record
    )
    await wait_until(lambda: len(restarted.stored) == 29, 5)
    await _stop(worker)
    plates = [new.plate for new in [*h.stored.values(), *restarted.stored.values()]]
    assert plates == [f"AA{number:04d}BB" for number in range(40)]
    assert not path.exists()


async def test_what_a_stopped_replay_stored_is_announced(tmp_path: Path) -> None:
    """The spool forgets what the store took: unless it is announced then, no alert ever comes for it."""
    path = tmp_path / "spool.jsonl"
    h, _ = await _stop_during_the_eleventh_write(path)
    assert [plate for _, plate in h.published] == [
        new.plate for new in h.stored.values()
    ]
    assert len(h.published) == 11


async def test_a_stop_fails_waiting_callers_and_counts_the_frames_it_drops(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Frames accepted and never read must show in the counters and the log, and a camera waiting for its answer must hear to send again.

    Else a webhook request or a capture_camera call waits forever, and the
    dropped frames are nowhere to be seen.
    """
    h = Harness()
    reading = asyncio.Event()

    async def slow_read(
        image: bytes, box: Box | None, plate_hint: Box | None
    ) -> FrameResult:
        reading.set()
        await asyncio.sleep(30)
        return await h.read_frame(image, box)

    pipeline = SightingPipeline(
        read_frame=slow_read, record=h.record, publish=h.publish, queue_size=3
    )
    worker = asyncio.get_running_loop().create_task(pipeline.run())
    for number in range(3):
        assert pipeline.offer(frame(b"f", event=f"ev{number}", final=True))
    await reading.wait()
    waiting_call = asyncio.get_running_loop().create_task(
        pipeline.submit(frame(b"cam", event=None), may_spool=True)
    )
    assert pipeline.offer(frame(b"f", event="ev3", final=True)), "an end waits for room"
    await asyncio.sleep(0.01)
    await _stop(worker)

    with pytest.raises(PipelineStoppedError):
        await asyncio.wait_for(waiting_call, 1)
    assert pipeline.counters.frames_dropped == 4
    assert pipeline.queue_depth == 0
    assert (
        "4 frames it had accepted are dropped unread (cameras: bridge)" in caplog.text
    )
    assert h.stored == {}

    # Frames that come after the stop are refused the same way.
    assert not pipeline.offer(frame(b"f", event="late", final=True))
    with pytest.raises(PipelineStoppedError):
        await pipeline.put(frame(b"f", event="later", final=True))
    with pytest.raises(PipelineStoppedError):
        await pipeline.submit(frame(b"cam", event=None))
    assert pipeline.counters.frames_dropped == 6
    await asyncio.wait_for(pipeline.join(), 1)


async def test_join_waits_until_what_was_accepted_is_stored() -> None:
    """An orderly stop stops the sources, then lets the pipeline store what they sent before it cancels the worker."""
    h = Harness()
    h.script[b"f1"] = [read("AE1234BK", 0.9)]
    h.script[b"f2"] = [read("KA7777OO", 0.9)]
    pipeline = SightingPipeline(
        read_frame=h.read_frame, record=h.record, publish=h.publish, queue_size=1
    )
    assert pipeline.offer(frame(b"f1", event="ev1", final=True))
    assert pipeline.offer(frame(b"f2", event="ev2", final=True)), "waits for room"
    worker = asyncio.get_running_loop().create_task(pipeline.run())
    await asyncio.wait_for(pipeline.join(), 5)
    await _stop(worker)
    assert sorted(new.plate for new in h.stored.values()) == ["AE1234BK", "KA7777OO"]
    assert pipeline.counters.frames_dropped == 0


async def test_a_replayed_pass_is_announced_again_only_if_it_changed(
    tmp_path: Path,
) -> None:
    """A later frame of an announced pass that waited in the spool must not repeat the alert when it says the same.

    When it says something else (here the direction), it is announced.
    """
    h = Harness()
    h.script[b"f1"] = [read("AE1234BK", 0.9)]
    h.script[b"f2"] = [read("AE1234BK", 0.8)]
    pipeline, worker = await _start(h, SightingSpool.open(tmp_path / "spool.jsonl"), [])
    passes = (("same", Direction.RECEDING), ("turned", Direction.LEFT))
    for number, (event, end_direction) in enumerate(passes, start=1):
        pipeline.offer(frame(b"f1", event=event))
        await wait_until(lambda: len(h.announced) == number, 5)  # noqa: B023
        h.refuse_writes = True
        pipeline.offer(frame(b"f2", event=event, at=1, direction=end_direction))
        pipeline.offer(
            frame(None, event=event, final=True, at=2, direction=end_direction)
        )
        await wait_until(lambda: pipeline.spool_depth == 1, 5)
        h.refuse_writes = False
        await wait_until(lambda: pipeline.spool_depth == 0, 5)
        await asyncio.sleep(0.1)
    await _stop(worker)
    assert [(s.id, s.direction) for s in h.announced] == [
        (1, Direction.RECEDING),
        (2, Direction.RECEDING),
        (2, Direction.LEFT),
    ]
    assert pipeline.counters.sightings_replayed == 2, "the later frames were stored"


async def test_a_frame_read_again_after_a_refused_plate_stores_each_plate_once() -> (
    None
):
    """The inbox reads a file again when its submit failed: the plate stored the first time must not be stored and announced twice.

    Without an event id the store knows the row by source, camera, plate and
    time; the pipeline must not announce it again.
    """
    h = Harness()
    h.script[b"two cars"] = [read("AE1234BK", 0.9), read("KA7777OO", 0.9)]
    calls = 0

    async def locked_once(new: NewSighting) -> tuple[Sighting, bool]:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise sqlite3.OperationalError("database is locked")
        return await h.record(new)

    pipeline = SightingPipeline(
        read_frame=h.read_frame, record=locked_once, publish=h.publish
    )
    worker = asyncio.get_running_loop().create_task(pipeline.run())
    upload = frame(b"two cars", event=None, final=True)
    try:
        with pytest.raises(sqlite3.OperationalError):
            await pipeline.submit(upload)
        sightings = await pipeline.submit(upload)
    finally:
        await _stop(worker)
    assert [s.plate for s in sightings] == ["AE1234BK", "KA7777OO"]
    assert [new.plate for new in h.stored.values()] == ["AE1234BK", "KA7777OO"]
    assert [plate for _, plate in h.published] == ["AE1234BK", "KA7777OO"]


def _refusing(h: Harness) -> Callable[[NewSighting], Awaitable[tuple[Sighting, bool]]]:
    """Return a store that cannot encode a lone surrogate, like SQLite."""

    async def record(new: NewSighting) -> tuple[Sighting, bool]:
        new.raw.encode()
        return await h.record(new)

    return record


async def test_a_spooled_sighting_the_store_refuses_for_good_is_set_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A sighting the store will never take must not hold up every sighting after it.

    It is kept beside the spool, counted and logged with the reason; the
    replay goes on with the rest, in order.
    """
    path = tmp_path / "spool.jsonl"
    spool = _spool_without_event_ids(path, 3)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace('"raw":"AA0001BB"', '"raw":"AA0001BB\\ud800"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    h = Harness()
    pipeline, worker = await _replay_into(h, SightingSpool.open(path), _refusing(h))
    await wait_until(lambda: len(h.stored) == 2, 5)
    await _stop(worker)
    assert [new.plate for new in h.stored.values()] == ["AA0000BB", "AA0002BB"]
    assert pipeline.spool_depth == 0
    assert pipeline.counters.sightings_set_aside == 1
    (kept,) = spool.set_aside_path.read_text(encoding="utf-8").splitlines()
    assert '"plate":"AA0001BB"' in kept
    assert '"refused":"UnicodeEncodeError' in kept
    assert "for what it holds" in caplog.text


async def test_a_sighting_the_store_refuses_for_good_is_set_aside_not_spooled(
    tmp_path: Path,
) -> None:
    """Spooled, it would be refused again at every replay, with all later sightings waiting behind it."""
    h = Harness()
    spool = SightingSpool.open(tmp_path / "spool.jsonl")
    pipeline = SightingPipeline(
        read_frame=h.read_frame, record=_refusing(h), publish=h.publish, spool=spool
    )
    worker = asyncio.get_running_loop().create_task(pipeline.run())
    try:
        sightings = await pipeline.submit(
            frame(b"no plate", event=None, anpr_plate="AE1234BK\ud800"), may_spool=True
        )
        assert sightings == []
        h.script[b"next"] = [read("KA7777OO", 0.9)]
        await pipeline.submit(frame(b"next", event=None), may_spool=True)
    finally:
        await _stop(worker)
    assert pipeline.spool_depth == 0
    assert pipeline.counters.sightings_set_aside == 1
    assert [new.plate for new in h.stored.values()] == ["KA7777OO"]
    assert spool.set_aside_path.is_file()
