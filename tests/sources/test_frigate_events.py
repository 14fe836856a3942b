"""Which Frigate event messages are worth reading (plain Python)."""

from __future__ import annotations

from collections import Counter
import copy
from datetime import UTC, datetime
import json
import random
from typing import Any

import pytest

from custom_components.plate_tracker.matching.movement import direction_from_boxes
from custom_components.plate_tracker.records import Direction
from custom_components.plate_tracker.sources.frigate import (
    MAX_FRAME_SIDE,
    MAX_OPEN_EVENTS,
    SNAPSHOT_RETRY_DELAYS,
    FrigateEventTracker,
    MalformedEventError,
    SnapshotDownloads,
    direction_from_zones,
)


def message(
    kind: str, frame_time: float | None, *, event_id: str = "e1", **after: Any
) -> str:
    """Return a Frigate events payload whose snapshot (if any) has ``frame_time``."""
    body: dict[str, Any] = {
        "id": event_id,
        "camera": "bridge",
        "label": "car",
        "has_snapshot": frame_time is not None,
        **after,
    }
    if frame_time is not None:
        body["snapshot"] = {"frame_time": frame_time, "box": [10, 20, 300, 400]}
    return json.dumps({"type": kind, "before": body, "after": body})


def test_new_frames_are_read_once_and_end_always_completes() -> None:
    """Only a changed snapshot costs a fetch; the end always closes the pass, even without a new frame."""
    tracker = FrigateEventTracker()
    first = tracker.handle(message("new", 1.0))
    assert first is not None
    assert (first.fetch, first.final, first.vehicle_box) == (
        True,
        False,
        (10, 20, 300, 400),
    )
    assert tracker.handle(message("update", 1.0)) is None
    better = tracker.handle(message("update", 2.0))
    assert better is not None
    assert better.fetch
    end = tracker.handle(message("end", 2.0))
    assert end is not None
    assert (end.fetch, end.final) == (False, True)
    assert tracker.open_events == 0


def test_events_without_snapshot_wait_for_one() -> None:
    """Frigate announces objects before it has a snapshot; nothing is fetched until it has."""
    tracker = FrigateEventTracker()
    assert tracker.handle(message("new", None)) is None
    request = tracker.handle(message("end", None))
    assert request is not None
    assert (request.fetch, request.final) == (False, True)


@pytest.mark.parametrize(
    "after",
    [{"label": "person"}, {"label": "car", "false_positive": True}],
)
def test_other_objects_are_ignored(after: dict[str, Any]) -> None:
    """People and false positives never cost a snapshot download or an inference."""
    assert FrigateEventTracker().handle(message("new", 1.0, **after)) is None


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\xff",
        "null",
        "[1]",
        '{"type":"gone","after":{}}',
        '{"type":"new","after":{"id":"x"}}',
        '{"type":"new","after":{"id":"x","camera":"c","label":["car"]}}',
        '{"type":"new","after":{"id":"x","camera":"c","label":{"car":1}}}',
        # Nested deeper than Python's JSON decoder recurses: RecursionError.
        # The id is a path segment of Frigate's API: none may leave it.
        '{"type":"new","after":{"id":"../../api/config","camera":"c","label":"car"}}',
        '{"type":"new","after":{"id":"..","camera":"c","label":"car"}}',
        '{"type":"new","after":{"id":"a/b","camera":"c","label":"car"}}',
        '{"type":"new","after":{"id":"","camera":"c","label":"car"}}',
        # Frigate's config takes only these names; each camera gets a device.
        '{"type":"new","after":{"id":"x","camera":"gate/../x","label":"car"}}',
        '{"type":"new","after":{"id":"x","camera":"","label":"car"}}',
        pytest.param(
            '{"type":"new","after":{"id":"x","camera":"%s","label":"car"}}'
            % ("c" * 129),
            id="camera-name-too-long",
        ),
        pytest.param("[" * 100_000, id="arrays-nested-too-deep"),
        pytest.param('{"a":' * 100_000, id="objects-nested-too-deep"),
    ],
)
def test_malformed_payloads_raise(payload: bytes | str) -> None:
    """A malformed payload is reported to the caller, who counts it."""
    with pytest.raises(MalformedEventError):
        FrigateEventTracker().handle(payload)


