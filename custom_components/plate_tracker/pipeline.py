"""From frames to stored sightings: queue, recognition, per-pass consensus, store.

Plain asyncio, no Home Assistant imports: the Home Assistant glue hands in how to
run blocking work (recognition and the store run in executor threads) and what to
do with a finished sighting.

A *pass* is one vehicle going past one camera. Frames of one NVR event
(``event_id``) belong to one pass and make one sighting: each frame's read is
combined with the earlier ones, and the stored sighting is updated in place. A
frame more than an hour after the pass's latest one (``SAME_EVENT_WITHIN``)
starts a pass of its own: an NVR that counts its event ids from 1 again after a
restart gives a later car an id it gave before. The sighting is published once,
when the pass ends or ``publish_after`` seconds after its first read, whichever
comes first (police alerts must not wait for a parked car to drive off); a later
frame that changes the plate or the direction publishes a correction. A pass
without a frame for an hour (its end was lost) ends as its end would, and its
images are let go (``QUIET_PASS_ENDS_AFTER``).

The direction of a pass is the latest one its source knew (Frigate's zones or
vehicle movement, a camera's own field); when the source knows none, the
movement of the plate between the pass's first and latest read decides, if it
is clear. It may become known only at the end of the pass: the stored sighting
is then updated and announced again, so that a city exit is seen.

Frames without an event id (a folder upload) are a pass of their own, and every
plate in them is a sighting.

A push source's sighting that the store cannot take (disk full, a locked or
read-only database) goes to the durable spool instead of being lost; while the
spool holds anything, later sightings queue behind it, and the worker replays
it in order, with growing pauses, until the store takes it (first of all when it
starts). A replayed sighting is announced then, unless its pass was announced
already as it is. A pull source (the inbox) keeps its file instead: its
``submit`` raises and the file is read again later. A sighting the store
refuses for what it holds, not for its state, is set aside next to the spool
(``SightingSpool.set_aside``) rather than holding up all after it.

Stopping the worker (``run`` cancelled) finishes the store write under way, so
that what the store committed is accounted for, but reads no more frames: the
frames still waiting are counted as dropped and logged, and a ``submit`` caller
waiting for one hears ``PipelineStoppedError`` (a camera sends it again).
``join`` lets the frames accepted so far be processed first.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
import logging
import time
from typing import Any

from .engine.consensus import combine_reads
from .engine.remote import EngineUnavailableError
from .engine.types import Box, FrameResult, PlateRead
from .engine.words import is_known_word
from .matching.movement import direction_from_boxes
from .matching.watchlist import MAX_PLATE_LENGTH
from .plate_text import normalize_plate
from .records import Direction, NewSighting, Reader, Sighting
from .store.schema import SAME_EVENT_WITHIN_US
from .store.spool import SightingSpool, SpoolWriteError

_LOGGER = logging.getLogger(__name__)

MAX_CAMERA_READ_LENGTH = 4 * MAX_PLATE_LENGTH
"""Longest plate read a camera or NVR may send as it wrote it (spaces, dashes, a
country code around the plate); longer is no plate read, however short the plate in it."""

MAX_PASS_READS = 200
"""Reads a pass keeps for its consensus, the surest: memory stays bounded however
long an event goes on (a car parked in view, an event whose end was lost). Only
the best read keeps its crop (the sighting's evidence): the vote needs the texts."""
MAX_OPEN_PASSES = 256
"""Passes open at once; past it, the one whose latest frame came longest ago ends
(its end was lost), so a car still in view keeps its pass."""
SAME_EVENT_WITHIN = timedelta(microseconds=SAME_EVENT_WITHIN_US)
"""How far apart two frames with one NVR event id may be and be one pass.

The store's rule (``SAME_EVENT_WITHIN_US``): an NVR or camera that counts
its events from 1 again after a restart hands a later car an id an open pass
still holds (its end was lost in the restart). Measured from the pass's
latest frame, so that a car parked in view, whose event goes on for hours
with a frame now and then, stays one pass; the store dates the pass's
sighting by its first frame and so merges every frame of it either way.
"""
QUIET_PASS_ENDS_AFTER = SAME_EVENT_WITHIN.total_seconds()
"""Seconds without a frame after which an open pass ends as if its end had come.

An event whose end was lost (an MQTT reconnect, an NVR restart) held its best
snapshot until ``MAX_OPEN_PASSES`` later passes pushed it out, at a quiet
camera for good. Not sooner than ``SAME_EVENT_WITHIN``: Frigate sends an
event's frame only when its best snapshot improves, so a car parked in view
sends none for hours and its event stays one pass; a frame coming later than
that starts a pass of its own anyway, so ending the pass then changes nothing
stored or announced. Timed on the event loop's clock, when the frames came, not
by the NVR's times (another clock; a backlog read after an outage is old).
"""
SPOOL_RETRY_SECONDS = 5.0
SPOOL_RETRY_MAX_SECONDS = 300.0
SPOOL_REPLAY_BATCH = 32
"""Spooled sightings read at a time; with their images, a few MB. They leave the
spool together, once the store took them all."""
MAX_REPLAYED_PASSES = 4096
"""Ended passes with sightings still in the spool whose announcement is kept,
so that their replay is not announced again unchanged; a few hundred bytes each."""
REFUSED_FOR_GOOD = (ValueError, TypeError, OverflowError)
"""What the store raises for a sighting it will never take (a text it cannot
encode, a plate it does not accept, a number too large), unlike a locked,
read-only or full database (``sqlite3.Error``, ``OSError``)."""

type ReadFrame = Callable[[bytes, Box | None, Box | None], Awaitable[FrameResult]]
"""Read an image: its bytes, the vehicle's box, where the plate likely is (or None)."""
type RecordSighting = Callable[[NewSighting], Awaitable[tuple[Sighting, bool]]]
type PublishSighting = Callable[[Sighting], None]
type RunBlocking = Callable[..., Awaitable[Any]]


def _memory_state(spool: SightingSpool) -> tuple[bool, int, int]:
    """Return what the repair issue says about memory: held only there, and dropped."""
    return (bool(spool.memory_only), spool.images_dropped, spool.sightings_dropped)


class ImageRejectedError(ValueError):
    """The engine refused an image (corrupt, truncated, too large)."""


class PipelineStoppedError(RuntimeError):
    """The worker stopped before it read the frame (Plate Tracker is unloading)."""

    def __init__(self) -> None:
        """Say that the frame was not read and is to be sent again."""
        super().__init__("plate recognition stopped before the frame was read")


async def _outlast(
    work: asyncio.Future[Any], on_stop: Callable[[], object] | None = None
) -> bool:
    """Wait until ``work`` is done, even when the waiting task is cancelled meanwhile.

    Return whether it was: it is to stop then, once it has dealt with the
    outcome. A store write runs on in its executor thread whatever happens to
    the task that waits for it: what it committed must be counted, announced
    and taken from the spool, or it is never announced, or stored twice.
    ``on_stop`` is called at the cancellation, to give up what can be given up.
    """
    stopping = False
    while not work.done():
        try:
            await asyncio.wait((work,))
        except asyncio.CancelledError:
            stopping = True
            if on_stop is not None:
                on_stop()
    return stopping


def plate_moved_with(plate: Box, before: Box | None, now: Box | None) -> Box:
    """Return ``plate`` moved and scaled as the vehicle's box went from ``before`` to ``now``."""
    if before is None or now is None:
        return plate
    bx1, by1, bx2, by2 = before
    nx1, ny1, nx2, ny2 = now
    if bx2 <= bx1 or by2 <= by1 or nx2 <= nx1 or ny2 <= ny1:
        return plate
    scale_x = (nx2 - nx1) / (bx2 - bx1)
    scale_y = (ny2 - ny1) / (by2 - by1)
    px1, py1, px2, py2 = plate
    return (
        round(nx1 + (px1 - bx1) * scale_x),
        round(ny1 + (py1 - by1) * scale_y),
        round(nx1 + (px2 - bx1) * scale_x),
        round(ny1 + (py2 - by1) * scale_y),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    """One image from a source, with what the source knows about it."""

    image: bytes | None
    """None for the end of an NVR event that brought no newer frame."""
    camera: str
    seen_at: datetime
    source: str
    event_id: str | None = None
    vehicle_box: Box | None = None
    plate_box: Box | None = None
    """Where the NVR found the plate in this image (a Frigate+ model's
    ``license_plate`` attribute): read there first, as a later frame is read
    where the engine found the plate before."""
    final: bool = True
    direction: Direction = Direction.UNKNOWN
    anpr_plate: str | None = None
    """A plate the camera or NVR read itself; used when the engine reads none."""
    anpr_score: float | None = None
    snapshot_lost: bool = False
    """The source had an image but could not get it (a failed download): the
    camera's or NVR's own read stands in for the engine's."""
    read_image: bool = True
    """False when the camera's own read is taken as it is (a camera-side ANPR
    camera that is trusted): the image is kept as evidence, not read."""
    plate_image: bytes | None = None
    """The camera's own crop of the plate, kept as the crop of a camera-side read."""


@dataclass(slots=True)
class PipelineCounters:
    """What the pipeline did since it started (shown as diagnostic sensors)."""

    frames_received: int = 0
    frames_read: int = 0
    frames_read_at_hint: int = 0
    """Later frames of a pass whose plate was found around its place in an
    earlier frame, without searching the whole vehicle box."""
    frames_dropped: int = 0
    """Frames refused because the queue was full (a burst larger than the engine keeps up with),
    or accepted and not read because the worker stopped (nobody waited for them)."""
    frames_rejected: int = 0
    """Images the engine could not decode (corrupt, truncated, too large)."""
    frames_engine_unavailable: int = 0
    """Frames the engine could not read (its server down, unreachable, refusing the
    token; an engine that failed on the frame); the NVR's own read of such a frame
    is still stored."""
    reads_below_threshold: int = 0
    watched_below_threshold: int = 0
    """Reads below the minimum confidence kept because they match a watched plate
    exactly or by look-alikes: a wanted vehicle missed costs more than a check."""
    text_not_stored: int = 0
    """Further reads of a frame that fit only a loose format: beside a car's
    plate the engine also reads its dealer's name, sticker years and phone numbers."""
    words_not_stored: int = 0
    """First reads that are a make, model, badge or sign (``QUEST``, ``LINC0LN``,
    ``EXIT0NLY``): what the engine reads around a car whose plate it cannot see."""
    nvr_reads_without_image: int = 0
    """Frames whose snapshot was lost but whose plate the NVR had read: kept as sightings."""
    sightings_recorded: int = 0
    sightings_published: int = 0
    store_errors: int = 0
    sightings_spooled: int = 0
    """Sightings the store could not take at once, kept in the spool."""
    sightings_replayed: int = 0
    """Spooled sightings the store took later."""
    sightings_set_aside: int = 0
    """Sightings the store refused for what they hold, kept in the spool's set-aside file."""
    spool_write_errors: int = 0
    """Spool writes that failed too (the sighting stayed in memory)."""
    last_read_seconds: float | None = None


@dataclass(slots=True)
class _Pass:
    first_seen: datetime
    last_seen: datetime
    """The time of the pass's latest frame."""
    applied_at: float
    """The event loop's time when the pass's latest frame was applied."""
    reads: list[PlateRead] = field(default_factory=list)
    best_read: PlateRead | None = None
    best_snapshot: bytes | None = None
    sighting: Sighting | None = None
    consensus: PlateRead | None = None
    published_plate: str | None = None
    published_direction: Direction | None = None
    timer: asyncio.TimerHandle | None = None
    source_direction: Direction = Direction.UNKNOWN
    """The latest direction the source knew for this pass."""
    first_plate_box: Box | None = None
    last_plate_box: Box | None = None
    """Where the engine found the pass's plate in its first and latest frame."""
    last_plate_vehicle_box: Box | None = None
    """The vehicle's box in the frame the plate was last found in."""
    spooled_direction: Direction | None = None
    """The direction of the pass's latest sighting that went to the spool."""
    engine_read: bool = False
    """The engine read the plate in some frame of the pass (else only the NVR did)."""

    def continued_by(self, frame: Frame) -> bool:
        """Return whether a frame with this pass's event id is of this pass, not a later car's."""
        return abs(frame.seen_at - self.last_seen) <= SAME_EVENT_WITHIN

    def holds(self, sighting: Sighting) -> bool:
        """Return whether a stored sighting with this pass's event id is this pass's.

        The pass's sighting is dated by its first frame (the store may have
        dated it up to ``SAME_EVENT_WITHIN`` earlier, by a read of the event
        before Home Assistant restarted).
        """
        return abs(sighting.seen_at - self.first_seen) <= SAME_EVENT_WITHIN

    @property
    def reader(self) -> Reader:
        """Who read the pass's plate: the engine if it read any frame, else the NVR."""
        return Reader.ENGINE if self.engine_read else Reader.NVR

    @property
    def recorded_direction(self) -> Direction | None:
        """The direction the store has, or will have once the spool is replayed."""
        if self.sighting is not None and self.spooled_direction is None:
            return self.sighting.direction
        return self.spooled_direction

    @property
    def direction(self) -> Direction:
        """The source's direction, else the plate's movement across the frames, else unknown."""
        if self.source_direction is not Direction.UNKNOWN:
            return self.source_direction
        return direction_from_boxes(self.first_plate_box, self.last_plate_box)

    @property
    def changed_since_published(self) -> bool:
        """True when the announced sighting no longer says what is now known."""
        return (
            self.published_plate is not None
            and self.sighting is not None
            and self.consensus is not None
            and (
                self.published_plate != self.consensus.text
                or self.published_direction is not self.sighting.direction
            )
        )


@dataclass(slots=True)
class _Job:
    frame: Frame
    done: asyncio.Future[list[Sighting]] | None
    may_spool: bool
    """A sighting the store refuses goes to the spool (else the waiter hears the error)."""


class SightingPipeline:
    """A bounded queue of frames and the worker that turns them into sightings."""

    def __init__(
        self,
        *,
        read_frame: ReadFrame,
        record: RecordSighting,
        publish: PublishSighting,
        queue_size: int = 32,
        min_confidence: float = 0.5,
        publish_after: float = 3.0,
        spool: SightingSpool | None = None,
        run_blocking: RunBlocking = asyncio.to_thread,
        on_spool_change: Callable[[int], None] | None = None,
        on_store_error: Callable[[Exception], None] | None = None,
        spool_retry_seconds: float = SPOOL_RETRY_SECONDS,
        parallel_reads: int = 1,
        is_watched: Callable[[PlateRead, Frame], bool] | None = None,
    ) -> None:
        """Wire the pipeline; ``run()`` starts the worker.

        ``is_watched`` tells whether a read of a frame matches a watched plate
        strongly (not by one edit): such a read is kept whatever its confidence
        or its format.

        ``parallel_reads`` frames are read at once (as many as the engine has
        workers); what they read is applied one frame at a time, in order.

        ``spool`` keeps push sources' sightings the store refused; its file is
        written with ``run_blocking``. ``on_spool_change`` hears the number of
        sightings waiting whenever the spool fills or empties; ``on_store_error``
        hears every error the store raised for a sighting.
        """
        self._read_frame = read_frame
        self._record = record
        self._publish = publish
        self._spool = spool
        self._run_blocking = run_blocking
        self._on_spool_change = on_spool_change
        self._on_store_error = on_store_error
        self._spool_retry_seconds = spool_retry_seconds
        self._retry_delay = spool_retry_seconds
        self._retry_timer: asyncio.TimerHandle | None = None
        self._quiet_timer: asyncio.TimerHandle | None = None
        """Ends the open pass that went quiet longest ago, once it is due."""
        self._drain_due = asyncio.Event()
        self._queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=queue_size)
        self.min_confidence = min_confidence
        self.publish_after = publish_after
        self.counters = PipelineCounters()
        self._passes: OrderedDict[tuple[str, str, str], _Pass] = OrderedDict()
        self._engine_down_since: float | None = None
        """When the engine outage began (seconds since the epoch); None while it reads."""
        self._engine_back: list[Callable[[float], None]] = []
        self._parallel_reads = max(1, parallel_reads)
        self._is_watched = is_watched
        self._stopped = False
        self._late_puts: dict[asyncio.Task[None], _Job] = {}
        """Ends of passes ``offer`` queues once the queue has room."""
        self._replayed_passes: OrderedDict[
            tuple[str, str, str], tuple[str, Direction, datetime]
        ] = OrderedDict()
        """What was announced of ended passes that have sightings in the spool
        (plate and direction), and when the pass began."""

    @property
    def queue_depth(self) -> int:
        """Frames waiting for the engine."""
        return self._queue.qsize()

    @property
    def spool(self) -> SightingSpool | None:
        """The spool of sightings waiting for the store, if the pipeline has one."""
        return self._spool

    @property
    def spool_depth(self) -> int:
        """Sightings waiting in the spool for the store."""
        return len(self._spool) if self._spool is not None else 0

    def on_engine_back(self, listener: Callable[[float], None]) -> Callable[[], None]:
        """Call ``listener`` when the engine answers after an outage; return the undo.

        It gets when the outage began (seconds since the epoch): frames from then
        on were not read, and a source that can ask its NVR for them again may.
        """
        self._engine_back.append(listener)
        return lambda: self._engine_back.remove(listener)

    def _engine_answers_again(self, since: float) -> None:
        for listener in list(self._engine_back):
            try:
                listener(since)
            except Exception:
                _LOGGER.exception("A source could not ask for the frames of the outage")

    def offer(self, frame: Frame) -> bool:
        """Queue a frame without waiting; False (and counted) when the queue is full.

        For push sources (Frigate): a burst must never stall Home Assistant's event
        loop. The last frame of an event is never dropped, so a pass always ends.
        """
        self.counters.frames_received += 1
        job = _Job(frame, None, may_spool=True)
        if self._stopped:
            self._give_up([job])
            return False
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            if frame.final:
                late = asyncio.get_running_loop().create_task(self._enqueue(job))
                self._late_puts[late] = job
                late.add_done_callback(self._late_puts.pop)
                return True
            self.counters.frames_dropped += 1
            _LOGGER.warning(
                "Recognition queue full (%s frames): dropped a frame of camera %s",
                self._queue.maxsize,
                frame.camera,
            )
            return False
        return True

    async def put(self, frame: Frame) -> None:
        """Queue a frame, waiting for room: for a source that can wait (a backlog being read).

        Like ``offer`` otherwise: the frame's sighting is stored (or spooled) in
        the background. Raises PipelineStoppedError (the frame counted as
        dropped) once the worker has stopped.
        """
        self.counters.frames_received += 1
        job = _Job(frame, None, may_spool=True)
        if self._stopped:
            self._give_up([job])
            raise PipelineStoppedError
        await self._enqueue(job)

    async def submit(self, frame: Frame, *, may_spool: bool = False) -> list[Sighting]:
        """Queue a frame, waiting for room, and return the sightings stored from it.

        For pull sources (the inbox): the file stays on disk until this returns.
        Raises ImageRejectedError when the engine refuses the image. With
        ``may_spool`` (a camera that pushed the frame and waits for an answer), a
        sighting the store refuses is spooled and not returned, and an engine
        outage leaves the camera's own read, as for push sources. Raises
        PipelineStoppedError when the worker stops before it read the frame.
        """
        self.counters.frames_received += 1
        if self._stopped:
            raise PipelineStoppedError
        done: asyncio.Future[list[Sighting]] = (
            asyncio.get_running_loop().create_future()
        )
        await self._enqueue(_Job(frame, done, may_spool=may_spool))
        return await done

    async def _enqueue(self, job: _Job) -> None:
        """Put a job in the queue, waiting for room; given up if the worker stopped meanwhile."""
        await self._queue.put(job)
        if self._stopped:
            # The room came from the stopping worker emptying the queue.
            self._give_up(self._take_queued())

    async def join(self) -> None:
        """Wait until every frame accepted so far is processed (or given up by a stop).

        For an orderly stop: once the sources stopped, what they sent is read
        and stored before the worker is cancelled (with a time limit around this).
        """
        while self._late_puts:
            await asyncio.wait(list(self._late_puts))
        await self._queue.join()

    async def run(self) -> None:
        """Process frames until cancelled; spooled sightings of an earlier run go first.

        The next frames' reads start while a frame is read (up to
        ``parallel_reads`` at once), but results are applied in the order the
        frames came: a vehicle pass sees its frames in order, and the store
        and the alerts work as with one read at a time.

        Cancelled, it finishes storing and announcing the frame whose
        sightings are being stored, gives up the reads under way, and fails
        or counts every frame it will not read (see the module's docstring).
        """
        in_flight: deque[tuple[_Job, asyncio.Task[list[PlateRead]] | None]] = deque()
        try:
            await self._drain_spool()
            while True:
                # A replay that is due waits for the frames being read, no more:
                # under steady traffic the queue is never empty.
                while (
                    len(in_flight) < self._parallel_reads
                    and not self._drain_due.is_set()
                    and not self._queue.empty()
                ):
                    job = self._queue.get_nowait()
                    in_flight.append((job, self._start_read(job.frame)))
                if not in_flight:
                    next_job = await self._next_job()
                    if next_job is None:
                        await self._drain_spool()
                    else:
                        in_flight.append((next_job, self._start_read(next_job.frame)))
                    continue
                job, read = in_flight.popleft()
                processing = asyncio.ensure_future(
                    self._process(
                        job.frame,
                        read,
                        may_spool=job.may_spool,
                        answered=job.done is not None,
                    )
                )
                # Stopped while the frame is read, the read is given up; once its
                # sightings are being stored, they are stored and announced first.
                stopping = await _outlast(processing, read.cancel if read else None)
                if processing.cancelled():
                    # Stopped while the frame was read: given up with the others.
                    in_flight.appendleft((job, None))
                    raise asyncio.CancelledError
                self._queue.task_done()
                self._settle(job, processing)
                if stopping:
                    raise asyncio.CancelledError
        finally:
            self._stop(in_flight)

    def _settle(self, job: _Job, processing: asyncio.Future[list[Sighting]]) -> None:
        """Tell a processed frame's waiter what came of it; log a failure nobody waits for."""
        err = processing.exception()
        if job.done is not None and not job.done.done():
            if err is None:
                job.done.set_result(processing.result())
            else:
                job.done.set_exception(err)
        elif err is not None and not isinstance(err, ImageRejectedError):
            _LOGGER.error("Frame of camera %s failed", job.frame.camera, exc_info=err)

    def _stop(
        self, in_flight: deque[tuple[_Job, asyncio.Task[list[PlateRead]] | None]]
    ) -> None:
        """Give up every frame the stopping worker will not read, and announce open passes."""
        self._stopped = True
        if self._retry_timer is not None:
            self._retry_timer.cancel()
        if self._quiet_timer is not None:
            self._quiet_timer.cancel()
            self._quiet_timer = None
        given_up: list[_Job] = []
        for job, read in in_flight:
            if read is not None:
                if read.done() and not read.cancelled():
                    # Retrieved, so asyncio does not report it: the frame is given up.
                    read.exception()
                read.cancel()
            self._queue.task_done()
            given_up.append(job)
        for late, job in list(self._late_puts.items()):
            if not late.done():
                late.cancel()
                given_up.append(job)
        self._give_up([*given_up, *self._take_queued()])
        self._flush_passes()

    def _take_queued(self) -> list[_Job]:
        """Take every job out of the queue."""
        jobs = []
        while not self._queue.empty():
            jobs.append(self._queue.get_nowait())
            self._queue.task_done()
        return jobs

    def _give_up(self, jobs: list[_Job]) -> None:
        """Fail the waiters of frames the stopped worker will not read; count and log the others."""
        dropped = [job.frame.camera for job in jobs if job.done is None]
        told = 0
        for job in jobs:
            if job.done is not None and not job.done.done():
                job.done.set_exception(PipelineStoppedError())
                told += 1
        self.counters.frames_dropped += len(dropped)
        if dropped or told:
            _LOGGER.warning(
                "Plate recognition stopped: %s frames it had accepted are dropped"
                " unread (cameras: %s), %s callers waiting for a frame are told to"
                " send it again",
                len(dropped),
                ", ".join(sorted(set(dropped))) or "none",
                told,
            )

    def _start_read(self, frame: Frame) -> asyncio.Task[list[PlateRead]] | None:
        """Start reading a frame's image (None when it has none, or is not to be read)."""
        if frame.image is None or not frame.read_image:
            return None
        return asyncio.get_running_loop().create_task(
            self._read(frame, frame.image, self._plate_hint(frame)),
            name=f"read {frame.camera}",
        )

    def _plate_hint(self, frame: Frame) -> Box | None:
        """Where the engine found this pass's plate before, moved with the vehicle.

        A later frame of a pass is read around that place first: faster than
        the whole vehicle box, which is searched when no plate settles there.
        The plate keeps its place on the vehicle, so it moves and grows with
        the vehicle's box when both frames have one. Before the engine has
        found it, the NVR's own plate box (if it gives one) is the hint.
        """
        if frame.event_id is None:
            return frame.plate_box
        state = self._passes.get((frame.source, frame.camera, frame.event_id))
        if (
            state is None
            or state.last_plate_box is None
            or not state.continued_by(frame)
        ):
            return frame.plate_box
        x1, y1, x2, y2 = plate_moved_with(
            state.last_plate_box, state.last_plate_vehicle_box, frame.vehicle_box
        )
        return (x1, y1, x2, y2) if x2 > x1 and y2 > y1 else None

    async def _next_job(self) -> _Job | None:
        """Return the next frame, or None when the spool is due for a retry."""
        if self._drain_due.is_set():
            return None
        if not self._queue.empty():
            return self._queue.get_nowait()
        get = asyncio.ensure_future(self._queue.get())
        due = asyncio.ensure_future(self._drain_due.wait())
        try:
            await asyncio.wait({get, due}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            if get.done() and not get.cancelled():
                # Taken from the queue as the worker stops: given up, not lost.
                self._queue.task_done()
                self._give_up([get.result()])
            raise
        finally:
            for waiter in (get, due):
                if not waiter.done():
                    waiter.cancel()
        # A frame taken from the queue is never given up; the retry waits a turn.
        return get.result() if get.done() and not get.cancelled() else None

    async def _process(
        self,
        frame: Frame,
        read: asyncio.Task[list[PlateRead]] | None,
        *,
        may_spool: bool,
        answered: bool = False,
    ) -> list[Sighting]:
        key = (frame.source, frame.camera, frame.event_id) if frame.event_id else None
        try:
            frame, reads, engine_read_plate = await self._reads_of(
                frame, read, may_spool=may_spool, answered=answered
            )
        except Exception:
            if key is not None:
                # The image is lost, not what the source knows: the pass learns
                # the frame's direction and, at the event's end, ends (a city
                # exit must not wait for a pass that never closes).
                await self._update_pass(
                    key, frame, [], plate_box_known=False, may_spool=may_spool
                )
            raise
        reader = Reader.ENGINE if engine_read_plate else Reader.NVR
        plates = self._plates_of(reads, frame)
        if key is None:
            return await self._store_frame(frame, plates, reader, may_spool=may_spool)
        return await self._update_pass(
            key, frame, plates, plate_box_known=engine_read_plate, may_spool=may_spool
        )

    async def _reads_of(
        self,
        frame: Frame,
        read: asyncio.Task[list[PlateRead]] | None,
        *,
        may_spool: bool,
        answered: bool = False,
    ) -> tuple[Frame, list[PlateRead], bool]:
        """Return the frame (without an image the engine refused), its reads, and whether the engine read a plate."""
        reads: list[PlateRead] = []
        engine_read_plate = False
        if read is not None:
            try:
                reads = await read
            except ImageRejectedError:
                if not frame.anpr_plate:
                    raise  # counted and logged by _read; an inbox moves the file aside
                # A sighting is never lost because its image was: the camera's or
                # NVR's own read stands, without the picture the engine refused.
                crop = None if frame.plate_image is frame.image else frame.plate_image
                frame = replace(frame, image=None, plate_image=crop, snapshot_lost=True)
                reads = self._camera_side_reads(frame)
                self.counters.nvr_reads_without_image += bool(reads)
            except EngineUnavailableError as err:
                self.counters.frames_engine_unavailable += 1
                if not may_spool or (answered and not frame.anpr_plate):
                    # A service call or a pull source waits for this frame: its
                    # caller hears why. So does a camera that pushed a picture
                    # without its own read: told to send it again, it keeps the
                    # only picture of the car, which no one can ask it for later.
                    raise
                if self._engine_down_since is None:
                    # Once per outage: every frame of a busy city would repeat it.
                    _LOGGER.warning(
                        "The engine is unavailable, frames are not read (the NVR's "
                        "own reads are still stored) until it answers again: %s",
                        err,
                    )
                    # From the earlier of the frame's time and now: a source may
                    # ask its NVR for what was lost from there (two clocks).
                    self._engine_down_since = min(
                        time.time(), frame.seen_at.timestamp()
                    )
            except Exception:
                # The engine failed on this image some other way (an inference
                # runtime error, out of memory): not the image's fault, nor the
                # NVR's read's, which stands as it does when a server is down.
                self.counters.frames_engine_unavailable += 1
                if not may_spool or not frame.anpr_plate:
                    raise  # logged by the worker, or heard by the caller
                _LOGGER.exception(
                    "The engine failed on a frame of camera %s; the plate the NVR"
                    " read itself is stored",
                    frame.camera,
                )
            else:
                engine_read_plate = bool(reads)
                if (since := self._engine_down_since) is not None:
                    _LOGGER.info("The engine answers again")
                    self._engine_down_since = None
                    self._engine_answers_again(since)
            reads = reads or self._camera_side_reads(frame)
        elif frame.snapshot_lost:
            # A sighting is never lost because its image was: the NVR's read stays.
            reads = self._camera_side_reads(frame)
            self.counters.nvr_reads_without_image += bool(reads)
        elif not frame.read_image:
            reads = self._camera_side_reads(frame)
        return frame, reads, engine_read_plate

    async def _store_frame(
        self, frame: Frame, plates: list[PlateRead], reader: Reader, *, may_spool: bool
    ) -> list[Sighting]:
        """Store and announce every plate of a frame without an event id.

        When the store refuses a plate after it took others, the caller hears
        it and gives the frame again later (the inbox keeps its file). The
        store knows the plates it took by source, camera, plate and time, also
        across a restart: it gives their rows back, and they are not announced
        a second time.
        """
        sightings = []
        for read in plates:
            sighting, created = await self._store(
                frame, read, read, frame.image, may_spool=may_spool, reader=reader
            )
            if sighting is None:
                continue
            if created:
                self._publish_now(sighting, read)
            if sighting not in sightings:
                sightings.append(sighting)
        return sightings

    def _plates_of(self, reads: list[PlateRead], frame: Frame) -> list[PlateRead]:
        """Return the reads of one frame that are plates, likeliest first.

        The engine's first read is its likeliest plate, kept when confident
        enough whatever its format (a vanity plate fits only a loose one);
        reads below the minimum confidence are counted and left out.
        A further read is another vehicle's plate only when it fits a plate
        format of its own; one that fits only a loose format is, far more
        often, text on the same car, and is counted instead of stored.
        A first read that is a make, model, badge or sign word is no plate
        either: with the plates of the 82 boxed photos covered, 4 of the 11
        vehicle boxes' first reads at 0.5 or more were such words (``QUEST``,
        ``LINC0LN``), and 9 of the whole frames' 20; none of the 557
        labelled plates is one.
        A read that matches a watched plate exactly or by look-alikes is
        kept either way (and counted when its confidence alone would have
        dropped it): on the 557 labelled photos, with every true plate
        watched, the alerts at a minimum of 0.5 cover 535 photos' own plates
        instead of 516, and photos alerting for another plate stay 2.
        """
        plates = []
        for index, read in enumerate(reads):
            below = read.confidence < self.min_confidence
            # Only the first read can become a sighting by its format alone.
            word = index == 0 and not below and read.loose and is_known_word(read.text)
            if (below or word or (index > 0 and read.loose)) and self._watched(
                read, frame
            ):
                self.counters.watched_below_threshold += below
                plates.append(read)
                continue
            if below:
                self.counters.reads_below_threshold += 1
                continue
            if word:
                self.counters.words_not_stored += 1
                continue
            if index > 0 and read.loose:
                self.counters.text_not_stored += 1
                continue
            plates.append(read)
        return plates

    def _watched(self, read: PlateRead, frame: Frame) -> bool:
        if self._is_watched is None:
            return False
        try:
            return self._is_watched(read, frame)
        except Exception:
            # The watchlist must never cost a read its normal handling.
            _LOGGER.exception(
                "Could not match a read of %s to the watchlist", frame.camera
            )
            return False

    async def _read(
        self, frame: Frame, image: bytes, plate_hint: Box | None = None
    ) -> list[PlateRead]:
        """Return the engine's reads of a frame, best first."""
        started = time.perf_counter()
        try:
            result = await self._read_frame(image, frame.vehicle_box, plate_hint)
        except ValueError as err:
            self.counters.frames_rejected += 1
            _LOGGER.warning("Skipped an image from camera %s: %s", frame.camera, err)
            raise ImageRejectedError(str(err)) from err
        self.counters.frames_read += 1
        self.counters.frames_read_at_hint += result.read_at_hint
        self.counters.last_read_seconds = time.perf_counter() - started
        # The engine ranks its reads by format and evidence, not by raw confidence
        # alone: a slogan read very confidently must not outrank the plate.
        return list(result.plates)

    @staticmethod
    def _camera_side_reads(frame: Frame) -> list[PlateRead]:
        """Return the plate the camera or NVR read itself, for a frame the engine read none in.

        Its box is the vehicle's, not the plate's: it never counts as plate movement.
        """
        plate = normalize_plate(frame.anpr_plate) if frame.anpr_plate else ""
        if not plate:
            return []
        if (
            len(plate) > MAX_PLATE_LENGTH
            or len(frame.anpr_plate or "") > MAX_CAMERA_READ_LENGTH
        ):
            # A line of text, or a broken message: no plate is this long, and
            # the watchlist could never list it. The raw read is stored as
            # evidence, so padding around a short plate counts too.
            _LOGGER.debug(
                "Ignored the %s-character plate camera %s read itself",
                len(frame.anpr_plate or ""),
                frame.camera,
            )
            return []
        return [
            PlateRead(
                text=plate,
                raw=frame.anpr_plate or plate,
                confidence=frame.anpr_score if frame.anpr_score is not None else 0.5,
                box=frame.vehicle_box or (0, 0, 0, 0),
                crop_jpeg=frame.plate_image,
            )
        ]

    async def _update_pass(
        self,
        key: tuple[str, str, str],
        frame: Frame,
        plates: list[PlateRead],
        *,
        plate_box_known: bool,
        may_spool: bool,
    ) -> list[Sighting]:
        state = self._passes.get(key)
        if state is not None and not state.continued_by(frame):
            # The NVR gave the event id again, to another car: the old pass ends.
            self._finish_pass(key, self._passes.pop(key))
            state = None
        now = asyncio.get_running_loop().time()
        if state is None:
            state = self._passes[key] = _Pass(
                first_seen=frame.seen_at, last_seen=frame.seen_at, applied_at=now
            )
            while len(self._passes) > MAX_OPEN_PASSES:
                self._finish_pass(*self._passes.popitem(last=False))
        else:
            # Kept in order of their latest frame: the limit ends the passes
            # that went quiet (an end lost), never a car still in view.
            self._passes.move_to_end(key)
        state.last_seen = frame.seen_at
        state.applied_at = now
        self._watch_quiet_passes()
        if frame.direction is not Direction.UNKNOWN:
            state.source_direction = frame.direction
        # In an NVR event the vehicle box names one vehicle: its best plate is the pass's.
        read = next(iter(plates), None)
        stored = False
        if read is not None:
            state.engine_read = state.engine_read or plate_box_known
            if plate_box_known:
                state.first_plate_box = state.first_plate_box or read.box
                state.last_plate_box = read.box
                state.last_plate_vehicle_box = frame.vehicle_box
            # The best read's crop is kept with it; the vote needs no crops.
            state.reads.append(replace(read, crop_jpeg=None))
            if len(state.reads) > MAX_PASS_READS:
                # A car parked in view sends frames for hours, each with a read.
                state.reads.remove(min(state.reads, key=lambda kept: kept.confidence))
            if state.best_read is None or read.confidence > state.best_read.confidence:
                state.best_read, state.best_snapshot = read, frame.image
            state.consensus = combine_reads(state.reads) or read
            stored = await self._store_pass(
                state,
                frame,
                state.consensus,
                state.best_read,
                state.best_snapshot,
                may_spool=may_spool,
            )
        elif (
            state.consensus is not None
            and state.direction is not Direction.UNKNOWN
            and state.direction is not state.recorded_direction
        ):
            # No new read, but a direction (an event's end): the sighting learns it.
            stored = await self._store_pass(
                state, frame, state.consensus, None, None, may_spool=may_spool
            )
        if stored and state.sighting is not None and state.consensus is not None:
            if state.changed_since_published:
                self._publish_now(state.sighting, state.consensus, state)
            elif (
                state.timer is None
                and state.published_plate is None
                and not frame.final
            ):
                state.timer = asyncio.get_running_loop().call_later(
                    self.publish_after, self._publish_due, key
                )
        # Unless it ended while its sighting was stored (quiet for longer
        # than QUIET_PASS_ENDS_AFTER: a store write hung that long).
        if frame.final and self._passes.get(key) is state:
            self._finish_pass(key, self._passes.pop(key))
        return (
            [state.sighting] if state.sighting is not None and read is not None else []
        )

    async def _store_pass(
        self,
        state: _Pass,
        frame: Frame,
        read: PlateRead,
        evidence: PlateRead | None,
        snapshot: bytes | None,
        *,
        may_spool: bool,
    ) -> bool:
        """Store the pass's sighting; return False when it went to the spool instead."""
        direction = state.direction
        sighting, _ = await self._store(
            frame,
            read,
            evidence,
            snapshot,
            may_spool=may_spool,
            seen_at=state.first_seen,
            direction=direction,
            reader=state.reader,
            # The pass's vote over more frames replaces what it stored before,
            # though one confident frame may have scored higher than the vote.
            revises=state.sighting is not None,
        )
        if sighting is None:
            state.spooled_direction = direction
            return False
        state.sighting = sighting
        state.spooled_direction = None
        return True

    async def _store(
        self,
        frame: Frame,
        read: PlateRead,
        evidence: PlateRead | None,
        snapshot: bytes | None,
        *,
        may_spool: bool,
        seen_at: datetime | None = None,
        direction: Direction | None = None,
        reader: Reader = Reader.ENGINE,
        revises: bool = False,
    ) -> tuple[Sighting | None, bool]:
        """Store a sighting; return it (None when it went to the spool) and whether it is new.

        ``revises``: the pass stored this event's sighting before, and this read
        replaces it (``NewSighting.revises``).
        """
        new = NewSighting(
            camera=frame.camera,
            seen_at=seen_at or frame.seen_at,
            plate=read.text,
            raw=read.raw,
            confidence=read.confidence,
            source=frame.source,
            event_id=frame.event_id,
            region=read.region,
            box=read.box,
            direction=frame.direction if direction is None else direction,
            alternatives=read.alternatives,
            reader=reader,
            revises=revises,
            crop_jpeg=evidence.crop_jpeg if evidence is not None else None,
            snapshot_jpeg=snapshot,
        )
        spool = self._spool if may_spool else None
        if spool is not None and len(spool):
            # Older sightings wait in the spool: this one queues behind them, in order.
            await self._spool_sighting(spool, new)
            return None, False
        try:
            sighting, created = await self._record(new)
        except Exception as err:
            self.counters.store_errors += 1
            self._store_error(err)
            if spool is None:
                raise
            if isinstance(err, REFUSED_FOR_GOOD) and await self._set_aside(
                spool, new, err
            ):
                return None, False
            _LOGGER.warning(
                "The sightings database refused a write (%s); sightings are kept in"
                " %s and stored when it works again",
                err,
                spool.path,
            )
            await self._spool_sighting(spool, new)
            return None, False
        if created:
            self.counters.sightings_recorded += 1
        return sighting, created

    async def _spool_sighting(self, spool: SightingSpool, new: NewSighting) -> None:
        was_empty = not len(spool)
        held_before = _memory_state(spool)
        try:
            await self._run_blocking(spool.append, new)
        except SpoolWriteError as err:
            self.counters.spool_write_errors += 1
            _LOGGER.error(  # noqa: TRY400 - the cause is in the message; a trace adds nothing
                "Could not write the spool either (%s): the sighting of camera %s"
                " is kept in memory until the spool or the database works",
                err,
                new.camera,
            )
        self.counters.sightings_spooled += 1
        if was_empty:
            self._schedule_drain()
        if was_empty or _memory_state(spool) != held_before:
            self._spool_changed()

    def _store_error(self, err: Exception) -> None:
        if self._on_store_error is not None:
            try:
                self._on_store_error(err)
            except Exception:
                _LOGGER.exception("Reporting the store's error failed")

    def _spool_changed(self) -> None:
        if self._on_spool_change is not None:
            try:
                self._on_spool_change(self.spool_depth)
            except Exception:
                _LOGGER.exception("Reporting the spool's state failed")

    def _schedule_drain(self) -> None:
        if self._retry_timer is not None:
            self._retry_timer.cancel()
        self._retry_timer = asyncio.get_running_loop().call_later(
            self._retry_delay, self._drain_due.set
        )

    async def _drain_spool(self) -> None:
        """Give the spooled sightings to the store, oldest first, until one fails.

        The spool is read a batch at a time in the executor: at a busy city an
        outage of hours leaves more images in it than memory should hold. A
        batch leaves the spool as soon as the store took it, and is announced
        right after: a stop (the worker cancelled) during a long replay, which
        waits for the write under way, neither stores a replayed sighting again
        at the next start nor leaves it unannounced. Only a crash or a power cut
        after the store committed some of a batch, before the batch left the
        spool, replays those again at the next start: at most
        ``SPOOL_REPLAY_BATCH`` sightings, of which those of an NVR event merge
        into their sighting, while one without an event id is stored twice
        (the store knows no key that would tell it had it already).

        A sighting the store refuses for what it holds is set aside
        (``SightingSpool.set_aside``), counted and logged, and the replay goes
        on with the next one.
        """
        self._drain_due.clear()
        spool = self._spool
        if spool is None or not len(spool):
            return
        replayed = left = 0
        stopping = False
        try:
            while len(spool) and not stopping:
                try:
                    batch = await self._run_blocking(spool.read, 0, SPOOL_REPLAY_BATCH)
                except OSError as err:
                    self._retry_later()
                    _LOGGER.warning(
                        "Could not read the spool %s (%s): %s sightings wait in it,"
                        " next try in %s s",
                        spool.path,
                        err,
                        len(spool),
                        self._retry_delay,
                    )
                    break
                taken, sightings, stopping, failure = await self._replay(spool, batch)
                if taken:
                    drop = asyncio.ensure_future(
                        self._run_blocking(spool.drop_first, taken)
                    )
                    stopping = await _outlast(drop) or stopping
                    drop.result()
                    left += taken
                    self.counters.sightings_replayed += len(sightings)
                    replayed += len(sightings)
                    for sighting in sightings:
                        self._announce_replayed(sighting)
                if failure is not None:
                    self.counters.store_errors += 1
                    self._store_error(failure)
                    self._retry_later()
                    _LOGGER.debug(
                        "The sightings database still refuses writes (%s); %s sightings"
                        " wait in the spool, next try in %s s",
                        failure,
                        len(spool),
                        self._retry_delay,
                    )
                    break
        finally:
            if not len(spool):
                self._retry_delay = self._spool_retry_seconds
                _LOGGER.warning(
                    "The sightings database takes writes again: %s spooled sightings stored",
                    replayed,
                )
                self._spool_changed()
            elif left:
                # The shorter file may hold everything again: the issue says so.
                self._spool_changed()
        if stopping:
            raise asyncio.CancelledError

    async def _replay(
        self, spool: SightingSpool, batch: list[NewSighting]
    ) -> tuple[int, list[Sighting], bool, Exception | None]:
        """Give a batch of the spool to the store, in order, until it refuses one.

        Return how many left the spool's front (stored or set aside), the
        sightings stored (one per sighting, its latest), whether the worker is
        to stop (it was cancelled meanwhile), and what stopped the batch early.
        """
        taken = 0
        stored: dict[int, Sighting] = {}
        stopping = False
        for new in batch:
            write = asyncio.ensure_future(self._record(new))
            stopping = await _outlast(write)
            try:
                sighting, created = write.result()
            except REFUSED_FOR_GOOD as err:
                self.counters.store_errors += 1
                self._store_error(err)
                keeping = asyncio.ensure_future(self._set_aside(spool, new, err))
                stopping = await _outlast(keeping) or stopping
                if not keeping.result():
                    return taken, list(stored.values()), stopping, err
            except Exception as err:  # noqa: BLE001 - whatever the store raises, the spool keeps the rest
                return taken, list(stored.values()), stopping, err
            else:
                self.counters.sightings_recorded += created
                stored.pop(sighting.id, None)
                stored[sighting.id] = sighting
            taken += 1
            if stopping:
                break
        return taken, list(stored.values()), stopping, None

    async def _set_aside(
        self, spool: SightingSpool, new: NewSighting, err: Exception
    ) -> bool:
        """Keep a sighting the store refuses for good beside the spool; False if it cannot be."""
        try:
            await self._run_blocking(
                spool.set_aside, new, f"{type(err).__name__}: {err}"
            )
        except OSError as write_err:
            _LOGGER.error(  # noqa: TRY400 - the cause is in the message; a trace adds nothing
                "The sightings database refuses a sighting of camera %s (%s), and it"
                " cannot be set aside in %s (%s): it waits in the spool",
                new.camera,
                err,
                spool.set_aside_path,
                write_err,
            )
            return False
        self.counters.sightings_set_aside += 1
        _LOGGER.error(
            "The sightings database refuses a sighting of camera %s seen at %s for"
            " what it holds (%s): it is kept in %s, and the sightings after it are"
            " stored",
            new.camera,
            new.seen_at.isoformat(),
            err,
            spool.set_aside_path,
        )
        return True

    def _retry_later(self) -> None:
        """Try the spool again after a longer pause than last time."""
        self._retry_delay = min(self._retry_delay * 2, SPOOL_RETRY_MAX_SECONDS)
        self._schedule_drain()

    def _announce_replayed(self, sighting: Sighting) -> None:
        """Announce a sighting the store took from the spool, once per pass."""
        key = (sighting.source, sighting.camera, sighting.event_id or "")
        state = self._passes.get(key) if sighting.event_id else None
        if state is None or state.consensus is None or not state.holds(sighting):
            # The pass is over (an open one with its event id is a later
            # car's): nobody else will announce it, unless it says what was
            # announced already.
            if sighting.event_id:
                if self._announced_already(key, sighting):
                    return
                self._remember_replayed(
                    key, (sighting.plate, sighting.direction, sighting.seen_at)
                )
            self.counters.sightings_published += 1
            try:
                self._publish(sighting)
            except Exception:
                _LOGGER.exception("Publishing sighting %s failed", sighting.id)
            return
        state.sighting = sighting
        state.spooled_direction = None
        if state.changed_since_published:
            self._publish_now(sighting, state.consensus, state)
        elif state.published_plate is None and state.timer is None:
            state.timer = asyncio.get_running_loop().call_later(
                self.publish_after, self._publish_due, key
            )

    def _publish_due(self, key: tuple[str, str, str]) -> None:
        state = self._passes.get(key)
        if state is not None and state.published_plate is None:
            self._publish_pending(state)

    def _finish_pass(self, key: tuple[str, str, str], state: _Pass) -> None:
        if state.timer is not None:
            state.timer.cancel()
        if state.published_plate is None:
            self._publish_pending(state)
        if (
            state.spooled_direction is not None
            and state.published_plate is not None
            and state.published_direction is not None
        ):
            # Its latest sighting waits in the spool: once replayed, it is
            # announced only if it says something else than this.
            self._remember_replayed(
                key,
                (state.published_plate, state.published_direction, state.first_seen),
            )

    def _announced_already(self, key: tuple[str, str, str], sighting: Sighting) -> bool:
        """Return whether a replayed sighting of an ended pass says what the pass announced.

        Only of that pass: a later car given the same event id (an NVR that
        counts from 1 again after a restart) may be the same plate going the
        same way, and is announced.
        """
        remembered = self._replayed_passes.get(key)
        if remembered is None:
            return False
        plate, direction, first_seen = remembered
        return (
            plate == sighting.plate
            and direction is sighting.direction
            and abs(sighting.seen_at - first_seen) <= SAME_EVENT_WITHIN
        )

    def _remember_replayed(
        self, key: tuple[str, str, str], announced: tuple[str, Direction, datetime]
    ) -> None:
        self._replayed_passes[key] = announced
        self._replayed_passes.move_to_end(key)
        while len(self._replayed_passes) > MAX_REPLAYED_PASSES:
            self._replayed_passes.popitem(last=False)

    def _publish_pending(self, state: _Pass) -> None:
        if state.sighting is not None and state.consensus is not None:
            self._publish_now(state.sighting, state.consensus, state)

    def _publish_now(
        self, sighting: Sighting, read: PlateRead, state: _Pass | None = None
    ) -> None:
        if state is not None:
            state.published_plate = read.text
            state.published_direction = sighting.direction
            if state.timer is not None:
                state.timer.cancel()
                state.timer = None
        self.counters.sightings_published += 1
        try:
            self._publish(sighting)
        except Exception:
            _LOGGER.exception("Publishing sighting %s failed", sighting.id)

    def _watch_quiet_passes(self) -> None:
        """Have the pass whose latest frame came longest ago ended once it is quiet too long."""
        if self._quiet_timer is not None or self._stopped or not self._passes:
            return
        oldest = next(iter(self._passes.values()))
        self._quiet_timer = asyncio.get_running_loop().call_at(
            oldest.applied_at + QUIET_PASS_ENDS_AFTER, self._end_quiet_passes
        )

    def _end_quiet_passes(self) -> None:
        """End, as their end would, the passes without a frame for ``QUIET_PASS_ENDS_AFTER``.

        Their sighting is stored already; one not yet announced is announced
        now. The passes are in the order of their latest frame: the quiet ones
        come first.
        """
        self._quiet_timer = None
        quiet_since = asyncio.get_running_loop().time() - QUIET_PASS_ENDS_AFTER
        ended = 0
        while self._passes:
            key, state = next(iter(self._passes.items()))
            if state.applied_at > quiet_since:
                break
            self._finish_pass(key, self._passes.pop(key))
            ended += 1
        if ended:
            _LOGGER.info(
                "Ended %s vehicle passes without a frame for %s s: their end never came",
                ended,
                round(QUIET_PASS_ENDS_AFTER),
            )
        self._watch_quiet_passes()

    def _flush_passes(self) -> None:
        """Publish what open passes have when the worker stops (e.g. on unload)."""
        while self._passes:
            self._finish_pass(*self._passes.popitem(last=False))
