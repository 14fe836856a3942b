"""Vehicle routes across cameras, and whether a vehicle has left the city.

Cameras "read the plate and then follow the vehicle's route each time it comes
into view"; cameras at the city's exits tell whether it has left. Plain Python
with no I/O: the store hands over sightings, this module reasons about them.

A route of one plate can hold 100,000 sightings and ``get_route`` should
answer in under 50 ms (issue 5). A Python loop over 100,000 items already
costs a large share of that, so routes are built straight from the store's
``route_for`` rows (``SightingColumns``), every pass over the sightings runs
in C (``map``, ``compress``, ``min``) on the few columns it needs, and
per-sighting objects (``RouteSighting``, ``Trip``) are made only when asked
for.

``get_route`` goes further (``route_response``): the store keeps each
plate's times, ids, cameras and event keys packed (``route_columns``), the
whole route is decided on numpy columns, and rows are read for the listed
sightings only. ``where_is`` and the watchlist tracker do the same
(``packed_whereabouts``): the city status walks back from the latest sighting
and reads rows only for the exit passes it judges. ``build_route`` and
``city_status`` stay the straightforward definitions the fast paths are
tested against.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cached_property
from itertools import compress, islice, pairwise, repeat
import math
from operator import gt, itemgetter, le, lt, ne, sub
from typing import Any, Final, Protocol, overload

import numpy as np
from numpy.typing import NDArray

from ..plate_text import normalize_plate
from ..records import Direction, MatchKind, Sighting
from ..store.schema import SAME_EVENT_WITHIN_US
from .similarity import misread_kind

DEFAULT_MAX_SPEED_KMH = 200.0
DEFAULT_JOIN_WINDOW = timedelta(seconds=60)
"""How close in time a misread must be to a read of the real plate at the same camera."""
DEFAULT_PASS_WINDOW = timedelta(seconds=60)
"""Sightings at one camera this close together are one pass (one direction of travel)."""
CLOCK_SKEW_ALLOWANCE = timedelta(seconds=30)
"""Added to the time between two sightings before judging their speed: NVR
clocks and event start times disagree by seconds, and flagging a normal drive
between neighbouring cameras as impossible would send police after a clone
that does not exist."""
EARTH_RADIUS_KM = 6371.0088
SAME_EVENT_WITHIN_SECONDS = SAME_EVENT_WITHIN_US / 1_000_000
"""Two sightings with one NVR event id further apart than this are two events.

The store's rule (``SAME_EVENT_WITHIN_US``): an NVR or camera that counts its
events from 1 again after a restart gives a later car an earlier car's id."""

_OPPOSITE_DIRECTION = {
    Direction.APPROACHING: Direction.RECEDING,
    Direction.RECEDING: Direction.APPROACHING,
    Direction.LEFT: Direction.RIGHT,
    Direction.RIGHT: Direction.LEFT,
}


class CameraRole(StrEnum):
    """Where a camera stands in the city."""

    INSIDE = "inside"
    EXIT = "exit"


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraInfo:
    """One camera on the city map, as the options flow configures it."""

    id: str
    name: str
    latitude: float
    longitude: float
    role: CameraRole = CameraRole.INSIDE
    leaving_direction: Direction | None = None
    """For an exit camera, the reported direction that means leaving the city.
    None (or ``Direction.UNKNOWN``) means not configured: the camera then never
    decides between ``left`` and ``entered``."""

    def __post_init__(self) -> None:
        """Refuse coordinates that cannot be on Earth (a swapped lat/lon pair often is)."""
        if not -90 <= self.latitude <= 90 or not -180 <= self.longitude <= 180:
            raise ValueError(f"camera {self.id} has no valid location")

    @property
    def entering_direction(self) -> Direction | None:
        """Return the direction that means entering the city, if known."""
        if self.leaving_direction is None:
            return None
        return _OPPOSITE_DIRECTION.get(self.leaving_direction)


type SightingRow = tuple[int, str, float, str, float, str, str | None]
"""One sighting as a store row: id, camera, seen_at as POSIX seconds, plate,
confidence, direction value, NVR event id (``store.RouteRow``)."""

# Field positions in a SightingRow; Final so that type checkers see each
# row[...] with its own field type.
_ID: Final = 0
_CAMERA: Final = 1
_TIME: Final = 2
_PLATE: Final = 3
_DIRECTION: Final = 5
_EVENT: Final = 6


class SightingColumns:
    """Sightings as the store's rows, with whole columns derived on demand.

    Kept as rows because that is what the store hands over: transposing all
    seven fields of 100,000 rows would cost as much as building the route.
    A route needs whole columns of only a few fields (times, cameras and
    plates); each is made by one C-level pass on first use. Everything else
    is read from the few rows a caller lists or a check looks at.
    """

    def __init__(self, rows: Sequence[SightingRow]) -> None:
        """Wrap rows (see ``SightingRow``)."""
        self.rows = rows

    def __len__(self) -> int:
        """Return the number of sightings."""
        return len(self.rows)

    @classmethod
    def from_rows(cls, rows: Iterable[SightingRow]) -> SightingColumns:
        """Wrap store rows, such as ``SightingStore.route_for`` returns them."""
        return cls(rows if isinstance(rows, Sequence) else list(rows))

    @classmethod
    def from_sightings(cls, sightings: Iterable[Sighting]) -> SightingColumns:
        """Turn stored sightings into rows (slower than the store's rows for big routes)."""
        return cls(
            [
                (
                    sighting.id,
                    sighting.camera,
                    _timestamp(sighting.seen_at),
                    sighting.plate,
                    sighting.confidence,
                    sighting.direction.value,
                    sighting.event_id,
                )
                for sighting in sightings
            ]
        )

    @classmethod
    def with_columns(
        cls,
        rows: Sequence[SightingRow],
        *,
        timestamps: Sequence[float] | NDArray[np.float64],
        cameras: Sequence[str],
    ) -> SightingColumns:
        """Wrap rows whose time and camera columns the caller already has.

        Seeds the cached columns, so a route over rows that are loaded lazily
        never reads every row to make them.
        """
        columns = cls(rows)
        columns.__dict__.update(timestamps=timestamps, cameras=cameras)
        return columns

    @cached_property
    def timestamps(self) -> Sequence[float]:
        """POSIX seconds (UTC) of every sighting."""
        return list(map(itemgetter(_TIME), self.rows))

    @cached_property
    def cameras(self) -> Sequence[str]:
        """Camera id of every sighting."""
        return list(map(itemgetter(_CAMERA), self.rows))

    @cached_property
    def plates(self) -> list[str]:
        """Canonical plate of every sighting."""
        return list(map(itemgetter(_PLATE), self.rows))

    def sighting_id(self, index: int) -> int:
        """Return the id of the sighting at ``index``."""
        return self.rows[index][_ID]

    def has_event(self, index: int) -> bool:
        """Return whether the sighting at ``index`` came with an NVR event id."""
        return self.rows[index][_EVENT] is not None

    def event_token(self, index: int) -> object:
        """Return a value that is equal for sightings of one NVR event; None without one.

        Cheap to read; sightings of different events may share it now and then
        (``event_of`` tells them apart).
        """
        return self.rows[index][_EVENT]

    def event_of(self, index: int) -> tuple[str, str] | None:
        """Return the camera and NVR event id of the sighting at ``index``; None without one.

        Camera-side ANPR units each count their own events: one id at two
        cameras is two events.
        """
        row = self.rows[index]
        event_id = row[_EVENT]
        return None if event_id is None else (row[_CAMERA], event_id)

    def without(self, dropped: Sequence[int]) -> SightingColumns:
        """Return the sightings without those at ``dropped`` (sorted indices).

        Copies the slices between the dropped sightings, which is far faster
        than picking every kept sighting when only a few are dropped.
        """
        if not dropped:
            return self
        kept: list[SightingRow] = []
        for before, after in pairwise([-1, *dropped, len(self.rows)]):
            kept.extend(self.rows[before + 1 : after])
        return SightingColumns(kept)

    def in_time_order(self) -> SightingColumns:
        """Return the sightings sorted by time (stable), without copying if they already are."""
        timestamps = self.timestamps
        if all(map(le, timestamps, islice(timestamps, 1, None))):
            return self
        return SightingColumns(sorted(self.rows, key=itemgetter(_TIME)))