def hostile(kind: str, value: Any) -> str:
    """Return an events payload with ``value`` in every number but the start time."""
    return json.dumps(
        {
            "type": kind,
            "after": {
                "id": "e1",
                "camera": "bridge",
                "label": "car",
                "has_snapshot": True,
                "box": [10, 20, value, 400],
                "frame_time": value,
                "start_time": 1_700_000_000.0,
                "snapshot": {"frame_time": value, "box": [value, 20, 300, 400]},
                "recognized_license_plate": "AE1234BK",
                "recognized_license_plate_score": value,
            },
        }
    )


def soon_after_start() -> datetime:
    """Return the arrival time of the ``hostile`` messages: a minute after their start."""
    return datetime.fromtimestamp(1_700_000_060, UTC)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), True])
def test_numbers_that_are_not_numbers_are_left_out(value: Any) -> None:
    """Python's JSON reads NaN and Infinity: neither is a box, a frame time or a score.

    None of them may raise out of the MQTT callback, and the end still
    completes the pass with what the message does say: having a snapshot, it
    reads it, since no frame of the event was read.
    """
    counters: Counter[str] = Counter()
    tracker = FrigateEventTracker(clock=soon_after_start, counters=counters)
    # Without a usable frame time there is no new frame to fetch.
    assert tracker.handle(hostile("new", value)) is None
    assert tracker.handle(hostile("update", value)) is None
    end = tracker.handle(hostile("end", value))
    assert end is not None
    assert (end.fetch, end.final) == (True, True)
    assert end.vehicle_box is None
    # The message box and the snapshot box of each of the three messages.
    assert counters["frigate_malformed_boxes"] == 6
    assert end.anpr_score is None
    assert end.anpr_plate == "AE1234BK"
    assert end.seen_at.timestamp() == 1_700_000_000.0


