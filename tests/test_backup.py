"""Home Assistant's backups get a sound copy of the database while sightings go on."""

from __future__ import annotations

import asyncio
from datetime import timedelta
import hashlib
import logging
from pathlib import Path
import sqlite3
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.backup import DATA_MANAGER
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from custom_components import plate_tracker
from custom_components.plate_tracker import backup
from custom_components.plate_tracker.const import DATABASE_FILE, DOMAIN, EVENT_SIGHTING
from custom_components.plate_tracker.diagnostics import (
    async_get_config_entry_diagnostics,
)

from .helpers import wait_until
from .store.conftest import T0, sighting
from .synthetic import scene_jpeg
from .test_folder_source import _upload


def _main_file(hass: HomeAssistant) -> Path:
    return Path(hass.config.path(DOMAIN, DATABASE_FILE))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.usefixtures("no_inbox_poll_wait")
async def test_backup_manager_holds_the_store_and_sightings_go_on(
    hass: HomeAssistant, inbox: Path, init_folder: MockConfigEntry
) -> None:
    """Home Assistant's backup manager finds the platform; a sighting during it is stored.

    The sighting takes the real path (inbox, engine, pipeline, store) and is
    announced without waiting for the backup; the main file stays as it was.
    """
    assert await async_setup_component(hass, "backup", {})
    await hass.async_block_till_done()
    manager = hass.data[DATA_MANAGER]
    assert manager.platforms[DOMAIN] is backup

    store = init_folder.runtime_data.store
    await manager.async_pre_backup_actions()
    assert store.main_file_held
    held_digest = await hass.async_add_executor_job(_digest, _main_file(hass))

    events = async_capture_events(hass, EVENT_SIGHTING)
    camera_dir = inbox / "bridge"
    camera_dir.mkdir()
    await hass.async_add_executor_job(
        _upload, camera_dir / "snapshot.jpg", scene_jpeg("AE1234BK", seed=3)
    )
    await wait_until(lambda: bool(events))
    assert events[0].data["plate"] == "AE1234BK"
    assert await hass.async_add_executor_job(store.count) == 1
    assert await hass.async_add_executor_job(_digest, _main_file(hass)) == held_digest

    await manager.async_post_backup_actions()
    assert not store.main_file_held
    assert await hass.async_add_executor_job(_digest, _main_file(hass)) != held_digest


async def test_a_reload_during_a_backup_keeps_the_main_file_still(
    hass: HomeAssistant, init_folder: MockConfigEntry
) -> None:
    """The store closed and opened again mid-backup checkpoints nothing, opening included."""
    for number in range(3):
        await hass.async_add_executor_job(
            init_folder.runtime_data.store.record,
            sighting(seen_at=T0 + timedelta(minutes=number)),
        )
    await backup.async_pre_backup(hass)
    held_digest = await hass.async_add_executor_job(_digest, _main_file(hass))

    assert await hass.config_entries.async_reload(init_folder.entry_id)
    await hass.async_block_till_done()
    store = init_folder.runtime_data.store
    assert store.main_file_held
    assert await hass.async_add_executor_job(store.count) == 3
    assert await hass.async_add_executor_job(_digest, _main_file(hass)) == held_digest
    # Support sees both halves: the backup runs, and the new store holds still too.
    held = (await async_get_config_entry_diagnostics(hass, init_folder))["store"]
    assert (held["backup_in_progress"], held["main_file_held_for_backup"]) == (
        True,
        True,
    )

    await backup.async_post_backup(hass)
    assert not backup.backup_in_progress(hass)
    assert not store.main_file_held
    ended = (await async_get_config_entry_diagnostics(hass, init_folder))["store"]
    assert (ended["backup_in_progress"], ended["main_file_held_for_backup"]) == (
        False,
        False,
    )
    assert await hass.async_add_executor_job(_digest, _main_file(hass)) != held_digest


async def test_a_backup_that_never_ends_is_let_go_after_the_limit(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Checkpoints cannot stay off for good when a backup never says it ended."""
    store = init_folder.runtime_data.store
    await backup.async_pre_backup(hass)
    async_fire_time_changed(
        hass, dt_util.utcnow() + backup.BACKUP_HOLD_LIMIT - timedelta(minutes=1)
    )
    await hass.async_block_till_done()
    assert store.main_file_held

    async_fire_time_changed(
        hass, dt_util.utcnow() + backup.BACKUP_HOLD_LIMIT + timedelta(seconds=1)
    )
    await hass.async_block_till_done()
    assert not store.main_file_held
    assert not backup.backup_in_progress(hass)
    assert "has not ended" in caplog.text
    # The backup's own end, late, changes nothing.
    await backup.async_post_backup(hass)
    assert not store.main_file_held


async def test_a_second_start_renews_the_limit(
    hass: HomeAssistant, init_folder: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A backup that starts while one is held counts the limit from its own start."""
    store = init_folder.runtime_data.store
    await backup.async_pre_backup(hass)
    freezer.tick(timedelta(minutes=50))
    async_fire_time_changed(hass)
    await backup.async_pre_backup(hass)
    freezer.tick(timedelta(minutes=50))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert store.main_file_held, (
        "100 minutes after the first start, 50 after the second"
    )
    freezer.tick(timedelta(minutes=11))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert not store.main_file_held


async def test_a_store_that_cannot_be_held_does_not_stop_the_backup(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The rest of Home Assistant's backup is still worth having: logged, not raised."""
    store = init_folder.runtime_data.store

    def disk_error() -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "hold_main_file", disk_error)
    with caplog.at_level(logging.ERROR):
        await backup.async_pre_backup(hass)
    assert "disk I/O error" in caplog.text
    assert "may not open" in caplog.text
    monkeypatch.undo()
    await backup.async_post_backup(hass)
    assert not store.main_file_held
    assert await hass.async_add_executor_job(store.count) == 0


async def test_a_backup_during_setup_holds_the_store_being_set_up(
    hass: HomeAssistant, folder_entry: MockConfigEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An entry still being set up already writes (its spool's replay): a backup holds it.

    Only loaded entries were held, so a backup that started while a source
    was still connecting (Frigate waiting for MQTT) let checkpoints rewrite the
    main file under the copy.
    """
    gate = asyncio.Event()
    started = asyncio.Event()
    start_sources = plate_tracker.async_start_sources

    async def slow_sources(*args: Any, **kwargs: Any) -> Any:
        started.set()
        await gate.wait()
        return await start_sources(*args, **kwargs)

    monkeypatch.setattr(plate_tracker, "async_start_sources", slow_sources)
    folder_entry.add_to_hass(hass)
    setup = hass.async_create_task(
        hass.config_entries.async_setup(folder_entry.entry_id)
    )
    await started.wait()
    assert folder_entry.state is ConfigEntryState.SETUP_IN_PROGRESS
    store = folder_entry.runtime_data.store
    await backup.async_pre_backup(hass)
    assert store.main_file_held
    held_digest = await hass.async_add_executor_job(_digest, _main_file(hass))
    gate.set()
    assert await setup
    await hass.async_block_till_done()
    for minute in range(12):
        await hass.async_add_executor_job(
            store.record,
            sighting(seen_at=T0 + timedelta(minutes=minute), crop_jpeg=bytes(400_000)),
        )
    assert await hass.async_add_executor_job(_digest, _main_file(hass)) == held_digest
    await backup.async_post_backup(hass)
    assert not store.main_file_held
    assert await hass.config_entries.async_unload(folder_entry.entry_id)
