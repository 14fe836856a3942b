"""Tests of vehicle routes across cameras and of city status."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
import json

import pytest

from custom_components.plate_tracker.matching.journeys import (
    CLOCK_SKEW_ALLOWANCE,
    CameraInfo,
    CameraRole,
    CityReason,
    CityState,
    JoinReason,
    MatchKind,
    Route,
    RouteFlag,
    SightingColumns,
    build_route,
    city_status,
    haversine_km,
)
from custom_components.plate_tracker.records import Direction, Sighting

START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
PLATE = "AE1234BK"

CAMERAS = {
    camera.id: camera
    for camera in (
        CameraInfo(
            id="center", name="Khreshchatyk", latitude=50.4501, longitude=30.5234
        ),
        CameraInfo(id="podil", name="Podil", latitude=50.4656, longitude=30.5180),
        CameraInfo(
            id="west_exit",
            name="Zhytomyr highway exit",
            latitude=50.4547,
            longitude=30.3300,
            role=CameraRole.EXIT,
            leaving_direction=Direction.RECEDING,
        ),
        CameraInfo(
            id="east_exit",
            name="Boryspil highway exit",
            latitude=50.4000,
            longitude=30.7000,
            role=CameraRole.EXIT,
            leaving_direction=Direction.LEFT,
        ),
        CameraInfo(
            id="south_exit",
            name="Odesa highway exit (direction not set up)",
            latitude=50.3500,
            longitude=30.5000,
            role=CameraRole.EXIT,
        ),
        CameraInfo(id="lviv", name="Lviv centre", latitude=49.8397, longitude=24.0297),
    )
}


def sighting(
    sighting_id: int,
    camera: str,
    seconds: float,
    *,
    plate: str = PLATE,
    direction: Direction = Direction.UNKNOWN,
    event_id: str | None = None,
    confidence: float = 0.9,
) -> Sighting:
    """Return a stored sighting ``seconds`` after START."""
    return Sighting(
        id=sighting_id,
        camera=camera,
        seen_at=START + timedelta(seconds=seconds),
        plate=plate,
        raw=plate,
        confidence=confidence,
        source="frigate",
        event_id=event_id,
        region="ua",
        box=None,
        direction=direction,
        alternatives=(),
        has_crop=True,
        has_snapshot=True,
    )


def route_of(
    *sightings: Sighting, trip_gap: timedelta = timedelta(minutes=30)
) -> Route:
    """Build the route of PLATE on the test camera map."""
    return build_route(list(sightings), CAMERAS, plate=PLATE, trip_gap=trip_gap)


def test_route_follows_the_vehicle_across_cameras() -> None:
    """Investigators must see where the car went, in order, with where each camera stands.

    Stores may hand sightings over in any order; the route is always in time order.
    """
    route = route_of(
        sighting(3, "podil", 600, direction=Direction.APPROACHING, confidence=0.8),
        sighting(1, "west_exit", 0, direction=Direction.APPROACHING),
        sighting(2, "center", 300),
    )
    assert [(s.id, s.camera_name) for s in route] == [
        (1, "Zhytomyr highway exit"),
        (2, "Khreshchatyk"),
        (3, "Podil"),
    ]
    last = route.sighting(-1)
    assert (last.latitude, last.longitude) == (50.4656, 30.5180)
    assert last.seen_at == START + timedelta(seconds=600)
    assert last.direction is Direction.APPROACHING
    assert last.confidence == 0.8
    assert last.trip == 0
    assert last.flags == ()


def test_trips_split_after_a_gap_longer_than_trip_gap() -> None:
    """Monday's drive and Tuesday's drive are separate journeys; a red light is not a break."""
    route = route_of(
        sighting(1, "center", 0),
        sighting(2, "podil", 1800),
        sighting(3, "center", 3601),
        sighting(4, "podil", 90_000),
    )
    assert [(trip.start, trip.end) for trip in route.trips] == [(0, 2), (2, 3), (3, 4)]
    assert route.trips[0].started_at == START
    assert route.trips[0].ended_at == START + timedelta(seconds=1800)
    assert [s.trip for s in route] == [0, 0, 1, 2]
    assert route.sighting(2).trip == 1


def test_impossible_travel_flags_both_sightings_with_the_speed() -> None:
    """Kyiv then Lviv ten minutes later is a cloned plate or a misread; police must see it."""
    route = route_of(
        sighting(1, "center", 0),
        sighting(2, "lviv", 600),
        sighting(3, "lviv", 900),
    )
    [travel] = route.impossible_travel
    assert (travel.from_id, travel.to_id) == (1, 2)
    assert travel.distance_km == pytest.approx(468, abs=3)
    assert travel.speed_kmh == pytest.approx(travel.distance_km * 6)
    assert [s.flags for s in route] == [
        (RouteFlag.IMPOSSIBLE_TRAVEL,),
        (RouteFlag.IMPOSSIBLE_TRAVEL,),
        (),
    ]


def test_plausible_drives_are_not_flagged() -> None:
    """Flagging ordinary driving would send officers after clones that do not exist.

    1.8 km in 20 s is 320 km/h on paper, but NVR clocks disagree by seconds, so
    the clock-skew allowance must keep it unflagged.
    """
    assert haversine_km(50.4501, 30.5234, 50.4656, 30.5180) < 1.9
    assert timedelta(seconds=20) <= CLOCK_SKEW_ALLOWANCE
    route = route_of(
        sighting(1, "center", 0),
        sighting(2, "podil", 20),
        sighting(3, "west_exit", 600),
        sighting(4, "somewhere_unmapped", 601),
        sighting(5, "lviv", 602),
    )
    assert route.impossible_travel == ()


def test_same_instant_far_apart_has_no_speed() -> None:
    """Two cameras far apart at the same second is flagged; infinity is not a JSON number."""
    route = route_of(sighting(1, "center", 0), sighting(2, "west_exit", 0))
    [travel] = route.impossible_travel
    assert travel.speed_kmh is None
    assert travel.to_dict()["speed_kmh"] is None


def test_speed_limit_is_configurable() -> None:
    """A motorway region may need a higher limit than a city to avoid false flags."""
    sightings = [sighting(1, "center", 0), sighting(2, "west_exit", 120)]
    assert build_route(
        sightings, CAMERAS, plate=PLATE, trip_gap=timedelta(hours=1)
    ).impossible_travel
    assert not build_route(
        sightings, CAMERAS, plate=PLATE, trip_gap=timedelta(hours=1), max_speed_kmh=400
    ).impossible_travel


def test_misread_in_the_same_nvr_event_is_joined() -> None:
    """One NVR event is one car; a look-alike read in it belongs to the route."""
    route = route_of(
        sighting(1, "center", 0, event_id="ev1"),
        sighting(2, "center", 200, plate="AE12348K", event_id="ev1"),
    )
    [joined] = route.joined
    assert (joined.id, joined.plate, joined.kind, joined.reason, joined.anchor_id) == (
        2,
        "AE12348K",
        MatchKind.LOOKALIKE,
        JoinReason.SAME_EVENT,
        1,
    )
    assert route.sighting(joined.index).flags == (RouteFlag.JOINED_MISREAD,)


def test_one_event_id_at_two_cameras_is_two_events() -> None:
    """Camera-side ANPR units each count their events: one id at two cameras is two cars."""
    route = route_of(
        sighting(1, "center", 0, event_id="17"),
        sighting(2, "podil", 2, plate="AE12348K", event_id="17"),
    )
    assert route.joined == ()
    assert [m.id for m in route.not_joined] == [2]


def test_misread_late_in_a_long_nvr_event_is_joined() -> None:
    """A car waiting at a barrier stays in one NVR event for minutes; all its reads are one car."""
    route = route_of(
        sighting(1, "center", 0, event_id="ev1"),
        *(
            sighting(10 + n, "center", 50 * n, plate="AE12348K", event_id="ev1")
            for n in range(1, 6)
        ),
        sighting(20, "center", 400, plate="AE12348K", event_id="ev2"),
    )
    assert [(j.id, j.reason, j.anchor_id) for j in route.joined] == [
        (11, JoinReason.SAME_EVENT, 1),
        (12, JoinReason.SAME_EVENT, 1),
        (13, JoinReason.SAME_EVENT, 1),
        (14, JoinReason.SAME_EVENT, 1),
        (15, JoinReason.SAME_EVENT, 1),
    ]
    assert [m.id for m in route.not_joined] == [20]


def test_misread_in_the_same_pass_is_joined() -> None:
    """Seconds apart at the same camera is the same pass of the same car."""
    route = route_of(
        sighting(1, "center", 0),
        sighting(2, "center", 40, plate="AE124BK"),
        sighting(3, "podil", 300),
    )
    assert [(j.id, j.kind, j.reason, j.anchor_id) for j in route.joined] == [
        (2, MatchKind.ONE_EDIT, JoinReason.SAME_PASS, 1)
    ]
    assert [s.id for s in route] == [1, 2, 3]


def test_misreads_without_evidence_are_kept_apart_and_reported() -> None:
    """AE1234BX may be a different car; joining it without evidence would invent a journey.

    It is still reported, because it may be the wanted car read wrongly where
    no other camera saw it; a person decides.
    """
    route = route_of(
        sighting(1, "center", 0),
        sighting(2, "center", 600, plate="AE1234BX"),
        sighting(3, "podil", 10, plate="AE12348K"),
        sighting(4, "center", 5, plate="KA0001AA"),
    )
    assert [s.id for s in route] == [1]
    assert route.joined == ()
    assert [(m.id, m.plate, m.kind, m.camera) for m in route.not_joined] == [
        (3, "AE12348K", MatchKind.LOOKALIKE, "podil"),
        (2, "AE1234BX", MatchKind.ONE_EDIT, "center"),
    ]


def test_misread_is_joined_to_the_nearest_read_of_the_real_plate() -> None:
    """The anchor is the evidence shown to a person; it must be the closest read, not any."""
    route = route_of(
        sighting(1, "center", 0),
        sighting(2, "center", 50),
        sighting(3, "center", 55, plate="AE12348K"),
        sighting(4, "center", 100),
    )
    assert [j.anchor_id for j in route.joined] == [2]


def test_route_input_forms_agree() -> None:
    """The store may hand over rows (fast path) or Sighting objects; the route is the same."""
    sightings = [sighting(1, "center", 0, event_id="ev1"), sighting(2, "lviv", 60)]
    rows = [
        (
            s.id,
            s.camera,
            s.seen_at.timestamp(),
            s.plate,
            s.confidence,
            s.direction.value,
            s.event_id,
        )
        for s in sightings
    ]
    from_objects = route_of(*sightings)
    from_rows = build_route(
        SightingColumns.from_rows(rows),
        CAMERAS,
        plate=PLATE,
        trip_gap=timedelta(minutes=30),
    )
    assert from_rows.to_dict() == from_objects.to_dict()


def test_route_to_dict_is_json_with_iso_times_and_flags() -> None:
    """Service responses go over the websocket as JSON; times must be ISO and flags strings."""
    route = route_of(
        sighting(1, "center", 0, direction=Direction.APPROACHING, event_id="ev1"),
        sighting(2, "center", 1, plate="AE12348K", event_id="ev1"),
        sighting(3, "lviv", 600),
        sighting(4, "center", 1200, plate="AE1234BX"),
    )
    data = json.loads(json.dumps(route.to_dict()))
    assert data["plate"] == PLATE
    assert data["sighting_count"] == 3
    assert data["truncated"] is False
    [trip] = data["trips"]
    assert trip["start"] == "2026-06-01T08:00:00+00:00"
    assert trip["first_camera"] == "center"
    first = trip["sightings"][0]
    assert first == {
        "id": 1,
        "time": "2026-06-01T08:00:00+00:00",
        "camera": "center",
        "camera_name": "Khreshchatyk",
        "latitude": 50.4501,
        "longitude": 30.5234,
        "plate": PLATE,
        "direction": "approaching",
        "confidence": 0.9,
        "event_id": "ev1",
        "trip": 0,
        "flags": [],
    }
    assert trip["sightings"][1]["flags"] == ["joined_misread", "impossible_travel"]
    assert data["joined"] == [
        {
            "id": 2,
            "plate": "AE12348K",
            "kind": "lookalike",
            "reason": "same_event",
            "anchor_id": 1,
        }
    ]
    assert data["impossible_travel"][0]["from_id"] == 2
    assert data["not_joined"][0]["id"] == 4


def test_route_to_dict_lists_only_the_latest_sightings_when_asked() -> None:
    """A phone cannot draw 100,000 points; the newest matter, and the cut must be said.

    Only what concerns the listed sightings is listed, so the answer stays
    small however long the history; the counts still cover everything.
    """
    route = route_of(
        sighting(1, "center", 0),
        sighting(2, "lviv", 60),
        sighting(3, "center", 4000, event_id="ev3"),
        sighting(4, "center", 4001, plate="AE12348K", event_id="ev3"),
        sighting(5, "center", 9000),
        sighting(6, "podil", 9300),
    )
    data = route.to_dict(max_sightings=3)
    assert (data["truncated"], data["sighting_count"], data["trip_count"]) == (
        True,
        6,
        3,
    )
    assert [trip["index"] for trip in data["trips"]] == [1, 2]
    assert [[s["id"] for s in trip["sightings"]] for trip in data["trips"]] == [
        [4],
        [5, 6],
    ]
    assert [item["id"] for item in data["joined"]] == [4]
    assert data["impossible_travel"] == []
    # Lviv in between Kyiv sightings is impossible on both sides.
    assert [
        item["from_id"] for item in route.to_dict(max_sightings=4)["impossible_travel"]
    ] == [2]
    assert [
        item["from_id"] for item in route.to_dict(max_sightings=5)["impossible_travel"]
    ] == [1, 2]
    assert route.to_dict(max_sightings=0)["trips"] == []
    assert route.to_dict(max_sightings=6)["truncated"] is False


def test_route_to_dict_lists_every_misread_when_nothing_is_cut() -> None:
    """A look-alike read older than the plate's first read, or of a plate never read as itself, is listed.

    Those may be the only record of the wanted car at an exit; an uncut
    answer that hid them would say nothing was left out.
    """
    only_misread = route_of(
        sighting(1, "west_exit", 0, plate="AEI234BK", direction=Direction.RECEDING)
    )
    data = only_misread.to_dict(max_sightings=500)
    assert (data["sighting_count"], data["truncated"]) == (0, False)
    assert [item["id"] for item in data["not_joined"]] == [1]
    misread_first = route_of(
        sighting(1, "west_exit", 0, plate="AEI234BK"), sighting(2, "center", 3600)
    )
    for limit in (None, 500):
        listed = misread_first.to_dict(max_sightings=limit)["not_joined"]
        assert [item["id"] for item in listed] == [1]
    assert misread_first.to_dict(max_sightings=0)["not_joined"] == []


def test_empty_route() -> None:
    """A plate never seen has an empty route, not an error."""
    route = route_of()
    assert len(route) == 0
    assert route.trips == ()
    assert route.to_dict()["trips"] == []


def test_bad_arguments_are_refused() -> None:
    """A zero trip gap or speed limit is a configuration slip that would make every route nonsense."""
    with pytest.raises(ValueError, match="trip_gap"):
        route_of(sighting(1, "center", 0), trip_gap=timedelta(0))
    with pytest.raises(ValueError, match="max_speed"):
        build_route(
            [], CAMERAS, plate=PLATE, trip_gap=timedelta(hours=1), max_speed_kmh=0
        )
    with pytest.raises(ValueError, match="location"):
        CameraInfo(id="x", name="x", latitude=130.0, longitude=50.0)


def test_naive_sighting_time_is_refused() -> None:
    """A naive time would be read in the host's zone and misplace the car by hours."""
    naive = replace(sighting(1, "center", 0), seen_at=START.replace(tzinfo=None))
    with pytest.raises(ValueError, match="timezone"):
        route_of(naive)


