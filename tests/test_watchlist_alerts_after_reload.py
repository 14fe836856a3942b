"""Watchlist alerts keep their promises across a reload or a restart of the hub."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from homeassistant.auth.models import User
from homeassistant.core import Context, HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)

from custom_components.plate_tracker.const import DOMAIN, EVENT_WATCHLIST_HIT

from .test_watchlist_alerts import add_listed, announce

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


async def test_a_correction_after_a_reload_does_not_alert_again(
    hass: HomeAssistant, init_folder: MockConfigEntry, hass_admin_user: User
) -> None:
    """A sighting corrected after a restart (an NVR event still open) is still one alert.

    The hit it makes was recorded and alerted before the restart; with the
    car seen since at another camera it is not the entry's last hit, and a
    second alert would send the police after the car twice for one pass.
    """
    await add_listed(hass, hass_admin_user, plate="AE1234BK")
    hits = async_capture_events(hass, EVENT_WATCHLIST_HIT)
    first = await announce(hass, init_folder, "AE1234BK")
    await announce(
        hass, init_folder, "AE1234BK", camera="bridge", at=NOW + timedelta(seconds=5)
    )
    assert [hit.data["camera"] for hit in hits] == ["exit_kyiv_road", "bridge"]

    await hass.config_entries.async_reload(init_folder.entry_id)
    await hass.async_block_till_done()
    init_folder.runtime_data.hub.async_publish(first)
    await hass.async_block_till_done()

    assert [hit.data["camera"] for hit in hits] == ["exit_kyiv_road", "bridge"]


@pytest.mark.parametrize(
    ("listed", "read", "read_again", "alerts_after_reload"),
    [
        # The same car still in view: one pass, one alert.
        ("AE1234BK", "AE1234BK", "AE1234BK", 0),
        # A pass that alerted on a one-edit read only still alerts on the wanted car.
        ("AE1234BK", "AE1234BX", "AE1234BK", 1),
        # Each car a pattern lists has its own pass.
        ("AE*BK", "AE1234BK", "AE1234BK", 0),
        ("AE*BK", "AE1234BK", "AE5678BK", 1),
    ],
)
async def test_a_car_in_view_during_a_reload_alerts_once(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_admin_user: User,
    *,
    listed: str,
    read: str,
    read_again: str,
    alerts_after_reload: int,
) -> None:
    """A wanted car waiting at a barrier while an option is changed is one pass, one alert.

    Changing an option reloads the hub; the pass the car is in must survive
    it, or the police are paged again for a car they were already sent to.
    """
    await add_listed(hass, hass_admin_user, plate=listed)
    hits = async_capture_events(hass, EVENT_WATCHLIST_HIT)
    await announce(hass, init_folder, read)
    assert len(hits) == 1

    await hass.config_entries.async_reload(init_folder.entry_id)
    await hass.async_block_till_done()
    await announce(hass, init_folder, read_again, at=NOW + timedelta(seconds=10))

    assert len(hits) == 1 + alerts_after_reload


async def test_entries_taken_off_the_watchlist_leave_no_last_hit_in_memory(
    hass: HomeAssistant, init_folder: MockConfigEntry, hass_admin_user: User
) -> None:
    """A watchlist replaced day after day must not grow the hub's memory for ever.

    The last hit of an entry taken off the list is shown nowhere (its sensor
    goes with it) and is not restored after a restart either.
    """
    alerts = init_folder.runtime_data.alerts
    kept = await add_listed(hass, hass_admin_user, plate="AE1234BK")
    for number in range(3):
        gone = await add_listed(hass, hass_admin_user, plate=f"KA000{number}OO")
        await announce(hass, init_folder, f"KA000{number}OO")
        assert gone["entry_id"] in alerts.last_hit_by_entry
        await hass.services.async_call(
            DOMAIN,
            "watchlist_remove",
            {"entry_id": gone["entry_id"]},
            blocking=True,
            context=Context(user_id=hass_admin_user.id),
        )
        await hass.async_block_till_done()
    await announce(hass, init_folder, "AE1234BK")

    assert list(alerts.last_hit_by_entry) == [kept["entry_id"]]
