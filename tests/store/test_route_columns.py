"""The packed route columns and the fast ``get_route`` path built on them.

``route_response`` on ``SightingStore.route_columns`` must give exactly what
``build_route`` gives on ``route_for``'s rows: the fast path exists only to
answer a 100,000-sighting route in milliseconds (issue 5), and a route that
differs would send someone after the wrong car. So every shape that changes a
route (trips, misreads joined or not, impossible travel, cameras off the map,
equal times, late arrivals, upserts, purges) is generated and compared.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from itertools import cycle
from pathlib import Path
import random
import sqlite3
from typing import Any

import pytest

from custom_components.plate_tracker.matching.journeys import (
    CameraInfo,
    CameraRole,
    SightingColumns,
    build_route,
    route_response,
)
from custom_components.plate_tracker.records import Direction, NewSighting
from custom_components.plate_tracker.store import SightingStore
from custom_components.plate_tracker.store.schema import ROUTE_CHUNK

from .conftest import T0, sighting

PLATE = "AE1234BK"
LOOKALIKE = "AEI234BK"
ANOTHER_LOOKALIKE = "AE12348K"
TRIP_GAP = timedelta(minutes=30)

CAMERAS = {
    f"cam_{n}": CameraInfo(
        id=f"cam_{n}",
        name=f"Camera {n}",
        # Some cameras far apart, so short hops between them are impossible.
        latitude=50.4 + (n % 4) * 0.3,
        longitude=30.4 + (n // 4) * 0.3,
        role=CameraRole.EXIT if n % 3 == 0 else CameraRole.INSIDE,
        leaving_direction=Direction.RECEDING if n % 3 == 0 else None,
    )
    for n in range(8)
}
"""The map; ``off_map_*`` cameras report sightings but are not on it."""


def generated(seed: int, count: int) -> list[NewSighting]:
    """Return sightings of one car with misreads, NVR events, far hops and ties."""
    rng = random.Random(seed)
    names = [*CAMERAS, "off_map_1", "off_map_2"]
    at = T0
    made: list[NewSighting] = []
    event = 0
    while len(made) < count:
        camera = rng.choice(names)
        event += 1
        event_id = f"ev{event}" if rng.random() < 0.5 else None
        for read in range(rng.randint(1, 4)):
            roll = rng.random()
            plate = (
                LOOKALIKE
                if roll < 0.08
                else ANOTHER_LOOKALIKE
                if roll < 0.12
                else PLATE
            )
            made.append(
                NewSighting(
                    camera=camera,
                    seen_at=at,
                    plate=plate,
                    raw=plate,
                    confidence=round(rng.uniform(0.5, 0.99), 3),
                    # One NVR event read by several sources: distinct
                    # sightings with the same event id, as the join needs.
                    source=f"gen{read}",
                    event_id=event_id,
                    direction=rng.choice(list(Direction)),
                )
            )
            # Equal times now and then, to pin down the order of ties.
            at += timedelta(seconds=rng.choice((0, 1, 2, 5, 20)))
        gap = rng.random()
        at += (
            timedelta(seconds=rng.randint(5, 90))  # often too fast between far cameras
            if gap < 0.6
            else timedelta(minutes=rng.randint(20, 45))  # around the trip gap
            if gap < 0.9
            else timedelta(hours=rng.randint(1, 30))
        )
    rng.shuffle(made[-count // 10 :])  # late arrivals, out of time order
    return made


def reference(store: SightingStore, **options: Any) -> dict[str, Any]:
    """Return the route the straightforward way: ``route_for`` rows into ``build_route``."""
    max_sightings = options.pop("max_sightings")
    rows = store.route_for(
        PLATE,
        options.get("since"),
        options.get("until"),
        include_lookalikes=options.get("include_lookalikes", True),
    )
    return build_route(
        SightingColumns.from_rows(rows), CAMERAS, plate=PLATE, trip_gap=TRIP_GAP
    ).to_dict(max_sightings=max_sightings)


def fast(store: SightingStore, **options: Any) -> dict[str, Any]:
    """Return the route from the packed columns, as ``get_route`` does."""
    max_sightings = options.pop("max_sightings")
    columns = store.route_columns(
        PLATE,
        options.get("since"),
        options.get("until"),
        include_lookalikes=options.get("include_lookalikes", True),
    )
    return route_response(
        columns, CAMERAS, plate=PLATE, trip_gap=TRIP_GAP, max_sightings=max_sightings
    )


def assert_same_routes(store: SightingStore) -> None:
    """Compare both paths over several listing sizes and windows."""
    for max_sightings in (None, 1, 7, 60, 10**6):
        for options in (
            {},
            {"include_lookalikes": False},
            {"since": T0 + timedelta(hours=3)},
            {"since": T0 + timedelta(hours=2), "until": T0 + timedelta(hours=40)},
        ):
            expected = reference(store, max_sightings=max_sightings, **options)
            actual = fast(store, max_sightings=max_sightings, **options)
            assert actual == expected, (max_sightings, options)
            assert_plain_json(actual)


def assert_plain_json(value: Any) -> None:
    """Fail on anything but plain JSON types (a numpy number would not serialise)."""
    if isinstance(value, dict):
        for item in value.values():
            assert_plain_json(item)
    elif isinstance(value, list):
        for item in value:
            assert_plain_json(item)
    else:
        assert type(value) in (str, int, float, bool, type(None)), repr(value)


@pytest.mark.parametrize(("seed", "count"), [(1, 40), (2, 400), (3, 2500)])
def test_fast_route_equals_build_route(
    store: SightingStore, seed: int, count: int
) -> None:
    """Generated routes of several shapes give the same answer both ways."""
    store.record_many(generated(seed, count))
    expected = reference(store, max_sightings=None)
    reasons = {misread["reason"] for misread in expected["joined"]}
    assert reasons == {"same_event", "same_pass"}, "the shape should join both ways"
    assert expected["not_joined"], "the shape should hold look-alikes left out"
    assert expected["impossible_travel"], "the shape should hold impossible travel"
    assert expected["trip_count"] > 1
    assert_same_routes(store)


def test_fast_route_after_upserts_purges_and_holds(
    store: SightingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Changes after the columns were built keep them equal to the sightings.

    An upsert that changes the plate moves a sighting between routes; one that
    only brings the direction (learnt at an event's end) must show in both
    paths' routes and city status; purges
    by plate and by time remove sightings except those on legal hold. All of
    it is kept up to date as it happens: no route read has to rebuild
    columns (a heavy plate's rebuild costs a route a few hundred ms).
    """

    def no_rebuild(*_: object) -> None:
        raise AssertionError("the route columns fell out of step")

    monkeypatch.setattr(store, "_rebuild_route_chunks", no_rebuild)
    sightings = generated(4, 3 * ROUTE_CHUNK)
    store.record_many(sightings)
    assert_same_routes(store)
    # A better read of the same events, now of another plate, and back.
    for new in [s for s in sightings if s.event_id is not None][:30]:
        store.record(replace(new, plate=LOOKALIKE, raw=LOOKALIKE, confidence=0.995))
    assert_same_routes(store)
    for new in [s for s in sightings if s.event_id is not None][:10]:
        store.record(replace(new, plate=PLATE, raw=PLATE, confidence=0.999))
    assert_same_routes(store)
    # A direction learnt at the end of events, from reads no better than the stored ones.
    learnt = {
        (new.source, new.camera, new.event_id): direction
        for new, direction in zip(
            [s for s in sightings if s.event_id is not None][5:200],
            cycle([Direction.RECEDING, Direction.APPROACHING, Direction.LEFT]),
            strict=False,
        )
    }
    for new in sightings:
        if (
            direction := learnt.get((new.source, new.camera, new.event_id))
        ) is not None:
            store.record(replace(new, confidence=0.01, direction=direction))
    assert_same_routes(store)
    for sighting_id, camera, _, _, _, direction, event_id in store.route_for(
        PLATE, include_lookalikes=True
    ):
        source = store.get(sighting_id)
        assert source is not None
        if (known := learnt.get((source.source, camera, event_id))) is not None:
            assert direction == known.value
    held = [row[0] for row in store.route_for(PLATE)[100:400:7]]
    store.set_legal_hold(held, held=True)
    store.purge(PLATE, since=T0 + timedelta(hours=5), until=T0 + timedelta(hours=50))
    assert_same_routes(store)
    store.purge(until=T0 + timedelta(hours=3))
    assert_same_routes(store)
    # New sightings after the purges append to rebuilt columns.
    store.record_many(generated(5, 300))
    assert_same_routes(store)
    assert set(held) <= {row[0] for row in store.route_for(PLATE)}