@pytest.mark.parametrize(
    ("told", "arrived", "believed"),
    [
        # Minutes late (a slow network) or early (drift): Frigate's time stands.
        (1_700_000_000.0, 1_700_000_300.0, True),
        (1_700_000_000.0, 1_699_999_400.0, True),
        # A host whose clock fell back to 2000 after a power cut, or runs a
        # day ahead: the arrival stands in, so retention does not purge the
        # sighting at once nor does it stay its camera's latest for good.
        (946_684_800.0, 1_700_000_000.0, False),
        (1_700_086_400.0, 1_700_000_000.0, False),
    ],
)
def test_a_frigate_clock_far_off_is_overruled_by_arrival(
    told: float, arrived: float, believed: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """The same rule as an inbox camera's clock; warned about once per camera."""
    tracker = FrigateEventTracker(clock=lambda: datetime.fromtimestamp(arrived, UTC))
    for event_id in ("e1", "e2"):
        request = tracker.handle(message("new", told, event_id=event_id))
        assert request is not None
        assert request.seen_at.timestamp() == (told if believed else arrived)
    warnings = caplog.text.count("its clock looks wrong")
    assert warnings == (0 if believed else 1)


@pytest.mark.parametrize("value", [1e300, 10**30, -5.0])
def test_numbers_out_of_range_give_no_time_and_no_score(value: float) -> None:
    """A frame time past any calendar (or before 1970) falls back to the start time; a score outside 0..1 is none."""
    request = FrigateEventTracker(clock=soon_after_start).handle(hostile("new", value))
    assert request is not None
    assert request.fetch
    assert request.seen_at.timestamp() == 1_700_000_000.0
    assert request.anpr_score is None


def test_a_frigate_plus_plate_attribute_is_passed_on_as_the_plate_box() -> None:
    """A Frigate+ model marks where it sees the plate; the engine reads there first.

    Only the snapshot's own attributes count (they are in the fetched image's
    pixels), the likeliest of several, and never a malformed one.
    """
    snapshot = {
        "frame_time": 1.0,
        "box": [10, 20, 300, 400],
        "attributes": [
            {"label": "face", "box": [1, 2, 3, 4], "score": 0.99},
            {"label": "license_plate", "box": [100, 300, 160, 318], "score": 0.71},
            {"label": "license_plate", "box": [120, 310, 180, 330], "score": 0.88},
            {"label": "license_plate", "box": [0, 0, float("nan"), 9], "score": 0.95},
            "license_plate",
        ],
    }
    payload = json.dumps(
        {
            "type": "new",
            "after": {
                "id": "e1",
                "camera": "bridge",
                "label": "car",
                "has_snapshot": True,
                "snapshot": snapshot,
                "current_attributes": [
                    {"label": "license_plate", "box": [5, 5, 50, 20], "score": 0.99}
                ],
            },
        }
    )
    request = FrigateEventTracker().handle(payload)
    assert request is not None
    assert request.plate_box == (120, 310, 180, 330)
    request = FrigateEventTracker().handle(message("new", 1.0))
    assert request is not None
    assert request.plate_box is None


@pytest.mark.parametrize("huge", [1e200, 10**200, MAX_FRAME_SIDE + 1])
def test_boxes_far_outside_any_picture_are_left_out_and_counted(
    huge: float, caplog: pytest.LogCaptureFixture
) -> None:
    """Finite numbers beyond any snapshot's pixels are no box: left out and counted, never raised.

    The movement between two such boxes overflowed a float: the error escaped
    the MQTT callback after the event was recorded, so the end's snapshot was
    never read and the vehicle was lost.
    """

    def at(kind: str, frame_time: float, box: list[Any]) -> str:
        snapshot = {"frame_time": frame_time, "box": box}
        return message(kind, None, has_snapshot=True, box=box, snapshot=snapshot)

    counters: Counter[str] = Counter()
    tracker = FrigateEventTracker(counters=counters)
    assert tracker.handle(at("new", 1.0, [0, 0, 1, 1])) is not None
    update = tracker.handle(at("update", 2.0, [0, 0, huge, huge]))
    end = tracker.handle(at("end", 2.0, [0, 0, huge, huge]))
    assert update is not None
    assert update.fetch
    assert end is not None
    assert (end.final, end.vehicle_box, end.direction) == (
        True,
        None,
        Direction.UNKNOWN,
    )
    # The current box and the snapshot's, in the update and the end.
    assert counters["frigate_malformed_boxes"] == 4
    assert "Left out 2 malformed box(es) of Frigate event e1" in caplog.text
    # The edge of a JPEG is still in the picture (another event: e1 ended).
    edge = tracker.handle(
        message(
            "new",
            None,
            event_id="e2",
            has_snapshot=True,
            box=[0, 0, MAX_FRAME_SIDE, 9],
            snapshot={"frame_time": 1.0, "box": [0, 0, MAX_FRAME_SIDE, 9]},
        )
    )
    assert edge is not None
    assert edge.vehicle_box == (0, 0, MAX_FRAME_SIDE, 9)
    assert counters["frigate_malformed_boxes"] == 4


def test_movement_of_boxes_no_float_holds_is_unknown() -> None:
    """Whatever boxes reach it, the movement rule answers: one it cannot compute in floats is unknown."""
    small, huge, beyond = (0, 0, 1, 1), (0, 0, 10**200, 10**200), (0, 0, 10**400, 1)
    assert direction_from_boxes(small, huge) is Direction.UNKNOWN
    assert direction_from_boxes(small, beyond) is Direction.UNKNOWN
    assert direction_from_boxes(beyond, small) is Direction.UNKNOWN


def test_a_plate_read_the_store_cannot_write_is_left_out_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Frigate's plate read with a lone surrogate (valid JSON) is dropped; the snapshot is still read.

    SQLite refuses such text: kept, the sighting went to the spool and blocked
    every later one there.
    """
    counters: Counter[str] = Counter()
    tracker = FrigateEventTracker(counters=counters)
    request = tracker.handle(
        message(
            "end",
            1.0,
            recognized_license_plate="AE1234BK\ud800",
            recognized_license_plate_score=0.9,
        )
    )
    assert request is not None
    assert (request.fetch, request.anpr_plate) == (True, None)
    assert counters["frigate_malformed_plates"] == 1
    assert "Left out Frigate's plate read 'AE1234BK\\ud800'" in caplog.text
    missed = tracker.handle_missed(
        {
            "id": "e2",
            "camera": "bridge",
            "label": "car",
            "has_snapshot": True,
            "start_time": 1764065700.0,
            "end_time": 1764065709.0,
            "data": {"recognized_license_plate": "\udc00"},
        }
    )
    assert missed is not None
    assert missed.anpr_plate is None
    assert counters["frigate_malformed_plates"] == 2


def test_an_end_reads_a_snapshot_no_frame_time_announced() -> None:
    """An event with a snapshot but no usable frame time reads it at its end, once.

    Without a frame time no message is a new frame; the end reading nothing
    either lost the vehicle without a word.
    """
    for frame_time in (None, "1764065701.5"):
        tracker = FrigateEventTracker()
        after = {
            "id": "e1",
            "camera": "bridge",
            "label": "car",
            "has_snapshot": True,
            "frame_time": "1764065701.5",
            "snapshot": {"frame_time": frame_time, "box": [300, 250, 1000, 700]},
        }
        for kind in ("new", "update"):
            assert tracker.handle(json.dumps({"type": kind, "after": after})) is None
        end = tracker.handle(json.dumps({"type": "end", "after": after}))
        assert end is not None
        assert (end.fetch, end.final) == (True, True)
    # An event one of whose frames was read has nothing new for such an end.
    tracker = FrigateEventTracker()
    assert tracker.handle(message("new", 1.0)) is not None
    end = tracker.handle(message("end", None, has_snapshot=True))
    assert end is not None
    assert (end.fetch, end.final) == (False, True)


def test_open_events_are_bounded() -> None:
    """Events Frigate never ended (it restarted) must not grow memory without bound."""
    tracker = FrigateEventTracker()
    for index in range(MAX_OPEN_EVENTS + 50):
        tracker.handle(message("new", 1.0, event_id=f"e{index}"))
    assert tracker.open_events == MAX_OPEN_EVENTS


def test_a_failed_download_leaves_the_frame_for_the_end() -> None:
    """The tracker counts a frame seen when it asks for it; a failed download undoes that for the end."""
    tracker, downloads = FrigateEventTracker(), SnapshotDownloads()
    first = tracker.handle(message("new", 1.0))
    end = tracker.handle(message("end", 1.0))
    assert first is not None
    assert end is not None
    assert (first.fetch, end.fetch) == (True, False)
    # Read: the end has nothing new to download.
    downloads.downloaded("e1")
    assert downloads.wanted(first)
    assert not downloads.wanted(end)
    assert downloads.retry_delays(end) == ()
    # Not read: the end downloads it, tried again only while nothing of the event was read.
    downloads.failed("e1")
    assert downloads.wanted(end)
    assert downloads.retry_delays(end) == ()
    downloads.ended("e1")
    downloads.failed("e1")
    assert downloads.wanted(end)
    assert downloads.retry_delays(end) == SNAPSHOT_RETRY_DELAYS
    assert downloads.retry_delays(first) == ()
    assert sum(SNAPSHOT_RETRY_DELAYS) <= 300


def test_a_missed_end_from_the_event_list() -> None:
    """An event of Frigate's list becomes an end to read, unless its messages already ended it."""
    tracker = FrigateEventTracker(
        clock=lambda: datetime.fromtimestamp(1764065760.0, UTC)
    )
    listed = {
        "id": "e2",
        "camera": "bridge",
        "label": "car",
        "false_positive": False,
        "has_snapshot": True,
        "start_time": 1764065700.0,
        "end_time": 1764065709.0,
        "zones": [],
        "data": {"box": [0.1, 0.2, 0.3, 0.4]},
    }
    request = tracker.handle_missed(listed)
    assert request is not None
    assert (request.final, request.fetch, request.vehicle_box) == (True, True, None)
    assert request.seen_at == datetime.fromtimestamp(1764065700.0, UTC)
    assert tracker.ended("e2")
    assert tracker.handle_missed(listed) is None
    # Seen before the gap: the end's snapshot is read, dated by the pass's first frame.
    assert tracker.handle(message("new", 1764065701.0, event_id="e3")) is not None
    request = tracker.handle_missed(
        {
            **listed,
            "id": "e3",
            "data": {
                "recognized_license_plate": "AE1234BK",
                "recognized_license_plate_score": 0.92,
            },
        }
    )
    assert request is not None
    assert request.fetch
    assert (request.anpr_plate, request.anpr_score) == ("AE1234BK", 0.92)
    for broken in (
        {**listed, "id": "e4", "end_time": None},
        {**listed, "id": "../e5"},
        {**listed, "id": "e6", "camera": None},
        {**listed, "id": "e7", "label": "person"},
        {**listed, "id": "e8", "false_positive": True},
        {"id": 9},
    ):
        assert tracker.handle_missed(broken) is None


def test_download_records_are_bounded() -> None:
    """Events that never end (Frigate restarted) must not grow memory without bound."""
    downloads = SnapshotDownloads(limit=8)
    for index in range(20):
        downloads.failed(f"e{index}")
    assert len(downloads) == 8
    downloads.ended("e19")
    assert len(downloads) == 7


def test_camera_side_plate_and_zone_direction_are_passed_on() -> None:
    """Frigate's own plate read and the zone order are evidence the pipeline can use."""
    tracker = FrigateEventTracker(
        zone_directions={"bridge": {"city_limit": Direction.RECEDING}}
    )
    request = tracker.handle(
        message(
            "new",
            1.0,
            recognized_license_plate="AE1234BK",
            recognized_license_plate_score=0.8,
            entered_zones=["road", "city_limit"],
        )
    )
    assert request is not None
    assert (request.anpr_plate, request.anpr_score) == ("AE1234BK", 0.8)
    assert request.direction is Direction.RECEDING
    assert (
        direction_from_zones(["road"], {"city_limit": Direction.RECEDING})
        is Direction.UNKNOWN
    )


def test_zone_directions_apply_to_their_own_camera_only() -> None:
    """Frigate zone names are per camera: ``road`` at the bridge says nothing about ``road`` at the gate."""
    tracker = FrigateEventTracker(
        zone_directions={
            "bridge": {"road": Direction.APPROACHING, "city_limit": Direction.RECEDING},
            "gate": {"road": Direction.LEFT},
        }
    )

    def direction(camera: str, zones: list[str], event_id: str) -> Direction:
        request = tracker.handle(
            message("new", 1.0, event_id=event_id, camera=camera, entered_zones=zones)
        )
        assert request is not None
        return request.direction

    # The zone reached last decides: first the road, then the city limit.
    assert direction("bridge", ["road"], "b1") is Direction.APPROACHING
    assert direction("bridge", ["road", "city_limit"], "b2") is Direction.RECEDING
    assert direction("bridge", ["city_limit", "road"], "b3") is Direction.APPROACHING
    assert direction("gate", ["road"], "g1") is Direction.LEFT
    # A zone of another camera, and a camera without a zone map, decide nothing.
    assert direction("gate", ["city_limit"], "g2") is Direction.UNKNOWN
    assert direction("yard", ["road"], "y1") is Direction.UNKNOWN


def moving(kind: str, frame_time: float, box: list[int], **after: Any) -> str:
    """Return a message of event ``e1`` whose vehicle is at ``box`` now."""
    return message(kind, frame_time, box=box, **after)


NEAR = [350, 300, 550, 420]
FAR = [400, 100, 500, 160]


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (FAR, NEAR, Direction.APPROACHING),
        (NEAR, FAR, Direction.RECEDING),
        ([100, 300, 300, 420], [500, 310, 700, 430], Direction.RIGHT),
        ([500, 310, 700, 430], [100, 300, 300, 420], Direction.LEFT),
        ([400, 300, 600, 420], [404, 303, 605, 423], Direction.UNKNOWN),
    ],
)
def test_vehicle_movement_gives_the_direction(
    first: list[int], last: list[int], expected: Direction
) -> None:
    """Without zones, the vehicle box from the first message to this one shows which way it went.

    Updates without a new snapshot are not read, but they still move the vehicle:
    the end (with no new frame) carries the whole movement of the event.
    """
    tracker = FrigateEventTracker()
    start = tracker.handle(moving("new", 1.0, first))
    assert start is not None
    assert start.direction is Direction.UNKNOWN, "one position shows no movement"
    assert tracker.handle(moving("update", 1.0, last)) is None
    end = tracker.handle(moving("end", 1.0, last))
    assert end is not None
    assert (end.fetch, end.final) == (False, True)
    assert end.direction is expected


