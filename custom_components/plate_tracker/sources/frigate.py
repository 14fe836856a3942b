"""Frigate as a source: its MQTT event stream and its HTTP API.

Plain Python (aiohttp, no Home Assistant imports). Frigate publishes every tracked
object on ``<prefix>/events`` as ``new``, ``update`` (repeatedly, whenever the
object or its best snapshot changes) and ``end``. One Frigate event is one vehicle
pass, so ``FrigateEventTracker`` turns the stream into frames worth reading: the
first snapshot, each better snapshot (its ``frame_time`` changed) and the end.

Each request carries the direction the event shows so far: the order of the
zones the object entered, when the camera's zones are mapped to directions,
else the movement of the vehicle box between the first message and this one.
"""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
import json
import logging
import math
import re
from typing import Any

import aiohttp
from yarl import URL

from ..engine.remote import read_at_most
from ..engine.types import Box, is_finite_number
from ..matching.movement import direction_from_boxes
from ..records import Direction
from . import CAMERA_NAME, SourceClock, storable_text

_LOGGER = logging.getLogger(__name__)

VEHICLE_LABELS = frozenset({"car", "motorcycle", "bus", "truck", "license_plate"})
PLATE_ATTRIBUTE = "license_plate"
"""The attribute a Frigate+ model puts on a vehicle where it sees its plate."""
FETCH_TIMEOUT = aiohttp.ClientTimeout(total=10)
MAX_SNAPSHOT_BYTES = 20 * 1024 * 1024
# Events Frigate never ended (Frigate restarted, a message was lost) are forgotten
# after this many are open at once, oldest first.
MAX_OPEN_EVENTS = 512
MAX_FRAME_SIDE = 65_535
"""The widest and tallest a JPEG can be: a box coordinate beyond it is in no snapshot."""
SNAPSHOT_RETRY_DELAYS: tuple[float, ...] = (2, 5, 15, 30, 60, 120)
"""Seconds between tries of an event's last snapshot while Frigate does not answer
and none of the event's snapshots could be downloaded: about four minutes, the time
Frigate takes to restart. An ended event's snapshot is on Frigate's disk (its
``snapshots`` option), so it can still be downloaded then."""
MISSED_EVENTS_MAX = 1000
"""Events asked of Frigate's API after a gap in its MQTT stream, at the most."""
MAX_EVENT_LIST_BYTES = 20 * 1024 * 1024
RECENTLY_ENDED = 4096
"""Ended events remembered, so that neither an event list after a gap nor a message
repeated after the end (QoS 1 redelivery, a late ``update``) reads them again."""
MAX_EVENT_MESSAGE_BYTES = 1024 * 1024
"""The largest events message parsed: Frigate's are a few kilobytes, and parsing
megabytes of JSON would stall Home Assistant's event loop."""
CONFIG_TIMEOUT = aiohttp.ClientTimeout(total=5)
"""Frigate's configuration is only a convenience in a form: do not keep the form waiting."""
MAX_CONFIG_BYTES = 5 * 1024 * 1024
MAX_STATS_BYTES = 2 * 1024 * 1024
TOKEN_COOKIE = "frigate_token"  # noqa: S105 - a cookie name, not a secret
"""The cookie Frigate's login sets, unless ``auth.cookie_name`` renamed it."""
CAMERA_LIST_INTERVAL = 60.0
"""Seconds between reads of Frigate's configuration for its camera list, at the least:
a message of a camera it did not list asks for one, and anyone who may publish on
the topic prefix could send such messages in a stream."""
MAX_HELD_MESSAGES = 256
MAX_HELD_BYTES = 8 * 1024 * 1024
"""The messages of cameras not (yet) known to be Frigate's kept until its camera
list is read, at the most: a stream of made-up cameras must not grow memory."""
PATH_MATCH_DISTANCE = 0.1
"""How near (in parts of the frame) a point of an event's path must be to its snapshot's
box to date the snapshot: Frigate adds a point each time the object moved 5 %."""

type ZoneDirections = Mapping[str, Mapping[str, Direction]]
"""By camera, the direction a vehicle has when a zone is the last it reached.

Keyed by camera because Frigate zone names are per camera: two cameras may
each have a zone ``road`` (Frigate even suggests one name for the zones of
cameras that overlap), meaning different things."""


class FrigateError(Exception):
    """Frigate could not be reached or answered something unusable."""


class FrigateUnreachableError(FrigateError):
    """Frigate did not answer (network error, time-out, HTTP 5xx): the NVR is down."""


