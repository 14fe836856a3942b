"""The scheduled retention purge as Home Assistant runs it: failures, damage, the log."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime, timedelta
from functools import partial
import gc
import logging
import sqlite3
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.plate_tracker.const import (
    DOMAIN,
    RETENTION_HOUR,
    RETENTION_MINUTE,
)
from custom_components.plate_tracker.records import WatchlistEntry
from custom_components.plate_tracker.retention import (
    AUDIT_ACTION,
    CLOCK_CONFIRM_PERIOD,
    HELD_ACTION,
    ISSUE_CLOCK_AHEAD,
)
from custom_components.plate_tracker.store.models import AuditRecord

from .store.conftest import T0, sighting


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


# --- a clock far ahead ---------------------------------------------------------------

NIGHT_0 = T0 + timedelta(days=1)


def _purge_time_on(day: datetime) -> datetime:
    return dt_util.as_local(day).replace(
        hour=RETENTION_HOUR, minute=RETENTION_MINUTE, second=0, microsecond=0
    )


async def _purge_on_the_night_of(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    day: datetime,
    *,
    timer_due: datetime | None = None,
) -> None:
    """Set the clock to the purge's time on ``day`` (local) and let the purge run.

    The purge's timer counts elapsed time, not the clock's: after the clock
    went back, ``timer_due`` (the time the timer was set for) fires it.
    """
    at = _purge_time_on(day)
    freezer.move_to(at)
    async_fire_time_changed(hass, timer_due or at)
    await hass.async_block_till_done()


async def _stored_ids(entry: MockConfigEntry, hass: HomeAssistant) -> set[int]:
    store = entry.runtime_data.store
    return {
        found.id
        for found in await hass.async_add_executor_job(partial(store.recent, 500))
    }


async def _purges_audited(
    entry: MockConfigEntry, hass: HomeAssistant, action: str = AUDIT_ACTION
) -> list[AuditRecord]:
    return await hass.async_add_executor_job(
        partial(entry.runtime_data.store.audit_log, action=action)
    )


@pytest.fixture
async def purged_last_night(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, folder_entry: MockConfigEntry
) -> AsyncGenerator[tuple[MockConfigEntry, set[int]]]:
    """Set the entry up with a watched car's hit 40 days old and a sighting 2 days old.

    The purge ran last night (NIGHT_0), on time: that is where the clock
    stood. Yields the entry and the ids of the sightings.
    """
    freezer.move_to(T0)
    folder_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    store = folder_entry.runtime_data.store

    def fill() -> set[int]:
        listed = store.watchlist_add(WatchlistEntry(id=None, plate="KA0001AA"))
        assert listed.id is not None
        wanted, _ = store.record(
            sighting(plate="KA0001AA", raw="KA0001AA", seen_at=T0 - timedelta(days=40))
        )
        store.record_hit(wanted.id, listed.id, "exact", "KA0001AA", wanted.seen_at)
        recent, _ = store.record(sighting(seen_at=T0 - timedelta(days=2)))
        return {wanted.id, recent.id}

    ids = await hass.async_add_executor_job(fill)
    await _purge_on_the_night_of(hass, freezer, NIGHT_0)
    assert await _stored_ids(folder_entry, hass) == ids
    assert len(await _purges_audited(folder_entry, hass)) == 1
    yield folder_entry, ids
    await hass.config_entries.async_unload(folder_entry.entry_id)
    await hass.async_block_till_done()


async def test_a_clock_jumped_years_ahead_erases_nothing(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    purged_last_night: tuple[MockConfigEntry, set[int]],
    issue_registry: ir.IssueRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bad NTP server sets the clock three years ahead: the nightly purge holds.

    By that clock every sighting is past retention, the watched car's hit too;
    erased, they are gone for good. The night is audited, logged as an error
    and shown as a repair issue saying when the purge would take the clock as
    right.
    """
    entry, ids = purged_last_night
    await _purge_on_the_night_of(hass, freezer, NIGHT_0 + timedelta(days=3 * 365))

    assert await _stored_ids(entry, hass) == ids
    assert len(await _purges_audited(entry, hass)) == 1
    (held,) = await _purges_audited(entry, hass, HELD_ACTION)
    assert held.details["ahead_days"] >= 3 * 365
    issue = issue_registry.async_get_issue(DOMAIN, ISSUE_CLOCK_AHEAD)
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["nights"] == "1"
    assert int(issue.translation_placeholders["days"]) >= 3 * 365
    assert "Retention purge held" in caplog.text


