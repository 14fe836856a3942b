"""Search, evidence export, purge, legal hold, retention and the audit log, inside Home Assistant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import errno
import hashlib
import json
from pathlib import Path
import sqlite3
from typing import Any
import zipfile

from homeassistant.auth.models import User
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.entity_component import async_update_entity
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous as vol
import yaml

from custom_components.plate_tracker.records import NewSighting, Sighting
from custom_components.plate_tracker.retention import async_purge_expired
from custom_components.plate_tracker.store import SightingStore

from .helpers import call

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PLATES = ("AE1234BK", "AE5634BK", "KA1234OO", "BC0034BK", "AE1234BX")


@pytest.fixture
async def sightings(
    hass: HomeAssistant, init_folder: MockConfigEntry
) -> list[Sighting]:
    """Store one sighting per plate, an hour apart, at two cameras."""
    store = init_folder.runtime_data.store
    stored = []
    for index, plate in enumerate(PLATES):
        sighting, _ = await hass.async_add_executor_job(
            store.record,
            NewSighting(
                camera="bridge" if index % 2 else "exit_kyiv_road",
                seen_at=NOW - timedelta(hours=index),
                plate=plate,
                raw=plate,
                confidence=0.9 - index / 20,
                source="folder",
                crop_jpeg=f"crop {plate}".encode(),
                snapshot_jpeg=f"snapshot {plate}".encode(),
            ),
        )
        stored.append(sighting)
    return stored


@pytest.mark.usefixtures("sightings")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"plate": "*34BK"}, ["AE1234BK", "AE5634BK", "BC0034BK"]),
        ({"plate": "AE?234BK"}, ["AE1234BK"]),
        ({"plate": "AEI234BK", "fuzzy": True}, ["AE1234BK", "AE1234BX"]),
        ({"plate": "ае 1234 вк"}, ["AE1234BK"]),
        ({"cameras": ["bridge"]}, ["AE5634BK", "BC0034BK"]),
        ({"min_confidence": 0.8}, ["AE1234BK", "AE5634BK", "KA1234OO"]),
        ({"since": "2026-11-25T09:30:00+00:00"}, ["AE1234BK", "AE5634BK", "KA1234OO"]),
    ],
)
async def test_search_from_a_partial_description(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_read_only_user: User,
    query: dict[str, Any],
    expected: list[str],
) -> None:
    """Police start from "ends in 34 BK, near the bridge": every filter narrows the result."""
    response = await call(
        hass, "search_sightings", {**query, "reason": "case 42"}, hass_read_only_user
    )
    assert [item["plate"] for item in response["sightings"]] == expected
    first = response["sightings"][0]
    assert "/crop.jpg?exp=" in first["crop_url"]
    store = init_folder.runtime_data.store
    (line,) = await hass.async_add_executor_job(store.audit_log)
    assert (line.action, line.user_id, line.reason) == (
        "search_sightings",
        hass_read_only_user.id,
        "case 42",
    )
    assert line.details["results"] == len(expected)


@pytest.mark.usefixtures("sightings")
async def test_search_pages(hass: HomeAssistant, init_folder: MockConfigEntry) -> None:
    """Large results come in pages; following the cursor returns each sighting once."""
    seen: list[str] = []
    cursor = None
    while True:
        data = {"reason": "case 42", "page_size": 2, "sort": "oldest"}
        if cursor:
            data["cursor"] = cursor
        response = await call(hass, "search_sightings", data)
        seen += [item["plate"] for item in response["sightings"]]
        if (cursor := response["next_cursor"]) is None:
            break
    assert seen == list(reversed(PLATES))


@pytest.mark.usefixtures("init_folder")
@pytest.mark.parametrize(
    ("data", "key"),
    [
        (
            {
                "since": "2026-11-25T12:00:00+00:00",
                "until": "2026-11-24T12:00:00+00:00",
            },
            "time_range_reversed",
        ),
        ({"plate": "A*"}, "pattern_too_broad"),
        ({"plate": "AE#1"}, "plate_invalid_characters"),
        ({"cursor": "garbage"}, "invalid_cursor"),
    ],
)
async def test_search_refuses_bad_input(
    hass: HomeAssistant, data: dict[str, Any], key: str
) -> None:
    """Bad input gets a translated error that says what is wrong, never a crash."""
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "search_sightings", {**data, "reason": "case 42"})
    assert err.value.translation_key == key


@pytest.mark.usefixtures("init_folder")
async def test_search_and_export_need_a_reason(
    hass: HomeAssistant, allowed_dir: Path
) -> None:
    """Looking at personal data must be justified: no reason, no search."""
    with pytest.raises(vol.Invalid):
        await call(hass, "search_sightings", {"plate": "AE1234BK"})
    with pytest.raises(vol.Invalid):
        await call(hass, "export_sightings", {"folder": str(allowed_dir)})


@pytest.mark.usefixtures("sightings")
async def test_export_writes_verifiable_evidence(
    hass: HomeAssistant, init_folder: MockConfigEntry, allowed_dir: Path
) -> None:
    """An export holds the sightings, their images and a SHA-256 manifest a court can verify."""
    response = await call(
        hass,
        "export_sightings",
        {"plate": "*34BK", "folder": str(allowed_dir), "reason": "court request 7"},
    )
    path = Path(response["path"])
    assert path.parent == allowed_dir
    assert response["sightings"] == 3
    data = await hass.async_add_executor_job(path.read_bytes)
    assert hashlib.sha256(data).hexdigest() == response["sha256"]
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        names = set(archive.namelist())
        assert "sightings.csv" in names
        assert sum(name.startswith("crops/") for name in names) == 3
        for name, digest in manifest["files"].items():
            assert hashlib.sha256(archive.read(name)).hexdigest() == digest["sha256"]
    store = init_folder.runtime_data.store
    (line,) = await hass.async_add_executor_job(store.audit_log)
    assert (line.action, line.reason) == ("export_sightings", "court request 7")

    with pytest.raises(ServiceValidationError) as err:
        await call(
            hass, "export_sightings", {"folder": "/etc", "reason": "court request 7"}
        )
    assert err.value.translation_key == "path_not_allowed"


@pytest.mark.usefixtures("sightings")
async def test_an_export_the_disk_refuses_is_a_translated_error(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    allowed_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A full or read-only export folder is said in words, and nothing is audited as exported."""
    store = init_folder.runtime_data.store

    def disk_full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store, "export_zip", disk_full)
    with pytest.raises(HomeAssistantError) as err:
        await call(
            hass,
            "export_sightings",
            {"folder": str(allowed_dir), "reason": "court request 8"},
        )
    assert err.value.translation_key == "export_failed"
    assert "No space left on device" in err.value.translation_placeholders["error"]
    assert await hass.async_add_executor_job(store.audit_log) == []


