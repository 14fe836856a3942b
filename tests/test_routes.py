"""Routes across cameras, city exits, and the watchlist vehicles' trackers, inside Home Assistant."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from pathlib import Path
import threading
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.auth.models import User
from homeassistant.const import STATE_UNKNOWN
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)

from custom_components.plate_tracker import routes as routes_module
from custom_components.plate_tracker.const import DOMAIN, SPOOL_FILE
from custom_components.plate_tracker.records import Direction, NewSighting, Sighting
from custom_components.plate_tracker.routes import (
    EVENT_ENTERED_CITY,
    EVENT_LEFT_CITY,
    RouteTracker,
)
from custom_components.plate_tracker.store.spool import SightingSpool

from .helpers import call, record_and_announce, wait_until

START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
PLATE = "AE1234BK"
CAMERAS = {
    "gate_north": {
        "name": "North gate",
        "latitude": 50.52,
        "longitude": 30.50,
        "role": "exit",
        "leaving_direction": "receding",
    },
    "centre": {
        "name": "Centre",
        "latitude": 50.45,
        "longitude": 30.52,
        "role": "inside",
        "leaving_direction": None,
    },
    "bridge": {
        "name": "Bridge",
        "latitude": 50.44,
        "longitude": 30.56,
        "role": "inside",
        "leaving_direction": None,
    },
    "gate_east": {
        # An exit whose leaving direction nobody configured (set by hand, not the flow).
        "name": "East gate",
        "latitude": 50.45,
        "longitude": 30.70,
        "role": "exit",
        "leaving_direction": None,
    },
    "lviv": {
        "name": "Lviv",
        "latitude": 49.84,
        "longitude": 24.03,
        "role": "inside",
        "leaving_direction": None,
    },
}


@pytest.fixture
async def city(
    hass: HomeAssistant, folder_entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> AsyncGenerator[MockConfigEntry]:
    """Set up the hub with a camera map; unload it after the test."""
    freezer.move_to(START)
    folder_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        folder_entry, options={**folder_entry.options, "cameras": CAMERAS}
    )
    assert await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    yield folder_entry
    await hass.config_entries.async_unload(folder_entry.entry_id)
    await hass.async_block_till_done()


async def sight(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    camera: str,
    at: datetime,
    *,
    plate: str = PLATE,
    direction: Direction = Direction.UNKNOWN,
    event_id: str | None = None,
) -> Sighting:
    """Store a sighting at ``at`` (the clock moves there) and announce it."""
    freezer.move_to(at)
    return await record_and_announce(
        hass,
        entry,
        NewSighting(
            camera=camera,
            seen_at=at,
            plate=plate,
            raw=plate,
            confidence=0.9,
            source="folder",
            event_id=event_id,
            direction=direction,
            crop_jpeg=b"crop",
        ),
    )


async def leave_the_city(
    hass: HomeAssistant, entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """See PLATE in the centre at START, then leaving by the north gate 20 minutes later."""
    await sight(hass, entry, freezer, "centre", START)
    await sight(
        hass,
        entry,
        freezer,
        "gate_north",
        START + timedelta(minutes=20),
        direction=Direction.RECEDING,
    )


async def watch(hass: HomeAssistant, plate: str = PLATE, label: str = "Stolen") -> int:
    """Put a plate on the watchlist; return the entry id."""
    response = await call(
        hass, "watchlist_add", {"plate": plate, "label": label, "priority": "critical"}
    )
    await hass.async_block_till_done()
    return int(response["entry"]["entry_id"])


def vehicle_entities(
    hass: HomeAssistant, entry: MockConfigEntry, listed_id: int
) -> tuple[str, str]:
    """Return the entity ids of a watchlisted vehicle's tracker and city-status sensor."""
    registry = er.async_get(hass)
    prefix = f"{entry.entry_id}_watchlist_{listed_id}"
    tracker = registry.async_get_entity_id(
        "device_tracker", DOMAIN, f"{prefix}_location"
    )
    sensor = registry.async_get_entity_id("sensor", DOMAIN, f"{prefix}_city_status")
    assert tracker is not None
    assert sensor is not None
    return tracker, sensor