class RouteFlag(StrEnum):
    """Something a route says about one sighting."""

    IMPOSSIBLE_TRAVEL = "impossible_travel"
    """This sighting and its neighbour need an implausible speed: one is likely
    a misread or a cloned plate."""
    JOINED_MISREAD = "joined_misread"
    """The sighting's plate differs from the route's plate but the evidence says
    it is the same vehicle (see ``Route.joined``)."""


class JoinReason(StrEnum):
    """Why a sighting of a different plate was joined to a route."""

    SAME_EVENT = "same_event"
    """The NVR reported it in the same event as a read of the real plate (the
    same event id, at most ``SAME_EVENT_WITHIN_SECONDS`` apart)."""
    SAME_PASS = "same_pass"  # noqa: S105 - a vehicle's pass, not a password
    """Same camera, within the join window of a read of the real plate (and
    not in an NVR event of its own)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteSighting:
    """One sighting of a route with everything a map or a person needs."""

    id: int
    camera: str
    camera_name: str
    latitude: float | None
    longitude: float | None
    """None when the camera is not on the map."""
    seen_at: datetime
    plate: str
    direction: Direction
    confidence: float
    event_id: str | None
    trip: int | None
    """Index of the trip in the route; None outside a route."""
    flags: tuple[RouteFlag, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able form for a service response."""
        return {
            "id": self.id,
            "time": self.seen_at.isoformat(),
            "camera": self.camera,
            "camera_name": self.camera_name,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "plate": self.plate,
            "direction": self.direction.value,
            "confidence": self.confidence,
            "event_id": self.event_id,
            "trip": self.trip,
            "flags": [flag.value for flag in self.flags],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Trip:
    """Consecutive sightings with no gap longer than the trip gap."""

    index: int
    start: int
    """Index of the trip's first sighting in the route."""
    end: int
    """Index after the trip's last sighting."""
    started_at: datetime
    ended_at: datetime

    def __len__(self) -> int:
        """Return the number of sightings in the trip."""
        return self.end - self.start


@dataclass(frozen=True, slots=True, kw_only=True)
class ImpossibleTravel:
    """Two consecutive sightings too far apart for the time between them."""

    from_index: int
    to_index: int
    from_id: int
    to_id: int
    from_camera: str
    to_camera: str
    distance_km: float
    seconds: float
    speed_kmh: float | None
    """None when both were seen at the same instant."""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able form for a service response."""
        return {
            "from_id": self.from_id,
            "to_id": self.to_id,
            "from_camera": self.from_camera,
            "to_camera": self.to_camera,
            "distance_km": round(self.distance_km, 3),
            "seconds": self.seconds,
            "speed_kmh": None if self.speed_kmh is None else round(self.speed_kmh, 1),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinedMisread:
    """A sighting of another plate that the route counts as this vehicle."""

    index: int
    """Index in the route."""
    id: int
    plate: str
    kind: MatchKind
    """``lookalike`` or ``one_edit``: how its plate differs from the route's."""
    reason: JoinReason
    anchor_id: int
    """The sighting of the real plate that supports the join."""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able form for a service response."""
        return {
            "id": self.id,
            "plate": self.plate,
            "kind": self.kind.value,
            "reason": self.reason.value,
            "anchor_id": self.anchor_id,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class UnjoinedMisread:
    """A sighting of a similar plate left out for lack of evidence.

    Reported rather than dropped: it may be the wanted vehicle misread where no
    other camera saw it, or a different vehicle; a person decides.
    """

    id: int
    plate: str
    kind: MatchKind
    camera: str
    seen_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able form for a service response."""
        return {
            "id": self.id,
            "plate": self.plate,
            "kind": self.kind.value,
            "camera": self.camera,
            "time": self.seen_at.isoformat(),
        }


@dataclass(frozen=True, kw_only=True)
class Route:
    """The sightings of one plate in time order, grouped into trips.

    Building a route only finds where trips start and which pairs are
    impossible; the objects describing them are made on first access, so a
    service that lists the last few hundred sightings of a 100,000-sighting
    route pays for those only.
    """

    plate: str
    sightings: SightingColumns
    """The plate's sightings and the joined misreads, in time order."""
    cameras: Mapping[str, CameraInfo]
    trip_starts: Sequence[int]
    """Index of each trip's first sighting."""
    impossible_pairs: Sequence[int]
    """``i`` for each pair of consecutive sightings ``i``, ``i + 1`` too far
    apart for the time between them."""
    max_speed_kmh: float
    joined: tuple[JoinedMisread, ...]
    not_joined: tuple[UnjoinedMisread, ...]

    def __len__(self) -> int:
        """Return the number of sightings in the route."""
        return len(self.sightings)

    @cached_property
    def trips(self) -> tuple[Trip, ...]:
        """The trips, oldest first."""
        return tuple(map(self._trip, range(len(self.trip_starts))))

    @cached_property
    def impossible_travel(self) -> tuple[ImpossibleTravel, ...]:
        """The pairs of sightings that need more than ``max_speed_kmh``, oldest first."""
        return tuple(map(self._impossible_travel, self.impossible_pairs))

    @cached_property
    def flags(self) -> Mapping[int, tuple[RouteFlag, ...]]:
        """Flags by sighting index; most sightings have none."""
        flags: dict[int, tuple[RouteFlag, ...]] = {
            misread.index: (RouteFlag.JOINED_MISREAD,) for misread in self.joined
        }
        impossible = {*self.impossible_pairs, *(i + 1 for i in self.impossible_pairs)}
        for index in sorted(impossible):
            flags[index] = (*flags.get(index, ()), RouteFlag.IMPOSSIBLE_TRAVEL)
        return flags

    def sighting(self, index: int) -> RouteSighting:
        """Return one sighting (negative indices count from the latest)."""
        # range() turns a negative index into a positive one and refuses bad ones.
        index = range(len(self.sightings))[index]
        return self._sighting(index, bisect_right(self.trip_starts, index) - 1)

    def __iter__(self) -> Iterator[RouteSighting]:
        """Yield the route's sightings in time order."""
        for trip in self.trips:
            for index in range(trip.start, trip.end):
                yield self._sighting(index, trip.index)

    def to_dict(self, *, max_sightings: int | None = None) -> dict[str, Any]:
        """Return a JSON-able form for a service response.

        With ``max_sightings`` only the most recent sightings are listed, with
        the trips, impossible-travel pairs and misreads that concern them; the
        counts cover the whole route and ``truncated`` says whether anything
        was left out. A phone or an automation has no use for 100,000 map
        points, and building them would take seconds.
        """
        total = len(self.sightings)
        first = 0 if max_sightings is None else max(total - max_sightings, 0)
        first_trip = (
            bisect_right(self.trip_starts, first) - 1
            if first < total
            else len(self.trip_starts)
        )
        first_pair = bisect_left(self.impossible_pairs, first - 1)
        # Misreads kept apart are listed back to the first listed sighting only
        # when the list was cut: uncut, every one is listed, even those older
        # than the plate's first read or of a plate never read as itself.
        listed_since = (
            -math.inf
            if first == 0
            else self.sightings.timestamps[first]
            if first < total
            else math.inf
        )
        trips = []
        for number in range(first_trip, len(self.trip_starts)):
            trip = self._trip(number)
            trips.append(
                {
                    "index": trip.index,
                    "start": trip.started_at.isoformat(),
                    "end": trip.ended_at.isoformat(),
                    "sighting_count": len(trip),
                    "first_camera": self.sightings.cameras[trip.start],
                    "last_camera": self.sightings.cameras[trip.end - 1],
                    "sightings": [
                        self._sighting(index, number).to_dict()
                        for index in range(max(trip.start, first), trip.end)
                    ],
                }
            )
        return {
            "plate": self.plate,
            "sighting_count": total,
            "trip_count": len(self.trip_starts),
            "truncated": first > 0,
            "max_speed_kmh": self.max_speed_kmh,
            "trips": trips,
            "impossible_travel": [
                self._impossible_travel(index).to_dict()
                for index in islice(self.impossible_pairs, first_pair, None)
            ],
            "joined": [item.to_dict() for item in self.joined if item.index >= first],
            "not_joined": [
                item.to_dict()
                for item in self.not_joined
                if item.seen_at.timestamp() >= listed_since
            ],
        }

    def _sighting(self, index: int, trip: int) -> RouteSighting:
        return _route_sighting(
            self.sightings,
            index,
            self.cameras,
            trip=trip,
            flags=self.flags.get(index, ()),
        )

    def _trip(self, number: int) -> Trip:
        start = self.trip_starts[number]
        end = (
            self.trip_starts[number + 1]
            if number + 1 < len(self.trip_starts)
            else len(self.sightings)
        )
        return Trip(
            index=number,
            start=start,
            end=end,
            started_at=_datetime(self.sightings.timestamps[start]),
            ended_at=_datetime(self.sightings.timestamps[end - 1]),
        )

    def _impossible_travel(self, index: int) -> ImpossibleTravel:
        columns = self.sightings
        first, second = columns.rows[index], columns.rows[index + 1]
        pair = (first[_CAMERA], second[_CAMERA])
        distance = _distance_km(self.cameras, *pair)
        seconds = second[_TIME] - first[_TIME]
        return ImpossibleTravel(
            from_index=index,
            to_index=index + 1,
            from_id=first[_ID],
            to_id=second[_ID],
            from_camera=pair[0],
            to_camera=pair[1],
            distance_km=distance,
            seconds=seconds,
            speed_kmh=distance / seconds * 3600 if seconds else None,
        )


def build_route(
    sightings: SightingColumns | Sequence[Sighting],
    cameras: Mapping[str, CameraInfo],
    *,
    plate: str,
    trip_gap: timedelta,
    max_speed_kmh: float = DEFAULT_MAX_SPEED_KMH,
    join_window: timedelta = DEFAULT_JOIN_WINDOW,
) -> Route:
    """Build the route of ``plate`` from its sightings and nearby misreads.

    ``sightings`` may hold other plates too: sightings whose plate differs from
    ``plate`` only by look-alikes or one edit are joined when the same NVR
    event also read ``plate``, or when ``plate`` was read at the same camera
    within ``join_window``; such look-alikes without that evidence are listed
    in ``Route.not_joined``; unrelated plates are ignored. A new trip starts
    after a gap longer than ``trip_gap``. Consecutive sightings at different
    mapped cameras whose distance needs more than ``max_speed_kmh`` (after
    ``CLOCK_SKEW_ALLOWANCE``) are both flagged ``impossible_travel``.
    """
    if trip_gap <= timedelta(0):
        raise ValueError("trip_gap must be positive")
    if max_speed_kmh <= 0:
        raise ValueError("max_speed_kmh must be positive")
    columns = (
        sightings
        if isinstance(sightings, SightingColumns)
        else SightingColumns.from_sightings(sightings)
    )
    # Every pass over the sightings below runs in C (map, compress, min), and
    # one list of gaps serves the order check, the trip split and the speed
    # check: a Python loop per step would cost as much as the whole build.
    gaps = _gaps(columns.timestamps)
    if gaps and min(gaps) < 0:
        columns = columns.in_time_order()
        gaps = _gaps(columns.timestamps)
    plate = normalize_plate(plate)
    joined_columns, joined, not_joined = _join_misreads(columns, plate, join_window)
    if joined_columns is not columns:
        columns, gaps = joined_columns, _gaps(joined_columns.timestamps)
    trip_starts = [
        *islice(range(len(columns)), 1),
        *compress(
            range(1, len(columns)), map(gt, gaps, repeat(trip_gap.total_seconds()))
        ),
    ]
    # Per camera pair, the fewest seconds a drive between them can take; a
    # pair seen closer in time than that is impossible.
    fastest = max_speed_kmh / 3600
    skew = CLOCK_SKEW_ALLOWANCE.total_seconds()
    least_seconds = _PairCache(
        lambda first, second: _distance_km(cameras, first, second) / fastest - skew
    )
    impossible_pairs = list(
        compress(
            range(len(gaps)),
            map(lt, gaps, map(least_seconds.__getitem__, pairwise(columns.cameras))),
        )
    )
    return Route(
        plate=plate,
        sightings=columns,
        cameras=cameras,
        trip_starts=trip_starts,
        impossible_pairs=impossible_pairs,
        max_speed_kmh=max_speed_kmh,
        joined=joined,
        not_joined=not_joined,
    )


class PackedSightings(Protocol):
    """A plate's sightings as whole columns in ``(seen_us, id)`` order.

    What ``SightingStore.route_columns`` returns (``store.RouteColumns``).
    """

    @property
    def seen_us(self) -> NDArray[np.int64]:
        """Microseconds since the epoch (UTC)."""

    @property
    def ids(self) -> NDArray[np.int64]:
        """Sighting ids."""

    @property
    def camera_ids(self) -> NDArray[np.int64]:
        """Stored camera ids (keys of ``camera_names``)."""

    @property
    def event_keys(self) -> NDArray[np.int64]:
        """A key per NVR event id, 0 for none: equal ids have equal keys."""

    @property
    def plate_ids(self) -> NDArray[np.int64]:
        """Stored plate ids (keys of ``plates``)."""

    @property
    def camera_names(self) -> Mapping[int, str]:
        """Camera name (``CameraInfo.id``) by stored camera id."""

    @property
    def plates(self) -> Mapping[int, str]:
        """Plate text by stored plate id."""

    @property
    def load_rows(self) -> Callable[[Sequence[int]], Sequence[SightingRow]]:
        """Return the row of each sighting id, in the order given."""


def route_response(
    packed: PackedSightings,
    cameras: Mapping[str, CameraInfo],
    *,
    plate: str,
    trip_gap: timedelta,
    max_sightings: int | None,
    max_speed_kmh: float = DEFAULT_MAX_SPEED_KMH,
    join_window: timedelta = DEFAULT_JOIN_WINDOW,
) -> dict[str, Any]:
    """Return ``build_route(...).to_dict(max_sightings=...)`` from packed columns.

    The same answer as building the route from the store's rows (a test
    holds them equal), for a fraction of the cost on a long route: the
    misread joins and the trip split of the whole route are decided on numpy
    columns; rows are loaded only for the listed sightings and to confirm
    that two sightings with equal event keys share an event id, and
    impossible travel is judged only where it is listed.
    """
    if trip_gap <= timedelta(0):
        raise ValueError("trip_gap must be positive")
    if max_speed_kmh <= 0:
        raise ValueError("max_speed_kmh must be positive")
    plate = normalize_plate(plate)
    cache: dict[int, SightingRow] = {}
    ids = packed.ids
    kept, joined, not_joined = _packed_joins(packed, plate, join_window, cache)
    # As the store's ``seen_us / 1000000.0``: the same doubles, the same gaps.
    timestamps = packed.seen_us[kept] / 1_000_000.0
    camera_ids = packed.camera_ids[kept]
    total = len(timestamps)
    gaps = np.diff(timestamps)
    trip_starts: list[int] = [
        *range(min(total, 1)),
        *(np.flatnonzero(gaps > trip_gap.total_seconds()) + 1).tolist(),
    ]
    first = 0 if max_sightings is None else max(total - max_sightings, 0)
    camera_names = _Named(camera_ids, packed.camera_names)
    fastest = max_speed_kmh / 3600
    skew = CLOCK_SKEW_ALLOWANCE.total_seconds()
    least_seconds = _PairCache(
        lambda first, second: _distance_km(cameras, first, second) / fastest - skew
    )
    # Only the pairs to_dict lists (those touching a listed sighting).
    impossible_pairs = [
        index
        for index in range(max(first - 1, 0), total - 1)
        if gaps[index] < least_seconds[camera_names[index], camera_names[index + 1]]
    ]
    listed_rows = _LoadedRows(ids[kept], packed.load_rows, cache)
    listed_rows.prefetch(np.arange(first, total))
    route = Route(
        plate=plate,
        sightings=SightingColumns.with_columns(
            listed_rows,
            timestamps=timestamps,
            cameras=camera_names,
        ),
        cameras=cameras,
        trip_starts=trip_starts,
        impossible_pairs=impossible_pairs,
        max_speed_kmh=max_speed_kmh,
        joined=joined,
        not_joined=not_joined,
    )
    return route.to_dict(max_sightings=max_sightings)


def _packed_joins(
    packed: PackedSightings,
    plate: str,
    join_window: timedelta,
    cache: dict[int, SightingRow],
) -> tuple[NDArray[np.bool_], tuple[JoinedMisread, ...], tuple[UnjoinedMisread, ...]]:
    """Judge the misreads in ``packed`` as ``build_route`` does.

    Returns which sightings the route keeps, the joined misreads and the
    look-alikes left out. Only the sightings of other plates are looked at.
    """
    ids = packed.ids
    other_plates = [
        plate_id for plate_id, text in packed.plates.items() if text != plate
    ]
    others = np.flatnonzero(np.isin(packed.plate_ids, other_plates)).tolist()
    kept = np.ones(len(ids), dtype=bool)
    if not others:
        return kept, (), ()
    every = _PackedColumns(
        _LoadedRows(ids, packed.load_rows, cache),
        ids=ids,
        event_keys=packed.event_keys,
        timestamps=packed.seen_us / 1_000_000.0,
        cameras=_Named(packed.camera_ids, packed.camera_names),
        plates=_Named(packed.plate_ids, packed.plates),
    )
    dropped, joined, not_joined = _judge_misreads(every, others, plate, join_window)
    kept[dropped] = False
    return kept, joined, not_joined


class _LoadedRows(Sequence[SightingRow]):
    """Rows by position in a column of sighting ids, loaded in blocks on first use."""

    _BLOCK = 16

    def __init__(
        self,
        ids: NDArray[np.int64],
        load: Callable[[Sequence[int]], Sequence[SightingRow]],
        cache: dict[int, SightingRow],
    ) -> None:
        self._ids = ids
        self._load = load
        self._cache = cache

    def __len__(self) -> int:
        return len(self._ids)

    def prefetch(self, positions: NDArray[np.intp]) -> None:
        """Load the rows at ``positions`` in one call."""
        wanted = [
            sighting_id
            for sighting_id in self._ids[positions].tolist()
            if sighting_id not in self._cache
        ]
        if wanted:
            self._cache.update(zip(wanted, self._load(wanted), strict=True))

    @overload
    def __getitem__(self, index: int) -> SightingRow: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[SightingRow]: ...

    def __getitem__(self, index: int | slice) -> SightingRow | Sequence[SightingRow]:
        if isinstance(index, slice):
            return [self[position] for position in range(len(self))[index]]
        index = range(len(self))[index]
        sighting_id = int(self._ids[index])
        row = self._cache.get(sighting_id)
        if row is None:
            start = index - index % self._BLOCK
            block = self._ids[start : start + self._BLOCK].tolist()
            self._cache.update(zip(block, self._load(block), strict=True))
            row = self._cache[sighting_id]
        return row


class _PackedColumns(SightingColumns):
    """Sightings whose columns come packed; rows are read only when needed.

    Tells a sighting without an NVR event from its event key, reading the row
    only for the event id of one that has one.
    """

    def __init__(
        self,
        rows: Sequence[SightingRow],
        *,
        ids: NDArray[np.int64],
        event_keys: NDArray[np.int64],
        timestamps: Sequence[float] | NDArray[np.float64],
        cameras: Sequence[str],
        plates: Sequence[str],
    ) -> None:
        super().__init__(rows)
        self._ids = ids
        self._event_keys = event_keys
        self.__dict__.update(timestamps=timestamps, cameras=cameras, plates=plates)

    def sighting_id(self, index: int) -> int:
        return int(self._ids[index])

    def has_event(self, index: int) -> bool:
        return bool(self._event_keys[index])

    def event_token(self, index: int) -> object:
        return int(self._event_keys[index]) or None

    def event_of(self, index: int) -> tuple[str, str] | None:
        return super().event_of(index) if self._event_keys[index] else None


class _Named(Sequence[str]):
    """Names by position, looked up from a column of stored ids."""

    def __init__(self, keys: NDArray[np.int64], names: Mapping[int, str]) -> None:
        self._keys = keys
        self._names = names

    def __len__(self) -> int:
        return len(self._keys)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return [self._names[key] for key in self._keys[index].tolist()]
        return self._names[int(self._keys[index])]


def _join_misreads(
    columns: SightingColumns, plate: str, join_window: timedelta
) -> tuple[SightingColumns, tuple[JoinedMisread, ...], tuple[UnjoinedMisread, ...]]:
    """Keep ``plate`` and the misreads the evidence supports; say which and why."""
    plates = columns.plates
    count = len(plates)
    if plates.count(plate) == count:
        # The usual case, decided in C: nothing to join, nothing to copy.
        return columns, (), ()
    others = list(compress(range(count), map(ne, plates, repeat(plate))))
    dropped, joined, not_joined = _judge_misreads(columns, others, plate, join_window)
    return columns.without(dropped), joined, not_joined


def _judge_misreads(
    columns: SightingColumns, others: Sequence[int], plate: str, join_window: timedelta
) -> tuple[list[int], tuple[JoinedMisread, ...], tuple[UnjoinedMisread, ...]]:
    """Judge the sightings at ``others`` (sorted indices of plates other than ``plate``).

    Returns the indices to drop (in order), the joined misreads and the
    look-alikes left out. Reads only the rows near each misread.
    """
    plates = columns.plates
    dropped = set(others)
    supported: list[tuple[int, MatchKind, JoinReason, int]] = []
    unsupported: list[UnjoinedMisread] = []
    misreads = [
        (index, kind)
        for index in others
        if (kind := misread_kind(plates[index], plate)) is not None
    ]
    evidence_of = _JoinEvidence(
        columns, [index for index, _ in misreads], plate, join_window.total_seconds()
    )
    for index, kind in misreads:
        evidence = evidence_of(index)
        if evidence is None:
            unsupported.append(
                UnjoinedMisread(
                    id=columns.sighting_id(index),
                    plate=plates[index],
                    kind=kind,
                    camera=columns.cameras[index],
                    seen_at=_datetime(columns.timestamps[index]),
                )
            )
        else:
            dropped.discard(index)
            supported.append((index, kind, *evidence))

    dropped_in_order = sorted(dropped)
    joined = tuple(
        JoinedMisread(
            # Its index once the dropped sightings before it are gone.
            index=index - bisect_left(dropped_in_order, index),
            id=columns.sighting_id(index),
            plate=plates[index],
            kind=kind,
            reason=reason,
            anchor_id=columns.sighting_id(anchor),
        )
        for index, kind, reason, anchor in supported
    )
    return dropped_in_order, joined, tuple(unsupported)


class _JoinEvidence:
    """Why and to which read of ``plate`` each misread belongs, in near-linear time.

    The rule: a read of ``plate`` in the same NVR event (the same event id at
    the same camera, at most ``SAME_EVENT_WITHIN_SECONDS`` apart) wins over
    one at the same camera within ``window``; among equals the nearest in
    time, then the earliest. Sightings are in time order, so only neighbours
    count: those within ``window`` and, past it, any unbroken run of the
    misread's own event. Two reads that each came in an NVR event, but not the
    same one, are never the same pass.

    Thousands of look-alike reads in one event, or within one window (an
    imported database, one event id at several cameras), must not cost a walk
    over all the others each: the bounds of every misread's reach are found
    from the previous misread's by galloping, and the end of its event's run
    once per run; the reads of ``plate`` in reach are indexed by event and by
    camera, and the nearest is found by bisection.
    """

    def __init__(
        self,
        columns: SightingColumns,
        misreads: Sequence[int],
        plate: str,
        window: float,
    ) -> None:
        """Index the reads of ``plate`` that the ``misreads`` (sorted indices) reach."""
        self._columns = columns
        self._timestamps = columns.timestamps
        self._window = window
        self._events: dict[int, tuple[str, str] | None] = {}
        self._run_ends: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self._reach = dict(zip(misreads, self._reaches(misreads), strict=True))
        self._by_event: dict[tuple[str, str], list[int]] = {}
        # The event tokens of the reads in _by_event: a misread with none of
        # them shares no event with a read of the plate (its id is not read).
        self._event_tokens: set[object] = set()
        self._by_camera: dict[str, list[int]] = {}
        self._by_camera_without_event: dict[str, list[int]] = {}
        plates, cameras = columns.plates, columns.cameras
        # Event ids are read only for reads that may share a misread's event.
        misread_events = {columns.event_token(index) for index in misreads}
        for first, last in _merged(self._reach.values()):
            for index in range(first, last + 1):
                if plates[index] != plate:
                    continue
                camera = cameras[index]
                self._by_camera.setdefault(camera, []).append(index)
                token = columns.event_token(index)
                if token is None:
                    self._by_camera_without_event.setdefault(camera, []).append(index)
                elif token in misread_events and (event := self._event(index)):
                    self._event_tokens.add(token)
                    self._by_event.setdefault(event, []).append(index)

    def __call__(self, index: int) -> tuple[JoinReason, int] | None:
        """Return why and to which read the misread at ``index`` belongs; None without evidence."""
        first, last = self._reach[index]
        token = self._columns.event_token(index)
        if (
            token in self._event_tokens
            and (event := self._event(index)) is not None
            and (
                anchor := self._nearest(
                    self._by_event.get(event, ()),
                    index,
                    first,
                    last,
                    SAME_EVENT_WITHIN_SECONDS,
                )
            )
            is not None
        ):
            return JoinReason.SAME_EVENT, anchor
        # Reads in two different NVR events are two tracked objects: a
        # look-alike seconds behind the real plate is then another car.
        same_camera = (
            self._by_camera if token is None else self._by_camera_without_event
        )
        anchor = self._nearest(
            same_camera.get(self._columns.cameras[index], ()),
            index,
            first,
            last,
            self._window,
        )
        return None if anchor is None else (JoinReason.SAME_PASS, anchor)

    def _same_event(self, first: int, second: int) -> bool:
        """Return whether two sightings carry one NVR event id at one camera."""
        columns = self._columns
        token = columns.event_token(first)
        return (
            token is not None
            and token == columns.event_token(second)
            and self._event(first) == self._event(second)
        )

    def _event(self, index: int) -> tuple[str, str] | None:
        if index not in self._events:
            self._events[index] = self._columns.event_of(index)
        return self._events[index]

    def _reaches(self, misreads: Sequence[int]) -> Iterator[tuple[int, int]]:
        """Yield the first and the last sighting a walk out from each misread looks at.

        Time order: the sightings within the window of a misread lie around
        it, and the bounds only move on from one misread to the next: each is
        found from where it was for the one before.
        """
        timestamps, count, window = (
            self._timestamps,
            len(self._timestamps),
            self._window,
        )
        first = after = 0
        for index in misreads:
            at = timestamps[index]

            def close(neighbour: int, at: float = at) -> bool:
                return abs(timestamps[neighbour] - at) <= window

            def far(neighbour: int, at: float = at) -> bool:
                return abs(timestamps[neighbour] - at) > window

            first += _first_where(range(first, index + 1), close)
            after = max(after, index + 1)
            after += _first_where(range(after, count), far)
            last = after - 1
            if self._columns.event_token(index) is not None:
                # Past the window, the walk goes on through the misread's event
                # for as long as it is one run and within the same-event time.
                yield (
                    self._same_event_run(index, first - 1, -1, first),
                    self._same_event_run(index, last + 1, 1, last),
                )
            else:
                yield first, last

    def _same_event_run(self, index: int, start: int, step: int, reach: int) -> int:
        """Return how far the run of ``index``'s event from ``start`` (going ``step``) extends ``reach``."""
        timestamps, at = self._timestamps, self._timestamps[index]

        def apart(neighbour: int) -> bool:
            return abs(timestamps[neighbour] - at) > SAME_EVENT_WITHIN_SECONDS

        if not 0 <= start < len(timestamps) or not self._same_event(start, index):
            return reach
        end = self._run_end(start, step)
        if step < 0:
            return end + _first_where(
                range(end, start + 1), lambda before: not apart(before)
            )
        return start + _first_where(range(start, end + 1), apart) - 1

    def _run_end(self, start: int, step: int) -> int:
        """Return the last sighting from ``start`` (going ``step``) with ``start``'s event, unbroken.

        Remembered for every sighting walked over, so each run is walked once.
        """
        known = self._run_ends[step > 0]
        walked: list[int] = []
        index = start
        while index not in known:
            walked.append(index)
            following = index + step
            if not 0 <= following < len(self._timestamps) or not self._same_event(
                following, index
            ):
                end = index
                break
            index = following
        else:
            end = known[index]
        for index in walked:
            known[index] = end
        return end

    def _nearest(
        self,
        anchors: Sequence[int],
        index: int,
        first: int,
        last: int,
        within: float,
    ) -> int | None:
        """Return the anchor in ``first``..``last`` nearest in time to ``index`` (the earliest of equals).

        None when none is that close, or none is at most ``within`` seconds away.
        """
        timestamps, at = self._timestamps, self._timestamps[index]
        best: tuple[float, int] | None = None
        position = bisect_left(anchors, index)
        if position and anchors[position - 1] >= first:
            # The latest before; of several at its time, the earliest.
            seen_at = timestamps[anchors[position - 1]]
            earliest = max(
                bisect_left(anchors, seen_at, hi=position, key=timestamps.__getitem__),
                bisect_left(anchors, first, hi=position),
            )
            anchor = anchors[earliest]
            best = (abs(timestamps[anchor] - at), anchor)
        if position < len(anchors) and anchors[position] <= last:
            anchor = anchors[position]
            after = (abs(timestamps[anchor] - at), anchor)
            best = after if best is None or after < best else best
        if best is None or best[0] > within:
            return None
        return best[1]


def _first_where(indices: range, holds: Callable[[int], bool]) -> int:
    """Return the position in ``indices`` of the first index where ``holds``; ``len`` if none.

    ``holds`` is false up to some index and true from there on. Gallops in
    from both ends before bisecting, so the cost grows with the log of the
    answer's distance to the nearer end: the bounds of a crowd of misreads
    move a few sightings from one misread to the next, while those of a lone
    misread lie a few sightings around it.
    """
    low, high, step = 0, len(indices), 1
    while low < high:
        probe = low + step - 1
        if probe >= high:
            break
        if holds(indices[probe]):
            high = probe
            break
        low = probe + 1
        probe = high - step
        if probe < low:
            break
        if not holds(indices[probe]):
            low = probe + 1
            break
        high = probe
        step *= 2
    return bisect_left(indices, True, lo=low, hi=high, key=holds)


def _merged(spans: Iterable[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """Yield the union of inclusive index spans as disjoint spans, in order."""
    current: tuple[int, int] | None = None
    for first, last in sorted(spans):
        if current is not None and first <= current[1] + 1:
            current = (current[0], max(current[1], last))
            continue
        if current is not None:
            yield current
        current = (first, last)
    if current is not None:
        yield current


class _PairCache(dict[tuple[str, str], float]):
    """A value per pair of cameras, computed on first use.

    A dict subclass with ``__missing__`` so that ``map(cache.__getitem__,
    pairs)`` stays in C for the pairs already known, which after the first
    few sightings is nearly all of them.
    """

    def __init__(self, compute: Callable[[str, str], float]) -> None:
        super().__init__()
        self._compute = compute

    def __missing__(self, pair: tuple[str, str]) -> float:
        value = self[pair] = self._compute(*pair)
        return value


def _distance_km(cameras: Mapping[str, CameraInfo], first: str, second: str) -> float:
    """Return the distance between two cameras; 0 when either is not on the map.

    Without a location nothing can be judged impossible.
    """
    first_camera = cameras.get(first)
    second_camera = cameras.get(second)
    if first_camera is None or second_camera is None:
        return 0.0
    return haversine_km(
        first_camera.latitude,
        first_camera.longitude,
        second_camera.latitude,
        second_camera.longitude,
    )


def _gaps(timestamps: Sequence[float]) -> list[float]:
    """Return the seconds between each sighting and the next."""
    return list(map(sub, islice(timestamps, 1, None), timestamps))


def haversine_km(
    latitude_1: float, longitude_1: float, latitude_2: float, longitude_2: float
) -> float:
    """Return the great-circle distance between two points in kilometres."""
    phi_1, phi_2 = math.radians(latitude_1), math.radians(latitude_2)
    half_chord = (
        math.sin((phi_2 - phi_1) / 2) ** 2
        + math.cos(phi_1)
        * math.cos(phi_2)
        * math.sin(math.radians(longitude_2 - longitude_1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(half_chord))


class CityState(StrEnum):
    """Whether a vehicle is in the city, as far as the cameras can tell."""

    INSIDE = "inside"
    LEFT = "left"
    ENTERED = "entered"
    UNKNOWN = "unknown"


class CityReason(StrEnum):
    """What decided a city status."""

    INSIDE_CAMERA = "inside_camera"
    """Last seen by a camera inside the city."""
    EXIT_LEAVING = "exit_leaving"
    """Last seen at an exit, moving in its leaving direction."""
    EXIT_ENTERING = "exit_entering"
    """Last seen at an exit, moving in the opposite direction."""
    EXIT_DIRECTION_UNKNOWN = "exit_direction_unknown"
    """Last seen at an exit with no known direction in that pass, or moving
    across the exit (neither leaving nor entering)."""
    EXIT_NOT_CONFIGURED = "exit_not_configured"
    """Last seen at an exit whose leaving direction is not configured."""
    NO_MAPPED_CAMERA = "no_mapped_camera"
    """Seen, but only by cameras that are not on the map."""
    NO_SIGHTINGS = "no_sightings"


@dataclass(frozen=True, slots=True, kw_only=True)
class CityStatus:
    """Where a vehicle is relative to the city, with the sighting that decided it."""

    state: CityState
    reason: CityReason
    decided_by: RouteSighting | None
    """The sighting that decided the state (for an exit, the one whose direction
    was used); None when there is none."""
    last_known_state: CityState | None = None
    """When the state is unknown because of an exit pass: the state before it."""
    last_known_by: RouteSighting | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able form for a service response."""
        return {
            "state": self.state.value,
            "reason": self.reason.value,
            "decided_by": self.decided_by.to_dict() if self.decided_by else None,
            "last_known_state": (
                self.last_known_state.value if self.last_known_state else None
            ),
            "last_known_by": (
                self.last_known_by.to_dict() if self.last_known_by else None
            ),
        }


def city_status(
    sightings: Route | SightingColumns | Sequence[Sighting],
    cameras: Mapping[str, CameraInfo],
    *,
    pass_window: timedelta = DEFAULT_PASS_WINDOW,
) -> CityStatus:
    """Return whether a vehicle is inside the city, has left it, or has just entered.

    The latest sighting at a mapped camera decides (cameras not on the map say
    nothing about the city and are skipped):

    - an inside camera: ``inside`` (also after ``entered`` or ``left``);
    - an exit camera, moving in its leaving direction: ``left``;
    - an exit camera, moving the opposite way: ``entered``.

    At an exit the direction of the pass counts: the latest known direction
    among consecutive sightings at that camera no more than ``pass_window``
    apart, since an NVR often knows the direction only on some frames. When
    the pass has no known direction, moves across the exit, or the exit's
    leaving direction is not configured, the state is ``unknown`` - never a
    guess - and ``last_known_state`` gives the state the sightings before that
    pass decided, with the sighting that decided it.
    """
    if isinstance(sightings, Route):
        columns = sightings.sightings
    elif isinstance(sightings, SightingColumns):
        columns = sightings.in_time_order()
    else:
        columns = SightingColumns.from_sightings(sightings).in_time_order()
    if not len(columns):
        return CityStatus(
            state=CityState.UNKNOWN, reason=CityReason.NO_SIGHTINGS, decided_by=None
        )
    return _status_before(columns, len(columns), cameras, pass_window.total_seconds())


def _status_before(
    columns: SightingColumns,
    end: int,
    cameras: Mapping[str, CameraInfo],
    pass_window: float,
) -> CityStatus:
    """Decide the status from the sightings before index ``end``, latest first."""
    undecided: tuple[CityReason, int] | None = None
    index = end - 1
    while index >= 0:
        camera = cameras.get(columns.rows[index][_CAMERA])
        if camera is None:
            index -= 1
            continue
        state, reason, decider, pass_start = _decide(
            camera, columns, index, pass_window, cameras
        )
        if state is CityState.UNKNOWN:
            # Keep the latest undecided exit pass as the answer and look
            # further back only for what was known before it.
            undecided = undecided or (reason, index)
            index = pass_start - 1
            continue
        return _city_status_result(
            columns, cameras, (state, reason, decider), undecided
        )
    return _city_status_result(columns, cameras, None, undecided)


def _city_status_result(
    columns: SightingColumns,
    cameras: Mapping[str, CameraInfo],
    decided: tuple[CityState, CityReason, int] | None,
    undecided: tuple[CityReason, int] | None,
) -> CityStatus:
    """Build the answer of a status walk: the latest undecided exit pass wins over what was known before it."""
    known = (
        CityStatus(
            state=decided[0],
            reason=decided[1],
            decided_by=_route_sighting(columns, decided[2], cameras),
        )
        if decided is not None
        else None
    )
    if undecided is None:
        return known or CityStatus(
            state=CityState.UNKNOWN, reason=CityReason.NO_MAPPED_CAMERA, decided_by=None
        )
    return CityStatus(
        state=CityState.UNKNOWN,
        reason=undecided[0],
        decided_by=_route_sighting(columns, undecided[1], cameras),
        last_known_state=known.state if known else None,
        last_known_by=known.decided_by if known else None,
    )


def _decide(
    camera: CameraInfo,
    columns: SightingColumns,
    index: int,
    pass_window: float,
    cameras: Mapping[str, CameraInfo],
) -> tuple[CityState, CityReason, int, int]:
    """Judge one sighting at a mapped camera.

    Returns the state, the reason, the sighting that decided it and where its
    pass starts (the sighting itself for inside cameras).
    """
    if camera.role is CameraRole.INSIDE:
        return CityState.INSIDE, CityReason.INSIDE_CAMERA, index, index
    pass_start, directed = _exit_pass(columns, index, pass_window, cameras)
    entering = camera.entering_direction
    if entering is None:
        return CityState.UNKNOWN, CityReason.EXIT_NOT_CONFIGURED, index, pass_start
    if directed is not None:
        direction = columns.rows[directed][_DIRECTION]
        if direction == camera.leaving_direction:
            return CityState.LEFT, CityReason.EXIT_LEAVING, directed, pass_start
        if direction == entering:
            return CityState.ENTERED, CityReason.EXIT_ENTERING, directed, pass_start
    return CityState.UNKNOWN, CityReason.EXIT_DIRECTION_UNKNOWN, index, pass_start


def _exit_pass(
    columns: SightingColumns,
    last: int,
    pass_window: float,
    cameras: Mapping[str, CameraInfo],
) -> tuple[int, int | None]:
    """Return where the pass ending at ``last`` starts, and its latest directed sighting.

    Sightings at cameras off the map say nothing about the city, so they do not
    end the pass either: an overview camera that reads the car between two
    frames of the gate's camera leaves them one pass.
    """
    rows = columns.rows
    camera = rows[last][_CAMERA]
    directed: int | None = None
    index = last
    while True:
        if directed is None and _direction(rows[index][_DIRECTION]) is not (
            Direction.UNKNOWN
        ):
            directed = index
        previous = index - 1
        while previous >= 0 and rows[previous][_CAMERA] not in cameras:
            previous -= 1
        if (
            previous < 0
            or rows[previous][_CAMERA] != camera
            or rows[index][_TIME] - rows[previous][_TIME] > pass_window
        ):
            return index, directed
        index = previous


def packed_whereabouts(
    packed: PackedSightings,
    cameras: Mapping[str, CameraInfo],
    *,
    plate: str,
    trip_gap: timedelta,
    max_speed_kmh: float = DEFAULT_MAX_SPEED_KMH,
    join_window: timedelta = DEFAULT_JOIN_WINDOW,
    pass_window: timedelta = DEFAULT_PASS_WINDOW,
) -> tuple[CityStatus, RouteSighting | None]:
    """Return ``city_status(route)`` and the route's latest sighting from packed columns.

    The same answer as ``build_route`` on the store's rows (a test holds them
    equal), without reading every row: misreads are judged as ``route_response``
    does, the city status walks back from the latest sighting over the packed
    camera column, and rows are loaded only for the exit passes it looks at
    and the sightings it returns. ``where_is`` and the watchlist tracker's
    refresh on every sighting of a watched vehicle need no more.
    """
    if trip_gap <= timedelta(0):
        raise ValueError("trip_gap must be positive")
    if max_speed_kmh <= 0:
        raise ValueError("max_speed_kmh must be positive")
    plate = normalize_plate(plate)
    cache: dict[int, SightingRow] = {}
    kept, joined, _ = _packed_joins(packed, plate, join_window, cache)
    timestamps = packed.seen_us[kept] / 1_000_000.0
    camera_keys = packed.camera_ids[kept]
    columns = SightingColumns.with_columns(
        _LoadedRows(packed.ids[kept], packed.load_rows, cache),
        timestamps=timestamps,
        cameras=_Named(camera_keys, packed.camera_names),
    )
    total = len(timestamps)
    if not total:
        status = CityStatus(
            state=CityState.UNKNOWN, reason=CityReason.NO_SIGHTINGS, decided_by=None
        )
        return status, None
    mapped_keys = [key for key, name in packed.camera_names.items() if name in cameras]
    status = _packed_status(
        columns,
        camera_keys,
        np.flatnonzero(np.isin(camera_keys, mapped_keys)),
        cameras,
        pass_window.total_seconds(),
    )
    return status, _latest_sighting(
        columns, joined, cameras, trip_gap=trip_gap, max_speed_kmh=max_speed_kmh
    )


def _packed_status(
    columns: SightingColumns,
    camera_keys: NDArray[np.int64],
    mapped: NDArray[np.intp],
    cameras: Mapping[str, CameraInfo],
    pass_window: float,
) -> CityStatus:
    """Decide as ``_status_before`` does, visiting only the sightings at mapped cameras.

    ``mapped`` holds the indices of the sightings at cameras on the map, in order.
    """
    undecided: tuple[CityReason, int] | None = None
    position = len(mapped) - 1
    while position >= 0:
        index = int(mapped[position])
        camera = cameras[columns.cameras[index]]
        if camera.role is CameraRole.INSIDE:
            state, reason, decider = (
                CityState.INSIDE,
                CityReason.INSIDE_CAMERA,
                index,
            )
        else:
            pass_start, directed = _packed_exit_pass(
                columns, camera_keys, mapped[: position + 1], pass_window
            )
            state, reason, decider = _exit_state(camera, columns, index, directed)
            if state is CityState.UNKNOWN:
                undecided = undecided or (reason, index)
                position = int(np.searchsorted(mapped, pass_start)) - 1
                continue
        return _city_status_result(
            columns, cameras, (state, reason, decider), undecided
        )
    return _city_status_result(columns, cameras, None, undecided)


def _exit_state(
    camera: CameraInfo, columns: SightingColumns, index: int, directed: int | None
) -> tuple[CityState, CityReason, int]:
    """Judge a pass at an exit as ``_decide`` does, given its latest directed sighting."""
    entering = camera.entering_direction
    if entering is None:
        return CityState.UNKNOWN, CityReason.EXIT_NOT_CONFIGURED, index
    if directed is not None:
        direction = columns.rows[directed][_DIRECTION]
        if direction == camera.leaving_direction:
            return CityState.LEFT, CityReason.EXIT_LEAVING, directed
        if direction == entering:
            return CityState.ENTERED, CityReason.EXIT_ENTERING, directed
    return CityState.UNKNOWN, CityReason.EXIT_DIRECTION_UNKNOWN, index


def _packed_exit_pass(
    columns: SightingColumns,
    camera_keys: NDArray[np.int64],
    mapped: NDArray[np.intp],
    pass_window: float,
) -> tuple[int, int | None]:
    """Return what ``_exit_pass`` does for the pass ending at ``mapped[-1]``.

    ``mapped`` holds the indices of the sightings at cameras on the map, in
    order: those in between are skipped, as ``_exit_pass`` skips them. Rows are
    read only for their directions.
    """
    timestamps = columns.timestamps
    position = len(mapped) - 1
    index = int(mapped[position])
    camera = camera_keys[index]
    directed: int | None = None
    while True:
        if directed is None and _direction(columns.rows[index][_DIRECTION]) is not (
            Direction.UNKNOWN
        ):
            directed = index
        position -= 1
        if position < 0:
            return index, directed
        previous = int(mapped[position])
        if (
            camera_keys[previous] != camera
            or timestamps[index] - timestamps[previous] > pass_window
        ):
            return index, directed
        index = previous


def _latest_sighting(
    columns: SightingColumns,
    joined: Sequence[JoinedMisread],
    cameras: Mapping[str, CameraInfo],
    *,
    trip_gap: timedelta,
    max_speed_kmh: float,
) -> RouteSighting:
    """Return ``route.sighting(-1)``: the latest sighting with its trip and flags."""
    timestamps = columns.timestamps
    last = len(timestamps) - 1
    gaps = np.diff(timestamps)
    flags: tuple[RouteFlag, ...] = ()
    if any(misread.index == last for misread in joined):
        flags = (RouteFlag.JOINED_MISREAD,)
    if last:
        least_seconds = (
            _distance_km(cameras, columns.cameras[last - 1], columns.cameras[last])
            / (max_speed_kmh / 3600)
            - CLOCK_SKEW_ALLOWANCE.total_seconds()
        )
        if gaps[last - 1] < least_seconds:
            flags = (*flags, RouteFlag.IMPOSSIBLE_TRAVEL)
    return _route_sighting(
        columns,
        last,
        cameras,
        trip=int(np.count_nonzero(gaps > trip_gap.total_seconds())),
        flags=flags,
    )


def _route_sighting(
    columns: SightingColumns,
    index: int,
    cameras: Mapping[str, CameraInfo],
    *,
    trip: int | None = None,
    flags: tuple[RouteFlag, ...] = (),
) -> RouteSighting:
    sighting_id, camera_id, seen_at, plate, confidence, direction, event_id = (
        columns.rows[index]
    )
    camera = cameras.get(camera_id)
    return RouteSighting(
        id=sighting_id,
        camera=camera_id,
        camera_name=camera.name if camera else camera_id,
        latitude=camera.latitude if camera else None,
        longitude=camera.longitude if camera else None,
        seen_at=_datetime(seen_at),
        plate=plate,
        direction=_direction(direction),
        confidence=confidence,
        event_id=event_id,
        trip=trip,
        flags=flags,
    )


def _direction(value: str) -> Direction:
    try:
        return Direction(value)
    except ValueError:
        # A newer source may report a direction this version does not know.
        return Direction.UNKNOWN


def _datetime(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _timestamp(moment: datetime) -> float:
    # A naive time would be read in the host's zone and misplace the sighting.
    if moment.tzinfo is None:
        raise ValueError("sighting times must be timezone aware")
    return moment.timestamp()