async def test_purge_respects_legal_hold_and_is_audited(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    sightings: list[Sighting],
    hass_admin_user: User,
) -> None:
    """A purge removes what it names, except sightings held for a case; both are audited."""
    held = await call(
        hass,
        "set_legal_hold",
        {"sighting_ids": [sightings[0].id], "reason": "case 9 evidence"},
        hass_admin_user,
    )
    assert held == {"changed": 1}
    response = await call(
        hass,
        "purge_sightings",
        {"until": "2026-11-25T13:00:00+00:00", "reason": "data subject request"},
        hass_admin_user,
    )
    assert response == {"removed": len(PLATES) - 1}
    store = init_folder.runtime_data.store
    assert await hass.async_add_executor_job(store.count) == 1
    actions = [
        line.action for line in await hass.async_add_executor_job(store.audit_log)
    ]
    assert actions == ["purge_sightings", "set_legal_hold"]
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "purge_sightings", {"reason": "no criteria"}, hass_admin_user)
    assert err.value.translation_key == "purge_needs_criteria"
    with pytest.raises(ServiceValidationError) as err:
        await call(
            hass,
            "purge_sightings",
            {"plate": "AE?234BK", "reason": "a pattern"},
            hass_admin_user,
        )
    assert err.value.translation_key == "purge_plate_pattern"
    assert await hass.async_add_executor_job(store.count) == 1


async def _expired_sighting(hass: HomeAssistant, entry: MockConfigEntry) -> Sighting:
    """Keep sightings one day, and store one three days old."""
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, "keep_days": 1}
    )
    await hass.async_block_till_done()
    old, _ = await hass.async_add_executor_job(
        entry.runtime_data.store.record,
        NewSighting(
            camera="bridge",
            seen_at=dt_util.utcnow() - timedelta(days=3),
            plate="AA0000AA",
            raw="AA0000AA",
            confidence=0.9,
            source="folder",
        ),
    )
    return old


async def test_daily_retention_purge(
    hass: HomeAssistant, init_folder: MockConfigEntry, sightings: list[Sighting]
) -> None:
    """Sightings older than the retention period go; the purge is in the audit log."""
    old = await _expired_sighting(hass, init_folder)
    store = init_folder.runtime_data.store
    before = await hass.async_add_executor_job(store.count)
    report = await async_purge_expired(hass, init_folder)
    assert report.sightings >= 1
    assert await hass.async_add_executor_job(store.get, old.id) is None
    assert await hass.async_add_executor_job(store.count) == before - report.sightings
    (line,) = await hass.async_add_executor_job(store.audit_log)
    assert line.action == "retention_purge"
    assert line.user_id is None
    await async_update_entity(hass, "sensor.plate_tracker_last_retention_purge")
    state = hass.states.get("sensor.plate_tracker_last_retention_purge")
    assert state is not None
    purged_at = dt_util.parse_datetime(state.state)
    assert purged_at is not None
    assert abs(purged_at - line.at) < timedelta(seconds=2)