def status(*sightings: Sighting) -> tuple[CityState, CityReason, int | None]:
    """Return state, reason and the id of the deciding sighting."""
    result = city_status(list(sightings), CAMERAS)
    return (
        result.state,
        result.reason,
        result.decided_by.id if result.decided_by else None,
    )


def test_last_seen_inside() -> None:
    """A car last seen by a camera inside the city is inside."""
    assert status(
        sighting(1, "west_exit", 0, direction=Direction.RECEDING),
        sighting(2, "center", 60),
    ) == (
        CityState.INSIDE,
        CityReason.INSIDE_CAMERA,
        2,
    )


def test_left_through_an_exit() -> None:
    """Last seen leaving at an exit and not inside since: the car has left the city."""
    assert status(
        sighting(1, "center", 0),
        sighting(2, "west_exit", 600, direction=Direction.RECEDING),
    ) == (
        CityState.LEFT,
        CityReason.EXIT_LEAVING,
        2,
    )
    assert (
        status(sighting(1, "east_exit", 0, direction=Direction.LEFT))[0]
        is CityState.LEFT
    )


def test_entered_through_an_exit_then_seen_inside() -> None:
    """Coming in through an exit is "entered"; seen inside afterwards it is simply inside."""
    entering = sighting(1, "west_exit", 0, direction=Direction.APPROACHING)
    assert status(entering) == (CityState.ENTERED, CityReason.EXIT_ENTERING, 1)
    assert status(entering, sighting(2, "podil", 900))[0] is CityState.INSIDE