async def test_route_follows_a_vehicle_across_cameras_in_trips(
    hass: HomeAssistant,
    city: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_read_only_user: User,
) -> None:
    """Police follow a vehicle camera by camera; a day's break starts a new trip. No admin is needed, but the query is audited."""
    stops = [
        ("centre", START, Direction.UNKNOWN),
        ("bridge", START + timedelta(minutes=10), Direction.LEFT),
        ("gate_north", START + timedelta(minutes=20), Direction.RECEDING),
        ("centre", START + timedelta(days=1), Direction.UNKNOWN),
    ]
    for camera, at, direction in stops:
        await sight(hass, city, freezer, camera, at, direction=direction)

    response = await call(
        hass,
        "get_route",
        {"plate": "ae 1234 bk", "reason": "case 7"},
        hass_read_only_user,
    )
    assert response["plate"] == PLATE
    assert response["sighting_count"] == 4
    assert response["trip_count"] == 2
    assert response["trip_gap_minutes"] == 30
    first, second = response["trips"]
    assert [s["camera"] for s in first["sightings"]] == [
        "centre",
        "bridge",
        "gate_north",
    ]
    assert [s["camera_name"] for s in first["sightings"]] == [
        "Centre",
        "Bridge",
        "North gate",
    ]
    assert [s["direction"] for s in first["sightings"]] == [
        "unknown",
        "left",
        "receding",
    ]
    assert (first["sightings"][2]["latitude"], first["sightings"][2]["longitude"]) == (
        50.52,
        30.50,
    )
    assert first["sightings"][0]["time"] == START.isoformat()
    assert [s["camera"] for s in second["sightings"]] == ["centre"]
    assert response["impossible_travel"] == []

    # A shorter gap splits the first day's drive at every stop.
    response = await call(
        hass,
        "get_route",
        {"plate": PLATE, "trip_gap_minutes": 5, "reason": "patrol check"},
        hass_read_only_user,
    )
    assert response["trip_count"] == 4
    # A window keeps only the sightings inside it.
    response = await call(
        hass,
        "get_route",
        {
            "plate": PLATE,
            "since": (START + timedelta(minutes=5)).isoformat(),
            "until": (START + timedelta(hours=1)).isoformat(),
            "reason": "patrol check",
        },
    )
    assert response["sighting_count"] == 2

    store = city.runtime_data.store
    lines = await hass.async_add_executor_job(store.audit_log)
    routes = [line for line in lines if line.action == "get_route"]
    assert len(routes) == 3
    audited = next(line for line in routes if line.reason == "case 7")
    assert audited.user_id == hass_read_only_user.id
    assert audited.details["plate"] == PLATE
    assert audited.details["sightings"] == 4


