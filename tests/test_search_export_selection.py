"""Search, export, legal hold and purge as police rely on them: cameras, audit, refusals."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
import hashlib
import io
import json
from pathlib import Path
import sqlite3
from typing import Any
import zipfile

from homeassistant.auth.models import User
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.plate_tracker.records import NewSighting, Sighting

from .helpers import call

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CITY = {
    "bridge": {"name": "Bridge north", "latitude": 50.45, "longitude": 30.52},
    "exit_kyiv_road": {"name": "Kyiv road exit", "latitude": 50.5, "longitude": 30.6},
}


async def _record(
    hass: HomeAssistant, entry: MockConfigEntry, camera: str, plate: str, hours: int
) -> Sighting:
    sighting, _ = await hass.async_add_executor_job(
        entry.runtime_data.store.record,
        NewSighting(
            camera=camera,
            seen_at=NOW - timedelta(hours=hours),
            plate=plate,
            raw=plate,
            confidence=0.9,
            source="folder",
            crop_jpeg=f"crop {plate}".encode(),
        ),
    )
    return sighting


@pytest.fixture
async def mapped(hass: HomeAssistant, init_folder: MockConfigEntry) -> list[Sighting]:
    """Put two cameras with display names on the city map; store a sighting at each."""
    hass.config_entries.async_update_entry(
        init_folder, options={**init_folder.options, "cameras": CITY}
    )
    await hass.async_block_till_done()
    return [
        await _record(hass, init_folder, "bridge", "AE1234BK", 1),
        await _record(hass, init_folder, "exit_kyiv_road", "KA5678OO", 2),
    ]


async def _audit(hass: HomeAssistant, entry: MockConfigEntry) -> list[Any]:
    return await hass.async_add_executor_job(entry.runtime_data.store.audit_log)


@pytest.mark.usefixtures("mapped")
@pytest.mark.parametrize("typed", ["Bridge north", "bridge north", "BRIDGE"])
async def test_search_finds_a_camera_by_its_display_name(
    hass: HomeAssistant, init_folder: MockConfigEntry, typed: str
) -> None:
    """Police know cameras by the names the map and the card show, as the watchlist does.

    ``cameras: Bridge north`` matched no sighting (they carry the id
    ``bridge``), and the empty answer read as "the car never passed there".
    """
    response = await call(
        hass, "search_sightings", {"cameras": [typed], "reason": "case 42"}
    )
    assert [item["plate"] for item in response["sightings"]] == ["AE1234BK"]
    (line,) = await _audit(hass, init_folder)
    assert line.details["cameras"] == ["bridge"]


async def test_export_takes_display_names_too(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    mapped: list[Sighting],
    allowed_dir: Path,
) -> None:
    """An export selects sightings as the search it follows did: by name or by id."""
    response = await call(
        hass,
        "export_sightings",
        {
            "cameras": ["Kyiv road exit"],
            "folder": str(allowed_dir),
            "reason": "court request 7",
        },
    )
    assert response["sightings"] == 1


@pytest.mark.usefixtures("mapped")
async def test_a_camera_no_one_knows_is_refused_not_searched(
    hass: HomeAssistant, init_folder: MockConfigEntry
) -> None:
    """A misspelt camera gets the watchlist's translated error, not an empty result."""
    with pytest.raises(ServiceValidationError) as err:
        await call(
            hass, "search_sightings", {"cameras": ["Brigde"], "reason": "case 42"}
        )
    assert err.value.translation_key == "camera_unknown"
    assert err.value.translation_placeholders["cameras"] == "Brigde"
    assert "bridge (Bridge north)" in err.value.translation_placeholders["known"]
    assert await _audit(hass, init_folder) == []


async def test_a_retired_camera_off_the_map_is_still_searchable(
    hass: HomeAssistant, init_folder: MockConfigEntry
) -> None:
    """Old sightings of a camera taken down stay evidence: its id still selects them."""
    await _record(hass, init_folder, "old_gate", "BC0034BK", 3)
    init_folder.runtime_data.hub.known_cameras.discard("old_gate")
    response = await call(
        hass, "search_sightings", {"cameras": ["old_gate"], "reason": "case 42"}
    )
    assert [item["plate"] for item in response["sightings"]] == ["BC0034BK"]


@pytest.mark.usefixtures("mapped")
async def test_the_export_audit_says_what_was_exported(
    hass: HomeAssistant, init_folder: MockConfigEntry, allowed_dir: Path
) -> None:
    """An auditor must see which time range and cameras left the system, not only the plate."""
    await call(
        hass,
        "export_sightings",
        {
            "since": "2026-11-25T08:00:00+00:00",
            "until": "2026-11-25T12:00:00+00:00",
            "cameras": ["Bridge north"],
            "min_confidence": 0.5,
            "fuzzy": True,
            "plate": "AE1234BK",
            "folder": str(allowed_dir),
            "reason": "court request 7",
        },
    )
    (line,) = await _audit(hass, init_folder)
    assert line.details["since"] == "2026-11-25T08:00:00+00:00"
    assert line.details["until"] == "2026-11-25T12:00:00+00:00"
    assert line.details["cameras"] == ["bridge"]
    assert line.details["min_confidence"] == 0.5
    assert line.details["fuzzy"] is True
    assert line.details["plate"] == "AE1234BK"
    assert line.details["sightings"] == 1


