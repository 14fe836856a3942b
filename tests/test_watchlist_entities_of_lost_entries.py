"""Entities of watchlist entries the store lost go; a store that cannot be read removes none."""

from __future__ import annotations

from pathlib import Path
import re
import sqlite3
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.plate_tracker.const import DATABASE_FILE, DOMAIN
from custom_components.plate_tracker.records import WatchlistEntry
from custom_components.plate_tracker.store import SightingStore

from .store.conftest import damage_last_leaf

WATCHLIST_KINDS = {
    ("sensor", ""),
    ("sensor", "_city_status"),
    ("device_tracker", "_location"),
}
"""The (platform, unique id suffix) of the entities each listed plate has."""


def _watchlist_entities(
    hass: HomeAssistant, entry: MockConfigEntry
) -> dict[int, set[tuple[str, str]]]:
    """Return the registered watchlist entities, by entry id, as (platform, suffix)."""
    unique_id = re.compile(rf"{entry.entry_id}_watchlist_(\d+)(.*)")
    found: dict[int, set[tuple[str, str]]] = {}
    for registered in er.async_entries_for_config_entry(
        er.async_get(hass), entry.entry_id
    ):
        if (match := unique_id.fullmatch(registered.unique_id)) is not None:
            found.setdefault(int(match[1]), set()).add((registered.domain, match[2]))
    return found


async def _listed_with_entities(
    hass: HomeAssistant, entry: MockConfigEntry, count: int
) -> list[WatchlistEntry]:
    """Set ``entry`` up, list ``count`` plates, let their entities register, and stop it."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    def fill(store: SightingStore) -> list[WatchlistEntry]:
        return [
            store.watchlist_add(
                WatchlistEntry(
                    id=None, plate=f"AE{number:04d}BK", label="Stolen", reason="x" * 200
                )
            )
            for number in range(count)
        ]

    listed = await hass.async_add_executor_job(fill, entry.runtime_data.store)
    await entry.runtime_data.alerts.async_reload_watchlist()
    await hass.async_block_till_done()
    assert _watchlist_entities(hass, entry) == {
        listed_entry.id: WATCHLIST_KINDS for listed_entry in listed
    }
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    return listed


async def test_entities_of_entries_lost_with_a_damaged_database_are_removed(
    hass: HomeAssistant, config_dir: Path, folder_entry: MockConfigEntry
) -> None:
    """Entries lost with a damaged page leave no entity "unavailable" forever.

    The repair lists their plates again under new ids, with new entities: the
    old ones would otherwise stay beside them for good. The entries carried
    over keep their entities (and their entity ids, which automations use).
    """
    await _listed_with_entities(hass, folder_entry, 100)
    entity_ids_before = {
        registered.unique_id: registered.entity_id
        for registered in er.async_entries_for_config_entry(
            er.async_get(hass), folder_entry.entry_id
        )
    }
    damage_last_leaf(config_dir / DOMAIN / DATABASE_FILE, "watchlist")

    # The first try meets the damage and waits; the next one sets the file aside.
    await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    assert folder_entry.state is ConfigEntryState.SETUP_RETRY
    assert await hass.config_entries.async_reload(folder_entry.entry_id)
    await hass.async_block_till_done()
    assert folder_entry.state is ConfigEntryState.LOADED

    carried = await hass.async_add_executor_job(
        folder_entry.runtime_data.store.watchlist
    )
    assert 50 < len(carried) < 100
    assert _watchlist_entities(hass, folder_entry) == {
        listed.id: WATCHLIST_KINDS for listed in carried
    }
    registry = er.async_get(hass)
    for registered in er.async_entries_for_config_entry(
        registry, folder_entry.entry_id
    ):
        assert entity_ids_before.get(registered.unique_id, registered.entity_id) == (
            registered.entity_id
        )
    assert not [
        state.entity_id
        for state in hass.states.async_all()
        if state.state == STATE_UNAVAILABLE and "watchlist" in state.entity_id
    ]
    await hass.config_entries.async_unload(folder_entry.entry_id)
    await hass.async_block_till_done()


async def test_a_store_that_cannot_be_read_for_a_while_removes_no_entity(
    hass: HomeAssistant, folder_entry: MockConfigEntry
) -> None:
    """A locked or unreadable database says nothing about which entries exist.

    Setup waits for it; the entities stay registered, and come back as they
    were (same entity ids) once the watchlist reads again.
    """
    listed = await _listed_with_entities(hass, folder_entry, 3)
    registered_before = _watchlist_entities(hass, folder_entry)

    with patch.object(
        SightingStore,
        "watchlist",
        side_effect=sqlite3.OperationalError("database is locked"),
    ):
        await hass.config_entries.async_setup(folder_entry.entry_id)
        await hass.async_block_till_done()
    assert folder_entry.state in (
        ConfigEntryState.SETUP_RETRY,
        ConfigEntryState.SETUP_ERROR,
    )
    assert _watchlist_entities(hass, folder_entry) == registered_before

    assert await hass.config_entries.async_reload(folder_entry.entry_id)
    await hass.async_block_till_done()
    assert folder_entry.state is ConfigEntryState.LOADED
    assert _watchlist_entities(hass, folder_entry) == registered_before

    # A read that fails while running leaves the entities as they are too.
    with patch.object(
        SightingStore,
        "watchlist",
        side_effect=sqlite3.OperationalError("disk I/O error"),
    ):
        with pytest.raises(sqlite3.OperationalError):
            await folder_entry.runtime_data.alerts.async_reload_watchlist()
        await hass.async_block_till_done()
    assert _watchlist_entities(hass, folder_entry) == registered_before
    state = hass.states.get(f"sensor.watchlist_last_seen_{listed[0].label.lower()}")
    assert state is not None
    assert state.state != STATE_UNAVAILABLE
    await hass.config_entries.async_unload(folder_entry.entry_id)
    await hass.async_block_till_done()


async def test_entities_of_an_entry_deleted_while_stopped_are_removed(
    hass: HomeAssistant, config_dir: Path, folder_entry: MockConfigEntry
) -> None:
    """A read that succeeds and lacks an entry is what removes its entities.

    Here the row is deleted from the file while Home Assistant is stopped (a
    backup restored from before it was listed, say); the others stay.
    """
    listed = await _listed_with_entities(hass, folder_entry, 3)
    conn = sqlite3.connect(config_dir / DOMAIN / DATABASE_FILE)
    with conn:
        conn.execute("DELETE FROM watchlist WHERE id = ?", (listed[1].id,))
    conn.close()

    assert await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    assert _watchlist_entities(hass, folder_entry) == {
        listed[0].id: WATCHLIST_KINDS,
        listed[2].id: WATCHLIST_KINDS,
    }
    await hass.config_entries.async_unload(folder_entry.entry_id)
    await hass.async_block_till_done()
