"""Which way a vehicle moved past a camera, from where it was in two frames.

Plain Python, no Home Assistant imports. Used for a Frigate event's vehicle box
(first and latest message) and for the plate boxes of one pass's frames. A
camera looking along a road sees an approaching vehicle grow and come down the
picture, a receding one shrink and go up, a crossing one shift sideways. What
fits none of these clearly (a parked car, a box that jittered, growth without
the matching vertical move) is unknown: a wrong direction at a city exit would
tell the police a car left when it came in, so the rules only answer when the
movement is large and unambiguous.
"""

from __future__ import annotations

import math
from typing import Final

from ..engine.types import Box
from ..records import Direction

MARKED_GROWTH: Final = 1.2
"""Linear size ratio (square root of the area ratio) that counts as markedly
growing; its inverse counts as markedly shrinking. Below it, a few pixels of
detector jitter on a small box would look like movement."""
MIN_VERTICAL_SHIFT: Final = 0.1
"""The bottom edge must move by this share of the taller box's height, the way
an approaching vehicle's wheels come down the picture."""
MIN_HORIZONTAL_SHIFT: Final = 0.5
"""A sideways move must shift the centre by more than this share of the wider
box's width, and more than it shifts vertically."""


def direction_from_boxes(first: Box | None, last: Box | None) -> Direction:
    """Return the direction of travel between two boxes of one object, else unknown.

    Growing markedly while the bottom edge moves down is ``approaching``;
    shrinking markedly while it moves up is ``receding``; otherwise a dominant
    horizontal shift of the centre is ``left`` or ``right`` (in the picture);
    anything smaller or contradictory is ``unknown``.
    """
    if first is None or last is None:
        return Direction.UNKNOWN
    try:
        return _direction_between(first, last)
    except OverflowError:
        # Sides too large for a float to hold (a malformed message's box): no
        # picture is that large, so the movement is none that can be judged.
        return Direction.UNKNOWN


def _direction_between(first: Box, last: Box) -> Direction:
    first_width, first_height = first[2] - first[0], first[3] - first[1]
    last_width, last_height = last[2] - last[0], last[3] - last[1]
    if min(first_width, first_height, last_width, last_height) <= 0:
        return Direction.UNKNOWN
    growth = math.sqrt((last_width * last_height) / (first_width * first_height))
    bottom_shift = last[3] - first[3]
    vertical_needed = MIN_VERTICAL_SHIFT * max(first_height, last_height)
    if growth >= MARKED_GROWTH and bottom_shift >= vertical_needed:
        return Direction.APPROACHING
    if growth <= 1 / MARKED_GROWTH and -bottom_shift >= vertical_needed:
        return Direction.RECEDING
    centre_dx = (last[0] + last[2] - first[0] - first[2]) / 2
    centre_dy = (last[1] + last[3] - first[1] - first[3]) / 2
    if abs(centre_dx) > MIN_HORIZONTAL_SHIFT * max(first_width, last_width) and abs(
        centre_dx
    ) > abs(centre_dy):
        return Direction.RIGHT if centre_dx > 0 else Direction.LEFT
    return Direction.UNKNOWN
