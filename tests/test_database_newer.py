"""The sightings database at setup: a file from a newer release is refused, never changed."""

from __future__ import annotations

from pathlib import Path
import sqlite3

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.plate_tracker.const import DATABASE_FILE, DOMAIN
from custom_components.plate_tracker.store import SightingStore
from custom_components.plate_tracker.store.schema import SCHEMA_VERSION

from .store.conftest import sighting


async def test_a_database_from_a_newer_release_is_refused_and_left_alone(
    hass: HomeAssistant, config_dir: Path, folder_entry: MockConfigEntry
) -> None:
    """After a downgrade the newer file is neither migrated down nor replaced.

    Waiting cannot make this release read it, so setup fails for good with
    a message that says why (not "will retry" forever), and every sighting
    in the file is still there for the newer release.
    """
    database = config_dir / DOMAIN / DATABASE_FILE

    def written_by_a_newer_release() -> None:
        with SightingStore.open(database) as store:
            store.record(sighting())
        conn = sqlite3.connect(database)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        conn.close()

    await hass.async_add_executor_job(written_by_a_newer_release)
    folder_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()

    assert folder_entry.state is ConfigEntryState.SETUP_ERROR
    assert folder_entry.error_reason_translation_key == "database_newer"
    assert folder_entry.error_reason_translation_placeholders == {
        "path": str(database),
        "version": str(SCHEMA_VERSION + 1),
        "supported": str(SCHEMA_VERSION),
    }
    assert not list(database.parent.glob(f"{DATABASE_FILE}.damaged-*"))

    def still_newer_with_its_sighting() -> tuple[int, int]:
        conn = sqlite3.connect(database)
        try:
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            (count,) = conn.execute("SELECT count(*) FROM sightings").fetchone()
        finally:
            conn.close()
        return version, count

    assert await hass.async_add_executor_job(still_newer_with_its_sighting) == (
        SCHEMA_VERSION + 1,
        1,
    )
