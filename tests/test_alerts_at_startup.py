"""A watchlist hit made while Home Assistant is still starting must still alert.

Plate Tracker starts its pipeline while Home Assistant starts (sightings waiting in
the spool are announced first thing), but automations attach their triggers only
once Home Assistant has started: the alert blueprint's event trigger is not there
yet, and a hit fired meanwhile reached no officer.
"""

from __future__ import annotations

from pathlib import Path
import shutil

from homeassistant.auth.models import User
from homeassistant.core import CoreState, Event, HomeAssistant, callback
from homeassistant.helpers.start import async_at_started
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_mock_service,
)

from custom_components.plate_tracker.alerts import EVENTS_AFTER_START
from custom_components.plate_tracker.const import EVENT_SIGHTING

from .test_blueprint import BLUEPRINT_FILE, setup_alert
from .test_watchlist_alerts import add_listed, announce


async def test_a_hit_while_home_assistant_starts_still_alerts(
    hass: HomeAssistant,
    folder_entry: MockConfigEntry,
    hass_admin_user: User,
) -> None:
    """A wanted car read during startup (a spooled sighting, an early camera event) alerts.

    Its events are held until automations listen, a few seconds after the start,
    and reach them in order; events after that are fired at once.
    """
    target = Path(hass.config.path("blueprints/automation/plate_tracker"))
    await hass.async_add_executor_job(target.mkdir, 0o755, True)
    await hass.async_add_executor_job(shutil.copy, BLUEPRINT_FILE, target)
    notify_calls = async_mock_service(hass, "notify", "officer_phone")
    hass.set_state(CoreState.not_running)
    await setup_alert(hass)
    folder_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    await add_listed(hass, hass_admin_user, plate="AE1234BK")
    heard: list[str] = []

    @callback
    def hear(event: Event) -> None:
        heard.append(event.data["plate"])

    @callback
    def started(_hass: HomeAssistant) -> None:
        # Attached only after the start, as automations' triggers are.
        hass.bus.async_listen(EVENT_SIGHTING, hear)

    async_at_started(hass, started)

    await announce(hass, folder_entry, "AE1234BK")
    await announce(hass, folder_entry, "BC5512HP")
    # Home Assistant's own start: automations arm their triggers as this version
    # does (at homeassistant_started, or in a startup job before it).
    await hass.async_start()
    await hass.async_block_till_done()
    try:
        assert notify_calls == []
        async_fire_time_changed(hass, dt_util.utcnow() + EVENTS_AFTER_START)
        await hass.async_block_till_done()
        assert [call.data["title"] for call in notify_calls] == ["HIGH: AE1234BK"]
        assert heard == ["AE1234BK", "BC5512HP"]
        await announce(hass, folder_entry, "KA0001OO")
        assert heard == ["AE1234BK", "BC5512HP", "KA0001OO"]
    finally:
        await hass.config_entries.async_unload(folder_entry.entry_id)
        await hass.async_block_till_done()
