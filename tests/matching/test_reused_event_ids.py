"""An NVR event id seen again much later is another event for the routes and the city status.

Camera-side ANPR units and some NVRs count their event ids from 1 again after
a restart. The store takes reads with one (source, camera, event id) as one
event only within an hour (``SAME_EVENT_WITHIN_US``); a route must not join a
look-alike to the wanted plate as "the same event" on an id that came back a
day later, nor let that other car's direction decide whether the wanted car
left the city.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from custom_components.plate_tracker.matching.journeys import (
    CameraInfo,
    CameraRole,
    CityState,
    JoinReason,
    build_route,
    city_status,
    packed_whereabouts,
    route_response,
)
from custom_components.plate_tracker.records import Direction, NewSighting, Sighting
from custom_components.plate_tracker.store import SightingStore

START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
PLATE = "AE1234BK"
LOOKALIKE = "AE12348K"
TRIP_GAP = timedelta(minutes=30)
CAMERAS = {
    "west_exit": CameraInfo(
        id="west_exit",
        name="Zhytomyr highway exit",
        latitude=50.4547,
        longitude=30.3300,
        role=CameraRole.EXIT,
        leaving_direction=Direction.RECEDING,
    ),
}


def sighting(
    sighting_id: int, seconds: float, plate: str, direction: Direction
) -> Sighting:
    """Return a sighting of event ``7`` at the west exit, ``seconds`` after START."""
    return Sighting(
        id=sighting_id,
        camera="west_exit",
        seen_at=START + timedelta(seconds=seconds),
        plate=plate,
        raw=plate,
        confidence=0.9,
        source="anpr",
        event_id="7",
        region=None,
        box=None,
        direction=direction,
        alternatives=(),
        has_crop=False,
        has_snapshot=False,
    )


def test_a_look_alike_with_a_reused_event_id_a_day_later_is_not_joined() -> None:
    """The wanted car came in yesterday; today a look-alike car with the camera's reused event 7 drove out.

    Joined as "the same event", the other car's sighting became the wanted
    car's latest, and the city status told the police it had left.
    """
    route = build_route(
        [
            sighting(1, 0, PLATE, Direction.APPROACHING),
            sighting(2, 24 * 3600, LOOKALIKE, Direction.RECEDING),
        ],
        CAMERAS,
        plate=PLATE,
        trip_gap=TRIP_GAP,
    )
    assert [s.id for s in route] == [1]
    assert route.joined == ()
    assert [m.id for m in route.not_joined] == [2]
    assert city_status(route, CAMERAS).state is CityState.ENTERED


def test_a_look_alike_in_one_event_within_the_hour_is_still_joined() -> None:
    """A car held at the exit's barrier for 50 minutes stays one event: its misread is joined."""
    route = build_route(
        [
            sighting(1, 0, PLATE, Direction.UNKNOWN),
            sighting(2, 50 * 60, LOOKALIKE, Direction.RECEDING),
        ],
        CAMERAS,
        plate=PLATE,
        trip_gap=TRIP_GAP,
    )
    assert [(j.id, j.reason, j.anchor_id) for j in route.joined] == [
        (2, JoinReason.SAME_EVENT, 1)
    ]
    assert city_status(route, CAMERAS).state is CityState.LEFT


def test_the_stores_packed_route_keeps_a_reused_event_id_apart(
    tmp_path: Path,
) -> None:
    """``get_route``, ``where_is`` and the watchlist tracker answer from the store's packed columns: the same rule holds there."""
    with SightingStore.open(tmp_path / "sightings.db") as store:
        for seconds, plate, direction in (
            (0, PLATE, Direction.APPROACHING),
            (24 * 3600, LOOKALIKE, Direction.RECEDING),
        ):
            _, created = store.record(
                NewSighting(
                    camera="west_exit",
                    seen_at=START + timedelta(seconds=seconds),
                    plate=plate,
                    raw=plate,
                    confidence=0.9,
                    source="anpr",
                    event_id="7",
                    direction=direction,
                )
            )
            assert created, "the store keeps the two cars apart"
        packed = store.route_columns(PLATE, include_lookalikes=True)
        response = route_response(
            packed, CAMERAS, plate=PLATE, trip_gap=TRIP_GAP, max_sightings=None
        )
        status, last = packed_whereabouts(
            packed, CAMERAS, plate=PLATE, trip_gap=TRIP_GAP
        )

    assert response["joined"] == []
    assert [m["plate"] for m in response["not_joined"]] == [LOOKALIKE]
    assert status.state is CityState.ENTERED
    assert last is not None
    assert (last.plate, last.seen_at) == (PLATE, START)