def test_left_then_came_back() -> None:
    """A car that left and is seen inside again is inside; "left" must not stick."""
    assert (
        status(
            sighting(1, "west_exit", 0, direction=Direction.RECEDING),
            sighting(2, "center", 7200),
        )[0]
        is CityState.INSIDE
    )


def test_unknown_direction_at_an_exit_never_guesses() -> None:
    """Saying "left" on a guess could stop a search for a car still in the city.

    The status is unknown, decided by the exit sighting, and carries what was
    known before it so a person can judge.
    """
    result = city_status(
        [sighting(1, "center", 0), sighting(2, "west_exit", 600)], CAMERAS
    )
    assert (result.state, result.reason) == (
        CityState.UNKNOWN,
        CityReason.EXIT_DIRECTION_UNKNOWN,
    )
    assert result.decided_by is not None
    assert result.decided_by.id == 2
    assert result.last_known_state is CityState.INSIDE
    assert result.last_known_by is not None
    assert result.last_known_by.id == 1


def test_crossing_an_exit_sideways_is_not_a_direction() -> None:
    """Moving across the exit camera's view says nothing about leaving or entering."""
    assert status(sighting(1, "west_exit", 0, direction=Direction.LEFT))[:2] == (
        CityState.UNKNOWN,
        CityReason.EXIT_DIRECTION_UNKNOWN,
    )


