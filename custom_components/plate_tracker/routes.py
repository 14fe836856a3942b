"""Vehicle routes across cameras and city exits: Home Assistant glue around matching.journeys.

The journey logic (``matching.journeys``) and the store's ``route_columns`` are
plain Python; this module gives them the camera map from the options, runs
them in the executor, keeps the city status of every watchlisted vehicle,
announces when one leaves or enters the city, and answers ``get_route`` and
``where_is``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
import logging
from typing import Any, Final

from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.dispatcher import (
    async_dispatcher_connect,
    async_dispatcher_send,
)
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util
from homeassistant.util.json import JsonValueType
import voluptuous as vol

from .alerts import WatchlistAlerts
from .const import DOMAIN, SIGNAL_SIGHTINGS_REMOVED, SIGNAL_WATCHLIST_CHANGED
from .coordinator import PlateTrackerConfigEntry, SightingHub, sighting_with_links
from .entity import PlateTrackerWatchlistEntity, async_track_watchlist_entities
from .matching.journeys import (
    CameraInfo,
    CameraRole,
    CityState,
    CityStatus,
    RouteSighting,
    packed_whereabouts,
    route_response,
)
from .matching.watchlist import is_active
from .plate_text import is_pattern, lookalike_key
from .records import Direction, Sighting, WatchlistEntry
from .store import RouteColumns, SightingStore
from .store.sighting_store import to_us
from .validation import REASON, real_number, whole_number

_LOGGER = logging.getLogger(__name__)

CONF_CAMERAS: Final = "cameras"
CONF_CAMERA_NAME: Final = "name"
CONF_LATITUDE: Final = "latitude"
CONF_LONGITUDE: Final = "longitude"
CONF_ROLE: Final = "role"
CONF_LEAVING_DIRECTION: Final = "leaving_direction"
CONF_ZONE_DIRECTIONS: Final = "zone_directions"
"""Per camera: Frigate zone name -> the direction a vehicle has when it reaches it last."""
CONF_TRIP_GAP_MINUTES: Final = "trip_gap_minutes"
CONF_MAX_SPEED_KMH: Final = "max_speed_kmh"
DEFAULT_TRIP_GAP_MINUTES: Final = 30
DEFAULT_MAX_SPEED_KMH: Final = 200
LEAVING_DIRECTIONS: Final = (
    Direction.APPROACHING.value,
    Direction.RECEDING.value,
    Direction.LEFT.value,
    Direction.RIGHT.value,
)
CAMERA_ROLES: Final = tuple(role.value for role in CameraRole)

EVENT_LEFT_CITY: Final = "plate_tracker_left_city"
EVENT_ENTERED_CITY: Final = "plate_tracker_entered_city"
SIGNAL_CITY_STATUS: Final = f"{DOMAIN}_city_status_{{entry_id}}"
"""Sent with a plate whenever its whereabouts were recomputed."""

SERVICE_GET_ROUTE: Final = "get_route"
SERVICE_WHERE_IS: Final = "where_is"
DEFAULT_MAX_ROUTE_SIGHTINGS: Final = 500
MAX_ROUTE_SIGHTINGS: Final = 5000
"""A response beyond this many map points is of no use to a phone or an automation."""

RECENT_WINDOW: Final = timedelta(days=30)
"""The city status is decided by the latest sightings: those of the last month
are read first, and the whole history only when they decide nothing."""
VEHICLE_LOCATION_ACCURACY: Final = 50
"""Metres: a camera sees a vehicle within a few dozen metres of where it stands."""


_STATE_EVENTS: Final = {
    CityState.LEFT: EVENT_LEFT_CITY,
    CityState.ENTERED: EVENT_ENTERED_CITY,
}


def camera_map(options: Mapping[str, Any]) -> dict[str, CameraInfo]:
    """Return the cameras the options put on the city map, by camera id.

    A camera with coordinates that cannot be on Earth is left off the map
    (and logged) rather than failing the whole hub.
    """
    cameras: dict[str, CameraInfo] = {}
    for camera_id, item in options.get(CONF_CAMERAS, {}).items():
        leaving = item.get(CONF_LEAVING_DIRECTION)
        try:
            cameras[camera_id] = CameraInfo(
                id=camera_id,
                name=item.get(CONF_CAMERA_NAME) or camera_id,
                latitude=float(item[CONF_LATITUDE]),
                longitude=float(item[CONF_LONGITUDE]),
                role=CameraRole(item.get(CONF_ROLE, CameraRole.INSIDE)),
                leaving_direction=Direction(leaving) if leaving else None,
            )
        except (KeyError, TypeError, ValueError) as err:
            _LOGGER.warning("Camera %s is left off the map: %s", camera_id, err)
    return cameras


def zone_directions(options: Mapping[str, Any]) -> dict[str, dict[str, Direction]]:
    """Return, by camera, the Frigate zones the camera map gives a direction.

    A zone with a direction that is not one is left out (and logged): the
    camera then reports what it knows without that zone, never a guess.
    """
    by_camera: dict[str, dict[str, Direction]] = {}
    for camera_id, item in options.get(CONF_CAMERAS, {}).items():
        mapped = item.get(CONF_ZONE_DIRECTIONS)
        zones: dict[str, Direction] = {}
        for zone, direction in (mapped if isinstance(mapped, dict) else {}).items():
            if direction in LEAVING_DIRECTIONS:
                zones[zone] = Direction(direction)
            else:
                _LOGGER.warning(
                    "Zone %s of camera %s has no usable direction: %s",
                    zone,
                    camera_id,
                    direction,
                )
        if zones:
            by_camera[camera_id] = zones
    return by_camera


@dataclass(frozen=True, slots=True, kw_only=True)
class Whereabouts:
    """Where a vehicle was last seen and whether it is in the city."""

    status: CityStatus
    last: RouteSighting | None
    """The latest sighting of the plate (or of a misread joined to it)."""


def locate(
    store: SightingStore,
    plate: str,
    cameras: Mapping[str, CameraInfo],
    *,
    trip_gap: timedelta,
    max_speed_kmh: float,
    now: datetime,
    excluding: Collection[int] = (),
) -> Whereabouts:
    """Return a plate's whereabouts from the store (blocking: run in the executor).

    Misreads joined by the journey logic count: a look-alike read at an exit in
    the same pass as the real plate still tells which way the vehicle went.
    The plate's packed columns are read once and the last month cut from
    them: the same answer as ``city_status`` on ``build_route``, in
    milliseconds for a plate seen 100,000 times (this runs on every sighting
    of a watchlisted vehicle). Sightings listed in ``excluding`` are left out.
    """
    recent_us = to_us(now - RECENT_WINDOW)

    def whereabouts(whole: RouteColumns) -> Whereabouts:
        if excluding:
            whole = whole.without(list(excluding))
        for packed in (whole.seen_since(recent_us), whole):
            status, last = packed_whereabouts(
                packed,
                cameras,
                plate=plate,
                trip_gap=trip_gap,
                max_speed_kmh=max_speed_kmh,
            )
            if status.state is not CityState.UNKNOWN or status.last_known_state:
                break
        return Whereabouts(status=status, last=last)

    return store.read_route_columns(plate, whereabouts, include_lookalikes=True)


def exact_plates(entries: Iterable[WatchlistEntry]) -> dict[str, list[WatchlistEntry]]:
    """Return the watchlist entries that name one vehicle, by plate (patterns name none).

    Disabled and expired entries are among them: their vehicles are still
    followed; only their city events are left out.
    """
    plates: dict[str, list[WatchlistEntry]] = {}
    for listed in entries:
        if listed.id is not None and not is_pattern(listed.plate):
            plates.setdefault(listed.plate, []).append(listed)
    return plates


@dataclass(slots=True)
class RouteTracker:
    """Keeps the whereabouts of every watchlisted vehicle and announces city exits."""

    hass: HomeAssistant
    entry_id: str
    store: SightingStore
    alerts: WatchlistAlerts
    hub: SightingHub
    cameras: dict[str, CameraInfo]
    trip_gap: timedelta
    max_speed_kmh: float
    whereabouts: dict[str, Whereabouts] = field(default_factory=dict)
    """By watchlisted plate; restored from the store at startup."""
    _watched: dict[str, list[WatchlistEntry]] = field(default_factory=dict)
    """Watchlist entries that name one vehicle, by plate."""
    _by_lookalike: dict[str, list[str]] = field(default_factory=dict)
    """Watchlisted plates by look-alike key: which vehicles a read may be."""
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _starting: list[Sighting] | None = None
    """Sightings announced while ``async_start`` first reads every vehicle."""
    _first_deciders: dict[str, int] = field(default_factory=dict)
    """By plate put on the watchlist: the sighting that made its first reading
    ``left`` or ``entered``, which the pipeline may not have announced yet."""

    @classmethod
    def from_entry(
        cls, hass: HomeAssistant, entry: PlateTrackerConfigEntry
    ) -> RouteTracker:
        """Make the tracker of a loaded entry from its camera map and route options."""
        options = entry.options
        return cls(
            hass=hass,
            entry_id=entry.entry_id,
            store=entry.runtime_data.store,
            alerts=entry.runtime_data.alerts,
            hub=entry.runtime_data.hub,
            cameras=camera_map(options),
            trip_gap=timedelta(
                minutes=options.get(CONF_TRIP_GAP_MINUTES, DEFAULT_TRIP_GAP_MINUTES)
            ),
            max_speed_kmh=float(options.get(CONF_MAX_SPEED_KMH, DEFAULT_MAX_SPEED_KMH)),
        )

    @property
    def signal(self) -> str:
        """The dispatcher signal sent with a plate whose whereabouts changed."""
        return SIGNAL_CITY_STATUS.format(entry_id=self.entry_id)

    async def async_start(self, entry: PlateTrackerConfigEntry) -> None:
        """Give alerts camera names and city status, restore every vehicle, then listen."""
        self.alerts.camera_names.update(
            {camera_id: camera.name for camera_id, camera in self.cameras.items()}
        )
        self.alerts.city_status = self.async_city_status
        self._index_watchlist()
        # The pipeline may already be replaying the spool: sightings announced
        # while every vehicle is first read wait, then count as new, so none
        # falls between a vehicle's first reading and the listener.
        self._starting = []
        entry.runtime_data.hub.listeners.append(self.async_handle_sighting)
        await self.async_refresh(self._watched, announce=False)
        # A sighting announced meanwhile may be in what a vehicle's first
        # reading already shows; handled against that, the change it made
        # would never be announced. Its vehicles are read again without the
        # waiting sightings, until none more arrive while they are read.
        waiting: list[Sighting] = []
        while len(self._starting) > len(waiting):
            waiting = list(self._starting)
            await self._read_without(waiting)
        self._starting = None
        for sighting in waiting:
            await self.async_handle_sighting(sighting)
        entry.async_on_unload(
            async_dispatcher_connect(
                self.hass,
                SIGNAL_WATCHLIST_CHANGED.format(entry_id=self.entry_id),
                self._watchlist_changed,
            )
        )
        entry.async_on_unload(
            async_dispatcher_connect(
                self.hass,
                SIGNAL_SIGHTINGS_REMOVED.format(entry_id=self.entry_id),
                self._sightings_removed,
            )
        )
        entry.runtime_data.routes = self

    async def async_locate(
        self, plate: str, *, excluding: Collection[int] = ()
    ) -> Whereabouts:
        """Return a plate's whereabouts as the store has them now, without ``excluding``."""
        return await self.hass.async_add_executor_job(
            partial(
                locate,
                self.store,
                plate,
                self.cameras,
                trip_gap=self.trip_gap,
                max_speed_kmh=self.max_speed_kmh,
                now=dt_util.utcnow(),
                excluding=excluding,
            )
        )

    async def _read_without(self, sightings: list[Sighting]) -> None:
        """Set the whereabouts of the vehicles ``sightings`` may concern as if they were not stored."""
        excluded = {sighting.id for sighting in sightings}
        plates = dict.fromkeys(
            plate for sighting in sightings for plate in self._plates_for(sighting)
        )
        for plate in plates:
            async with self._lock:
                found = await self.async_locate(plate, excluding=excluded)
                if plate in self._watched:
                    self.whereabouts[plate] = found

    async def async_city_status(self, plate: str) -> str:
        """Return a plate's city status (for watchlist alerts), read fresh from the store.

        Fresh because the alert for a sighting is built while this tracker may
        still be updating from the same sighting.
        """
        return (await self.async_locate(plate)).status.state.value

    async def async_refresh(
        self,
        plates: Iterable[str],
        *,
        announce: bool,
        announcing: int | None = None,
        newly_listed: bool = False,
    ) -> None:
        """Recompute the whereabouts of watchlisted plates; announce city exits and entries.

        Without ``announce`` (after a purge) a change is still announced when
        it is decided by a sighting newer than any the vehicle's last reading
        held: one stored but not announced yet, whose own announcement would
        otherwise find the change made already and stay silent.

        The first reading of a ``newly_listed`` vehicle announces nothing (it
        is what was known before), but the pipeline stores a pass seconds
        before it announces it: when the sighting that decided that reading is
        then announced (``announcing``, its id), its exit or entry is news.
        """
        for plate in list(plates):
            async with self._lock:
                found = await self.async_locate(plate)
                if plate not in self._watched:
                    continue  # taken off the watchlist meanwhile
                previous = self.whereabouts.get(plate)
                self.whereabouts[plate] = found
                first_decider_announced = self._first_decider_announced(
                    plate,
                    found,
                    first=previous is None and newly_listed,
                    announcing=announcing,
                )
            state = found.status.state
            decided = found.status.decided_by
            if (
                state in _STATE_EVENTS
                and decided is not None
                and (
                    (
                        (announce or _decided_by_news(found, previous))
                        and (
                            previous is None
                            or previous.status.state is not state
                            or _crossed_again(previous, found, self.trip_gap)
                        )
                    )
                    or first_decider_announced
                )
            ):
                tz = dt_util.get_default_time_zone()
                # An entry that is disabled, expired, or limited to other cameras
                # or hours than the deciding sighting's keeps its vehicle's
                # tracker and city status up to date, but announcing is
                # alerting: it alerts where a hit would.
                if announced := [
                    listed
                    for listed in self._watched.get(plate, ())
                    if is_active(listed, decided.camera, decided.seen_at, tz)
                ]:
                    # The picture and recent route go with it, as with a hit.
                    evidence = await self.alerts.async_evidence(plate, decided.id)
                    for listed in announced:
                        self.alerts.async_fire_event(
                            _STATE_EVENTS[state],
                            {**self._event_payload(listed, found), **evidence},
                        )
            async_dispatcher_send(self.hass, self.signal, plate)

    def _first_decider_announced(
        self, plate: str, found: Whereabouts, *, first: bool, announcing: int | None
    ) -> bool:
        """Return whether ``announcing`` decided the vehicle's first reading and still does.

        The decider is remembered at the ``first`` reading of a newly listed
        vehicle when it says ``left`` or ``entered``, until it is announced or
        another sighting decides.
        """
        decided = found.status.decided_by
        if first and decided is not None and found.status.state in _STATE_EVENTS:
            self._first_deciders[plate] = decided.id
        remembered = self._first_deciders.get(plate)
        if remembered is None:
            return False
        still_decides = decided is not None and decided.id == remembered
        if still_decides and announcing != remembered:
            return False  # still waiting for its announcement
        del self._first_deciders[plate]
        return still_decides

    async def async_handle_sighting(self, sighting: Sighting) -> None:
        """Recompute the watchlisted vehicles a new sighting may be a read of.

        A sighting is announced again when a better read of its NVR event
        changed its plate: the vehicles whose whereabouts it decided are
        recomputed too, or they would keep a status the store no longer has.
        """
        if self._starting is not None:
            self._starting.append(sighting)
            return
        if plates := self._plates_for(sighting):
            await self.async_refresh(plates, announce=True, announcing=sighting.id)

    def _plates_for(self, sighting: Sighting) -> list[str]:
        """Return the watchlisted vehicles a sighting may be a read of or decided."""
        plates = dict.fromkeys(
            self._by_lookalike.get(lookalike_key(sighting.plate), ())
        )
        plates.update(
            dict.fromkeys(
                plate
                for plate, found in self.whereabouts.items()
                if sighting.id in _sighting_ids(found)
            )
        )
        return list(plates)

    @callback
    def _sightings_removed(self) -> None:
        """Recompute every vehicle once a purge erased sightings (nothing announced)."""
        self.hub.async_run_tracked(
            self.async_refresh(list(self._watched), announce=False),
            f"{DOMAIN} whereabouts after a purge",
        )

    @callback
    def _index_watchlist(self) -> None:
        self._watched = exact_plates(self.alerts.entries)
        self._by_lookalike = {}
        for plate in self._watched:
            self._by_lookalike.setdefault(lookalike_key(plate), []).append(plate)

    @callback
    def _watchlist_changed(self) -> None:
        self._index_watchlist()
        for plate in set(self.whereabouts) - set(self._watched):
            del self.whereabouts[plate]
        for plate in set(self._first_deciders) - set(self._watched):
            del self._first_deciders[plate]
        if new := [plate for plate in self._watched if plate not in self.whereabouts]:
            self.hub.async_run_tracked(
                self.async_refresh(new, announce=False, newly_listed=True),
                f"{DOMAIN} whereabouts of new watchlist vehicles",
            )

    def _event_payload(
        self, listed: WatchlistEntry, found: Whereabouts
    ) -> dict[str, Any]:
        decided = found.status.decided_by
        return {
            "config_entry_id": self.entry_id,
            "plate": listed.plate,
            "entry_id": listed.id,
            "label": listed.label,
            "priority": listed.priority.value,
            "status": found.status.to_dict(),
            "camera": decided.camera if decided else None,
            "camera_name": decided.camera_name if decided else None,
            "seen_at": decided.seen_at.isoformat() if decided else None,
            "direction": decided.direction.value if decided else None,
        }


