"""The engine device's diagnostic sensors, as they stand after a restart."""

from __future__ import annotations

from datetime import UTC, datetime

from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    mock_restore_cache_with_extra_data,
)

from custom_components.plate_tracker.const import DOMAIN


async def test_last_purge_survives_a_restart(
    hass: HomeAssistant,
    folder_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """The nightly purge's time is still shown after a restart, not "unknown" until the next night.

    Retention is a legal duty: "unknown" after every update of Home Assistant reads as
    "the purge never ran", and an automation that checks the purge ran lately would
    raise a false alarm each time.
    """
    folder_entry.add_to_hass(hass)
    entity_id = "sensor.plate_tracker_last_purge"
    entity_registry.async_get_or_create(
        "sensor",
        DOMAIN,
        f"{folder_entry.entry_id}_last_purge",
        suggested_object_id="plate_tracker_last_purge",
        config_entry=folder_entry,
    )
    purged_at = datetime(2026, 11, 27, 1, 17, tzinfo=UTC)
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(entity_id, purged_at.isoformat()),
                {
                    "native_value": {
                        "__type": "<class 'datetime.datetime'>",
                        "isoformat": purged_at.isoformat(),
                    },
                    "native_unit_of_measurement": None,
                },
            )
        ],
    )

    assert await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()

    state = hass.states.get(entity_id)
    assert state is not None
    assert state.state == purged_at.isoformat()
    await hass.config_entries.async_unload(folder_entry.entry_id)
    await hass.async_block_till_done()
