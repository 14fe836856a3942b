"""Setting up and unloading an entry, and what happens when a part is missing."""

from __future__ import annotations

from pathlib import Path
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.plate_tracker.const import DOMAIN, ISSUE_MODELS_UNAVAILABLE
from custom_components.plate_tracker.engine.models import ModelsUnavailable


async def test_load_and_unload(
    hass: HomeAssistant, init_folder: MockConfigEntry, config_dir: Path
) -> None:
    """Unloading stops the worker and closes the database, which stays on disk for the next start."""
    assert init_folder.state is ConfigEntryState.LOADED
    assert (config_dir / DOMAIN / "plate_tracker.db").is_file()
    tasks = list(init_folder.runtime_data.tasks)
    assert await hass.config_entries.async_unload(init_folder.entry_id)
    await hass.async_block_till_done()
    assert init_folder.state is ConfigEntryState.NOT_LOADED
    assert all(task.done() for task in tasks)


async def test_missing_models_raise_a_repair_issue(
    hass: HomeAssistant, folder_entry: MockConfigEntry, issue_registry: ir.IssueRegistry
) -> None:
    """Without models nothing can be read: the user gets a repair issue that says why, and setup retries."""
    folder_entry.add_to_hass(hass)
    with patch(
        "custom_components.plate_tracker.ensure_models",
        side_effect=ModelsUnavailable("no route to pypi.org"),
    ):
        await hass.config_entries.async_setup(folder_entry.entry_id)
        await hass.async_block_till_done()
    assert folder_entry.state is ConfigEntryState.SETUP_RETRY
    issue = issue_registry.async_get_issue(DOMAIN, ISSUE_MODELS_UNAVAILABLE)
    assert issue is not None
    assert "no route to pypi.org" in issue.translation_placeholders["error"]

    await hass.config_entries.async_reload(folder_entry.entry_id)
    await hass.async_block_till_done()
    assert folder_entry.state is ConfigEntryState.LOADED
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_MODELS_UNAVAILABLE) is None
    assert await hass.config_entries.async_unload(folder_entry.entry_id)


async def test_unusable_database_retries_setup(
    hass: HomeAssistant, folder_entry: MockConfigEntry, config_dir: Path
) -> None:
    """A database that cannot be opened must not be replaced or ignored: setup waits and retries."""
    (config_dir / DOMAIN / "plate_tracker.db").mkdir()
    folder_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    assert folder_entry.state is ConfigEntryState.SETUP_RETRY


async def test_restart_shows_the_last_plate_again(
    hass: HomeAssistant, init_folder: MockConfigEntry
) -> None:
    """After a restart the camera's sensor shows its last stored sighting, not 'unknown'."""
    from datetime import UTC, datetime

    from custom_components.plate_tracker.records import NewSighting

    store = init_folder.runtime_data.store
    await hass.async_add_executor_job(
        store.record,
        NewSighting(
            camera="gate",
            seen_at=datetime(2026, 11, 25, 8, 0, tzinfo=UTC),
            plate="KA7777OO",
            raw="KA 7777 OO",
            confidence=0.91,
            source="folder",
        ),
    )
    await hass.config_entries.async_reload(init_folder.entry_id)
    await hass.async_block_till_done()
    state = hass.states.get("sensor.gate_last_plate")
    assert state is not None
    assert state.state == "KA7777OO"
    assert state.attributes["seen_at"] == "2026-11-25T08:00:00+00:00"


async def test_busy_counters_are_disabled_by_default(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """Counters that change with every frame would fill the recorder; health signals stay on."""
    entries = {
        entry.unique_id.removeprefix(f"{init_folder.entry_id}_"): entry
        for entry in er.async_entries_for_config_entry(
            entity_registry, init_folder.entry_id
        )
    }
    for key in ("frames_read", "queue_depth", "read_time"):
        assert entries[key].disabled_by is er.RegistryEntryDisabler.INTEGRATION
    for key in (
        "frames_dropped",
        "frames_rejected",
        "spool_depth",
        "sightings_recorded",
    ):
        assert entries[key].disabled_by is None