class FrigateAuthError(FrigateError):
    """Frigate refused the login, or asks for one and none is configured."""


class MalformedEventError(ValueError):
    """An MQTT payload on the events topic is not a Frigate event."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FrigateFrameRequest:
    """A Frigate snapshot worth reading, with what is known about it."""

    event_id: str
    camera: str
    seen_at: datetime
    vehicle_box: Box | None
    plate_box: Box | None = None
    """The plate Frigate found on the vehicle in the snapshot (a Frigate+ model's
    ``license_plate`` attribute), if it found one."""
    final: bool
    """True for the event's last frame: the pass is complete after it."""
    fetch: bool
    """False when the snapshot was already read (an ``end`` with no newer frame)."""
    direction: Direction
    anpr_plate: str | None
    """What Frigate's own licence plate recognition read, when it runs."""
    anpr_score: float | None


@dataclass(slots=True)
class _OpenEvent:
    last_frame_time: float | None
    first_box: Box | None = None
    """The vehicle box of the first message seen, for the movement."""


_EVENT_ID = re.compile(r"(?!\.\.?$)[A-Za-z0-9._-]{1,128}")
"""An event id as Frigate writes it (``1700000000.123456-abc123``): one path
segment of its API, never ``.`` or ``..``."""


def parse_event_message(payload: bytes | bytearray | str) -> tuple[str, dict[str, Any]]:
    """Return (type, after) from a ``<prefix>/events`` payload or raise MalformedEventError."""
    if len(payload) > MAX_EVENT_MESSAGE_BYTES:
        raise MalformedEventError(
            f"{len(payload)} bytes, more than any Frigate event ({MAX_EVENT_MESSAGE_BYTES})"
        )
    try:
        message = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        # RecursionError: arrays or objects nested deeper than Python recurses.
        raise MalformedEventError(f"not JSON: {err}") from err
    return _event_from(message)


def _event_from(message: Any) -> tuple[str, dict[str, Any]]:
    """Return (type, after) from a decoded events message or raise MalformedEventError."""
    if not isinstance(message, dict):
        raise MalformedEventError("not a JSON object")
    event_type = message.get("type")
    after = message.get("after")
    if event_type not in ("new", "update", "end") or not isinstance(after, dict):
        raise MalformedEventError("missing 'type' or 'after'")
    if not isinstance(after.get("id"), str) or not isinstance(after.get("camera"), str):
        raise MalformedEventError("'after' has no string 'id' and 'camera'")
    if not CAMERA_NAME.fullmatch(after["camera"]):
        # Frigate refuses such a name in its config: a camera's device and
        # entities would be made from whatever a publisher wrote here.
        raise MalformedEventError(
            f"'after' has a camera name Frigate never gives: {after['camera'][:40]!r}"
        )
    if not _EVENT_ID.fullmatch(after["id"]):
        # The id becomes a path of Frigate's API: "../.." would fetch another one.
        raise MalformedEventError(
            f"'after' has an id Frigate never gives: {after['id'][:40]!r}"
        )
    if not isinstance(after.get("label", ""), str):
        raise MalformedEventError("'after' has a 'label' that is not a string")
    return event_type, after


def _remember[K, V](memory: OrderedDict[K, V], key: K, value: V, limit: int) -> None:
    """Put ``key`` in ``memory``, forgetting the oldest entries beyond ``limit``."""
    memory[key] = value
    while len(memory) > limit:
        memory.popitem(last=False)


def _number(value: Any) -> float | None:
    """Return ``value`` if it is a finite JSON number (Python's JSON reads NaN and Infinity too)."""
    return value if is_finite_number(value) else None


def _box(value: Any) -> Box | None:
    """Return a box in a snapshot's pixels, or None for anything else.

    A finite number may still be far outside any picture (``1e200``): the
    movement between two such boxes is no float's either.
    """
    if (
        isinstance(value, (list, tuple))
        and len(value) == 4
        and all(_number(v) is not None and 0 <= v <= MAX_FRAME_SIDE for v in value)
    ):
        x1, y1, x2, y2 = (int(v) for v in value)
        if x2 > x1 and y2 > y1:
            return (x1, y1, x2, y2)
    return None


def _malformed_boxes(after: dict[str, Any], snapshot: dict[str, Any] | None) -> int:
    """Return how many of the message's boxes are given but are no box (they are left out)."""
    given = [after.get("box")]
    if snapshot is not None:
        given.append(snapshot.get("box"))
        attributes = snapshot.get("attributes")
        if isinstance(attributes, list):
            given += [a.get("box") for a in attributes if isinstance(a, dict)]
    return sum(value is not None and _box(value) is None for value in given)