def test_snapshot_box_stands_in_for_a_missing_current_box() -> None:
    """Older Frigate messages may lack the current box; the snapshot's box still places the vehicle."""
    tracker = FrigateEventTracker()
    tracker.handle(moving("new", 1.0, NEAR))
    end = tracker.handle(
        json.dumps(
            {
                "type": "end",
                "after": {
                    "id": "e1",
                    "camera": "bridge",
                    "label": "car",
                    "has_snapshot": True,
                    "snapshot": {"frame_time": 2.0, "box": FAR},
                },
            }
        )
    )
    assert end is not None
    assert end.direction is Direction.RECEDING


def test_zone_order_wins_over_movement() -> None:
    """The user's own zone map is the stronger statement: a box that looks approaching does not override it."""
    tracker = FrigateEventTracker(
        zone_directions={"bridge": {"city_limit": Direction.RECEDING}}
    )
    tracker.handle(moving("new", 1.0, FAR))
    end = tracker.handle(moving("end", 2.0, NEAR, entered_zones=["city_limit"]))
    assert end is not None
    assert end.direction is Direction.RECEDING
    # Zones that are not mapped leave the movement to decide.
    tracker.handle(moving("new", 1.0, FAR, id="e2"))
    end = tracker.handle(moving("end", 2.0, NEAR, id="e2", entered_zones=["driveway"]))
    assert end is not None
    assert end.direction is Direction.APPROACHING


