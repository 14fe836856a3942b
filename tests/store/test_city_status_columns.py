"""City status and last sighting from the packed route columns (``where_is``, the tracker).

``packed_whereabouts`` on ``SightingStore.route_columns`` must give exactly what
``city_status`` and ``Route.sighting(-1)`` give on ``build_route`` over
``route_for``'s rows: it exists only so that ``where_is`` and the watchlist
tracker's refresh on every sighting of a watched vehicle cost milliseconds
instead of a quarter of a second for a plate seen 100,000 times, and a status
that differed would report a wanted car as gone when it is still in the city.
So routes are generated with exits crossed in known, opposite, sideways and
unknown directions, exits with no leaving direction, inside cameras, cameras
off the map and look-alike misreads joined or not, and every prefix of them
is compared.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
import random

import pytest

from custom_components.plate_tracker.matching.journeys import (
    CameraInfo,
    CameraRole,
    CityReason,
    CityState,
    CityStatus,
    RouteSighting,
    SightingColumns,
    build_route,
    city_status,
    packed_whereabouts,
)
from custom_components.plate_tracker.records import Direction, NewSighting
from custom_components.plate_tracker.routes import RECENT_WINDOW, locate
from custom_components.plate_tracker.store import SightingStore
from custom_components.plate_tracker.store.sighting_store import to_us

from .conftest import T0

PLATE = "AE1234BK"
LOOKALIKE = "AEI234BK"
ONE_EDIT = "AE1234BX"
TRIP_GAP = timedelta(minutes=30)
MAX_SPEED_KMH = 120.0

CAMERAS = {
    "exit_receding": CameraInfo(
        id="exit_receding",
        name="North gate",
        latitude=50.52,
        longitude=30.50,
        role=CameraRole.EXIT,
        leaving_direction=Direction.RECEDING,
    ),
    "exit_left": CameraInfo(
        id="exit_left",
        name="West gate",
        latitude=50.45,
        longitude=30.30,
        role=CameraRole.EXIT,
        leaving_direction=Direction.LEFT,
    ),
    "exit_unset": CameraInfo(
        id="exit_unset",
        name="East gate",
        latitude=50.45,
        longitude=30.70,
        role=CameraRole.EXIT,
    ),
    "centre": CameraInfo(id="centre", name="Centre", latitude=50.45, longitude=30.52),
    "lviv": CameraInfo(id="lviv", name="Lviv", latitude=49.84, longitude=24.03),
}
"""The map; ``off_map_*`` cameras report sightings but are not on it."""

CAMERA_WEIGHTS = {
    "exit_receding": 4,
    "exit_left": 3,
    "exit_unset": 1,
    "centre": 2,
    "lviv": 1,
    "off_map_1": 2,
    "off_map_2": 1,
}


def generated(seed: int, count: int) -> list[NewSighting]:
    """Return passes of one car, mostly at exits, with misreads and unknown directions."""
    rng = random.Random(seed)
    names, weights = list(CAMERA_WEIGHTS), list(CAMERA_WEIGHTS.values())
    at = T0
    made: list[NewSighting] = []
    event = 0
    while len(made) < count:
        camera = rng.choices(names, weights)[0]
        event += 1
        event_id = f"ev{event}" if rng.random() < 0.5 else None
        # A pass knows its direction on some frames only, or on none.
        direction = rng.choice(list(Direction))
        for _ in range(rng.randint(1, 6)):
            roll = rng.random()
            plate = LOOKALIKE if roll < 0.1 else ONE_EDIT if roll < 0.15 else PLATE
            # Now and then a camera off the map reads the car between the frames.
            off_map = rng.random() < 0.08
            made.append(
                NewSighting(
                    camera="off_map_1" if off_map else camera,
                    seen_at=at,
                    plate=plate,
                    raw=plate,
                    confidence=round(rng.uniform(0.5, 0.99), 3),
                    source=f"gen{len(made)}",
                    event_id=event_id,
                    direction=read_direction(rng, direction),
                )
            )
            # Around the pass window too: at 60 s still one pass, past it two.
            at += timedelta(seconds=rng.choice((0, 2, 10, 45, 60, 61, 64, 70)))
        gap = rng.random()
        at += (
            timedelta(seconds=rng.randint(5, 120))
            if gap < 0.5
            else timedelta(minutes=rng.randint(20, 45))
            if gap < 0.9
            else timedelta(days=rng.randint(1, 40))
        )
    return made


def read_direction(rng: random.Random, direction: Direction) -> Direction:
    """Return the direction one frame of a pass reports: often none, now and then another."""
    roll = rng.random()
    if roll < 0.35:
        return direction
    if roll < 0.45:
        return rng.choice(list(Direction))
    return Direction.UNKNOWN


def reference(
    store: SightingStore, since: datetime | None, until: datetime | None
) -> tuple[CityStatus, RouteSighting | None]:
    """Return status and last sighting the straightforward way, from the whole route."""
    route = build_route(
        SightingColumns.from_rows(
            store.route_for(PLATE, since, until, include_lookalikes=True)
        ),
        CAMERAS,
        plate=PLATE,
        trip_gap=TRIP_GAP,
        max_speed_kmh=MAX_SPEED_KMH,
    )
    return (
        city_status(route, CAMERAS),
        route.sighting(-1) if len(route) else None,
    )


def fast(
    store: SightingStore, since: datetime | None, until: datetime | None
) -> tuple[CityStatus, RouteSighting | None]:
    """Return status and last sighting from the packed columns."""
    return packed_whereabouts(
        store.route_columns(PLATE, since, until, include_lookalikes=True),
        CAMERAS,
        plate=PLATE,
        trip_gap=TRIP_GAP,
        max_speed_kmh=MAX_SPEED_KMH,
    )


@pytest.mark.parametrize(("seed", "count"), [(1, 300), (2, 600), (3, 1200)])
def test_packed_whereabouts_equal_the_route_s(
    store: SightingStore, seed: int, count: int
) -> None:
    """Every prefix of generated routes gives the same status and last sighting both ways."""
    store.record_many(generated(seed, count))
    times = sorted({row[2] for row in store.route_for(PLATE, include_lookalikes=True)})
    seen_reasons: set[CityReason] = set()
    seen_last_known: set[CityState] = set()
    seen_flags: set[str] = set()
    for cut in times[:: max(len(times) // 250, 1)]:
        until = datetime.fromtimestamp(cut, T0.tzinfo) + timedelta(microseconds=1)
        for since in (None, until - timedelta(hours=2)):
            expected = reference(store, since, until)
            assert fast(store, since, until) == expected, (since, until)
            status, last = expected
            seen_reasons.add(status.reason)
            if status.last_known_state:
                seen_last_known.add(status.last_known_state)
            if last is not None:
                seen_flags.update(last.flags)
    # The shapes must reach every way of deciding, or the comparison proves little.
    assert seen_reasons >= set(CityReason) - {CityReason.NO_SIGHTINGS}
    assert seen_last_known >= {CityState.INSIDE, CityState.LEFT, CityState.ENTERED}
    assert seen_flags == {"joined_misread", "impossible_travel"}


def test_packed_whereabouts_of_an_unseen_plate(store: SightingStore) -> None:
    """A plate never seen is unknown for lack of sightings, with no last sighting."""
    store.record_many(generated(4, 20))
    assert fast(store, None, None)[0].reason is not CityReason.NO_SIGHTINGS
    expected = reference(store, T0 - timedelta(days=2), T0 - timedelta(days=1))
    assert expected[0].reason is CityReason.NO_SIGHTINGS
    assert fast(store, T0 - timedelta(days=2), T0 - timedelta(days=1)) == expected


def test_locate_falls_back_to_the_whole_history_as_before(
    store: SightingStore,
) -> None:
    """``locate`` reads the last month first and the whole history when it decides nothing.

    Compared with the old definition (the route's status over ``route_for``)
    at moments where the last month decides, decides nothing, or is empty.
    """
    store.record_many(generated(5, 800))
    times = [row[2] for row in store.route_for(PLATE, include_lookalikes=True)]
    for cut in times[::20]:
        now = datetime.fromtimestamp(cut, T0.tzinfo) + RECENT_WINDOW / 3
        for since in (now - RECENT_WINDOW, None):
            status, last = reference(store, since, None)
            if status.state is not CityState.UNKNOWN or status.last_known_state:
                break
        found = locate(
            store,
            PLATE,
            CAMERAS,
            trip_gap=TRIP_GAP,
            max_speed_kmh=MAX_SPEED_KMH,
            now=now,
        )
        assert (found.status, found.last) == (status, last), now


def test_columns_cut_in_memory_equal_the_store_s(store: SightingStore) -> None:
    """``seen_since`` cuts whole columns as ``route_columns`` with ``since`` does.

    ``locate`` reads a plate's columns once and cuts the last month from them.
    """
    store.record_many(generated(6, 400))
    whole = store.route_columns(PLATE, include_lookalikes=True)
    for row in store.route_for(PLATE, include_lookalikes=True)[::37]:
        for since in (
            datetime.fromtimestamp(row[2], T0.tzinfo),
            datetime.fromtimestamp(row[2], T0.tzinfo) + timedelta(microseconds=1),
        ):
            expected = store.route_columns(PLATE, since, include_lookalikes=True)
            cut = whole.seen_since(to_us(since))
            for name in ("seen_us", "ids", "camera_ids", "event_keys", "plate_ids"):
                assert getattr(cut, name).tolist() == getattr(expected, name).tolist()


def test_direction_learnt_at_the_end_of_an_event_decides_the_status(
    store: SightingStore,
) -> None:
    """A direction stored late (the NVR's event end) changes the status the same way on both paths.

    The packed columns hold no direction, so nothing in them may go stale when
    only the direction of a stored sighting changes.
    """
    store.record(
        NewSighting(
            camera="centre",
            seen_at=T0,
            plate=PLATE,
            raw=PLATE,
            confidence=0.9,
            source="frigate",
        )
    )
    at_exit = NewSighting(
        camera="exit_receding",
        seen_at=T0 + timedelta(minutes=20),
        plate=PLATE,
        raw=PLATE,
        confidence=0.9,
        source="frigate",
        event_id="late",
    )
    stored, _ = store.record(at_exit)
    before = fast(store, None, None)
    assert before == reference(store, None, None)
    assert before[0].reason is CityReason.EXIT_DIRECTION_UNKNOWN

    store.record(replace(at_exit, confidence=0.4, direction=Direction.RECEDING))
    after = fast(store, None, None)
    assert after == reference(store, None, None)
    assert after[0].state is CityState.LEFT
    assert after[0].decided_by is not None
    assert after[0].decided_by.id == stored.id
