"""Which Frigate event messages are worth reading (plain Python)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from custom_components.plate_tracker.records import Direction
from custom_components.plate_tracker.sources.frigate import (
    MAX_OPEN_EVENTS,
    FrigateEventTracker,
    MalformedEventError,
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
    ],
)
def test_malformed_payloads_raise(payload: bytes | str) -> None:
    """A malformed payload is reported to the caller, who counts it."""
    with pytest.raises(MalformedEventError):
        FrigateEventTracker().handle(payload)


def test_open_events_are_bounded() -> None:
    """Events Frigate never ended (it restarted) must not grow memory without bound."""
    tracker = FrigateEventTracker()
    for index in range(MAX_OPEN_EVENTS + 50):
        tracker.handle(message("new", 1.0, event_id=f"e{index}"))
    assert tracker.open_events == MAX_OPEN_EVENTS


def test_camera_side_plate_and_zone_direction_are_passed_on() -> None:
    """Frigate's own plate read and the zone order are evidence the pipeline can use."""
    tracker = FrigateEventTracker(zone_directions={"city_limit": Direction.RECEDING})
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
