"""A legal hold or an acknowledgement and its audit line are written together or not at all."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
import sqlite3

from homeassistant.auth.models import User
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.plate_tracker.records import NewSighting, WatchlistEntry

from .helpers import call

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _refuse_audit_lines(database: Path) -> None:
    """Make the real file refuse every new audit line, as a full disk refuses a write."""
    conn = sqlite3.connect(database)
    try:
        conn.execute(
            "CREATE TRIGGER audit_refused BEFORE INSERT ON audit BEGIN"
            " SELECT RAISE (ABORT, 'database or disk is full'); END"
        )
        conn.commit()
    finally:
        conn.close()


def _accept_audit_lines(database: Path) -> None:
    conn = sqlite3.connect(database)
    try:
        conn.execute("DROP TRIGGER audit_refused")
        conn.commit()
    finally:
        conn.close()


@pytest.fixture
def refused_audit(init_folder: MockConfigEntry) -> Iterator[None]:
    """Refuse audit lines in the hub's database for the test's calls."""
    database = init_folder.runtime_data.store.path
    _refuse_audit_lines(database)
    yield
    _accept_audit_lines(database)


async def _sighting(hass: HomeAssistant, entry: MockConfigEntry) -> int:
    sighting, _ = await hass.async_add_executor_job(
        entry.runtime_data.store.record,
        NewSighting(
            camera="bridge",
            seen_at=NOW,
            plate="AE1234BK",
            raw="AE1234BK",
            confidence=0.9,
            source="folder",
        ),
    )
    assert sighting.id is not None
    return sighting.id


async def test_a_legal_hold_whose_audit_line_fails_is_not_applied(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_admin_user: User,
    refused_audit: None,
) -> None:
    """A hold the audit log does not name must not exist: both or neither.

    The hold was committed first and its audit line written after: when that
    write failed, the call failed but the sighting stayed held, with no line
    saying who held it or why.
    """
    store = init_folder.runtime_data.store
    sighting_id = await _sighting(hass, init_folder)
    with pytest.raises(HomeAssistantError) as err:
        await call(
            hass,
            "set_legal_hold",
            {"sighting_ids": [sighting_id], "reason": "case 9 evidence"},
            hass_admin_user,
        )
    assert err.value.translation_key == "store_failed"
    sighting = await hass.async_add_executor_job(store.get, sighting_id)
    assert sighting is not None
    assert not sighting.legal_hold

    _accept_audit_lines(store.path)
    response = await call(
        hass,
        "set_legal_hold",
        {"sighting_ids": [sighting_id], "reason": "case 9 evidence"},
        hass_admin_user,
    )
    assert response == {"changed": 1}
    (line,) = await hass.async_add_executor_job(store.audit_log)
    assert (line.action, line.user_id, line.reason) == (
        "set_legal_hold",
        hass_admin_user.id,
        "case 9 evidence",
    )
    assert line.details == {"sighting_ids": [sighting_id], "held": True, "changed": 1}
    _refuse_audit_lines(store.path)


async def test_an_acknowledgement_whose_audit_line_fails_is_not_applied(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_read_only_user: User,
    refused_audit: None,
) -> None:
    """An alert taken without its audit line would stay taken: the officer could not retry.

    The acknowledgement was committed first: when its audit line failed, the
    call failed, and the retry was refused as already acknowledged, so no
    line ever said who took the alert.
    """
    store = init_folder.runtime_data.store
    sighting_id = await _sighting(hass, init_folder)
    listed = await hass.async_add_executor_job(
        store.watchlist_add,
        WatchlistEntry(id=None, plate="AE1234BK", label="Skoda", reason="stolen"),
    )
    assert listed.id is not None
    hit_id = await hass.async_add_executor_job(
        store.record_hit, sighting_id, listed.id, "exact", "AE1234BK", NOW
    )
    with pytest.raises(HomeAssistantError) as err:
        await call(
            hass,
            "acknowledge_hit",
            {"hit_id": hit_id, "note": "patrol 12 sent"},
            hass_read_only_user,
        )
    assert err.value.translation_key == "store_failed"
    (hit,) = await hass.async_add_executor_job(store.hits_for_sighting, sighting_id)
    assert hit.acknowledged_by is None

    _accept_audit_lines(store.path)
    await call(
        hass,
        "acknowledge_hit",
        {"hit_id": hit_id, "note": "patrol 12 sent"},
        hass_read_only_user,
    )
    (line,) = await hass.async_add_executor_job(store.audit_log)
    assert (line.action, line.user_id, line.reason) == (
        "acknowledge_hit",
        hass_read_only_user.id,
        "patrol 12 sent",
    )
    assert line.details == {
        "hit_id": hit_id,
        "plate": "AE1234BK",
        "plate_read": "AE1234BK",
    }
    _refuse_audit_lines(store.path)


async def test_a_watchlist_entry_whose_audit_line_fails_is_not_added(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_admin_user: User,
    refused_audit: None,
) -> None:
    """A stolen car listed while its audit line failed must be listed again, and then alert.

    The entry was stored first and the call failed on its audit line before
    the alerts loaded it: the car raised no alert until a restart, and
    listing it again was refused as already listed.
    """
    runtime = init_folder.runtime_data
    data = {"plate": "AE1234BK", "label": "Stolen Skoda", "reason": "case 12023"}
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, "watchlist_add", data, hass_admin_user)
    assert err.value.translation_key == "store_failed"
    assert await hass.async_add_executor_job(runtime.store.watchlist) == []

    _accept_audit_lines(runtime.store.path)
    response = await call(hass, "watchlist_add", data, hass_admin_user)
    assert [listed.plate for listed in runtime.alerts.entries] == ["AE1234BK"]
    (line,) = await hass.async_add_executor_job(runtime.store.audit_log)
    assert (line.action, line.user_id) == ("watchlist_add", hass_admin_user.id)
    assert line.details == response["entry"]
    _refuse_audit_lines(runtime.store.path)