def _plate_box(snapshot: dict[str, Any] | None) -> Box | None:
    """Return the likeliest ``license_plate`` attribute box of the snapshot's frame.

    Only the snapshot's own attributes are in the fetched image's pixels: the
    message's ``current_attributes`` may be of a later frame.
    """
    attributes = snapshot.get("attributes") if snapshot else None
    best: tuple[float, Box] | None = None
    for attribute in attributes if isinstance(attributes, list) else ():
        if not isinstance(attribute, dict) or attribute.get("label") != PLATE_ATTRIBUTE:
            continue
        box = _box(attribute.get("box"))
        score = _number(attribute.get("score")) or 0.0
        if box is not None and (best is None or score > best[0]):
            best = (score, box)
    return None if best is None else best[1]


def _timestamp(value: Any) -> datetime | None:
    seconds = _number(value)
    if seconds is None or seconds <= 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        # Beyond the year 9999 or the platform's time_t: no usable time.
        return None


def _zone_names(camera_settings: dict[str, Any]) -> list[Any]:
    """Return the names of a camera's zones: the keys of its ``zones`` map, as Frigate writes it.

    A list is taken as the names themselves. Anything else there (a number, a
    string) names no zone: iterated, a string would offer each of its letters.
    """
    zones = camera_settings.get("zones")
    return list(zones) if isinstance(zones, dict | list) else []


def direction_from_zones(
    entered_zones: Any, zone_directions: Mapping[str, Direction]
) -> Direction:
    """Direction implied by the order of zones the object entered, else unknown.

    ``zone_directions`` maps a zone name to the direction a vehicle has when it
    reaches that zone last (e.g. the zone nearest the city limit means leaving).
    """
    if isinstance(entered_zones, list):
        for zone in reversed(entered_zones):
            if isinstance(zone, str) and zone in zone_directions:
                return zone_directions[zone]
    return Direction.UNKNOWN


def _nvr_plate_read(after: Mapping[str, Any]) -> tuple[Any, Any]:
    """Return Frigate's own plate read and its score, unchecked, as the message has them.

    On the events topic Frigate 0.16 and later send ``recognized_license_plate``
    as ``[plate, score]``; its event list keeps the two apart
    (``recognized_license_plate`` and ``recognized_license_plate_score``).
    """
    plate = after.get("recognized_license_plate")
    if isinstance(plate, list) and len(plate) == 2:
        return plate[0], plate[1]
    return plate, after.get("recognized_license_plate_score")


def missed_snapshot_time(event: Mapping[str, Any]) -> float | None:
    """Return about when the snapshot of an event of Frigate's list was taken, if it tells.

    The list has no snapshot frame time (only a snapshot of an event still in
    progress is served with one). From Frigate 0.15 on, its ``data`` has the
    snapshot's ``box`` (x, y, width, height, in parts of the frame) and the
    object's ``path_data``: the bottom centre of its box with the frame time,
    each time it moved 5 % of the frame. The point nearest the snapshot box's
    bottom centre dates the snapshot to within such a move; its start may be
    minutes earlier for a car that stood in view. None when the list has no
    path, or no point of it near the snapshot between the event's start and end.
    """
    data = event.get("data")
    if not isinstance(data, dict):
        return None
    box, path = data.get("box"), data.get("path_data")
    if not (
        isinstance(box, list)
        and len(box) == 4
        and all(_number(v) is not None for v in box)
        and isinstance(path, list)
    ):
        return None
    x, y, width, height = box
    bottom_centre = (x + width / 2, y + height)
    start, end = _number(event.get("start_time")), _number(event.get("end_time"))
    best: tuple[float, float] | None = None
    for point in path:
        if not (isinstance(point, list) and len(point) == 2):
            continue
        place, frame_time = point
        frame_time = _number(frame_time)
        if (
            frame_time is None
            or (start is not None and frame_time < start)
            or (end is not None and frame_time > end)
            or not (isinstance(place, list) and len(place) == 2)
            or not all(_number(v) is not None for v in place)
        ):
            continue
        distance = math.dist(place, bottom_centre)
        # The earliest of equally near points: a car that stood still is dated by its arrival.
        if distance <= PATH_MATCH_DISTANCE and (best is None or distance < best[0]):
            best = (distance, frame_time)
    return None if best is None else best[1]


def _vehicle_box(after: dict[str, Any], snapshot: dict[str, Any] | None) -> Box | None:
    """Where the object is in this message: its current box, else its snapshot's."""
    return _box(after.get("box")) or _box(snapshot.get("box") if snapshot else None)