def test_direction_known_on_another_frame_of_the_same_pass_decides() -> None:
    """NVRs often know the direction only on some frames; the pass still has a direction."""
    assert status(
        sighting(1, "west_exit", 0, direction=Direction.RECEDING),
        sighting(2, "west_exit", 3),
        sighting(3, "west_exit", 6),
    ) == (CityState.LEFT, CityReason.EXIT_LEAVING, 1)


def test_direction_from_an_earlier_pass_does_not_decide() -> None:
    """An hour-old direction at the same exit belongs to another pass; using it would guess."""
    result = city_status(
        [
            sighting(1, "west_exit", 0, direction=Direction.APPROACHING),
            sighting(2, "west_exit", 3600),
        ],
        CAMERAS,
    )
    assert result.state is CityState.UNKNOWN
    assert result.last_known_state is CityState.ENTERED


def test_exit_without_configured_direction() -> None:
    """An exit whose leaving direction nobody set up must say so, not pretend to know."""
    assert status(sighting(1, "south_exit", 0, direction=Direction.RECEDING))[:2] == (
        CityState.UNKNOWN,
        CityReason.EXIT_NOT_CONFIGURED,
    )


def test_unmapped_cameras_say_nothing_about_the_city() -> None:
    """A camera not on the map cannot place the car inside or outside."""
    assert status(sighting(1, "center", 0), sighting(2, "driveway", 60)) == (
        CityState.INSIDE,
        CityReason.INSIDE_CAMERA,
        1,
    )
    assert status(sighting(1, "driveway", 0)) == (
        CityState.UNKNOWN,
        CityReason.NO_MAPPED_CAMERA,
        None,
    )
    assert status() == (CityState.UNKNOWN, CityReason.NO_SIGHTINGS, None)


