"""The scheduled retention purge as Home Assistant runs it: failures, damage, the log."""

from __future__ import annotations

from datetime import timedelta
import gc
import logging
import sqlite3
from unittest.mock import patch

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.plate_tracker.const import RETENTION_HOUR, RETENTION_MINUTE


async def _run_the_nightly_purge(hass: HomeAssistant) -> None:
    """Fire the time of the nightly purge (the clock itself stays where it is)."""
    now = dt_util.now()
    at = now.replace(
        hour=RETENTION_HOUR, minute=RETENTION_MINUTE, second=0, microsecond=0
    )
    if at <= now:
        at += timedelta(days=1)
    async_fire_time_changed(hass, at)
    await hass.async_block_till_done()


async def test_a_failing_nightly_purge_is_logged_once_without_a_stray_traceback(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A purge the database refuses (a full disk) says so once, clearly.

    The scheduled purge runs as a task nobody awaits: its error used to reach
    asyncio as "Task exception was never retrieved", a bare traceback an
    operator cannot act on, besides the purge's own message.
    """
    store = init_folder.runtime_data.store

    def refuse(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store, "purge_expired", refuse)
    await _run_the_nightly_purge(hass)
    gc.collect()
    await hass.async_block_till_done()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    expected = (
        "Retention purge failed after removing 0 sightings, 0 images: "
        "database or disk is full"
    )
    assert [r.getMessage() for r in errors] == [expected]
    assert all(r.exc_info is None for r in errors)


async def test_damage_met_by_the_nightly_purge_has_the_database_checked(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A purge SQLite refuses as damaged reloads the entry to check the file.

    Damage in a page the purge needs refuses later writes too; like a refused
    write or service call, it must get the file checked (and set aside), not
    only a line in the log.
    """
    store = init_folder.runtime_data.store

    def refuse(*args: object, **kwargs: object) -> None:
        err = sqlite3.DatabaseError("database disk image is malformed")
        err.sqlite_errorcode = sqlite3.SQLITE_CORRUPT
        raise err

    monkeypatch.setattr(store, "purge_expired", refuse)
    with patch.object(hass.config_entries, "async_schedule_reload") as schedule_reload:
        await _run_the_nightly_purge(hass)
    schedule_reload.assert_called_once_with(init_folder.entry_id)
    assert "reloads to check the file" in caplog.text
