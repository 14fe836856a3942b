"""The plate-crop image entity when the sightings database fails to read the crop."""

from __future__ import annotations

from http import HTTPStatus
import logging
from pathlib import Path

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er, issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.plate_tracker.const import DATABASE_FILE, DOMAIN
from custom_components.plate_tracker.store import SightingStore

from .store.conftest import damage_last_leaf, sighting

CROP = b"j" * 3000
"""Nearly a page: 20 crops fill 20 leaves of the images table."""


async def test_a_crop_on_a_damaged_page_is_refused_quietly_and_the_file_checked(
    hass: HomeAssistant,
    folder_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
    hass_client: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A dashboard showing the camera's crop must not turn a damaged database into a crash.

    The signed image links and the services get the file checked when SQLite reports
    damage; the image entity is read by every open dashboard, so it meets the damage first.
    Before, its read raised SQLite's error out of the image proxy (an unhandled-exception
    traceback per dashboard refresh) and the damage went unnoticed: sightings kept waiting
    in the spool and raised no alerts.
    """
    folder_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()

    def fill(store: SightingStore) -> None:
        for number in range(20):
            store.record(sighting(event_id=str(number), crop_jpeg=CROP))

    await hass.async_add_executor_job(fill, folder_entry.runtime_data.store)
    assert await hass.config_entries.async_unload(folder_entry.entry_id)
    await hass.async_block_till_done()
    database = Path(hass.config.path(DOMAIN, DATABASE_FILE))
    damage_last_leaf(database, "images")
    assert await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    entity_id = er.async_get(hass).async_get_entity_id(
        "image", DOMAIN, f"{folder_entry.entry_id}_bridge_plate_crop"
    )
    assert entity_id is not None

    client = await hass_client()
    with caplog.at_level(logging.ERROR, logger="aiohttp.server"):
        response = await client.get(f"/api/image_proxy/{entity_id}")
    await hass.async_block_till_done()

    assert response.status == HTTPStatus.INTERNAL_SERVER_ERROR
    assert "Error handling request" not in caplog.text
    assert "Traceback" not in caplog.text
    # Checked as the signed links get it checked: the damaged file is set aside.
    assert folder_entry.state is ConfigEntryState.LOADED
    (damaged,) = database.parent.glob(f"{DATABASE_FILE}.damaged-*Z")
    assert issue_registry.async_get_issue(DOMAIN, f"database_damaged_{damaged.name}")
    await hass.config_entries.async_unload(folder_entry.entry_id)
    await hass.async_block_till_done()