@pytest.mark.usefixtures("mapped")
async def test_an_export_the_audit_log_refuses_publishes_nothing(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    allowed_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No evidence file may exist that the audit log does not name.

    The ZIP was published before its audit line was written; when that write
    failed, the call failed but the file stayed in the folder, unaudited.
    """
    store = init_folder.runtime_data.store

    def full(*args: object) -> int:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store, "audit_append", full)
    with pytest.raises(HomeAssistantError) as err:
        await call(
            hass,
            "export_sightings",
            {"folder": str(allowed_dir), "reason": "court request 7"},
        )
    assert err.value.translation_key == "store_failed"
    assert await hass.async_add_executor_job(lambda: list(allowed_dir.iterdir())) == []


async def test_a_hold_on_a_sighting_that_does_not_exist_is_refused(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    mapped: list[Sighting],
    hass_admin_user: User,
) -> None:
    """A mistyped id must not answer like a hold that was already there.

    ``changed: 0`` for an id no sighting has let an officer believe the
    evidence was held while retention went on to erase it. All or nothing: the
    ids that exist are not held either, so the call can be repeated as fixed.
    """
    missing = mapped[1].id + 1000
    with pytest.raises(ServiceValidationError) as err:
        await call(
            hass,
            "set_legal_hold",
            {"sighting_ids": [mapped[0].id, missing], "reason": "case 9 evidence"},
            hass_admin_user,
        )
    assert err.value.translation_key == "sighting_not_found"
    assert err.value.translation_placeholders == {"sighting_id": str(missing)}
    held = await hass.async_add_executor_job(
        init_folder.runtime_data.store.get, mapped[0].id
    )
    assert held is not None
    assert not held.legal_hold
    assert await _audit(hass, init_folder) == []
    # Holding a sighting already held still answers, with nothing changed.
    for changed in (1, 0):
        response = await call(
            hass,
            "set_legal_hold",
            {"sighting_ids": [mapped[0].id], "reason": "case 9 evidence"},
            hass_admin_user,
        )
        assert response == {"changed": changed}


async def test_a_purge_audits_the_plate_it_erased(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    mapped: list[Sighting],
    hass_admin_user: User,
) -> None:
    """The audit names the plate as the store knows it, so a search of the log finds it.

    The line kept the text as typed (``ае 1234 вк``, Cyrillic): an auditor
    looking for what happened to AE1234BK found no erasure.
    """
    response = await call(
        hass,
        "purge_sightings",
        {"plate": "ае 1234 вк", "reason": "data subject request"},
        hass_admin_user,
    )
    assert response == {"removed": 1}
    (line,) = await _audit(hass, init_folder)
    assert line.details["plate"] == "AE1234BK"


async def test_a_purge_whose_audit_fails_still_updates_what_is_shown(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    mapped: list[Sighting],
    hass_admin_user: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Erased is erased: the cameras' last sightings must not keep showing it.

    The purge's audit line failed to write, the call failed, and the hub was
    never told: the camera kept showing the erased sighting until a restart.
    """
    hub = init_folder.runtime_data.hub
    hub.last_by_camera["bridge"] = mapped[0]

    def full(*args: object) -> int:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(init_folder.runtime_data.store, "audit_append", full)
    with pytest.raises(HomeAssistantError):
        await call(
            hass,
            "purge_sightings",
            {"plate": "AE1234BK", "reason": "data subject request"},
            hass_admin_user,
        )
    assert "bridge" not in hub.last_by_camera


async def test_an_export_of_held_evidence_says_so_and_verifies(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    mapped: list[Sighting],
    allowed_dir: Path,
    hass_admin_user: User,
) -> None:
    """A court reads from the CSV which sightings are held, and checks every file's hash."""
    await call(
        hass,
        "set_legal_hold",
        {"sighting_ids": [mapped[0].id], "reason": "case 9 evidence"},
        hass_admin_user,
    )
    response = await call(
        hass,
        "export_sightings",
        {"folder": str(allowed_dir), "reason": "court request 7"},
    )
    assert response["sightings"] == 2
    assert response["crops"] == 2

    def read() -> tuple[list[dict[str, str]], dict[str, Any], dict[str, bytes]]:
        with zipfile.ZipFile(response["path"]) as archive:
            files = {name: archive.read(name) for name in archive.namelist()}
        manifest = json.loads(files.pop("manifest.json"))
        rows = list(csv.DictReader(io.StringIO(files["sightings.csv"].decode())))
        return rows, manifest, files

    rows, manifest, files = await hass.async_add_executor_job(read)
    assert {row["plate"]: row["legal_hold"] for row in rows} == {
        "AE1234BK": "true",
        "KA5678OO": "false",
    }
    assert set(manifest["files"]) == set(files)
    for name, data in files.items():
        assert hashlib.sha256(data).hexdigest() == manifest["files"][name]["sha256"]
    for row in rows:
        assert row["crop_file"] in files


async def test_a_purge_of_everything_leaves_the_audit_log(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    mapped: list[Sighting],
    hass_admin_user: User,
) -> None:
    """Erasing sightings never erases the record of who looked at them."""
    await call(hass, "search_sightings", {"reason": "case 42"})
    response = await call(
        hass,
        "purge_sightings",
        {"since": "2000-01-01T00:00:00+00:00", "reason": "data subject request"},
        hass_admin_user,
    )
    assert response == {"removed": len(mapped)}
    actions = [line.action for line in await _audit(hass, init_folder)]
    assert actions == ["purge_sightings", "search_sightings"]
