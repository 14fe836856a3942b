"""Frigate's own plate read, in each shape Frigate sends it (plain Python)."""

from __future__ import annotations

import json
from typing import Any

from custom_components.plate_tracker.sources.frigate import FrigateEventTracker


def message(kind: str, **after: Any) -> str:
    """Return an events payload of camera ``bridge`` with a snapshot at 1.0."""
    body: dict[str, Any] = {
        "id": "e1",
        "camera": "bridge",
        "label": "car",
        "has_snapshot": True,
        "snapshot": {"frame_time": 1.0, "box": [10, 20, 300, 400]},
        **after,
    }
    return json.dumps({"type": kind, "before": body, "after": body})


def test_frigate_0_16_sends_its_plate_read_as_plate_and_score() -> None:
    """On the events topic Frigate 0.16+ sends ``recognized_license_plate`` as ``[plate, score]``.

    Only a string was taken: every plate Frigate read was ignored, so a pass
    whose snapshot could not be downloaded was lost although Frigate had read it.
    """
    request = FrigateEventTracker().handle(
        message("end", recognized_license_plate=["KA7777OO", 0.93])
    )
    assert request is not None
    assert (request.anpr_plate, request.anpr_score) == ("KA7777OO", 0.93)


def test_a_broken_pair_is_no_read() -> None:
    """Anything else in that shape reads no plate, or no score; the snapshot is read all the same."""
    for value, plate in (
        (["KA7777OO"], None),
        ([7, 0.9], None),
        (["KA7777OO", "high"], "KA7777OO"),
        (["KA7777OO", 2.0], "KA7777OO"),
    ):
        request = FrigateEventTracker().handle(
            message("end", recognized_license_plate=value)
        )
        assert request is not None
        assert request.fetch
        assert request.anpr_plate == plate
        if plate is not None:
            assert request.anpr_score is None