def test_an_unmapped_camera_does_not_split_an_exit_pass() -> None:
    """An overview camera off the map reading the car mid-pass leaves the gate's frames one pass.

    Split, the gate's later frame without a direction would be a pass of its
    own: "left" would turn "unknown", and the next directed frame would
    announce the same departure again.
    """
    assert status(
        sighting(1, "west_exit", 0, direction=Direction.RECEDING),
        sighting(2, "driveway", 2),
        sighting(3, "west_exit", 4),
    ) == (CityState.LEFT, CityReason.EXIT_LEAVING, 1)


def test_city_status_of_a_route_and_as_json() -> None:
    """``where_is`` answers from a route and returns JSON with the deciding sighting."""
    route = route_of(
        sighting(1, "center", 0),
        sighting(2, "west_exit", 600, direction=Direction.RECEDING),
    )
    data = json.loads(json.dumps(city_status(route, CAMERAS).to_dict()))
    assert data["state"] == "left"
    assert data["reason"] == "exit_leaving"
    assert data["decided_by"]["camera_name"] == "Zhytomyr highway exit"
    assert data["decided_by"]["time"] == "2026-06-01T08:10:00+00:00"
    assert data["last_known_state"] is None


def test_camera_entering_direction() -> None:
    """The entering direction is the opposite of the configured leaving direction."""
    assert CAMERAS["west_exit"].entering_direction is Direction.APPROACHING
    assert CAMERAS["east_exit"].entering_direction is Direction.RIGHT
    assert CAMERAS["south_exit"].entering_direction is None
    assert CAMERAS["center"].role is CameraRole.INSIDE