def _decided_by_news(found: Whereabouts, previous: Whereabouts | None) -> bool:
    """Return whether ``found`` is decided by a sighting later than any ``previous`` rests on.

    A purge only takes sightings away: a status it leaves is decided by one
    known before. A later decider is a sighting stored since, by the
    pipeline, which announces it only after it is stored.
    """
    decided = found.status.decided_by
    if previous is None or decided is None:
        return False
    known = previous.last
    return known is None or (decided.seen_at, decided.id) > (known.seen_at, known.id)


def _crossed_again(
    previous: Whereabouts, found: Whereabouts, trip_gap: timedelta
) -> bool:
    """Return whether ``found`` is a new crossing in the state ``previous`` was already in.

    A vehicle that left, came back by a road no camera watches and left again
    (or entered twice so) keeps its state, yet the police must hear of the
    second exit: it is a later trip, decided by a sighting more than
    ``trip_gap`` after the one that decided before. Frames of one pass at an
    exit, or a second exit camera on the same road, are not.
    """
    before, now = previous.status.decided_by, found.status.decided_by
    return (
        before is not None
        and now is not None
        and now.id != before.id
        and now.seen_at - before.seen_at > trip_gap
    )


def _sighting_ids(found: Whereabouts) -> set[int]:
    """Return the ids of the sightings a vehicle's whereabouts rest on."""
    status = found.status
    return {
        shown.id
        for shown in (found.last, status.decided_by, status.last_known_by)
        if shown is not None
    }


