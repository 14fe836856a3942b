"""A backup's copy of the database, taken file by file while sightings arrive, opens whole.

Home Assistant's backup calls ``async_pre_backup``, copies the configuration
folder one file after the other (the database, its WAL), then calls
``async_post_backup``. The copy is what a restore brings back: it must open as
a sound SQLite file holding every sighting stored before the backup started.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
import logging
from pathlib import Path
import shutil
import sqlite3
import time

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.plate_tracker import backup
from custom_components.plate_tracker.const import DATABASE_FILE, DOMAIN
from custom_components.plate_tracker.store import SightingStore

from .store.conftest import T0, sighting

BEFORE_BACKUP = 40
DURING_BACKUP = 60


def _database(hass: HomeAssistant) -> Path:
    return Path(hass.config.path(DOMAIN, DATABASE_FILE))


def _record_many(store: SightingStore, first: int, count: int) -> list[int]:
    """Store ``count`` sightings with a crop each (so the WAL grows by many pages)."""
    ids = []
    for number in range(first, first + count):
        stored, _ = store.record(
            sighting(
                seen_at=T0 + timedelta(seconds=number),
                crop_jpeg=bytes([number % 256]) * 20_000,
            )
        )
        ids.append(stored.id)
    return ids


def _copy_like_a_backup(
    database: Path, target: Path, order: tuple[str, ...], pause: float
) -> None:
    """Copy the database's files one after the other, as a backup's walk of the folder does."""
    target.mkdir()
    for suffix in order:
        source = database.with_name(database.name + suffix)
        if source.exists():
            shutil.copyfile(source, target / source.name)
        # Sightings keep coming between the files.
        time.sleep(pause)


def _open_copy(target: Path) -> tuple[str, set[int]]:
    """Open the copy as a restore would; return its integrity check and its sightings' ids."""
    conn = sqlite3.connect(target / DATABASE_FILE)
    try:
        (check,) = conn.execute("PRAGMA integrity_check").fetchone()
        ids = {row[0] for row in conn.execute("SELECT id FROM sightings")}
    finally:
        conn.close()
    return check, ids


@pytest.mark.parametrize(
    "order", [("", "-wal"), ("-wal", "")], ids=["main_file_first", "wal_first"]
)
async def test_a_copy_taken_while_sightings_arrive_opens_with_every_earlier_one(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    tmp_path: Path,
    order: tuple[str, ...],
) -> None:
    """The copy passes SQLite's integrity check and holds every sighting stored before it.

    Sightings are written all through the copy, between the two files too; the
    copy may hold some of them (whatever part of the WAL it caught), never a
    torn page. After the backup, checkpoints run again: the main file alone then
    holds everything.
    """
    store = init_folder.runtime_data.store
    database = _database(hass)
    before = await hass.async_add_executor_job(_record_many, store, 0, BEFORE_BACKUP)

    await backup.async_pre_backup(hass)
    assert store.main_file_held
    copy = tmp_path / "backup_copy"
    during, _ = await asyncio.gather(
        hass.async_add_executor_job(_record_many, store, BEFORE_BACKUP, DURING_BACKUP),
        hass.async_add_executor_job(_copy_like_a_backup, database, copy, order, 0.05),
    )
    await backup.async_post_backup(hass)

    check, copied = await hass.async_add_executor_job(_open_copy, copy)
    assert check == "ok"
    assert set(before) <= copied
    assert copied <= set(before) | set(during), "only sightings that were stored"

    # Checkpoints resumed: the main file, without its WAL, holds every sighting.
    assert not store.main_file_held
    main_only = tmp_path / "main_only"
    main_only.mkdir()
    await hass.async_add_executor_job(
        shutil.copyfile, database, main_only / DATABASE_FILE
    )
    check, in_main_file = await hass.async_add_executor_job(_open_copy, main_only)
    assert check == "ok"
    assert in_main_file == set(before) | set(during)


async def test_a_backup_while_the_hub_is_unloaded_goes_on(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A backup started while the hub reloads (its store closed) neither fails nor misses it.

    The store opened again during the backup is held from its opening on, and
    let go when the backup ends.
    """
    await hass.async_add_executor_job(
        _record_many, init_folder.runtime_data.store, 0, 3
    )
    assert await hass.config_entries.async_unload(init_folder.entry_id)
    await hass.async_block_till_done()

    with caplog.at_level(logging.WARNING):
        await backup.async_pre_backup(hass)
    assert backup.backup_in_progress(hass)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []

    assert await hass.config_entries.async_setup(init_folder.entry_id)
    await hass.async_block_till_done()
    assert init_folder.state is ConfigEntryState.LOADED
    store = init_folder.runtime_data.store
    assert store.main_file_held
    await backup.async_post_backup(hass)
    assert not store.main_file_held
    assert await hass.async_add_executor_job(store.count) == 3


async def test_a_store_closed_as_the_backup_starts_is_not_an_error(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A store the reload closes just as the backup holds it needs no hold: no error, no failure.

    Closed, it wrote its WAL into the main file and writes nothing more; the
    store opened after it is held from its opening on. An error saying the
    copy may not open would send the user after a problem that is not there.
    """
    store = init_folder.runtime_data.store
    hold = store.hold_main_file

    def closed_meanwhile() -> None:
        store.close()
        hold()

    monkeypatch.setattr(store, "hold_main_file", closed_meanwhile)
    with caplog.at_level(logging.DEBUG):
        await backup.async_pre_backup(hass)
    assert backup.backup_in_progress(hass)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    await backup.async_post_backup(hass)
    assert not backup.backup_in_progress(hass)
