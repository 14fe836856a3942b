"""A damaged database does not keep the integration down: set aside, a new one, a repair issue."""

from __future__ import annotations

from pathlib import Path

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.plate_tracker.const import DATABASE_FILE, DOMAIN

from .store.conftest import sighting

GARBAGE = b"the SD card returned this instead of the database\n" * 100


async def test_damaged_database_is_set_aside_and_sightings_go_on(
    hass: HomeAssistant,
    config_dir: Path,
    folder_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """The entry loads on a new database; the issue names the kept file."""
    database = config_dir / DOMAIN / DATABASE_FILE
    database.write_bytes(GARBAGE)
    folder_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    assert folder_entry.state is ConfigEntryState.LOADED

    (damaged,) = database.parent.glob(f"{DATABASE_FILE}.damaged-*")
    assert damaged.read_bytes() == GARBAGE
    issue = issue_registry.async_get_issue(DOMAIN, f"database_damaged_{damaged.name}")
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_key == "database_damaged_watchlist_incomplete"
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["damaged"] == str(damaged)
    assert issue.translation_placeholders["watchlist"] == "0"
    assert "not a database" in issue.translation_placeholders["error"]

    store = folder_entry.runtime_data.store
    _, created = await hass.async_add_executor_job(
        store.record,
        sighting(),
    )
    assert created
    await hass.config_entries.async_unload(folder_entry.entry_id)
    await hass.async_block_till_done()


async def test_a_database_that_cannot_be_opened_is_waited_for_not_set_aside(
    hass: HomeAssistant, config_dir: Path, folder_entry: MockConfigEntry
) -> None:
    """Only damage moves the file: a folder that cannot hold it leaves it all alone."""
    folder = config_dir / DOMAIN
    database = folder / DATABASE_FILE
    database.mkdir()  # a folder where the file should be: SQLite cannot open it
    folder_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    assert folder_entry.state is ConfigEntryState.SETUP_RETRY
    assert database.is_dir()
    assert not list(folder.glob(f"{DATABASE_FILE}.damaged-*"))
