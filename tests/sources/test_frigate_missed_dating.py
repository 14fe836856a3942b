"""When a Frigate event read from its API after a gap is dated (plain Python)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from custom_components.plate_tracker.sources.frigate import (
    FrigateEventTracker,
    missed_snapshot_time,
)

START = 1764065700.0


def listed(**data: Any) -> dict[str, Any]:
    """Return an ended event as Frigate 0.15+ lists it: the snapshot's box, the path."""
    return {
        "id": "e1",
        "camera": "bridge",
        "label": "car",
        "has_snapshot": True,
        "start_time": START,
        "end_time": START + 95.0,
        "zones": [],
        "data": {
            # x, y, width, height in parts of the frame: bottom centre (0.5, 0.8).
            "box": [0.4, 0.5, 0.2, 0.3],
            "path_data": [
                [[0.1, 0.8], START + 0.2],
                [[0.3, 0.8], START + 61.0],
                [[0.49, 0.81], START + 62.5],
                [[0.7, 0.8], START + 64.0],
            ],
            **data,
        },
    }


def test_a_missed_event_is_dated_by_its_snapshot_not_its_start() -> None:
    """A car that stood a minute in view before it drove past the camera passed then, not at its arrival.

    Dated by the event's start, the sighting was a minute early: a route
    across cameras came out in the wrong order, and a speed between them wrong.
    """
    tracker = FrigateEventTracker(
        clock=lambda: datetime.fromtimestamp(START + 120.0, UTC)
    )
    request = tracker.handle_missed(listed())
    assert request is not None
    assert request.seen_at == datetime.fromtimestamp(START + 62.5, UTC)


def test_without_a_usable_path_the_start_dates_it() -> None:
    """Frigate before 0.15 keeps no path; a broken or far-off one says nothing either."""
    assert missed_snapshot_time(listed(path_data=None)) is None
    assert missed_snapshot_time({**listed(), "data": None}) is None
    assert missed_snapshot_time(listed(box=[0.4, "x", 0.2, 0.3])) is None
    assert missed_snapshot_time(listed(path_data=[[[0.0, 0.0], START + 1.0]])) is None
    assert (
        missed_snapshot_time(
            listed(
                path_data=[
                    "junk",
                    [[0.5], START + 1.0],
                    [[0.5, 0.8], "later"],
                    [[0.5, 0.8], float("nan")],
                    # Outside the event: no frame of it.
                    [[0.5, 0.8], START - 10.0],
                    [[0.5, 0.8], START + 999.0],
                ]
            )
        )
        is None
    )
    tracker = FrigateEventTracker(
        clock=lambda: datetime.fromtimestamp(START + 120.0, UTC)
    )
    request = tracker.handle_missed(listed(path_data=[]))
    assert request is not None
    assert request.seen_at == datetime.fromtimestamp(START, UTC)


def test_of_equally_near_points_the_earliest_dates_it() -> None:
    """A car that stood still at its snapshot's place is dated by its arrival there."""
    event = listed(path_data=[[[0.5, 0.8], START + 3.0], [[0.5, 0.8], START + 40.0]])
    assert missed_snapshot_time(event) == START + 3.0
