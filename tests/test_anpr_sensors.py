"""Sensors as the recorder keeps them: an ANPR camera's heartbeats must not flood history."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.plate_tracker.const import DOMAIN

from .sources.test_anpr import hikvision_alert
from .test_anpr_source import WEBHOOK_ID, anpr_entry

HEARTBEAT = hikvision_alert(event_type="videoloss").split(b"<ANPR>")[0] + (
    b"</EventNotificationAlert>"
)
"""What a Hikvision camera sends every few seconds to say it is alive."""


@pytest.fixture
async def entry(hass: HomeAssistant) -> AsyncGenerator[MockConfigEntry]:
    """Set up an entry with one ANPR camera; unload it after the test."""
    entry = anpr_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_heartbeats_change_the_last_request_sensor_once_a_minute(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    entity_registry: er.EntityRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A camera's heartbeat every 10 s must not write a state (a recorder row) every 10 s.

    That is 8,640 rows a day per camera for a sensor read in minutes (has the exit camera
    gone quiet?). The sensor moves at most once a minute; a camera heard again after a
    silence moves it at once.
    """
    subentry_id = next(iter(entry.subentries))
    entity_id = entity_registry.async_get_entity_id(
        "sensor", DOMAIN, f"{entry.entry_id}_{subentry_id}_anpr_last_request"
    )
    assert entity_id is not None
    changes = async_capture_events(hass, EVENT_STATE_CHANGED)
    client = await hass_client_no_auth()
    start = dt_util.utcnow().replace(microsecond=0)
    for seconds in (0, 10, 20, 30, 40, 50, 60, 70, 200):
        freezer.move_to(start + timedelta(seconds=seconds))
        response = await client.post(
            f"/api/webhook/{WEBHOOK_ID}",
            data=HEARTBEAT,
            headers={"Content-Type": "application/xml"},
        )
        assert response.status == 200
        await hass.async_block_till_done()

    written = [
        event.data["new_state"].state
        for event in changes
        if event.data["entity_id"] == entity_id
    ]
    assert written == [
        (start + timedelta(seconds=seconds)).isoformat() for seconds in (0, 60, 200)
    ]
    assert (
        hass.states.get(entity_id).state == (start + timedelta(seconds=200)).isoformat()
    )