class FrigateEventTracker:
    """Decides which Frigate event messages carry a snapshot worth reading."""

    def __init__(
        self,
        *,
        labels: frozenset[str] = VEHICLE_LABELS,
        zone_directions: ZoneDirections | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        counters: Counter[str] | None = None,
    ) -> None:
        """Track events of the given object labels; ``zone_directions`` is by camera.

        ``clock`` says when a message arrives: it stands in for a frame time
        that Frigate's own clock got wrong. ``counters`` counts the fields left
        out of a message that is used all the same (``frigate_malformed_boxes``,
        ``frigate_malformed_plates``) and the messages of events already ended
        (``frigate_after_end``).
        """
        self._labels = labels
        self._zone_directions = zone_directions or {}
        self._counters: Counter[str] = Counter() if counters is None else counters
        self._open: OrderedDict[str, _OpenEvent] = OrderedDict()
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._now = clock
        self._clock = SourceClock("Set the Frigate host's clock (NTP)")

    @property
    def open_events(self) -> int:
        """Events seen but not yet ended."""
        return len(self._open)

    def handle(self, payload: bytes | bytearray | str) -> FrigateFrameRequest | None:
        """Return the frame to read for this message, or None when there is none.

        Raises MalformedEventError for payloads that are not Frigate events.
        """
        return self.handle_event(*parse_event_message(payload))

    def handle_event(
        self, event_type: str, after: dict[str, Any]
    ) -> FrigateFrameRequest | None:
        """Return the frame to read for a message ``parse_event_message`` took apart, or None."""
        return self._handle(event_type, after)

    def _handle(
        self, event_type: str, after: dict[str, Any], *, again: bool = False
    ) -> FrigateFrameRequest | None:
        if after.get("label") not in self._labels or after.get("false_positive"):
            return None
        event_id: str = after["id"]
        if event_id in self._ended and not again:
            # A repeated end (QoS 1 redelivery), an update late behind its end, or
            # the end of an event the list after a gap read: taken for a new
            # event, it would read and announce the pass a second time.
            self._counters["frigate_after_end"] += 1
            _LOGGER.debug(
                "Ignored a %s message of Frigate event %s (camera %s): it ended already",
                event_type,
                event_id,
                after["camera"],
            )
            return None
        state = self._open.get(event_id)
        if state is None:
            if event_type == "end":
                # The end of an event we never saw start: read its final snapshot once.
                state = _OpenEvent(last_frame_time=None)
            else:
                state = _OpenEvent(last_frame_time=None)
                _remember(self._open, event_id, state, MAX_OPEN_EVENTS)
        final = event_type == "end"
        if final:
            self._open.pop(event_id, None)
            _remember(self._ended, event_id, None, RECENTLY_ENDED)

        snapshot = (
            after.get("snapshot") if isinstance(after.get("snapshot"), dict) else None
        )
        if malformed := _malformed_boxes(after, snapshot):
            self._counters["frigate_malformed_boxes"] += malformed
            _LOGGER.warning(
                "Left out %d malformed box(es) of Frigate event %s (camera %s)",
                malformed,
                event_id,
                after["camera"],
            )
        # Every message moves the vehicle, even one with no new snapshot to read.
        box = _vehicle_box(after, snapshot)
        if state.first_box is None:
            state.first_box = box
        frame_time = _number(
            snapshot.get("frame_time") if snapshot else after.get("frame_time")
        )
        has_snapshot = bool(after.get("has_snapshot")) or snapshot is not None
        is_new_frame = frame_time is not None and frame_time != state.last_frame_time
        # An end with a snapshot but no frame time to tell frames apart by still
        # reads the snapshot once, if none of the event's frames was: else the
        # vehicle would be lost without a word.
        fetch = has_snapshot and (
            is_new_frame or (final and state.last_frame_time is None)
        )
        if not fetch and not final:
            return None
        if fetch:
            state.last_frame_time = frame_time
        # Zones are the user's own statement of direction, so they win over the movement.
        direction = direction_from_zones(
            after.get("entered_zones"), self._zone_directions.get(after["camera"], {})
        )
        if direction is Direction.UNKNOWN:
            direction = direction_from_boxes(state.first_box, box)
        # An end always yields a request, even without a new frame: it completes the pass.
        return self._request(
            after, event_id, snapshot, final=final, fetch=fetch, direction=direction
        )

    def ended(self, event_id: str) -> bool:
        """Whether the event's end came (among the last ``RECENTLY_ENDED`` ends)."""
        return event_id in self._ended

    def handle_missed(
        self, event: Mapping[str, Any], *, again: bool = False
    ) -> FrigateFrameRequest | None:
        """Return the end of an event from Frigate's event list whose messages did not come.

        None for an event still in progress (its messages come now), one whose end
        came (unless it is to be read ``again``: the engine could not read it), or
        anything the events topic would not carry. The list gives no snapshot
        frame time and its box is in other units: the request is dated by the
        snapshot's place on the event's path where Frigate keeps one
        (``missed_snapshot_time``), else by the event's start, and the engine
        searches the whole snapshot.
        """
        event_id, end_time = event.get("id"), event.get("end_time")
        if not isinstance(event_id, str) or not is_finite_number(end_time):
            return None
        if event_id in self._ended and not again:
            return None
        after = {
            "id": event_id,
            "camera": event.get("camera"),
            "label": event.get("label"),
            "false_positive": event.get("false_positive"),
            "has_snapshot": event.get("has_snapshot"),
            "start_time": event.get("start_time"),
            # An event seen before the gap has its frames read: the end's snapshot
            # is another one. One never seen is dated by its snapshot, else its start.
            "frame_time": end_time
            if event_id in self._open
            else missed_snapshot_time(event) or event.get("start_time"),
            "end_time": end_time,
            "entered_zones": event.get("zones"),
        }
        data = event.get("data")
        if isinstance(data, dict):
            # Frigate's own plate read, where its recognition stored one.
            for key in ("recognized_license_plate", "recognized_license_plate_score"):
                after[key] = data.get(key)
        try:
            return self._handle(
                *_event_from({"type": "end", "after": after}), again=again
            )
        except MalformedEventError:
            return None

    def _request(
        self,
        after: dict[str, Any],
        event_id: str,
        snapshot: dict[str, Any] | None,
        *,
        final: bool,
        fetch: bool,
        direction: Direction,
    ) -> FrigateFrameRequest:
        seen_at = self._clock.date(
            after["camera"],
            _timestamp(snapshot.get("frame_time") if snapshot else None)
            or _timestamp(after.get("frame_time"))
            or _timestamp(after.get("start_time")),
            self._now(),
            what=f"event {event_id}",
        )
        plate, score = _nvr_plate_read(after)
        if isinstance(plate, str) and not storable_text(plate):
            # Valid JSON ("\ud800") that the store cannot write: the snapshot is still read.
            self._counters["frigate_malformed_plates"] += 1
            _LOGGER.warning(
                "Left out Frigate's plate read %s of event %s (camera %s): it has a "
                "character UTF-8 cannot write",
                ascii(plate[:40]),
                event_id,
                after["camera"],
            )
            plate = None
        score = _number(score)
        return FrigateFrameRequest(
            event_id=event_id,
            camera=after["camera"],
            seen_at=seen_at,
            vehicle_box=_box(snapshot.get("box") if snapshot else after.get("box")),
            plate_box=_plate_box(snapshot),
            final=final,
            fetch=fetch,
            direction=direction,
            anpr_plate=plate if isinstance(plate, str) and plate else None,
            anpr_score=float(score) if score is not None and 0 <= score <= 1 else None,
        )


