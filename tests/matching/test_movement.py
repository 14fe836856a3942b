"""Direction of travel from two boxes of one vehicle (or plate) in one pass."""

from __future__ import annotations

import pytest

from custom_components.plate_tracker.engine.types import Box
from custom_components.plate_tracker.matching.movement import direction_from_boxes
from custom_components.plate_tracker.records import Direction


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        # Far up the road, then near and low in the picture.
        ((400, 100, 500, 160), (350, 300, 550, 420), Direction.APPROACHING),
        ((350, 300, 550, 420), (400, 100, 500, 160), Direction.RECEDING),
        # Same size, across the picture by more than half a box.
        ((100, 300, 300, 420), (500, 310, 700, 430), Direction.RIGHT),
        ((500, 310, 700, 430), (100, 300, 300, 420), Direction.LEFT),
        # A plate box: small, but the same rules scale with it.
        ((300, 200, 340, 210), (290, 230, 350, 245), Direction.APPROACHING),
    ],
)
def test_clear_movement_gives_a_direction(
    first: Box, last: Box, expected: Direction
) -> None:
    """A vehicle that clearly came closer, drove away or crossed tells an exit camera which way it went."""
    assert direction_from_boxes(first, last) is expected


@pytest.mark.parametrize(
    ("first", "last"),
    [
        # Parked: the detector's box jitters by a few pixels.
        ((400, 300, 600, 420), (403, 302, 604, 423)),
        # Grew, but did not come down the picture: not the way an approaching car moves.
        ((400, 300, 500, 360), (380, 250, 540, 340)),
        # Shrank while coming down: contradictory.
        ((350, 100, 550, 220), (420, 200, 480, 240)),
        # Sideways by less than half a box.
        ((100, 300, 300, 420), (180, 300, 380, 420)),
        # Sideways, but even more downwards without growing: no clear direction.
        ((100, 100, 300, 220), (260, 400, 460, 520)),
        # Degenerate boxes (a camera-side read without a plate box).
        ((0, 0, 0, 0), (100, 100, 200, 200)),
        ((100, 100, 200, 200), (150, 150, 150, 180)),
    ],
)
def test_small_or_ambiguous_movement_stays_unknown(first: Box, last: Box) -> None:
    """Unknown is never guessed: a wrong direction at an exit would report a car leaving that came in."""
    assert direction_from_boxes(first, last) is Direction.UNKNOWN


def test_missing_box_is_unknown() -> None:
    """One frame (or none) shows no movement at all."""
    box = (100, 100, 200, 200)
    assert direction_from_boxes(None, box) is Direction.UNKNOWN
    assert direction_from_boxes(box, None) is Direction.UNKNOWN
    assert direction_from_boxes(box, box) is Direction.UNKNOWN
