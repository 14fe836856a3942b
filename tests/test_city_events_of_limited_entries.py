"""City exits and entries alert only where and when the watchlist entry alerts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Event, HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)

from custom_components.plate_tracker.records import Direction
from custom_components.plate_tracker.routes import EVENT_LEFT_CITY

from .helpers import call
from .test_routes import PLATE, START, city, sight, vehicle_entities  # noqa: F401

LEAVING_AT = START + timedelta(minutes=20)


def local_hours(hours: tuple[int, int]) -> dict[str, str]:
    """Return active hours from ``hours`` after the exit to ``hours`` after it, in local time."""
    start, end = (dt_util.as_local(LEAVING_AT + timedelta(hours=h)) for h in hours)
    return {
        "active_from": start.time().isoformat(),
        "active_until": end.time().isoformat(),
    }


@pytest.mark.parametrize(
    ("cameras", "hours", "announced"),
    [
        (["centre"], None, 0),
        (["gate_north"], None, 1),
        ([], (2, 4), 0),
        ([], (-1, 1), 1),
    ],
)
async def test_an_exit_outside_the_entrys_cameras_or_hours_pages_nobody(
    hass: HomeAssistant,
    city: MockConfigEntry,  # noqa: F811
    freezer: FrozenDateTimeFactory,
    *,
    cameras: list[str],
    hours: tuple[int, int] | None,
    announced: int,
) -> None:
    """An entry limited to some cameras or hours alerts nowhere else, a city exit included.

    The sighting at the exit makes no watchlist hit there (the entry does not
    cover that camera or time), so a ``left city`` page for it would be an
    alert the officer who limited the entry asked not to get. The vehicle's
    tracker and city status still follow it: whereabouts are not alerts.
    """
    limits: dict[str, Any] = {"cameras": cameras}
    if hours is not None:
        limits |= local_hours(hours)
    response = await call(
        hass, "watchlist_add", {"plate": PLATE, "label": "Limited", **limits}
    )
    await hass.async_block_till_done()
    _, sensor_id = vehicle_entities(hass, city, int(response["entry"]["entry_id"]))
    left: list[Event] = async_capture_events(hass, EVENT_LEFT_CITY)
    await sight(hass, city, freezer, "centre", START)
    await sight(
        hass, city, freezer, "gate_north", LEAVING_AT, direction=Direction.RECEDING
    )
    assert hass.states.get(sensor_id).state == "left"
    assert len(left) == announced