@dataclass(slots=True)
class _Downloads:
    read: bool = False
    """One of the event's snapshots was downloaded."""
    unread: bool = False
    """The latest snapshot asked for could not be downloaded."""


class SnapshotDownloads:
    """Which events' snapshots were downloaded, so that a short outage loses no vehicle.

    The tracker counts a frame as seen when it asks for it, before the download.
    A download that then fails leaves the frame unread: the event's end downloads
    it again even when Frigate offers no newer frame, and the end of an event none
    of whose snapshots could be downloaded is tried again while Frigate does not
    answer (``SNAPSHOT_RETRY_DELAYS``).
    """

    def __init__(self, limit: int = MAX_OPEN_EVENTS) -> None:
        """Remember at most ``limit`` events (those Frigate never ended go first)."""
        self._events: OrderedDict[str, _Downloads] = OrderedDict()
        self._limit = limit

    def __len__(self) -> int:
        """Events remembered."""
        return len(self._events)

    def wanted(self, request: FrigateFrameRequest) -> bool:
        """Whether to download the request's snapshot: a new frame, or an end left unread."""
        if request.fetch:
            return True
        state = self._events.get(request.event_id)
        return request.final and state is not None and state.unread

    def retry_delays(self, request: FrigateFrameRequest) -> tuple[float, ...]:
        """Return the waits before each new try while Frigate does not answer: only an unread end has any."""
        state = self._events.get(request.event_id)
        if request.final and (state is None or not state.read):
            return SNAPSHOT_RETRY_DELAYS
        return ()

    def downloaded(self, event_id: str) -> None:
        """Note that the event's latest snapshot was downloaded."""
        state = self._state(event_id)
        state.read, state.unread = True, False

    def failed(self, event_id: str) -> None:
        """Note that the event's latest snapshot could not be downloaded."""
        self._state(event_id).unread = True

    def ended(self, event_id: str) -> None:
        """Forget an event whose end was handled."""
        self._events.pop(event_id, None)

    def _state(self, event_id: str) -> _Downloads:
        state = self._events.get(event_id)
        if state is None:
            state = _Downloads()
            _remember(self._events, event_id, state, self._limit)
        return state