def test_movement_state_is_forgotten_with_the_event() -> None:
    """An event's first box goes with it, and memory stays bounded; a message after its end is no new event.

    Frigate never gives an id twice (its ids hold the start time and a random
    part): a message of an ended event is a repeat or late, and reading it
    again announced the pass twice. Another event starts afresh.
    """
    counters: Counter[str] = Counter()
    tracker = FrigateEventTracker(counters=counters)
    tracker.handle(moving("new", 1.0, FAR))
    tracker.handle(moving("end", 1.0, FAR))
    assert tracker.open_events == 0
    assert tracker.handle(moving("new", 5.0, NEAR)) is None
    assert tracker.handle(moving("end", 5.0, NEAR)) is None
    assert tracker.open_events == 0
    assert counters["frigate_after_end"] == 2
    other = tracker.handle(moving("new", 5.0, NEAR, id="e2"))
    assert other is not None
    assert other.direction is Direction.UNKNOWN


_HOSTILE_VALUES: tuple[Any, ...] = (
    None,
    True,
    0,
    -1,
    10**400,
    1e308,
    float("nan"),
    float("-inf"),
    "",
    "car",
    "x" * 10_000,
    [],
    [1, 2],
    [None, "a", {}, []],
    {},
    {"label": "license_plate"},
)


