"""A change and its audit line are written together or not at all.

A legal hold, an acknowledgement and every watchlist change: by a service,
the options flow or the repair of a damaged database.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
import sqlite3
from typing import Any

from homeassistant.auth.models import User
from homeassistant.config_entries import ConfigFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.plate_tracker.const import DOMAIN
from custom_components.plate_tracker.records import NewSighting, WatchlistEntry
from custom_components.plate_tracker.repairs import RESTORED_LABEL

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


async def _listed(hass: HomeAssistant, entry: MockConfigEntry, *plates: str) -> None:
    """List ``plates`` straight in the store (while audit lines are accepted) and index them."""
    database = entry.runtime_data.store.path
    _accept_audit_lines(database)
    for plate in plates:
        await hass.async_add_executor_job(
            entry.runtime_data.store.watchlist_add,
            WatchlistEntry(id=None, plate=plate, label="Stolen"),
        )
    await entry.runtime_data.alerts.async_reload_watchlist()
    _refuse_audit_lines(database)


async def _plates(hass: HomeAssistant, entry: MockConfigEntry) -> list[str]:
    listed = await hass.async_add_executor_job(entry.runtime_data.store.watchlist)
    return [listed_entry.plate for listed_entry in listed]


@pytest.mark.parametrize(
    ("which", "details"),
    [
        ({"plate": "AE1234BK"}, {"entry": "AE1234BK"}),
        ({"entry_id": 1}, {"entry": 1, "plate": "AE1234BK"}),
    ],
)
async def test_a_watchlist_removal_whose_audit_line_fails_is_not_applied(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_admin_user: User,
    refused_audit: None,
    *,
    which: dict[str, Any],
    details: dict[str, Any],
) -> None:
    """A wanted car must not stop alerting without a line saying who took it off the list.

    The entry was deleted first and its audit line written after: when that
    write failed, the call failed, the car was off the list, and no line
    said who removed it; the retry answered "no such entry".
    """
    await _listed(hass, init_folder, "AE1234BK")
    store = init_folder.runtime_data.store
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, "watchlist_remove", which, hass_admin_user, response=False)
    assert err.value.translation_key == "store_failed"
    assert await _plates(hass, init_folder) == ["AE1234BK"]

    _accept_audit_lines(store.path)
    await call(hass, "watchlist_remove", which, hass_admin_user, response=False)
    assert init_folder.runtime_data.alerts.entries == []
    (line,) = await hass.async_add_executor_job(store.audit_log)
    assert (line.action, line.user_id) == ("watchlist_remove", hass_admin_user.id)
    assert line.details == details
    _refuse_audit_lines(store.path)


async def test_a_watchlist_import_whose_audit_line_fails_is_not_applied(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_admin_user: User,
    refused_audit: None,
) -> None:
    """An import replacing the list must not take effect without its audit line.

    The import was committed first: when its audit line failed, the call
    failed, the old list was gone (``replace``) and no line said who replaced
    it or how many rows came in.
    """
    await _listed(hass, init_folder, "AE1234BK")
    store = init_folder.runtime_data.store
    data = {"csv": "plate,label\nKA0001OO,Van\nBC7777HP,Truck\n", "replace": True}
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, "watchlist_import", data, hass_admin_user)
    assert err.value.translation_key == "store_failed"
    assert await _plates(hass, init_folder) == ["AE1234BK"]

    _accept_audit_lines(store.path)
    assert await call(hass, "watchlist_import", data, hass_admin_user) == {
        "imported": 2,
        "total": 2,
    }
    assert [listed.plate for listed in init_folder.runtime_data.alerts.entries] == [
        "KA0001OO",
        "BC7777HP",
    ]
    (line,) = await hass.async_add_executor_job(store.audit_log)
    assert (line.action, line.details) == (
        "watchlist_import",
        {"rows": 2, "replace": True, "total": 2},
    )
    _refuse_audit_lines(store.path)


async def _options_step(
    hass: HomeAssistant, entry: MockConfigEntry, step: str
) -> ConfigFlowResult:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    return await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": step}
    )


async def test_a_plate_the_options_flow_lists_without_its_audit_line_is_not_listed(
    hass: HomeAssistant, init_folder: MockConfigEntry, refused_audit: None
) -> None:
    """The form names the failure and lists nothing; sent again once the disk is fixed, it lists the plate.

    The entry was stored first and the audit line written after: when that
    write failed, the flow crashed with an unknown error, the plate was
    listed without a line saying so, and sending the form again was refused
    as "already on the watchlist".
    """
    store = init_folder.runtime_data.store
    result = await _options_step(hass, init_folder, "watchlist_add")
    form = {"plate": "AE1234BK", "label": "Stolen Skoda", "priority": "high"}
    result = await hass.config_entries.options.async_configure(result["flow_id"], form)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "store_failed"}
    assert "database or disk is full" in result["description_placeholders"]["error"]
    assert await _plates(hass, init_folder) == []

    _accept_audit_lines(store.path)
    result = await hass.config_entries.options.async_configure(result["flow_id"], form)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert [listed.plate for listed in init_folder.runtime_data.alerts.entries] == [
        "AE1234BK"
    ]
    (line,) = await hass.async_add_executor_job(store.audit_log)
    assert (line.action, line.details) == (
        "watchlist_add",
        {"plate": "AE1234BK", "label": "Stolen Skoda", "via": "options_flow"},
    )
    _refuse_audit_lines(store.path)


async def test_plates_the_options_flow_removes_without_their_audit_line_stay_listed(
    hass: HomeAssistant, init_folder: MockConfigEntry, refused_audit: None
) -> None:
    """The form names the failure and removes nothing; sent again, it removes them all with one line.

    Each entry was deleted in its own transaction and the audit line written
    after: when that write failed, the flow crashed, the plates were off the
    list, and no line said so.
    """
    await _listed(hass, init_folder, "AE1234BK", "KA0001OO", "BC7777HP")
    store = init_folder.runtime_data.store
    ids = {
        listed.plate: listed.id for listed in init_folder.runtime_data.alerts.entries
    }
    chosen = [str(ids["AE1234BK"]), str(ids["BC7777HP"])]
    result = await _options_step(hass, init_folder, "watchlist_remove")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"entries": chosen}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "store_failed"}
    assert await _plates(hass, init_folder) == ["AE1234BK", "KA0001OO", "BC7777HP"]

    _accept_audit_lines(store.path)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"entries": chosen}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert [listed.plate for listed in init_folder.runtime_data.alerts.entries] == [
        "KA0001OO"
    ]
    (line,) = await hass.async_add_executor_job(store.audit_log)
    assert (line.action, line.details) == (
        "watchlist_remove",
        {
            "entries": [ids["AE1234BK"], ids["BC7777HP"]],
            "plates": ["AE1234BK", "BC7777HP"],
            "via": "options_flow",
        },
    )
    _refuse_audit_lines(store.path)


async def test_plates_a_repair_lists_again_without_their_audit_line_are_not_listed(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    refused_audit: None,
) -> None:
    """The repair lists all the lost plates with its audit line, or none: it can simply be run again.

    Each plate was stored in its own transaction and the audit line written
    after: when that write failed, the repair stopped with the plates listed
    and no line saying who listed them, and the issue stayed, so that the
    next run found them "already listed".
    """
    store = init_folder.runtime_data.store
    await _listed(hass, init_folder, "KA0001OO")
    ir.async_create_issue(
        hass,
        DOMAIN,
        "database_damaged_watchlist_lost_test",
        is_fixable=True,
        severity=ir.IssueSeverity.ERROR,
        translation_key="database_damaged_watchlist_lost",
        # As an older version wrote it: the plates in the issue itself.
        data={"kept": "plate_tracker.db.damaged-1", "plates": "AE1234BK,KA0001OO"},
    )
    assert await async_setup_component(hass, "repairs", {})
    client = await hass_client()

    async def run_repair() -> dict[str, Any]:
        started = await client.post(
            "/api/repairs/issues/fix",
            json={
                "handler": DOMAIN,
                "issue_id": "database_damaged_watchlist_lost_test",
            },
        )
        assert started.status == HTTPStatus.OK
        form = await started.json()
        assert form["step_id"] == "confirm"
        done = await client.post(
            f"/api/repairs/issues/fix/{form['flow_id']}", json={"priority": "critical"}
        )
        assert done.status == HTTPStatus.OK
        return await done.json()

    failed = await run_repair()
    assert (failed["type"], failed["reason"]) == ("abort", "store_failed")
    assert await _plates(hass, init_folder) == ["KA0001OO"]

    _accept_audit_lines(store.path)
    assert (await run_repair())["type"] == "create_entry"
    listed = {entry.plate: entry for entry in init_folder.runtime_data.alerts.entries}
    assert sorted(listed) == ["AE1234BK", "KA0001OO"]
    assert listed["AE1234BK"].label == RESTORED_LABEL
    assert listed["KA0001OO"].label == "Stolen"
    (line,) = await hass.async_add_executor_job(store.audit_log)
    assert line.action == "watchlist_add"
    assert (line.details["plates"], line.details["already_listed"]) == (
        ["AE1234BK"],
        ["KA0001OO"],
    )
    _refuse_audit_lines(store.path)