def route_tracker(entry: PlateTrackerConfigEntry) -> RouteTracker:
    """Return the route tracker of a loaded entry."""
    if (tracker := entry.runtime_data.routes) is None:
        raise RuntimeError(
            "routes are set up before the platforms and services use them"
        )
    return tracker


# --- entities of watchlisted vehicles ---------------------------------------------------


class WatchlistVehicleEntity(PlateTrackerWatchlistEntity):
    """An entity of one watchlisted vehicle, updated when its whereabouts change."""

    def __init__(
        self,
        entry: PlateTrackerConfigEntry,
        tracker: RouteTracker,
        listed: WatchlistEntry,
        key: str,
    ) -> None:
        """Attach the entity to the Watchlist device."""
        self._tracker = tracker
        super().__init__(entry, listed, key)

    @property
    def whereabouts(self) -> Whereabouts | None:
        """The vehicle's whereabouts; None until computed."""
        return self._tracker.whereabouts.get(self._listed.plate)

    @callback
    def listed_changed(self) -> None:
        """Show the whereabouts of the (possibly edited) entry's plate."""
        self._show()

    async def async_added_to_hass(self) -> None:
        """Follow the vehicle's whereabouts."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(self.hass, self._tracker.signal, self._changed)
        )

    @callback
    def _changed(self, plate: str) -> None:
        if plate == self._listed.plate:
            self._show()
            self.async_write_ha_state()

    @callback
    def _show(self) -> None:
        """Set the state from the current whereabouts."""


@callback
def async_track_watchlist_vehicles(
    hass: HomeAssistant,
    entry: PlateTrackerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    entity_for: Callable[[RouteTracker, WatchlistEntry], WatchlistVehicleEntity],
) -> None:
    """Keep one entity per watchlisted vehicle (exact plate), as entries come and go."""
    tracker = route_tracker(entry)
    async_track_watchlist_entities(
        hass,
        entry,
        async_add_entities,
        lambda listed: entity_for(tracker, listed),
        include=lambda listed: not is_pattern(listed.plate),
    )


# --- services ---------------------------------------------------------------------------

GET_ROUTE_SCHEMA = vol.Schema(
    {
        vol.Required("plate"): cv.string,
        vol.Optional("since"): cv.datetime,
        vol.Optional("until"): cv.datetime,
        vol.Optional(CONF_TRIP_GAP_MINUTES): vol.All(
            real_number, vol.Range(min=1, max=7 * 24 * 60)
        ),
        vol.Optional("max_sightings", default=DEFAULT_MAX_ROUTE_SIGHTINGS): vol.All(
            whole_number, vol.Range(min=1, max=MAX_ROUTE_SIGHTINGS)
        ),
        vol.Optional("include_lookalikes", default=True): cv.boolean,
        vol.Required("reason"): REASON,
    }
)
WHERE_IS_SCHEMA = vol.Schema(
    {vol.Required("plate"): cv.string, vol.Required("reason"): REASON}
)


def _vehicle_plate(text: str) -> str:
    """Return the canonical plate of one vehicle; a pattern names no vehicle."""
    # services imports this module for ROUTE_SERVICES; its helpers are imported
    # when a call runs, after both modules are loaded.
    from .services import _plate_or_pattern  # noqa: PLC0415

    plate = _plate_or_pattern(text)
    if is_pattern(plate):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="route_needs_plate",
            translation_placeholders={"plate": plate},
        )
    return plate


def _route_response(
    store: SightingStore,
    tracker: RouteTracker,
    plate: str,
    since: datetime | None,
    until: datetime | None,
    *,
    trip_gap: timedelta,
    include_lookalikes: bool,
    max_sightings: int,
) -> dict[str, Any]:
    """Fetch and build a route (blocking: run in the executor).

    From the store's packed columns: a route of 100,000 sightings answers in
    milliseconds (issue 5), the same answer as ``build_route`` on its rows.
    """
    return store.read_route_columns(
        plate,
        lambda columns: route_response(
            columns,
            tracker.cameras,
            plate=plate,
            trip_gap=trip_gap,
            max_speed_kmh=tracker.max_speed_kmh,
            max_sightings=max_sightings,
        ),
        since,
        until,
        include_lookalikes=include_lookalikes,
    )


async def _get_route(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    from .services import _as_utc, _audit, _store_call, hub_entry  # noqa: PLC0415

    entry = hub_entry(hass)
    tracker = route_tracker(entry)
    plate = _vehicle_plate(call.data["plate"])
    since, until = _as_utc(call.data.get("since")), _as_utc(call.data.get("until"))
    trip_gap = (
        timedelta(minutes=call.data[CONF_TRIP_GAP_MINUTES])
        if CONF_TRIP_GAP_MINUTES in call.data
        else tracker.trip_gap
    )
    route = await _store_call(
        hass,
        entry,
        partial(
            _route_response,
            entry.runtime_data.store,
            tracker,
            plate,
            since,
            until,
            trip_gap=trip_gap,
            include_lookalikes=call.data["include_lookalikes"],
            max_sightings=call.data["max_sightings"],
        ),
    )
    response: dict[str, Any] = {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "trip_gap_minutes": trip_gap.total_seconds() / 60,
        **route,
    }
    await _audit(
        hass,
        entry,
        call,
        SERVICE_GET_ROUTE,
        {
            "plate": plate,
            "since": response["since"],
            "until": response["until"],
            "sightings": route["sighting_count"],
        },
        reason=call.data["reason"],
    )
    return response


async def _where_is(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    from .services import _audit, hub_entry  # noqa: PLC0415

    entry = hub_entry(hass)
    plate = _vehicle_plate(call.data["plate"])
    tracker = route_tracker(entry)
    found = await tracker.async_locate(plate)
    last: dict[str, Any] | None = None
    if found.last is not None and (
        sighting := await hass.async_add_executor_job(
            entry.runtime_data.store.get, found.last.id
        )
    ):
        last = {
            **sighting_with_links(entry, sighting),
            "latitude": found.last.latitude,
            "longitude": found.last.longitude,
            "joined_misread": sighting.plate != plate,
        }
    await _audit(
        hass,
        entry,
        call,
        SERVICE_WHERE_IS,
        {
            "plate": plate,
            "city_status": found.status.state.value,
            "sighting_id": last["sighting_id"] if last else None,
        },
        reason=call.data["reason"],
    )
    return {
        "plate": plate,
        "last_sighting": last,
        "city_status": found.status.to_dict(),
        "exit_cameras": await _exit_activity(hass, entry, tracker.cameras, found),
    }


async def _exit_activity(
    hass: HomeAssistant,
    entry: PlateTrackerConfigEntry,
    cameras: Mapping[str, CameraInfo],
    found: Whereabouts,
) -> list[JsonValueType]:
    """Return what each exit camera recorded since the vehicle was last seen.

    "Inside" means no exit camera saw the vehicle leave; that holds only as far
    as the exits were working. An exit that recorded nothing since then, while
    others did, may have been down: the police weigh it, this only reports it.
    """
    exits = {
        camera_id: camera
        for camera_id, camera in cameras.items()
        if camera.role is CameraRole.EXIT
    }
    if found.last is None or not exits:
        return []
    activity = await hass.async_add_executor_job(
        entry.runtime_data.store.camera_activity, list(exits), found.last.seen_at
    )
    return [
        {
            "camera": camera_id,
            "name": exits[camera_id].name,
            "sightings_since_last_seen": seen.sightings_since,
            "last_sighting_at": (
                seen.last_seen_at.isoformat() if seen.last_seen_at else None
            ),
        }
        for camera_id, seen in sorted(
            activity.items(), key=lambda item: exits[item[0]].name
        )
    ]


ROUTE_SERVICES: tuple[
    tuple[
        str,
        Callable[[HomeAssistant, ServiceCall], Coroutine[Any, Any, ServiceResponse]],
        vol.Schema,
        SupportsResponse,
    ],
    ...,
] = (
    (SERVICE_GET_ROUTE, _get_route, GET_ROUTE_SCHEMA, SupportsResponse.ONLY),
    (SERVICE_WHERE_IS, _where_is, WHERE_IS_SCHEMA, SupportsResponse.ONLY),
)