def _full_after(frame_time: float) -> dict[str, Any]:
    """Return an event's ``after`` with every field the tracker reads."""
    return {
        "id": "e1",
        "camera": "bridge",
        "label": "car",
        "false_positive": False,
        "has_snapshot": True,
        "box": [10, 20, 300, 400],
        "frame_time": frame_time,
        "start_time": 1_700_000_000.0,
        "entered_zones": ["street", "city_limit"],
        "recognized_license_plate": "AE1234BK",
        "recognized_license_plate_score": 0.9,
        "snapshot": {
            "frame_time": frame_time,
            "box": [12, 22, 302, 402],
            "attributes": [
                {"label": "license_plate", "box": [100, 300, 160, 318], "score": 0.8}
            ],
        },
    }


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value: dictionary keys and list indexes, depth first."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _mutated(message_body: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Return the message with one to three places replaced by a hostile value or removed."""
    body = copy.deepcopy(message_body)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(_paths(body)[1:])
        parent = body
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and rng.random() < 0.2:
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(rng.choice(_HOSTILE_VALUES))
        if not isinstance(body, dict):
            break
    return body


def test_mutated_events_never_raise_anything_but_malformed() -> None:
    """Thousands of broken variants of a full event: each is a request, nothing, or counted.

    Frigate versions, bridges and hand-written test messages put any JSON
    anywhere. Whatever arrives, the tracker may only answer with a frame to
    read, with no frame, or with MalformedEventError (which the source counts):
    any other exception would escape the MQTT callback. Every request it makes
    carries values the pipeline can use.
    """
    rng = random.Random(20261127)
    outcomes = {"request": 0, "none": 0, "malformed": 0}
    tracker = FrigateEventTracker(
        zone_directions={"bridge": {"city_limit": Direction.RECEDING}}
    )
    for round_index in range(1500):
        for kind, frame_time in (("new", 1.0), ("update", 2.0), ("end", 2.0)):
            body = {"type": kind, "before": {}, "after": _full_after(frame_time)}
            body["after"]["id"] = f"e{round_index}"
            payload = json.dumps(_mutated(body, rng))
            try:
                request = tracker.handle(payload)
            except MalformedEventError:
                outcomes["malformed"] += 1
                continue
            if request is None:
                outcomes["none"] += 1
                continue
            outcomes["request"] += 1
            assert isinstance(request.camera, str)
            assert request.seen_at.tzinfo is not None
            for box in (request.vehicle_box, request.plate_box):
                assert box is None or (
                    all(isinstance(v, int) for v in box)
                    and box[2] > box[0]
                    and box[3] > box[1]
                )
            assert request.anpr_plate is None or (
                isinstance(request.anpr_plate, str) and request.anpr_plate
            )
            assert request.anpr_score is None or 0 <= request.anpr_score <= 1
            assert isinstance(request.direction, Direction)
    # The mutations reach every outcome, so the loop tested all three paths.
    assert min(outcomes.values()) > 100, outcomes
    assert tracker.open_events <= MAX_OPEN_EVENTS