def test_new_sightings_append_to_columns(store: SightingStore) -> None:
    """A sighting recorded after the columns exist is in the next route at once."""
    store.record(sighting(camera="cam_1"))
    assert fast(store, max_sightings=None)["sighting_count"] == 1
    for minute in range(1, ROUTE_CHUNK + 5):
        store.record(sighting(camera="cam_2", seen_at=T0 + timedelta(minutes=minute)))
    assert fast(store, max_sightings=None) == reference(store, max_sightings=None)
    assert fast(store, max_sightings=3)["sighting_count"] == ROUTE_CHUNK + 5


def test_unknown_plate_has_an_empty_route(store: SightingStore) -> None:
    """A plate never seen gives the empty route, not an error."""
    store.record(sighting(plate="BC0000AA"))
    assert fast(store, max_sightings=500) == reference(store, max_sightings=500)
    assert fast(store, max_sightings=500)["sighting_count"] == 0


def test_migration_builds_columns_for_stored_sightings(db_path: Path) -> None:
    """A version 4 database gets columns for the sightings it already holds."""
    with SightingStore.open(db_path) as store:
        store.record_many(generated(6, 1500))
    old = sqlite3.connect(db_path)
    old.executescript(
        "DROP TABLE route_chunks; ALTER TABLE sightings DROP COLUMN reader;"
        " PRAGMA user_version = 4;"
    )
    old.close()
    with SightingStore.open(db_path) as store:
        assert_same_routes(store)


def test_missing_columns_are_rebuilt(db_path: Path) -> None:
    """A plate whose chunks are gone gets them back from the route index."""
    with SightingStore.open(db_path) as store:
        store.record_many(generated(7, 1500))
        lost = sqlite3.connect(db_path)
        with lost:
            lost.execute("DELETE FROM route_chunks")
        lost.close()
        assert_same_routes(store)