@dataclass(frozen=True, slots=True)
class HeldMessage:
    """A message of a camera Frigate's last camera list did not name, kept until the next."""

    event_type: str
    after: dict[str, Any]
    size: int
    """The payload's bytes, for ``MAX_HELD_BYTES``."""


class CameraGate:
    """Lets through only the event messages of cameras Frigate's configuration lists.

    Anyone who may publish on Frigate's topic prefix could otherwise make up a
    camera: its device, its entities and sightings nobody saw. A message of a
    camera the last list did not name is held, and the list read again (at most
    every ``CAMERA_LIST_INTERVAL`` seconds, so that a camera added to Frigate
    works without a restart). Then it is read, or skipped, counted
    (``frigate_unknown_camera``) and logged, when the new list does not name
    the camera either. While no list was ever read (Frigate did not answer since
    the source was added), every message is held: none is read unchecked, none
    lost while Frigate is down. Only a stream beyond ``MAX_HELD_MESSAGES`` or
    ``MAX_HELD_BYTES`` loses its oldest messages, counted and logged alike.
    When Frigate answers but with no camera list (``unlisted``), waiting would
    lose every event: they are read unchecked, with a warning, until a list comes.
    """

    def __init__(
        self,
        cameras: Iterable[str] | None = None,
        *,
        counters: Counter[str] | None = None,
        limit: int = MAX_HELD_MESSAGES,
        byte_limit: int = MAX_HELD_BYTES,
    ) -> None:
        """Start from a list read before (kept across restarts), or none."""
        self._cameras = None if cameras is None else frozenset(cameras)
        self._counters: Counter[str] = Counter() if counters is None else counters
        self._limit = limit
        self._byte_limit = byte_limit
        self._held: deque[HeldMessage] = deque()
        self._held_bytes = 0
        self._read = False
        """The list was read since the source started (not only kept from before)."""
        self._tried_at: float | None = None
        self._overflowed = False
        self._unchecked = False
        """Frigate answered without a camera list: messages are read unchecked."""

    @property
    def cameras(self) -> frozenset[str] | None:
        """The cameras of the last list read, or None if none ever was."""
        return self._cameras

    @property
    def held(self) -> int:
        """Messages waiting for the next camera list."""
        return len(self._held)

    def admit(self, event_type: str, after: dict[str, Any], *, size: int = 0) -> bool:
        """Whether to read a parsed message now; if not, it is held for the next list."""
        if self._unchecked or (
            self._cameras is not None and after["camera"] in self._cameras
        ):
            return True
        self._held.append(HeldMessage(event_type, after, size))
        self._held_bytes += size
        while len(self._held) > self._limit or self._held_bytes > self._byte_limit:
            dropped = self._held.popleft()
            self._held_bytes -= dropped.size
            self._counters["frigate_unknown_camera"] += 1
            # Once per wait for the list: a flood would flood the log too.
            _LOGGER.log(
                logging.DEBUG if self._overflowed else logging.WARNING,
                "Skipped a message of Frigate event %s (camera %s): more messages of "
                "cameras not in Frigate's last camera list wait for its next than are kept",
                dropped.after["id"],
                dropped.after["camera"],
            )
            self._overflowed = True
        return False

    def wait(self, now: float) -> float | None:
        """Return the seconds to wait before reading the camera list, or None if no read is needed."""
        if self._read and not self._held:
            return None
        if self._tried_at is None or now < self._tried_at:
            # Never tried, or the wall clock was set back: the pace is unknown.
            return 0.0
        return max(0.0, self._tried_at + CAMERA_LIST_INTERVAL - now)

    def tried(self, now: float) -> None:
        """Note that the camera list is being read now (whether or not Frigate answers)."""
        self._tried_at = now

    def listed(self, cameras: Iterable[str]) -> list[HeldMessage]:
        """Take Frigate's camera list; return the held messages it names, in their order.

        The others are skipped: counted and logged once per camera.
        """
        self._cameras = frozenset(cameras)
        self._read = True
        if self._unchecked:
            _LOGGER.warning("Frigate lists its cameras again: only theirs are read")
            self._unchecked = False
        admitted: list[HeldMessage] = []
        skipped: Counter[str] = Counter()
        for message in self._held:
            if message.after["camera"] in self._cameras:
                admitted.append(message)
            else:
                skipped[message.after["camera"]] += 1
        self._held.clear()
        self._held_bytes = 0
        self._overflowed = False
        for camera, count in skipped.items():
            self._counters["frigate_unknown_camera"] += count
            _LOGGER.warning(
                "Ignored %d message(s) of camera %s: Frigate's configuration has no "
                "such camera, so something else publishes on its topic",
                count,
                camera,
            )
        return admitted

    def unlisted(self, err: FrigateError) -> list[HeldMessage]:
        """Frigate answered, but with no camera list: return the held messages, read from now on unchecked."""
        if not self._unchecked:
            _LOGGER.warning(
                "Frigate answers without a list of its cameras (%s): the events of "
                "every camera are read, unchecked, until it gives one",
                err,
            )
        self._unchecked = True
        admitted = list(self._held)
        self._held.clear()
        self._held_bytes = 0
        return admitted