async def test_a_clock_put_right_lets_the_purge_go_on(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    purged_last_night: tuple[MockConfigEntry, set[int]],
    issue_registry: ir.IssueRegistry,
) -> None:
    """Once NTP sets the clock right, the next night purges as configured again."""
    entry, ids = purged_last_night
    jumped = NIGHT_0 + timedelta(days=3 * 365 + 1)
    await _purge_on_the_night_of(hass, freezer, jumped)
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_CLOCK_AHEAD) is not None

    await _purge_on_the_night_of(
        hass,
        freezer,
        NIGHT_0 + timedelta(days=1),
        timer_due=_purge_time_on(jumped + timedelta(days=1)),
    )
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_CLOCK_AHEAD) is None
    assert len(await _purges_audited(entry, hass)) == 2
    assert await _stored_ids(entry, hass) == ids


async def test_home_assistant_off_for_weeks_purges_after_a_steady_week(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    purged_last_night: tuple[MockConfigEntry, set[int]],
    issue_registry: ir.IssueRegistry,
) -> None:
    """Back after 60 days off, the clock looks like a jump: a week of steady nights settles it.

    Retention is the user's: a real absence must not keep personal data
    forever. The purge waits CLOCK_CONFIRM_PERIOD (a week of nights), then
    erases what the configured periods no longer allow.
    """
    entry, ids = purged_last_night
    back = NIGHT_0 + timedelta(days=60)
    held_nights = CLOCK_CONFIRM_PERIOD.days
    for night in range(held_nights):
        await _purge_on_the_night_of(hass, freezer, back + timedelta(days=night))
        assert await _stored_ids(entry, hass) == ids
    issue = issue_registry.async_get_issue(DOMAIN, ISSUE_CLOCK_AHEAD)
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["nights"] == str(held_nights)

    await _purge_on_the_night_of(hass, freezer, back + timedelta(days=held_nights))
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_CLOCK_AHEAD) is None
    # 69 days on: the 2-day-old sighting is past 30 days; the 40-day-old hit is within 365.
    assert len(await _stored_ids(entry, hass)) == 1
    assert len(await _purges_audited(entry, hass)) == 2
    assert len(await _purges_audited(entry, hass, HELD_ACTION)) == held_nights


async def test_a_clock_that_jumps_again_while_held_starts_the_wait_over(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    purged_last_night: tuple[MockConfigEntry, set[int]],
) -> None:
    """Only a clock going on steadily is taken as right: a second jump is a new doubt."""
    entry, ids = purged_last_night
    first = NIGHT_0 + timedelta(days=365)
    for night in range(3):
        await _purge_on_the_night_of(hass, freezer, first + timedelta(days=night))
    second = first + timedelta(days=4 * 365)
    for night in range(CLOCK_CONFIRM_PERIOD.days):
        await _purge_on_the_night_of(hass, freezer, second + timedelta(days=night))
        assert await _stored_ids(entry, hass) == ids
    await _purge_on_the_night_of(
        hass, freezer, second + timedelta(days=CLOCK_CONFIRM_PERIOD.days)
    )
    assert await _stored_ids(entry, hass) == set()


async def test_cameras_quiet_for_weeks_do_not_hold_retention(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    purged_last_night: tuple[MockConfigEntry, set[int]],
    issue_registry: ir.IssueRegistry,
) -> None:
    """No sighting for weeks (cameras off) is no doubt: the purge runs every night."""
    entry, ids = purged_last_night
    for night in range(1, 30):
        await _purge_on_the_night_of(hass, freezer, NIGHT_0 + timedelta(days=night))
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_CLOCK_AHEAD) is None
    # The sighting, 31 days old now, is gone; the watched car's hit stays.
    left = await _stored_ids(entry, hass)
    assert len(left) == 1
    assert left < ids
    assert await _purges_audited(entry, hass, HELD_ACTION) == []