def test_city_status_of_rows_in_any_order() -> None:
    """``where_is`` may be answered from raw store rows; their order must not change the answer."""
    rows = [
        (2, "west_exit", START.timestamp() + 600, PLATE, 0.9, "receding", None),
        (1, "center", START.timestamp(), PLATE, 0.9, "unknown", None),
    ]
    result = city_status(SightingColumns.from_rows(iter(rows)), CAMERAS)
    assert (result.state, result.decided_by.id if result.decided_by else None) == (
        CityState.LEFT,
        2,
    )


def test_unknown_direction_value_counts_as_unknown() -> None:
    """A newer source may send a direction this version does not know; it must not crash or guess."""
    rows = [(1, "west_exit", START.timestamp(), PLATE, 0.9, "north", None)]
    route = build_route(
        SightingColumns.from_rows(rows),
        CAMERAS,
        plate=PLATE,
        trip_gap=timedelta(hours=1),
    )
    assert route.sighting(0).direction is Direction.UNKNOWN
    assert city_status(route, CAMERAS).state is CityState.UNKNOWN


def test_a_look_alike_car_in_its_own_nvr_event_is_not_joined() -> None:
    """Two cars whose plates look alike, seconds apart at one exit, are two cars.

    The NVR tracked them as two objects (two events). Joining the second one's
    reads would mix its route into the wanted car's and let its direction
    decide: the wanted car drove out, the other one came in, and the route
    said "entered" to the police looking for a car that had left.
    """
    route = route_of(
        sighting(1, "center", 0),
        sighting(2, "west_exit", 600, direction=Direction.RECEDING, event_id="ev1"),
        sighting(
            3,
            "west_exit",
            620,
            plate="AE12348K",
            direction=Direction.APPROACHING,
            event_id="ev2",
        ),
    )
    assert [s.id for s in route] == [1, 2]
    assert route.joined == ()
    assert [m.id for m in route.not_joined] == [3]
    assert city_status(route, CAMERAS).state is CityState.LEFT


def test_a_direction_this_version_does_not_know_does_not_hide_a_known_one() -> None:
    """A frame with a direction value this version cannot read says nothing.

    It counts as unknown everywhere else; at an exit it used to be the pass's
    latest "direction" and turned a clear departure into "unknown".
    """
    rows = [
        (1, "west_exit", START.timestamp(), PLATE, 0.9, "receding", None),
        (2, "west_exit", START.timestamp() + 3, PLATE, 0.9, "north", None),
    ]
    result = city_status(SightingColumns.from_rows(rows), CAMERAS)
    assert (result.state, result.decided_by.id if result.decided_by else None) == (
        CityState.LEFT,
        1,
    )