async def test_route_flags_impossible_travel(
    hass: HomeAssistant, city: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """Kyiv and Lviv five minutes apart cannot be one car: a misread or a cloned plate, which police must see."""
    await sight(hass, city, freezer, "centre", START)
    await sight(hass, city, freezer, "lviv", START + timedelta(minutes=5))
    await sight(hass, city, freezer, "bridge", START + timedelta(hours=10))

    response = await call(hass, "get_route", {"plate": PLATE, "reason": "patrol check"})
    assert [[s["flags"] for s in trip["sightings"]] for trip in response["trips"]] == [
        [["impossible_travel"], ["impossible_travel"]],
        [[]],
    ]
    (pair,) = response["impossible_travel"]
    assert (pair["from_camera"], pair["to_camera"]) == ("centre", "lviv")
    assert pair["distance_km"] > 400
    assert pair["speed_kmh"] > 4000
    assert response["max_speed_kmh"] == 200


async def test_route_joins_misreads_of_the_same_pass(
    hass: HomeAssistant, city: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A look-alike misread at the same camera seconds apart is the same vehicle; one seen alone is only reported, never joined."""
    real = await sight(hass, city, freezer, "bridge", START)
    misread = await sight(
        hass, city, freezer, "bridge", START + timedelta(seconds=4), plate="AEI234BK"
    )
    alone = await sight(
        hass, city, freezer, "centre", START + timedelta(hours=2), plate="AE12348K"
    )

    response = await call(hass, "get_route", {"plate": PLATE, "reason": "patrol check"})
    assert response["sighting_count"] == 2
    (joined,) = response["joined"]
    assert joined == {
        "id": misread.id,
        "plate": "AEI234BK",
        "kind": "lookalike",
        "reason": "same_pass",
        "anchor_id": real.id,
    }
    sightings = response["trips"][0]["sightings"]
    assert sightings[1]["flags"] == ["joined_misread"]
    assert [item["id"] for item in response["not_joined"]] == [alone.id]

    response = await call(
        hass,
        "get_route",
        {"plate": PLATE, "include_lookalikes": False, "reason": "patrol check"},
    )
    assert response["sighting_count"] == 1
    assert response["joined"] == []


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"plate": "AE*BK"}, "route_needs_plate"),
        ({"plate": ""}, "plate_empty"),
        ({"plate": "AE#1234"}, "plate_invalid_characters"),
        (
            {
                "plate": PLATE,
                "since": "2026-11-25T10:00:00+00:00",
                "until": "2026-11-25T09:00:00+00:00",
            },
            "time_range_reversed",
        ),
    ],
)
async def test_get_route_refuses_bad_input(
    hass: HomeAssistant, city: MockConfigEntry, data: dict[str, Any], key: str
) -> None:
    """A pattern names no vehicle and a reversed window finds nothing: both are told plainly, translated."""
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "get_route", {**data, "reason": "patrol check"})
    assert err.value.translation_key == key


async def test_leaving_and_entering_the_city_fire_events(
    hass: HomeAssistant, city: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """The police learn at once that a wanted vehicle left the city (or came back), with the sighting that shows it."""
    left: list[Event] = async_capture_events(hass, EVENT_LEFT_CITY)
    entered: list[Event] = async_capture_events(hass, EVENT_ENTERED_CITY)
    hits: list[Event] = async_capture_events(hass, "plate_tracker_watchlist_hit")
    listed_id = await watch(hass)
    tracker_id, sensor_id = vehicle_entities(hass, city, listed_id)
    assert hass.states.get(sensor_id).state == "unknown"
    assert hass.states.get(tracker_id).state == STATE_UNKNOWN

    await sight(hass, city, freezer, "centre", START)
    assert hass.states.get(sensor_id).state == "inside"
    assert hits[-1].data["city_status"] == "inside"
    assert hits[-1].data["camera_name"] == "Centre"
    tracker = hass.states.get(tracker_id)
    assert (tracker.attributes["latitude"], tracker.attributes["longitude"]) == (
        50.45,
        30.52,
    )
    assert tracker.attributes["gps_accuracy"] == 50
    assert tracker.attributes["camera_name"] == "Centre"
    assert tracker.attributes["city_status"] == "inside"
    assert (left, entered) == ([], [])

    # The NVR reports the direction on the second frame of the pass only.
    passing = await sight(
        hass, city, freezer, "gate_north", START + timedelta(minutes=30)
    )
    # The alert of the pass carries the status its first frame allowed.
    assert hits[-1].data["sighting_id"] == passing.id
    assert hits[-1].data["city_status"] == "unknown"
    assert hits[-1].data["camera_name"] == "North gate"
    leaving = await sight(
        hass,
        city,
        freezer,
        "gate_north",
        START + timedelta(minutes=30, seconds=3),
        direction=Direction.RECEDING,
    )
    assert hass.states.get(sensor_id).state == "left"
    (event,) = left
    assert event.data["plate"] == PLATE
    assert event.data["entry_id"] == listed_id
    assert event.data["label"] == "Stolen"
    assert event.data["priority"] == "critical"
    assert event.data["config_entry_id"] == city.entry_id
    assert event.data["camera"] == "gate_north"
    assert event.data["camera_name"] == "North gate"
    assert event.data["direction"] == "receding"
    assert event.data["seen_at"] == leaving.seen_at.isoformat()
    assert event.data["status"]["state"] == "left"
    assert event.data["status"]["reason"] == "exit_leaving"
    assert event.data["status"]["decided_by"]["id"] == leaving.id
    # What a hit carries goes with it: the read, its picture links, the recent route.
    assert event.data["sighting_id"] == leaving.id
    assert event.data["read_plate"] == PLATE
    assert "crop_url" in event.data
    assert "snapshot_url" in event.data
    assert [seen["camera"] for seen in event.data["recent_sightings"]] == [
        "gate_north",
        "gate_north",
        "centre",
    ]
    assert hits[-1].data["sighting_id"] == passing.id  # one alert per pass
    sensor = hass.states.get(sensor_id)
    assert sensor.attributes["sighting_id"] == leaving.id
    assert sensor.attributes["camera_name"] == "North gate"

    # Seen leaving again in the same state: no second alarm.
    await sight(
        hass,
        city,
        freezer,
        "gate_north",
        START + timedelta(minutes=31),
        direction=Direction.RECEDING,
    )
    assert len(left) == 1

    await sight(
        hass,
        city,
        freezer,
        "gate_north",
        START + timedelta(hours=5),
        direction=Direction.APPROACHING,
    )
    assert hass.states.get(sensor_id).state == "entered"
    (event,) = entered
    assert event.data["status"]["reason"] == "exit_entering"
    assert event.data["direction"] == "approaching"

    await sight(hass, city, freezer, "bridge", START + timedelta(hours=5, minutes=9))
    assert hass.states.get(sensor_id).state == "inside"
    assert (len(left), len(entered)) == (1, 1)


async def test_a_vehicle_that_leaves_again_on_a_later_trip_is_announced_again(
    hass: HomeAssistant, city: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A car that left, came back by a road no camera watches and left again is news.

    Its state stays ``left``, but the police must hear of the second exit: the
    car was in the city in between. Frames of one pass at the exit are not.
    """
    left: list[Event] = async_capture_events(hass, EVENT_LEFT_CITY)
    await watch(hass)
    first = await sight(
        hass, city, freezer, "gate_north", START, direction=Direction.RECEDING
    )
    same_pass = await sight(
        hass,
        city,
        freezer,
        "gate_north",
        START + timedelta(minutes=1),
        direction=Direction.RECEDING,
    )
    assert [event.data["status"]["decided_by"]["id"] for event in left] == [first.id]
    assert same_pass.id != first.id

    # Three hours later (past the 30-minute trip gap), leaving again.
    again = await sight(
        hass,
        city,
        freezer,
        "gate_north",
        START + timedelta(hours=3),
        direction=Direction.RECEDING,
    )
    assert [event.data["status"]["decided_by"]["id"] for event in left] == [
        first.id,
        again.id,
    ]
    assert left[-1].data["seen_at"] == again.seen_at.isoformat()


@pytest.mark.parametrize(
    ("listed", "delivered_after", "announced"),
    [
        ({"enabled": False}, timedelta(0), 0),
        ({"expires_at": (START + timedelta(minutes=1)).isoformat()}, timedelta(0), 0),
        # In force when the vehicle left; expired by the time a slow source delivered it.
        (
            {"expires_at": (START + timedelta(hours=1, minutes=20)).isoformat()},
            timedelta(hours=1),
            1,
        ),
    ],
)
async def test_an_entry_not_in_force_announces_no_city_exit(
    hass: HomeAssistant,
    city: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    *,
    listed: dict[str, Any],
    delivered_after: timedelta,
    announced: int,
) -> None:
    """A car already found or a closed case must not page anyone when it drives out of town.

    Its tracker and city status still follow the vehicle: whereabouts are not
    alerts. Expiry is judged at the sighting that decided, not at its delivery.
    """
    response = await call(
        hass, "watchlist_add", {"plate": PLATE, "label": "Found", **listed}
    )
    await hass.async_block_till_done()
    tracker_id, sensor_id = vehicle_entities(
        hass, city, int(response["entry"]["entry_id"])
    )
    left: list[Event] = async_capture_events(hass, EVENT_LEFT_CITY)
    await sight(hass, city, freezer, "centre", START + timedelta(hours=1))
    leaving_at = START + timedelta(hours=1, minutes=10)
    freezer.move_to(leaving_at + delivered_after)
    await record_and_announce(
        hass,
        city,
        NewSighting(
            camera="gate_north",
            seen_at=leaving_at,
            plate=PLATE,
            raw=PLATE,
            confidence=0.9,
            source="folder",
            direction=Direction.RECEDING,
        ),
    )
    assert len(left) == announced
    assert hass.states.get(sensor_id).state == "left"
    assert hass.states.get(tracker_id).attributes["camera_name"] == "North gate"


async def test_unknown_direction_is_never_guessed(
    hass: HomeAssistant, city: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """Without a known direction an exit cannot tell leaving from entering: the status says unknown and keeps what was known."""
    left = async_capture_events(hass, EVENT_LEFT_CITY)
    entered = async_capture_events(hass, EVENT_ENTERED_CITY)
    listed_id = await watch(hass)
    _, sensor_id = vehicle_entities(hass, city, listed_id)
    inside = await sight(hass, city, freezer, "centre", START)

    await sight(hass, city, freezer, "gate_north", START + timedelta(minutes=20))
    sensor = hass.states.get(sensor_id)
    assert sensor.state == "unknown"
    assert sensor.attributes["reason"] == "exit_direction_unknown"
    assert sensor.attributes["last_known_state"] == "inside"
    assert sensor.attributes["last_known_sighting_id"] == inside.id

    # An exit whose leaving direction is not configured decides nothing either.
    await sight(
        hass,
        city,
        freezer,
        "gate_east",
        START + timedelta(hours=1),
        direction=Direction.RECEDING,
    )
    sensor = hass.states.get(sensor_id)
    assert sensor.state == "unknown"
    assert sensor.attributes["reason"] == "exit_not_configured"
    assert (left, entered) == ([], [])

    response = await call(hass, "where_is", {"plate": PLATE, "reason": "patrol check"})
    assert response["city_status"]["state"] == "unknown"
    assert response["city_status"]["last_known_state"] == "inside"


async def test_where_is_reports_what_each_exit_recorded_since(
    hass: HomeAssistant, city: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """An "inside" holds only as far as the exits worked: each exit's traffic since the car was seen."""
    await sight(hass, city, freezer, "gate_east", START, plate="KA0001AA")
    await sight(
        hass,
        city,
        freezer,
        "gate_north",
        START + timedelta(minutes=5),
        plate="KA0002AA",
    )
    seen = await sight(hass, city, freezer, "centre", START + timedelta(minutes=10))
    # After the car: the north gate keeps recording traffic, the east gate records nothing.
    for minute in (12, 14, 16):
        await sight(
            hass,
            city,
            freezer,
            "gate_north",
            START + timedelta(minutes=minute),
            plate=f"KA00{minute}AA",
        )

    response = await call(hass, "where_is", {"plate": PLATE, "reason": "patrol check"})

    assert response["last_sighting"]["sighting_id"] == seen.id
    assert response["city_status"]["state"] == "inside"
    assert response["exit_cameras"] == [
        {
            "camera": "gate_east",
            "name": "East gate",
            "sightings_since_last_seen": 0,
            "last_sighting_at": START.isoformat(),
        },
        {
            "camera": "gate_north",
            "name": "North gate",
            "sightings_since_last_seen": 3,
            "last_sighting_at": (START + timedelta(minutes=16)).isoformat(),
        },
    ]
    # A plate never seen has no "since".
    assert (
        await call(hass, "where_is", {"plate": "BC0000AA", "reason": "patrol check"})
    )["exit_cameras"] == []


async def test_where_is_answers_with_the_last_sighting(
    hass: HomeAssistant,
    city: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_read_only_user: User,
) -> None:
    """Any officer can ask where a car is now: the last camera, its place, a picture, and the city status with its evidence; the question is audited."""
    await sight(hass, city, freezer, "centre", START)
    last = await sight(
        hass,
        city,
        freezer,
        "gate_north",
        START + timedelta(minutes=15),
        direction=Direction.RECEDING,
    )

    response = await call(
        hass, "where_is", {"plate": PLATE, "reason": "call 112"}, hass_read_only_user
    )
    assert response["plate"] == PLATE
    sighting = response["last_sighting"]
    assert sighting["sighting_id"] == last.id
    assert sighting["camera_name"] == "North gate"
    assert (sighting["latitude"], sighting["longitude"]) == (50.52, 30.50)
    assert sighting["direction"] == "receding"
    assert "/crop.jpg?exp=" in sighting["crop_url"]
    assert sighting["snapshot_url"] is None
    assert sighting["joined_misread"] is False
    assert response["city_status"]["state"] == "left"
    assert response["city_status"]["decided_by"]["id"] == last.id

    unseen = await call(
        hass, "where_is", {"plate": "BC0000AA", "reason": "patrol check"}
    )
    assert unseen["last_sighting"] is None
    assert unseen["city_status"]["state"] == "unknown"
    assert unseen["city_status"]["reason"] == "no_sightings"
    empty = await call(
        hass, "get_route", {"plate": "BC0000AA", "reason": "patrol check"}
    )
    assert (empty["sighting_count"], empty["trips"]) == (0, [])

    store = city.runtime_data.store
    lines = [
        line
        for line in await hass.async_add_executor_job(store.audit_log)
        if line.action == "where_is"
    ]
    assert len(lines) == 2
    audited = next(line for line in lines if line.reason == "call 112")
    assert audited.user_id == hass_read_only_user.id
    assert audited.details == {
        "plate": PLATE,
        "city_status": "left",
        "sighting_id": last.id,
    }


async def test_vehicle_state_is_restored_after_a_reload(
    hass: HomeAssistant, city: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """After a restart the map and the status must still show a car that left, without alarming again."""
    left = async_capture_events(hass, EVENT_LEFT_CITY)
    listed_id = await watch(hass)
    tracker_id, sensor_id = vehicle_entities(hass, city, listed_id)
    await leave_the_city(hass, city, freezer)
    assert len(left) == 1

    # Long enough that the status comes from beyond the month read first.
    freezer.move_to(START + timedelta(days=40))
    assert await hass.config_entries.async_reload(city.entry_id)
    await hass.async_block_till_done()

    assert hass.states.get(sensor_id).state == "left"
    tracker = hass.states.get(tracker_id)
    assert tracker.attributes["camera"] == "gate_north"
    assert (tracker.attributes["latitude"], tracker.attributes["longitude"]) == (
        50.52,
        30.50,
    )
    assert len(left) == 1

    # A new sighting inside after the restart changes the status as usual.
    await sight(hass, city, freezer, "bridge", START + timedelta(days=40, minutes=1))
    assert hass.states.get(sensor_id).state == "inside"


async def test_vehicle_off_the_map_has_no_position(
    hass: HomeAssistant, city: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A camera without a location gives no position: the tracker says unknown rather than a wrong place."""
    listed_id = await watch(hass)
    tracker_id, sensor_id = vehicle_entities(hass, city, listed_id)
    await sight(hass, city, freezer, "centre", START)
    await sight(hass, city, freezer, "parking", START + timedelta(minutes=5))

    tracker = hass.states.get(tracker_id)
    assert tracker.state == STATE_UNKNOWN
    assert tracker.attributes["camera"] == "parking"
    assert "latitude" not in tracker.attributes
    # Cameras off the map say nothing about the city: still inside.
    assert hass.states.get(sensor_id).state == "inside"


async def test_vehicle_entities_follow_the_watchlist(
    hass: HomeAssistant, city: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    """Every listed vehicle gets a tracker and a status sensor; a pattern is no vehicle; a removed entry takes its entities along."""
    listed_id = await watch(hass)
    await watch(hass, plate="KA*OO", label="Partial plate")
    tracker_id, sensor_id = vehicle_entities(hass, city, listed_id)
    trackers = [
        entity
        for entity in er.async_entries_for_config_entry(entity_registry, city.entry_id)
        if entity.domain == "device_tracker"
    ]
    assert [entity.entity_id for entity in trackers] == [tracker_id]
    sensor = entity_registry.async_get(sensor_id)
    assert sensor is not None
    assert sensor.translation_key == "city_status"

    await hass.services.async_call(
        DOMAIN, "watchlist_remove", {"entry_id": listed_id}, blocking=True
    )
    await hass.async_block_till_done()
    assert entity_registry.async_get(tracker_id) is None
    assert entity_registry.async_get(sensor_id) is None


async def test_a_corrected_plate_is_recomputed_for_the_vehicle_it_was(
    hass: HomeAssistant, city: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A better read moving the deciding sighting to another car leaves no stale "left".

    The pipeline announces the corrected sighting under its new plate; the
    watched car it was first read as must be recomputed too.
    """
    listed_id = await watch(hass)
    _, sensor_id = vehicle_entities(hass, city, listed_id)
    await sight(hass, city, freezer, "centre", START)
    at = START + timedelta(minutes=20)
    await sight(
        hass,
        city,
        freezer,
        "gate_north",
        at,
        direction=Direction.RECEDING,
        event_id="ev-1",
    )
    assert hass.states.get(sensor_id).state == "left"
    # A surer read of the same NVR event: it was another car.
    corrected = await record_and_announce(
        hass,
        city,
        NewSighting(
            camera="gate_north",
            seen_at=at,
            plate="AE9876OP",
            raw="AE9876OP",
            confidence=0.97,
            source="folder",
            event_id="ev-1",
            direction=Direction.RECEDING,
            crop_jpeg=b"crop",
        ),
    )
    assert corrected.plate == "AE9876OP"
    fresh = await call(hass, "where_is", {"plate": PLATE, "reason": "patrol check"})
    assert fresh["city_status"]["state"] == "inside"
    assert hass.states.get(sensor_id).state == "inside"


async def test_a_purge_leaves_no_erased_sighting_on_show(
    hass: HomeAssistant,
    city: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_admin_user: User,
) -> None:
    """Vehicles and cameras show what the store still holds once a purge erased sightings."""
    listed_id = await watch(hass)
    tracker_id, sensor_id = vehicle_entities(hass, city, listed_id)
    await leave_the_city(hass, city, freezer)
    registry = er.async_get(hass)
    last_plate = registry.async_get_entity_id(
        "sensor", DOMAIN, f"{city.entry_id}_gate_north_last_plate"
    )
    assert last_plate is not None
    assert hass.states.get(last_plate).state == PLATE
    assert hass.states.get(sensor_id).state == "left"
    left = async_capture_events(hass, EVENT_LEFT_CITY)
    entered = async_capture_events(hass, EVENT_ENTERED_CITY)

    removed = await call(
        hass,
        "purge_sightings",
        {"since": (START + timedelta(minutes=10)).isoformat(), "reason": "erased"},
        hass_admin_user,
    )
    await hass.async_block_till_done()

    assert removed == {"removed": 1}
    fresh = await call(hass, "where_is", {"plate": PLATE, "reason": "patrol check"})
    assert fresh["city_status"]["state"] == "inside"
    assert hass.states.get(sensor_id).state == "inside"
    assert hass.states.get(tracker_id).attributes["camera"] == "centre"
    assert hass.states.get(last_plate).state == STATE_UNKNOWN
    # A purge changes what is shown, not where the car went: nothing is announced.
    assert (left, entered) == ([], [])


async def test_a_sighting_announced_while_the_tracker_starts_is_not_missed(
    hass: HomeAssistant, city: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """The spool is replayed while the tracker starts: a replayed exit must still move the vehicle.

    The pipeline starts replaying sightings spooled before the restart before
    the tracker has read every vehicle's whereabouts. One announced in
    between used to reach no tracker: the car that left the city kept showing
    "inside", and its left-city event never came, until it was seen again.
    """
    left = async_capture_events(hass, EVENT_LEFT_CITY)
    listed_id = await watch(hass)
    _, sensor_id = vehicle_entities(hass, city, listed_id)
    await sight(hass, city, freezer, "centre", START)
    assert hass.states.get(sensor_id).state == "inside"
    assert await hass.config_entries.async_unload(city.entry_id)
    await hass.async_block_till_done()

    locate = RouteTracker.async_locate
    replayed: list[Sighting] = []

    async def locate_then_replay(self: RouteTracker, plate: str, **kwargs: Any) -> Any:
        found = await locate(self, plate, **kwargs)
        if not replayed:
            # The replay stores and announces an exit right after this vehicle was read.
            stored, _ = await hass.async_add_executor_job(
                city.runtime_data.store.record,
                NewSighting(
                    camera="gate_north",
                    seen_at=START + timedelta(minutes=20),
                    plate=PLATE,
                    raw=PLATE,
                    confidence=0.9,
                    source="folder",
                    direction=Direction.RECEDING,
                ),
            )
            city.runtime_data.hub.async_publish(stored)
            replayed.append(stored)
        return found

    freezer.move_to(START + timedelta(minutes=21))
    with patch.object(RouteTracker, "async_locate", locate_then_replay):
        assert await hass.config_entries.async_setup(city.entry_id)
        await hass.async_block_till_done()

    assert replayed
    assert hass.states.get(sensor_id).state == "left"
    assert [event.data["entry_id"] for event in left] == [listed_id]


async def test_an_exit_replayed_from_the_spool_after_a_restart_is_announced(
    hass: HomeAssistant, city: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """An exit that waited in the spool (the database refused it) counts once it is stored.

    It was never announced before the restart; the police must hear that
    the car left the city when it reaches the database, not at its next sighting.
    """
    left = async_capture_events(hass, EVENT_LEFT_CITY)
    listed_id = await watch(hass)
    _, sensor_id = vehicle_entities(hass, city, listed_id)
    await sight(hass, city, freezer, "centre", START)
    assert await hass.config_entries.async_unload(city.entry_id)
    await hass.async_block_till_done()

    def spool_an_exit() -> None:
        spool = SightingSpool.open(Path(hass.config.path(DOMAIN, SPOOL_FILE)))
        spool.append(
            NewSighting(
                camera="gate_north",
                seen_at=START + timedelta(minutes=20),
                plate=PLATE,
                raw=PLATE,
                confidence=0.9,
                source="folder",
                direction=Direction.RECEDING,
            )
        )

    await hass.async_add_executor_job(spool_an_exit)
    freezer.move_to(START + timedelta(minutes=21))
    assert await hass.config_entries.async_setup(city.entry_id)
    await hass.async_block_till_done()
    await wait_until(lambda: bool(left))

    assert hass.states.get(sensor_id).state == "left"
    assert [event.data["entry_id"] for event in left] == [listed_id]


async def test_a_sighting_announced_before_its_vehicle_is_first_read_is_not_missed(
    hass: HomeAssistant, city: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """An exit stored and announced while the tracker starts, before its vehicle's turn, still alarms.

    The tracker reads every watched vehicle one by one at start-up, while the
    spool is replayed. An exit stored before its vehicle is read is already in
    what that first reading shows, so handling the announcement afterwards
    found nothing new: the car was shown as gone but the left-city event that
    pages the police never came.
    """
    left = async_capture_events(hass, EVENT_LEFT_CITY)
    listed_id = await watch(hass)
    _, sensor_id = vehicle_entities(hass, city, listed_id)
    await sight(hass, city, freezer, "centre", START)
    assert hass.states.get(sensor_id).state == "inside"
    assert await hass.config_entries.async_unload(city.entry_id)
    await hass.async_block_till_done()

    locate = RouteTracker.async_locate
    replayed: list[Sighting] = []

    async def replay_then_locate(self: RouteTracker, plate: str, **kwargs: Any) -> Any:
        if not replayed:
            # The replay stores and announces an exit just before this vehicle is read.
            stored, _ = await hass.async_add_executor_job(
                city.runtime_data.store.record,
                NewSighting(
                    camera="gate_north",
                    seen_at=START + timedelta(minutes=20),
                    plate=PLATE,
                    raw=PLATE,
                    confidence=0.9,
                    source="folder",
                    direction=Direction.RECEDING,
                ),
            )
            city.runtime_data.hub.async_publish(stored)
            replayed.append(stored)
        return await locate(self, plate, **kwargs)

    freezer.move_to(START + timedelta(minutes=21))
    with patch.object(RouteTracker, "async_locate", replay_then_locate):
        assert await hass.config_entries.async_setup(city.entry_id)
        await hass.async_block_till_done()

    assert replayed
    assert hass.states.get(sensor_id).state == "left"
    assert [event.data["entry_id"] for event in left] == [listed_id]


async def test_an_exit_stored_before_a_purge_and_announced_after_it_is_announced(
    hass: HomeAssistant,
    city: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_admin_user: User,
) -> None:
    """A purge that ends while an exit waits to be announced must not swallow the left-city event.

    The pipeline stores a pass at once but announces it up to seconds later.
    A purge that ends meanwhile (of any plate: the nightly retention, an
    erasure) makes the tracker read every vehicle again without announcing,
    since a purge changes what is shown, not where a car went. That reading
    already held the waiting exit, so the vehicle was shown "left" in
    silence, and the exit's own announcement found nothing new: the event
    that pages the police never came.
    """
    left = async_capture_events(hass, EVENT_LEFT_CITY)
    listed_id = await watch(hass)
    _, sensor_id = vehicle_entities(hass, city, listed_id)
    await sight(hass, city, freezer, "centre", START)
    await sight(hass, city, freezer, "bridge", START, plate="KA0001AA")
    store = city.runtime_data.store
    freezer.move_to(START + timedelta(minutes=20))
    waiting, _ = await hass.async_add_executor_job(
        store.record,
        NewSighting(
            camera="gate_north",
            seen_at=START + timedelta(minutes=20),
            plate=PLATE,
            raw=PLATE,
            confidence=0.9,
            source="folder",
            direction=Direction.RECEDING,
        ),
    )

    removed = await call(
        hass,
        "purge_sightings",
        {"plate": "KA0001AA", "reason": "erased"},
        hass_admin_user,
    )
    await hass.async_block_till_done()
    city.runtime_data.hub.async_publish(waiting)
    await hass.async_block_till_done()

    assert removed == {"removed": 1}
    assert hass.states.get(sensor_id).state == "left"
    assert [event.data["entry_id"] for event in left] == [listed_id]
    assert left[0].data["status"]["decided_by"]["id"] == waiting.id


async def test_a_purge_between_reading_a_route_and_its_rows_loses_no_exit(
    hass: HomeAssistant,
    city: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A purge committing while the tracker reads a vehicle must not crash the reading.

    The tracker reads a vehicle's packed route first and the rows of the few
    sightings it looks at afterwards, in another read. A purge (retention,
    from its own thread) that erased one of them in between made the row
    lookup fail: the exit being handled was never announced.
    """
    left = async_capture_events(hass, EVENT_LEFT_CITY)
    listed_id = await watch(hass)
    _, sensor_id = vehicle_entities(hass, city, listed_id)
    await sight(hass, city, freezer, "centre", START)
    store = city.runtime_data.store
    purged: list[int] = []
    whereabouts = routes_module.packed_whereabouts
    # The alert's city status and the tracker read the vehicle in two threads at once.
    one_purge = threading.Lock()

    def purge_then_judge(packed: Any, *args: Any, **kwargs: Any) -> Any:
        with one_purge:
            if not purged and len(packed.ids) == 2:
                purged.append(store.purge(PLATE, until=START + timedelta(minutes=1)))
        return whereabouts(packed, *args, **kwargs)

    with patch.object(routes_module, "packed_whereabouts", purge_then_judge):
        leaving = await sight(
            hass,
            city,
            freezer,
            "gate_north",
            START + timedelta(minutes=20),
            direction=Direction.RECEDING,
        )

    assert purged == [1]
    assert "Traceback" not in caplog.text
    assert hass.states.get(sensor_id).state == "left"
    assert [event.data["entry_id"] for event in left] == [listed_id]
    assert left[0].data["status"]["decided_by"]["id"] == leaving.id


async def test_get_route_answers_while_a_purge_erases_part_of_it(
    hass: HomeAssistant, city: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A route asked for while a purge runs is the route without what was erased, not an unknown error."""
    await leave_the_city(hass, city, freezer)
    store = city.runtime_data.store
    purged: list[int] = []
    respond = routes_module.route_response

    def purge_then_respond(packed: Any, *args: Any, **kwargs: Any) -> Any:
        if not purged:
            purged.append(store.purge(PLATE, until=START + timedelta(minutes=1)))
        return respond(packed, *args, **kwargs)

    with patch.object(routes_module, "route_response", purge_then_respond):
        route = await call(
            hass, "get_route", {"plate": PLATE, "reason": "patrol check"}
        )

    assert purged == [1]
    assert route["sighting_count"] == 1
    assert [s["camera"] for s in route["trips"][0]["sightings"]] == ["gate_north"]


async def test_an_exit_waiting_to_be_announced_when_its_plate_is_listed_is_announced(
    hass: HomeAssistant, city: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A plate put on the watchlist while its exit waits to be announced still pages the police.

    The pipeline stores a pass at once but announces it seconds later. An
    officer who lists the plate in between gets the vehicle's first reading,
    which is never announced (it is not news) yet already holds the waiting
    exit: the vehicle was shown "left" in silence, and the exit's own
    announcement found nothing new, so the left-city event never came.
    """
    left = async_capture_events(hass, EVENT_LEFT_CITY)
    hits = async_capture_events(hass, "plate_tracker_watchlist_hit")
    await sight(hass, city, freezer, "centre", START)
    freezer.move_to(START + timedelta(minutes=20))
    waiting, _ = await hass.async_add_executor_job(
        city.runtime_data.store.record,
        NewSighting(
            camera="gate_north",
            seen_at=START + timedelta(minutes=20),
            plate=PLATE,
            raw=PLATE,
            confidence=0.9,
            source="folder",
            direction=Direction.RECEDING,
        ),
    )
    listed_id = await watch(hass)
    _, sensor_id = vehicle_entities(hass, city, listed_id)
    assert hass.states.get(sensor_id).state == "left"
    assert left == []

    city.runtime_data.hub.async_publish(waiting)
    await hass.async_block_till_done()

    assert [event.data["sighting_id"] for event in hits] == [waiting.id]
    assert hits[0].data["city_status"] == "left"
    assert [event.data["entry_id"] for event in left] == [listed_id]
    assert left[0].data["status"]["decided_by"]["id"] == waiting.id

    # Announced again unchanged (a pass's end): the vehicle left once.
    city.runtime_data.hub.async_publish(waiting)
    await hass.async_block_till_done()
    assert len(left) == 1


@pytest.mark.parametrize("read_at_exit", ["AE1234BX", "AEI234BK"])
async def test_an_alert_on_a_misread_at_an_exit_says_the_car_left(
    hass: HomeAssistant,
    city: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    read_at_exit: str,
) -> None:
    """A wanted car read right as it came in and misread as it drives out is reported leaving.

    The alert's city status is that of the read that matched, whose route
    holds the alerted sighting: the route of the listed plate joins a misread
    only with evidence of one pass, and would call a car photographed
    leaving at the exit "entered".
    """
    hits = async_capture_events(hass, "plate_tracker_watchlist_hit")
    await watch(hass)
    await sight(
        hass, city, freezer, "gate_north", START, direction=Direction.APPROACHING
    )
    assert hits[-1].data["city_status"] == "entered"
    leaving = await sight(
        hass,
        city,
        freezer,
        "gate_north",
        START + timedelta(hours=2),
        plate=read_at_exit,
        direction=Direction.RECEDING,
    )
    assert hits[-1].data["sighting_id"] == leaving.id
    assert hits[-1].data["city_status"] == "left"
