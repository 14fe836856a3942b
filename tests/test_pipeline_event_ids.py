"""NVR event ids the pipeline sees again: a pass continues only within the store's hour.

Camera-side ANPR units and some NVRs count their event ids from 1 again after a
restart, so one (source, camera, event id) can name two cars hours or days
apart. These tests run the pipeline over a real SQLite store, which keeps such
reads apart (``SAME_EVENT_WITHIN_US``): the pipeline must not merge them first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
import sqlite3

import pytest

from custom_components.plate_tracker.engine.types import Box, FrameResult, PlateRead
from custom_components.plate_tracker.pipeline import (
    MAX_PASS_READS,
    Frame,
    SightingPipeline,
)
from custom_components.plate_tracker.records import Direction, NewSighting, Sighting
from custom_components.plate_tracker.store import SightingStore
from custom_components.plate_tracker.store.spool import SightingSpool

from .helpers import wait_until

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
NEXT_DAY = 24 * 3600


@dataclass
class Engine:
    """An engine that reads the plates scripted for each image, and a real store behind it."""

    store: SightingStore
    script: dict[bytes, list[PlateRead]] = field(default_factory=dict)
    hints: list[tuple[bytes, Box | None]] = field(default_factory=list)
    announced: list[Sighting] = field(default_factory=list)
    refuse_writes: bool = False
    """Answer writes like a full disk (the store is left untouched)."""

    async def read_frame(
        self, image: bytes, box: Box | None, plate_hint: Box | None = None
    ) -> FrameResult:
        """Answer from the script; remember where the pipeline asked to look first."""
        self.hints.append((image, plate_hint))
        return FrameResult(
            width=1000,
            height=800,
            plates=tuple(self.script.get(image, [])),
            seconds=0.01,
            read_at_hint=plate_hint is not None,
        )

    async def record(self, new: NewSighting) -> tuple[Sighting, bool]:
        """Store in the real SQLite store, in a worker thread as Home Assistant does."""
        if self.refuse_writes:
            raise sqlite3.OperationalError("database or disk is full")
        return await asyncio.to_thread(self.store.record, new)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SightingStore]:
    """Return a real store on a fresh SQLite file."""
    with SightingStore.open(tmp_path / "sightings.db") as opened:
        yield opened


@contextlib.asynccontextmanager
async def running(
    engine: Engine, spool: SightingSpool | None = None
) -> AsyncIterator[SightingPipeline]:
    """Run a pipeline over ``engine`` until the block ends."""
    pipeline = SightingPipeline(
        read_frame=engine.read_frame,
        record=engine.record,
        publish=engine.announced.append,
        publish_after=0.1,
        spool=spool,
        spool_retry_seconds=0.05,
    )
    worker = asyncio.get_running_loop().create_task(pipeline.run())
    try:
        yield pipeline
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)


async def settle(condition: Callable[[], bool]) -> None:
    """Give the worker time to make ``condition`` true; the assertions after tell what it did."""
    with contextlib.suppress(TimeoutError):
        await wait_until(condition, 2)
    await asyncio.sleep(0.2)


def read(text: str, confidence: float, box: Box) -> PlateRead:
    """Return an engine read of ``text`` found at ``box``."""
    return PlateRead(
        text=text, raw=text, confidence=confidence, box=box, crop_jpeg=text.encode()
    )


def frame(
    image: bytes | None,
    *,
    at: float,
    final: bool = False,
    direction: Direction = Direction.RECEDING,
) -> Frame:
    """Return a frame of event ``7`` of camera ``gate``, ``at`` seconds after T0."""
    return Frame(
        image=image,
        camera="gate",
        seen_at=T0 + timedelta(seconds=at),
        source="anpr",
        event_id="7",
        final=final,
        direction=direction,
        vehicle_box=(100, 100, 900, 700),
    )


def plates_by_time(store: SightingStore) -> list[tuple[datetime, str]]:
    """Return every stored sighting of camera ``gate`` as (time, plate), oldest first."""
    return sorted((s.seen_at, s.plate) for s in store.recent() if s.camera == "gate")


async def test_a_reused_event_id_a_day_later_is_another_car(
    store: SightingStore,
) -> None:
    """A pass whose end never came must not swallow the next car that gets its event id.

    The camera restarted in the middle of event 7 (its end was lost) and, a
    day later, counted up to 7 again for another car. Merged into the old
    pass, the new car's plate would be voted on with the old one's and stored
    over the old sighting, dated a day early: the new car would never be
    stored nor announced, and the first car's record would be rewritten.
    """
    engine = Engine(store)
    engine.script[b"first"] = [read("AA1111AA", 0.9, (300, 500, 420, 540))]
    engine.script[b"second"] = [read("BB2222BB", 0.95, (600, 200, 720, 240))]
    async with running(engine) as pipeline:
        await pipeline.submit(frame(b"first", at=0))
        await pipeline.submit(frame(b"second", at=NEXT_DAY, final=True))
        await settle(lambda: len(engine.announced) >= 2)

    assert plates_by_time(store) == [
        (T0, "AA1111AA"),
        (T0 + timedelta(seconds=NEXT_DAY), "BB2222BB"),
    ]
    assert sorted(s.plate for s in engine.announced) == ["AA1111AA", "BB2222BB"]
    assert engine.hints[1] == (b"second", None), (
        "the other car is searched for in its own vehicle box, not where the old plate was"
    )


async def test_frames_of_one_event_within_the_hour_stay_one_pass(
    store: SightingStore,
) -> None:
    """A car waiting at a barrier sends frames of one event for many minutes: still one sighting."""
    engine = Engine(store)
    engine.script[b"first"] = [read("AE1234BK", 0.6, (300, 500, 420, 540))]
    engine.script[b"later"] = [read("AE1234BK", 0.9, (300, 500, 420, 540))]
    async with running(engine) as pipeline:
        await pipeline.submit(frame(b"first", at=0))
        await pipeline.submit(frame(b"later", at=50 * 60, final=True))

    assert plates_by_time(store) == [(T0, "AE1234BK")]
    assert engine.hints[1][1] == (300, 500, 420, 540), "read where the plate was"


async def test_a_parked_car_keeps_its_pass_while_its_frames_keep_coming(
    store: SightingStore,
) -> None:
    """An event that goes on for hours, with a frame at least every hour, is one car."""
    engine = Engine(store)
    engine.script[b"frame"] = [read("AE1234BK", 0.9, (300, 500, 420, 540))]
    async with running(engine) as pipeline:
        for minute in range(0, 181, 45):
            await pipeline.submit(frame(b"frame", at=minute * 60))
        await pipeline.submit(frame(None, at=181 * 60, final=True))

    assert plates_by_time(store) == [(T0, "AE1234BK")]


async def test_a_reused_event_id_replayed_from_the_spool_is_announced(
    store: SightingStore, tmp_path: Path
) -> None:
    """The same car with the same reused event id a day later is a new sighting and is announced.

    Its first sighting's last frame had waited in the spool, so the pipeline
    remembered what that pass had announced, to not repeat it. The next day's
    sighting says the same plate and direction; it must not be taken for that
    replay and left unannounced (a watchlist alert never raised).
    """
    engine = Engine(store)
    engine.script[b"day1"] = [read("AE1234BK", 0.8, (300, 500, 420, 540))]
    engine.script[b"day1-end"] = [read("AE1234BK", 0.9, (300, 500, 420, 540))]
    engine.script[b"day2"] = [read("AE1234BK", 0.9, (300, 500, 420, 540))]
    spool = SightingSpool.open(tmp_path / "spool.jsonl")
    async with running(engine, spool) as pipeline:
        pipeline.offer(frame(b"day1", at=0))
        await wait_until(lambda: len(engine.announced) == 1, 5)
        engine.refuse_writes = True
        pipeline.offer(frame(b"day1-end", at=2, final=True))
        await wait_until(lambda: pipeline.spool_depth == 1, 5)
        engine.refuse_writes = False
        await wait_until(lambda: pipeline.spool_depth == 0, 5)

        engine.refuse_writes = True
        pipeline.offer(frame(b"day2", at=NEXT_DAY, final=True))
        await wait_until(lambda: pipeline.spool_depth == 1, 5)
        engine.refuse_writes = False
        await wait_until(lambda: pipeline.spool_depth == 0, 5)
        await settle(lambda: len(engine.announced) >= 2)

    assert plates_by_time(store) == [
        (T0, "AE1234BK"),
        (T0 + timedelta(seconds=NEXT_DAY), "AE1234BK"),
    ]
    assert [(s.id, s.seen_at) for s in engine.announced] == [
        (1, T0),
        (2, T0 + timedelta(seconds=NEXT_DAY)),
    ]


async def test_a_replayed_sighting_of_an_earlier_car_is_not_taken_for_the_open_pass(
    store: SightingStore, tmp_path: Path
) -> None:
    """A spooled correction of yesterday's car is announced, not absorbed by today's pass.

    Yesterday's car turned out to leave (its last frame, spooled, says so);
    today another car got the same event id while that frame still waited in
    the spool. Replayed, yesterday's correction belongs to yesterday's
    sighting: taken for today's open pass it was never announced, and the
    police never heard that the car drove out.
    """
    engine = Engine(store)
    engine.script[b"day1"] = [read("AA1111AA", 0.9, (300, 500, 420, 540))]
    engine.script[b"day2"] = [read("BB2222BB", 0.9, (600, 200, 720, 240))]
    spool = SightingSpool.open(tmp_path / "spool.jsonl")
    async with running(engine, spool) as pipeline:
        pipeline.offer(frame(b"day1", at=0))
        await wait_until(lambda: len(engine.announced) == 1, 5)
        engine.refuse_writes = True
        pipeline.offer(frame(None, at=2, final=True, direction=Direction.LEFT))
        pipeline.offer(frame(b"day2", at=NEXT_DAY))
        await wait_until(lambda: pipeline.spool_depth == 2, 5)
        engine.refuse_writes = False
        await wait_until(lambda: pipeline.spool_depth == 0, 5)
        await settle(lambda: len(engine.announced) >= 3)

    assert [(s.plate, s.direction) for s in engine.announced] == [
        ("AA1111AA", Direction.RECEDING),
        ("AA1111AA", Direction.LEFT),
        ("BB2222BB", Direction.RECEDING),
    ]


async def test_a_long_pass_keeps_a_bounded_number_of_its_surest_reads(
    store: SightingStore,
) -> None:
    """Hours of frames of one parked car hold at most MAX_PASS_READS reads (each with its crop)."""
    engine = Engine(store)
    frames = MAX_PASS_READS + 60
    for number in range(frames):
        engine.script[b"f%d" % number] = [
            read("AE1234BK", 0.5 + 0.4 * number / frames, (300, 500, 420, 540))
        ]
    async with running(engine) as pipeline:
        for number in range(frames):
            await pipeline.submit(frame(b"f%d" % number, at=number * 10))
        await settle(lambda: len(engine.hints) >= frames)
        [state] = pipeline._passes.values()
        kept = sorted(kept.confidence for kept in state.reads)

    assert len(kept) == MAX_PASS_READS
    assert kept[0] > 0.5 + 0.4 * 59 / frames, "the least sure reads were dropped"
    assert plates_by_time(store) == [(T0, "AE1234BK")]
