"""The watchlist alert blueprint run against the real integration, up to a city exit.

A stolen car seen in the centre and then leaving by the north gate: the officer's phone
must get, for the hit and for the ``left the city`` announcement alike, the picture, the
camera, the direction, the recent route and whether the car has left. The integration,
its store and its services are real; only the phone is a mock.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.notify import NOTIFY_SERVICE_SCHEMA
from homeassistant.core import HomeAssistant, ServiceCall
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_mock_service,
)

from custom_components.plate_tracker.records import Direction, NewSighting, Reader

from .helpers import call, record_and_announce
from .test_blueprint import installed_blueprint, setup_alert  # noqa: F401
from .test_routes import PLATE, START, city  # noqa: F401

LEAVING_AT = START + timedelta(minutes=20)
# As an officer types it on a Ukrainian keyboard: Cyrillic А, Е, В, К and a space.
CYRILLIC_PLATE = "АЕ 1234 ВК"


@pytest.fixture
async def officer_phone(
    hass: HomeAssistant,
    installed_blueprint: Path,  # noqa: F811
    city: MockConfigEntry,  # noqa: F811
) -> list[ServiceCall]:
    """Record what the officer's phone gets, in a town whose local time is not UTC."""
    await hass.config.async_set_time_zone("Europe/Kyiv")
    return async_mock_service(hass, "notify", "officer_phone", NOTIFY_SERVICE_SCHEMA)


async def sight(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    new: NewSighting,
) -> int:
    """Store and announce a sighting at its time; let every alert be sent."""
    freezer.move_to(new.seen_at)
    sighting = await record_and_announce(hass, entry, new)
    await hass.async_block_till_done()
    return sighting.id


async def stolen_car_leaves_town(
    hass: HomeAssistant, entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> tuple[int, int]:
    """See the car in the centre (crop and snapshot), then leaving by the gate (NVR: crop only)."""
    centre = await sight(
        hass,
        entry,
        freezer,
        NewSighting(
            camera="centre",
            seen_at=START,
            plate=PLATE,
            raw=PLATE,
            confidence=0.81,
            source="folder",
            crop_jpeg=b"crop",
            snapshot_jpeg=b"snapshot",
        ),
    )
    gate = await sight(
        hass,
        entry,
        freezer,
        NewSighting(
            camera="gate_north",
            seen_at=LEAVING_AT,
            plate=PLATE,
            raw=PLATE,
            confidence=0.93,
            source="folder",
            direction=Direction.RECEDING,
            reader=Reader.NVR,
            crop_jpeg=b"crop",
        ),
    )
    return centre, gate


def image_link(url: str | None, sighting_id: int, kind: str) -> bool:
    """Whether ``url`` is a signed link to that image of that sighting."""
    return (
        url is not None
        and f"/api/plate_tracker/sightings/{sighting_id}/{kind}.jpg?" in url
    )


async def test_hits_and_the_city_exit_reach_the_officer_with_picture_route_and_status(
    hass: HomeAssistant,
    city: MockConfigEntry,  # noqa: F811
    freezer: FrozenDateTimeFactory,
    officer_phone: list[ServiceCall],
) -> None:
    """Each alert alone must let an officer act: which car, where, which way, seen where before, gone or not.

    The exit is announced twice, by the gate's watchlist hit and by the ``left the
    city`` event; a notification of either without the picture or the route would
    send the patrol to the gate blind. The gate's NVR read has no snapshot: its plate
    crop is the picture then. The plate filter is typed in Cyrillic, as on a
    Ukrainian keyboard, and must still match the listed (Latin) plate.
    """
    await call(
        hass,
        "watchlist_add",
        {"plate": PLATE, "label": "Stolen Škoda", "priority": "critical"},
    )
    await hass.async_block_till_done()
    await setup_alert(hass, plates=[CYRILLIC_PLATE])

    centre, gate = await stolen_car_leaves_town(hass, city, freezer)

    messages = [one.data["message"] for one in officer_phone]
    assert len(officer_phone) == 3, messages
    centre_hit = officer_phone[0]
    # The route tracker announces the exit a moment before the gate's hit is recorded.
    left_city, gate_hit = sorted(
        officer_phone[1:], key=lambda one: "Hit #" in one.data["message"]
    )

    assert centre_hit.data["title"] == "CRITICAL: AE1234BK – Stolen Škoda"
    message = centre_hit.data["message"]
    assert message.startswith(
        "Listed AE1234BK, read AE1234BK (exact)\n"
        "Camera: Centre\n"
        "Seen: 2026-11-25 10:00:00\n"
    )
    assert "City: inside the city" in message
    assert image_link(centre_hit.data["data"]["image"], centre, "snapshot")

    # Both announcements of the exit carry everything.
    for alert in (gate_hit, left_city):
        message = alert.data["message"]
        assert "Camera: North gate" in message
        assert "Seen: 2026-11-25 10:20:00" in message
        assert "Direction: receding" in message
        assert "City: has left the city" in message
        assert (
            "Recent sightings:\n"
            "- 2026-11-25 10:20, gate_north, receding, 93 %\n"
            "- 2026-11-25 10:00, centre, 81 %"
        ) in message, message
        # No snapshot: the plate crop is what the phone shows and opens.
        extras = alert.data["data"]
        assert image_link(extras["image"], gate, "crop"), extras
        assert extras["url"] == extras["image"]
        assert f"Plate crop: {extras['image']}" in message
        assert "Snapshot:" not in message
        assert extras["push"] == {"interruption-level": "critical"}
    assert gate_hit.data["title"] == "CRITICAL: AE1234BK – Stolen Škoda"
    assert left_city.data["title"] == (
        "CRITICAL: AE1234BK has left the city – Stolen Škoda"
    )
    assert left_city.data["message"].startswith(
        "Listed AE1234BK, read AE1234BK (exact)\n"
    )


async def test_the_plate_filter_leaves_other_plates_out(
    hass: HomeAssistant,
    city: MockConfigEntry,  # noqa: F811
    freezer: FrozenDateTimeFactory,
    officer_phone: list[ServiceCall],
) -> None:
    """A unit on one case wants that car only: another wanted car leaving pages someone else."""
    await call(hass, "watchlist_add", {"plate": PLATE, "label": "Stolen Škoda"})
    await hass.async_block_till_done()
    await setup_alert(hass, plates=["ВН 0001 АА"])

    await stolen_car_leaves_town(hass, city, freezer)

    assert officer_phone == []