def _failing_after_sightings(
    store: SightingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Make a purge fail once its sightings are erased, as a full disk would."""
    erase = store._purge_sightings

    def erase_then_fail(*args: Any) -> None:
        erase(*args)
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store, "_purge_sightings", erase_then_fail)


async def test_a_retention_purge_that_fails_is_audited(
    hass: HomeAssistant, init_folder: MockConfigEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a purge erased before it failed is in the audit log, with the error."""
    old = await _expired_sighting(hass, init_folder)
    store = init_folder.runtime_data.store
    _failing_after_sightings(store, monkeypatch)
    with pytest.raises(sqlite3.OperationalError):
        await async_purge_expired(hass, init_folder)
    assert await hass.async_add_executor_job(store.get, old.id) is None
    (line,) = await hass.async_add_executor_job(store.audit_log)
    assert line.action == "retention_purge"
    assert line.details["sightings"] == 1
    assert line.details["interrupted"] == "database or disk is full"


async def test_an_explicit_purge_that_fails_is_audited(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    sightings: list[Sighting],
    hass_admin_user: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An administrator's purge that fails part-way still leaves its line in the audit log."""
    store = init_folder.runtime_data.store
    _failing_after_sightings(store, monkeypatch)
    with pytest.raises(HomeAssistantError):
        await call(
            hass,
            "purge_sightings",
            {"plate": "AE1234BK", "reason": "court order 7"},
            hass_admin_user,
        )
    assert await hass.async_add_executor_job(store.get, sightings[0].id) is None
    (line,) = await hass.async_add_executor_job(store.audit_log)
    assert line.action == "purge_sightings"
    assert line.reason == "court order 7"
    assert line.details["removed"] == 1
    assert line.details["interrupted"] == "database or disk is full"


@pytest.mark.usefixtures("sightings")
async def test_audit_log_is_readable_by_admins_only_and_complete(
    hass: HomeAssistant, hass_admin_user: User, allowed_dir: Path
) -> None:
    """Every search, export and watchlist change shows up with who did it, and reading it is audited too."""
    await call(hass, "search_sightings", {"plate": "AE1234BK", "reason": "case 1"})
    await call(
        hass,
        "watchlist_add",
        {"plate": "AE1234BK", "label": "Skoda"},
        hass_admin_user,
    )
    await call(
        hass,
        "export_sightings",
        {"plate": "AE1234BK", "folder": str(allowed_dir), "reason": "case 1"},
    )
    response = await call(hass, "audit_log", {}, hass_admin_user)
    assert [(line["action"], line["user_id"]) for line in response["records"]] == [
        ("export_sightings", None),
        ("watchlist_add", hass_admin_user.id),
        ("search_sightings", None),
    ]
    response = await call(hass, "audit_log", {"action": "audit_log"}, hass_admin_user)
    assert [line["action"] for line in response["records"]] == ["audit_log"]


async def test_an_empty_plate_purges_nothing(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    sightings: list[Sighting],
    hass_admin_user: User,
) -> None:
    """An empty plate is a mistake, not "every plate": erasure must name the car.

    A script whose plate template rendered empty erased every car seen in the
    time range instead of the one it meant to.
    """
    with pytest.raises(ServiceValidationError) as err:
        await call(
            hass,
            "purge_sightings",
            {
                "plate": "",
                "since": "2026-11-01T00:00:00+00:00",
                "reason": "data subject request",
            },
            hass_admin_user,
        )
    assert err.value.translation_key == "plate_empty"
    store = init_folder.runtime_data.store
    assert await hass.async_add_executor_job(store.count) == len(sightings)


@pytest.mark.usefixtures("init_folder")
async def test_audit_log_takes_the_limit_its_form_offers(
    hass: HomeAssistant, hass_admin_user: User
) -> None:
    """The largest limit the service's form offers is one the service accepts.

    The form and schema allowed 1000 lines while the store refused more than
    500, so the documented maximum failed with "page size out of range".
    """
    services = yaml.safe_load(
        (
            Path(__file__).parents[1] / "custom_components/plate_tracker/services.yaml"
        ).read_text(encoding="utf-8")
    )
    offered = services["audit_log"]["fields"]["limit"]["selector"]["number"]["max"]
    response = await call(hass, "audit_log", {"limit": offered}, hass_admin_user)
    assert response == {"records": []}
    with pytest.raises(vol.Invalid) as err:
        await call(hass, "audit_log", {"limit": offered + 1}, hass_admin_user)
    assert "limit" in str(err.value)
