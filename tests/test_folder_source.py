"""The inbox folder source, end to end inside Home Assistant with the real engine and store."""

from __future__ import annotations

from pathlib import Path

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)

from custom_components.plate_tracker.const import EVENT_SIGHTING

from .helpers import wait_until
from .synthetic import scene_jpeg


@pytest.mark.usefixtures("no_inbox_poll_wait")
async def test_uploaded_snapshot_becomes_a_sighting(
    hass: HomeAssistant,
    inbox: Path,
    init_folder: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """A camera's FTP upload must end as a stored sighting, an entity state and a bus event.

    This is the path the README's demo shows a newcomer, and the one cameras
    without an NVR use in production.
    """
    events = async_capture_events(hass, EVENT_SIGHTING)
    camera_dir = inbox / "bridge"
    camera_dir.mkdir()
    image = camera_dir / "20261125T101500.jpg"
    await hass.async_add_executor_job(image.write_bytes, scene_jpeg("AE1234BK", seed=3))

    await wait_until(lambda: bool(events))
    await hass.async_block_till_done()

    assert events[0].data["plate"] == "AE1234BK"
    assert events[0].data["camera"] == "bridge"
    assert events[0].data["seen_at"] == "2026-11-25T10:15:00+00:00"
    entity_id = entity_registry.async_get_entity_id(
        "sensor", "plate_tracker", f"{init_folder.entry_id}_bridge_last_plate"
    )
    assert entity_id is not None
    state = hass.states.get(entity_id)
    assert state is not None
    assert state.state == "AE1234BK"
    assert state.attributes["confidence"] > 0.5
    # The file leaves the inbox only once its sighting is stored.
    await wait_until(lambda: not image.exists())
    store = init_folder.runtime_data.store
    assert await hass.async_add_executor_job(store.count) == 1


@pytest.mark.usefixtures("no_inbox_poll_wait")
async def test_direction_in_the_file_name_reaches_the_sighting(
    hass: HomeAssistant, inbox: Path, folder_entry: MockConfigEntry
) -> None:
    """A camera that measures direction writes it in the file name; with a ``direction`` group in the pattern it is the sighting's.

    At an exit camera without an NVR this is the only way to tell leaving from entering.
    """
    folder_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        folder_entry,
        options={
            **folder_entry.options,
            "filename_pattern": r"^(?P<camera>[^_]+)_\d{8}-\d{6}_(?P<direction>\w+)",
        },
    )
    assert await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    events = async_capture_events(hass, EVENT_SIGHTING)
    image = inbox / "gate_20261125-101500_receding.jpg"
    await hass.async_add_executor_job(image.write_bytes, scene_jpeg("AE1234BK", seed=3))

    await wait_until(lambda: bool(events))
    assert events[0].data["camera"] == "gate"
    assert events[0].data["direction"] == "receding"
    await hass.config_entries.async_unload(folder_entry.entry_id)
    await hass.async_block_till_done()