class FrigateClient:
    """The parts of Frigate's HTTP API that plate_tracker uses.

    Frigate 0.14 and later serve two ports: 5000, without authentication, and
    8971, where ``POST /api/login`` with a user and password answers with a JWT
    in the ``frigate_token`` cookie. With a username the client logs in before
    its first request and sends the token as a bearer token, which Frigate
    accepts like the cookie (Home Assistant's shared session keeps no cookies of
    ours, and aiohttp stores none for a host given as an IP address). A token
    that expired is replaced by logging in again once.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        """Use ``session`` (owned by the caller) against Frigate at ``base_url``."""
        self._session = session
        self._base = URL(base_url.rstrip("/") + "/")
        self._username = username or None
        self._password = password or ""
        self._token: str | None = None
        self._login_lock = asyncio.Lock()

    async def version(self) -> str:
        """Return Frigate's version; proves the URL points at a Frigate.

        Frigate answers this without a login, even on its authenticated port.
        """
        body = await self._get(
            self._base / "api" / "version", limit=1024, authenticated=False
        )
        version = body.decode("utf-8", "replace").strip().strip('"')
        if not version or not version[0].isdigit():
            raise FrigateError(f"not a Frigate version answer: {version[:40]!r}")
        return version

    async def check_access(self) -> None:
        """Prove that the API answers requests that need a login on port 8971.

        ``/api/stats`` is small and needs an authenticated user there, so it
        catches a wrong password or a missing login where ``version`` cannot.
        """
        await self._get(self._base / "api" / "stats", limit=MAX_STATS_BYTES)

    async def ended_events(self, after: float, before: float) -> list[dict[str, Any]]:
        """Return the vehicle events with a snapshot that started between ``after`` and ``before``.

        Oldest first, at most ``MISSED_EVENTS_MAX``; Frigate lists the newest first.
        Each has a string ``id`` and ``camera`` as its messages would; any other
        entry is skipped (counted in a warning).
        """
        url = (self._base / "api" / "events").with_query(
            after=f"{after:.3f}",
            before=f"{before:.3f}",
            labels=",".join(sorted(VEHICLE_LABELS)),
            has_snapshot=1,
            in_progress=0,
            include_thumbnails=0,
            limit=MISSED_EVENTS_MAX,
        )
        body = await self._get(url, limit=MAX_EVENT_LIST_BYTES)
        try:
            events = json.loads(body)
        except (ValueError, RecursionError) as err:
            raise FrigateError(f"event list is not JSON: {err}") from err
        if not isinstance(events, list):
            raise FrigateError("event list is not a list")
        found = [event for event in events if _listed_event(event)]
        if skipped := len(events) - len(found):
            # The ids and cameras are looked up in the store and Frigate's API:
            # one that is no string (a list, a dict) would stop the whole gap's reading.
            _LOGGER.warning(
                "Skipped %d entries of Frigate's event list that are not events "
                "with an id and a camera name Frigate gives",
                skipped,
            )
        found.reverse()
        return found

    async def camera_zones(self) -> dict[str, list[str]]:
        """Return the zone names of every camera in Frigate's configuration."""
        body = await self._get(
            self._base / "api" / "config",
            limit=MAX_CONFIG_BYTES,
            client_timeout=CONFIG_TIMEOUT,
        )
        try:
            config = json.loads(body)
        except (ValueError, RecursionError) as err:
            raise FrigateError(f"configuration is not JSON: {err}") from err
        cameras = config.get("cameras") if isinstance(config, dict) else None
        if not isinstance(cameras, dict):
            raise FrigateError("configuration has no cameras")
        return {
            str(camera): sorted(str(zone) for zone in _zone_names(settings))
            for camera, settings in cameras.items()
            if isinstance(settings, dict)
        }

    async def event_snapshot(self, event_id: str) -> bytes:
        """Return the event's best snapshot, full frame, without Frigate's drawings."""
        url = (self._base / "api" / "events" / event_id / "snapshot.jpg").with_query(
            bbox=0, crop=0, timestamp=0, quality=95
        )
        return await self._get(url, limit=MAX_SNAPSHOT_BYTES)

    async def login(self) -> None:
        """Log in with the configured user; raise FrigateAuthError when Frigate refuses."""
        if self._username is None:
            raise FrigateAuthError("Frigate asks for a login and no user is configured")
        url = self._base / "api" / "login"
        try:
            async with self._session.post(
                url,
                json={"user": self._username, "password": self._password},
                timeout=FETCH_TIMEOUT,
            ) as response:
                if response.status in (401, 403):
                    raise FrigateAuthError(
                        f"HTTP {response.status}: Frigate refused the login"
                    )
                if response.status != 200:
                    raise _status_error(response.status, url)
                cookie = response.cookies.get(TOKEN_COOKIE) or next(
                    iter(response.cookies.values()), None
                )
        except (aiohttp.ClientError, TimeoutError) as err:
            raise FrigateUnreachableError(f"{type(err).__name__}: {err}") from err
        if cookie is None or not cookie.value:
            raise FrigateError("Frigate accepted the login but sent no token")
        self._token = cookie.value

    async def _get(
        self,
        url: URL,
        *,
        limit: int,
        client_timeout: aiohttp.ClientTimeout = FETCH_TIMEOUT,
        authenticated: bool = True,
    ) -> bytes:
        """GET ``url``; with a configured user and ``authenticated``, logged in."""
        login = authenticated and self._username is not None
        if login and self._token is None:
            await self._login_once(None)
        token = self._token if login else None
        status, body = await self._request(url, limit, client_timeout, token)
        if status == 401 and login:
            # The token expired or Frigate restarted with a new secret: log in once more.
            await self._login_once(token)
            token = self._token
            status, body = await self._request(url, limit, client_timeout, token)
        if status in (401, 403):
            raise FrigateAuthError(
                f"HTTP {status} for {url.path}: "
                + ("the login was refused" if self._username else "a login is needed")
            )
        if status != 200:
            raise _status_error(status, url)
        if len(body) > limit:
            raise FrigateError(f"answer larger than {limit} bytes for {url.path}")
        return body

    async def _login_once(self, rejected_token: str | None) -> None:
        """Log in, unless another request already replaced ``rejected_token``."""
        async with self._login_lock:
            if self._token is None or self._token == rejected_token:
                self._token = None
                await self.login()

    async def _request(
        self,
        url: URL,
        limit: int,
        client_timeout: aiohttp.ClientTimeout,
        token: str | None,
    ) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        try:
            async with self._session.get(
                url, timeout=client_timeout, headers=headers
            ) as response:
                if response.status != 200:
                    return response.status, b""
                return 200, await read_at_most(response.content, limit)
        except (aiohttp.ClientError, TimeoutError) as err:
            raise FrigateUnreachableError(f"{type(err).__name__}: {err}") from err


def _listed_event(event: Any) -> bool:
    """Whether an entry of Frigate's event list is an event the events topic could carry."""
    return (
        isinstance(event, dict)
        and isinstance(event_id := event.get("id"), str)
        and _EVENT_ID.fullmatch(event_id) is not None
        and isinstance(camera := event.get("camera"), str)
        and CAMERA_NAME.fullmatch(camera) is not None
    )


def _status_error(status: int, url: URL) -> FrigateError:
    """Return the error for an HTTP status: 5xx means Frigate itself is down."""
    if status >= 500:
        return FrigateUnreachableError(f"HTTP {status} for {url.path}")
    return FrigateError(f"HTTP {status} for {url.path}")
