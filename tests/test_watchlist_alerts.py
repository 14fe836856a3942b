"""Watchlist management, hits, alerts and their signed image links, inside Home Assistant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from http import HTTPStatus
import logging
from pathlib import Path
import threading
import time
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.auth.models import User
from homeassistant.const import STATE_UNKNOWN
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import ServiceValidationError, Unauthorized
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from yarl import URL

from custom_components.plate_tracker.const import DOMAIN, EVENT_WATCHLIST_HIT
from custom_components.plate_tracker.matching.cooldown import AlertCooldown
from custom_components.plate_tracker.records import Direction, NewSighting, Sighting

from .helpers import call, record_and_announce

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


async def add_listed(hass: HomeAssistant, user: User, **data: Any) -> dict[str, Any]:
    """Put a plate on the watchlist as an administrator."""
    response = await hass.services.async_call(
        DOMAIN,
        "watchlist_add",
        data,
        blocking=True,
        return_response=True,
        context=Context(user_id=user.id),
    )
    assert response is not None
    return response["entry"]  # type: ignore[return-value]


async def announce(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    plate: str,
    *,
    camera: str = "exit_kyiv_road",
    at: datetime = NOW,
    alternatives: tuple[tuple[str, float], ...] = (),
) -> Sighting:
    """Store a sighting with images and announce it, as the pipeline does."""
    runtime = entry.runtime_data
    sighting, _ = await hass.async_add_executor_job(
        runtime.store.record,
        NewSighting(
            camera=camera,
            seen_at=at,
            plate=plate,
            raw=plate,
            confidence=0.93,
            source="folder",
            direction=Direction.RECEDING,
            alternatives=alternatives,
            crop_jpeg=b"\xff\xd8crop",
            snapshot_jpeg=b"\xff\xd8snapshot",
        ),
    )
    runtime.hub.async_publish(sighting)
    await hass.async_block_till_done()
    return sighting


@pytest.mark.parametrize(
    ("read", "alternatives", "kind"),
    [
        ("AE1234BK", (), "exact"),
        ("AEI234BK", (), "lookalike"),
        ("AE12348K", (), "lookalike"),
        ("AE1234BX", (), "one_edit"),
        ("KA9999OO", (("AE1234BK", 0.3),), "exact"),
    ],
)
async def test_misreads_still_alert_and_say_how_they_matched(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_admin_user: User,
    *,
    read: str,
    alternatives: tuple[tuple[str, float], ...],
    kind: str,
) -> None:
    """OCR misreads of a wanted plate must alert, and the alert says exact or fuzzy."""
    listed = await add_listed(
        hass,
        hass_admin_user,
        plate="АЕ 1234 ВК",
        label="Stolen Skoda",
        reason="Case 17/2026",
        priority="critical",
    )
    assert listed["plate"] == "AE1234BK"
    hits = async_capture_events(hass, EVENT_WATCHLIST_HIT)

    sighting = await announce(hass, init_folder, read, alternatives=alternatives)

    assert len(hits) == 1
    data = hits[0].data
    assert data["match_kind"] == kind
    assert data["listed_plate"] == "AE1234BK"
    assert data["plate"] == read
    assert data["from_alternative"] is bool(alternatives)
    assert (data["label"], data["reason"], data["priority"]) == (
        "Stolen Skoda",
        "Case 17/2026",
        "critical",
    )
    assert data["camera"] == "exit_kyiv_road"
    assert data["seen_at"] == NOW.isoformat()
    assert data["direction"] == "receding"
    assert data["sighting_id"] == sighting.id
    assert data["recent_sightings"][0]["camera"] == "exit_kyiv_road"
    assert f"/api/plate_tracker/sightings/{sighting.id}/crop.jpg?" in data["crop_url"]
    event_entity = hass.states.get("event.exit_kyiv_road_plate")
    assert event_entity is not None
    assert event_entity.attributes["event_type"] == "watchlist_hit"


async def test_unrelated_plates_do_not_alert(
    hass: HomeAssistant, init_folder: MockConfigEntry, hass_admin_user: User
) -> None:
    """A plate two characters away is another car: no alert, no stored hit."""
    await add_listed(hass, hass_admin_user, plate="AE1234BK")
    hits = async_capture_events(hass, EVENT_WATCHLIST_HIT)
    sighting = await announce(hass, init_folder, "AE9934BX")
    assert hits == []
    store = init_folder.runtime_data.store
    assert await hass.async_add_executor_job(store.hits_for_sighting, sighting.id) == []


async def test_one_alert_per_pass_but_every_hit_stored(
    hass: HomeAssistant, init_folder: MockConfigEntry, hass_admin_user: User
) -> None:
    """A car waiting at a barrier is read every second: one alert, yet every sighting and hit kept."""
    listed = await add_listed(hass, hass_admin_user, plate="AE1234BK")
    hits = async_capture_events(hass, EVENT_WATCHLIST_HIT)
    for second in range(3):
        await announce(
            hass, init_folder, "AE1234BK", at=NOW + timedelta(seconds=second)
        )
    await announce(
        hass, init_folder, "AE1234BK", camera="bridge", at=NOW + timedelta(seconds=5)
    )
    await announce(hass, init_folder, "AE1234BK", at=NOW + timedelta(hours=2))

    assert [(hit.data["camera"], hit.data["seen_at"]) for hit in hits] == [
        ("exit_kyiv_road", NOW.isoformat()),
        ("bridge", (NOW + timedelta(seconds=5)).isoformat()),
        ("exit_kyiv_road", (NOW + timedelta(hours=2)).isoformat()),
    ]
    store = init_folder.runtime_data.store
    stored = await hass.async_add_executor_job(store.hits_for_entry, listed["entry_id"])
    assert len(stored) == 5


async def test_a_correction_of_the_same_sighting_does_not_alert_again(
    hass: HomeAssistant, init_folder: MockConfigEntry, hass_admin_user: User
) -> None:
    """The direction learnt at an event's end re-announces the sighting: no second alert.

    Even with no cooldown at all (every sighting alerts), one sighting is one alert.
    """
    await add_listed(hass, hass_admin_user, plate="AE1234BK")
    runtime = init_folder.runtime_data
    runtime.alerts.cooldown = AlertCooldown(0)
    hits = async_capture_events(hass, EVENT_WATCHLIST_HIT)
    sighting = await announce(hass, init_folder, "AE1234BK")
    runtime.hub.async_publish(sighting)
    await hass.async_block_till_done()
    assert len(hits) == 1
    # A new sighting of the same car still alerts (the cooldown is 0).
    await announce(hass, init_folder, "AE1234BK", at=NOW + timedelta(seconds=1))
    assert len(hits) == 2


async def test_last_seen_sensor_survives_a_restart(
    hass: HomeAssistant, init_folder: MockConfigEntry, hass_admin_user: User
) -> None:
    """Dashboards show when and where a wanted car was last seen, also after a restart."""
    await add_listed(hass, hass_admin_user, plate="AE1234BK", label="Stolen Skoda")
    state = hass.states.get("sensor.watchlist_last_seen_stolen_skoda")
    assert state is not None
    assert state.state == "unknown"

    await announce(hass, init_folder, "AE1234BK")
    await hass.config_entries.async_reload(init_folder.entry_id)
    await hass.async_block_till_done()

    state = hass.states.get("sensor.watchlist_last_seen_stolen_skoda")
    assert state is not None
    assert state.state == NOW.isoformat()
    assert state.attributes["camera"] == "exit_kyiv_road"
    assert state.attributes["match_kind"] == "exact"


async def test_removed_entry_removes_its_sensor(
    hass: HomeAssistant, init_folder: MockConfigEntry, hass_admin_user: User
) -> None:
    """A plate taken off the watchlist leaves no stale entity behind."""
    listed = await add_listed(hass, hass_admin_user, plate="AE1234BK", label="Gone")
    assert hass.states.get("sensor.watchlist_last_seen_gone") is not None
    await hass.services.async_call(
        DOMAIN,
        "watchlist_remove",
        {"entry_id": listed["entry_id"]},
        blocking=True,
        context=Context(user_id=hass_admin_user.id),
    )
    await hass.async_block_till_done()
    assert hass.states.get("sensor.watchlist_last_seen_gone") is None
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "watchlist_remove",
            {"entry_id": listed["entry_id"]},
            blocking=True,
            context=Context(user_id=hass_admin_user.id),
        )
    assert err.value.translation_key == "watchlist_entry_not_found"
    store = init_folder.runtime_data.store
    audit = await hass.async_add_executor_job(store.audit_log)
    removed = next(line for line in audit if line.action == "watchlist_remove")
    # Removed by id: the audit still says which plate stopped being watched
    # (an imported entry's id appears nowhere else in the audit log).
    assert removed.details == {"entry": listed["entry_id"], "plate": "AE1234BK"}


async def test_signed_image_links(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_admin_user: User,
    hass_client_no_auth: ClientSessionGenerator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Alert pictures open without a login, but only the signed image and only until expiry."""
    freezer.move_to(NOW)
    await add_listed(hass, hass_admin_user, plate="AE1234BK")
    hits = async_capture_events(hass, EVENT_WATCHLIST_HIT)
    other = await announce(hass, init_folder, "KA0000OO")
    await announce(hass, init_folder, "AE1234BK")
    client = await hass_client_no_auth()
    crop = URL(hits[0].data["crop_url"])
    snapshot = URL(hits[0].data["snapshot_url"])

    response = await client.get(crop.path_qs)
    assert response.status == HTTPStatus.OK
    assert response.content_type == "image/jpeg"
    assert await response.read() == b"\xff\xd8crop"
    assert (await client.get(snapshot.path_qs)).status == HTTPStatus.OK

    forged = {
        "other sighting": crop.with_path(
            f"/api/plate_tracker/sightings/{other.id}/crop.jpg"
        ),
        "other kind": crop.with_path(crop.path.replace("crop", "snapshot")),
        "bad signature": crop.update_query(sig="A" * 43),
        "later expiry": crop.update_query(exp=str(int(crop.query["exp"]) + 3600)),
        "no signature": crop.with_query(None),
    }
    for name, url in forged.items():
        assert (await client.get(url.path_qs)).status == HTTPStatus.FORBIDDEN, name

    freezer.tick(timedelta(hours=73))
    assert (await client.get(crop.path_qs)).status == HTTPStatus.FORBIDDEN


async def test_watchlist_management_is_for_admins(
    hass: HomeAssistant, init_folder: MockConfigEntry, hass_read_only_user: User
) -> None:
    """Only administrators may change, list or export the watchlist."""
    context = Context(user_id=hass_read_only_user.id)
    calls: list[tuple[str, dict[str, Any]]] = [
        ("watchlist_add", {"plate": "AE1234BK"}),
        ("watchlist_remove", {"plate": "AE1234BK"}),
        ("watchlist_list", {}),
        ("watchlist_import", {"csv": "plate\nAE1234BK\n"}),
        ("watchlist_export", {}),
        ("purge_sightings", {"plate": "AE1234BK", "reason": "court order 5"}),
        ("set_legal_hold", {"sighting_ids": [1], "reason": "case 5"}),
        ("audit_log", {}),
    ]
    for service, data in calls:
        with pytest.raises(Unauthorized):
            await hass.services.async_call(
                DOMAIN,
                service,
                data,
                blocking=True,
                context=context,
                return_response=service in ("watchlist_list", "audit_log"),
            )
    assert init_folder.runtime_data.alerts.entries == []


async def test_import_applies_all_or_nothing(
    hass: HomeAssistant, init_folder: MockConfigEntry, hass_admin_user: User
) -> None:
    """An import with one bad row changes nothing and names every bad row."""
    context = Context(user_id=hass_admin_user.id)
    bad = "plate,label,priority\nAE1234BK,Skoda,critical\n!!,Bad,high\nKA0001OO,Audi,urgent\n"
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "watchlist_import", {"csv": bad}, blocking=True, context=context
        )
    assert err.value.translation_key == "watchlist_import_invalid"
    assert err.value.translation_placeholders["count"] == "2"
    assert "line 3" in err.value.translation_placeholders["errors"]
    assert "line 4" in err.value.translation_placeholders["errors"]
    assert init_folder.runtime_data.alerts.entries == []

    good = "plate,label,priority\nAE1234BK,Skoda,critical\nKA0001OO,Audi,high\n"
    response = await hass.services.async_call(
        DOMAIN,
        "watchlist_import",
        {"csv": good},
        blocking=True,
        context=context,
        return_response=True,
    )
    assert response == {"imported": 2, "total": 2}
    exported = await hass.services.async_call(
        DOMAIN,
        "watchlist_export",
        {},
        blocking=True,
        context=context,
        return_response=True,
    )
    assert exported is not None
    assert "AE1234BK" in str(exported["csv"])
    assert exported["count"] == 2


async def test_an_import_file_in_a_local_code_page_is_refused_not_garbled(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_admin_user: User,
    allowed_dir: Path,
) -> None:
    """Excel in Ukraine saves "CSV" in cp1251: its labels must not become question marks.

    Read with replacement characters, every Cyrillic label and case reason
    imported as "\ufffd" runs, and the officer alerted later read nothing
    useful. The file is refused with what to do instead.
    """
    path = allowed_dir / "watchlist.csv"
    await hass.async_add_executor_job(
        path.write_bytes,
        "plate,label,reason\nAE1234BK,Викрадена Шкода,Справа 12\n".encode("cp1251"),
    )
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "watchlist_import",
            {"file_path": str(path)},
            blocking=True,
            context=Context(user_id=hass_admin_user.id),
        )
    assert err.value.translation_key == "csv_not_utf8"
    assert init_folder.runtime_data.alerts.entries == []


async def test_an_import_reads_an_expiry_without_time_zone_as_local_time(
    hass: HomeAssistant, init_folder: MockConfigEntry, hass_admin_user: User
) -> None:
    """A spreadsheet writes times without a zone; watchlist_add reads them as local time, so must an import.

    Refusing them made every exported file edited in Excel unimportable.
    """
    await hass.config.async_set_time_zone("Europe/Kyiv")
    response = await hass.services.async_call(
        DOMAIN,
        "watchlist_import",
        {"csv": "plate,label,expires_at\nAE1234BK,Skoda,2026-12-31T18:00:00\n"},
        blocking=True,
        context=Context(user_id=hass_admin_user.id),
        return_response=True,
    )
    assert response == {"imported": 1, "total": 1}
    (listed,) = init_folder.runtime_data.alerts.entries
    assert listed.expires_at == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)


async def test_acknowledge_records_who_and_when(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_admin_user: User,
    hass_read_only_user: User,
) -> None:
    """Police must know which officer took an alert; a second acknowledgement is refused."""
    await add_listed(hass, hass_admin_user, plate="AE1234BK")
    hits = async_capture_events(hass, EVENT_WATCHLIST_HIT)
    await announce(hass, init_folder, "AE1234BK")
    hit_id = hits[0].data["hit_id"]

    response = await hass.services.async_call(
        DOMAIN,
        "acknowledge_hit",
        {"hit_id": hit_id, "note": "patrol 12 sent"},
        blocking=True,
        return_response=True,
        context=Context(user_id=hass_read_only_user.id),
    )
    assert response is not None
    assert response["acknowledged_by"] == hass_read_only_user.id
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "acknowledge_hit", {"hit_id": hit_id}, blocking=True
        )
    assert err.value.translation_key == "hit_already_acknowledged"
    store = init_folder.runtime_data.store
    audit = await hass.async_add_executor_job(store.audit_log)
    assert [(line.action, line.user_id, line.reason) for line in audit][:1] == [
        ("acknowledge_hit", hass_read_only_user.id, "patrol 12 sent")
    ]


async def test_expired_and_out_of_hours_entries_do_not_alert(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_admin_user: User,
    freezer: FrozenDateTimeFactory,
) -> None:
    """An expired case or a plate watched only at night must not page anyone at noon."""
    await hass.config.async_set_time_zone("UTC")
    await add_listed(
        hass, hass_admin_user, plate="AE1234BK", expires_at="2026-11-24T00:00:00+00:00"
    )
    await add_listed(
        hass,
        hass_admin_user,
        plate="KA0001OO",
        active_from="22:00",
        active_until="06:00",
    )
    hits = async_capture_events(hass, EVENT_WATCHLIST_HIT)
    await announce(hass, init_folder, "AE1234BK")
    await announce(hass, init_folder, "KA0001OO")
    assert hits == []
    await announce(hass, init_folder, "KA0001OO", at=NOW + timedelta(hours=11))
    assert [hit.data["plate"] for hit in hits] == ["KA0001OO"]


async def test_logs_never_contain_plates(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_admin_user: User,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Plates are personal data: not even debug logging of the integration spells them."""
    caplog.set_level(logging.DEBUG, logger="custom_components.plate_tracker")
    await add_listed(hass, hass_admin_user, plate="AE1234BK", label="Skoda")
    hits = async_capture_events(hass, EVENT_WATCHLIST_HIT)
    await announce(hass, init_folder, "AE1234BK")
    await announce(hass, init_folder, "AE1234BK", at=NOW + timedelta(seconds=1))
    await announce(hass, init_folder, "KA7777OO")
    assert hits
    integration_logs = [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("custom_components.plate_tracker")
    ]
    assert integration_logs, "the integration logged nothing to check"
    assert not [
        line for line in integration_logs if "AE1234BK" in line or "KA7777OO" in line
    ]


async def test_remove_by_plate_as_written_on_paper(
    hass: HomeAssistant, init_folder: MockConfigEntry, hass_admin_user: User
) -> None:
    """An officer removes a plate as it is written (Cyrillic, spaces), without looking up its id.

    A call that names neither an entry nor a plate is refused with a message, not ignored.
    """
    await add_listed(hass, hass_admin_user, plate="AE1234BK", label="Found")
    await add_listed(hass, hass_admin_user, plate="KA0001OO", label="Still wanted")
    context = Context(user_id=hass_admin_user.id)

    await hass.services.async_call(
        DOMAIN,
        "watchlist_remove",
        {"plate": "ае 1234 вк"},
        blocking=True,
        context=context,
    )
    await hass.async_block_till_done()
    assert [entry.plate for entry in init_folder.runtime_data.alerts.entries] == [
        "KA0001OO"
    ]

    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "watchlist_remove", {}, blocking=True, context=context
        )
    assert err.value.translation_key == "entry_or_plate_required"
    assert str(err.value) == "Give the watchlist entry id or its plate"
    store = init_folder.runtime_data.store
    audit = await hass.async_add_executor_job(store.audit_log)
    assert ("watchlist_remove", {"entry": "AE1234BK"}) in [
        (line.action, line.details) for line in audit
    ]


async def test_watchlist_list_says_when_each_plate_was_last_seen(
    hass: HomeAssistant, init_folder: MockConfigEntry, hass_admin_user: User
) -> None:
    """The list an operator reviews shows every entry with its last hit, and none for a plate never seen."""
    await add_listed(
        hass, hass_admin_user, plate="AE1234BK", label="Skoda", priority="critical"
    )
    await add_listed(hass, hass_admin_user, plate="KA0001OO", label="Audi")
    hits = async_capture_events(hass, EVENT_WATCHLIST_HIT)
    sighting = await announce(hass, init_folder, "AE1234BK")

    response = await hass.services.async_call(
        DOMAIN,
        "watchlist_list",
        {},
        blocking=True,
        return_response=True,
        context=Context(user_id=hass_admin_user.id),
    )
    assert response is not None
    by_plate = {item["plate"]: item for item in response["entries"]}  # type: ignore[union-attr]
    assert set(by_plate) == {"AE1234BK", "KA0001OO"}
    assert by_plate["AE1234BK"]["priority"] == "critical"
    assert by_plate["AE1234BK"]["last_seen"] == {
        "seen_at": NOW.isoformat(),
        "camera": "exit_kyiv_road",
        "plate_read": "AE1234BK",
        "match_kind": "exact",
        "sighting_id": sighting.id,
        "hit_id": hits[0].data["hit_id"],
    }
    assert by_plate["KA0001OO"]["last_seen"] is None


@pytest.fixture
def allowed_dir(hass: HomeAssistant, config_dir: Path) -> Path:
    """Make a folder the user listed in allowlist_external_dirs."""
    path = config_dir / "watchlists"
    path.mkdir()
    hass.config.allowlist_external_dirs = {str(path)}
    return path


async def test_watchlist_round_trips_through_a_file(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_admin_user: User,
    allowed_dir: Path,
) -> None:
    """A watchlist exported to a file (e.g. for a backup or another site) imports back unchanged.

    Files from spreadsheet programs start with a byte order mark; it must not
    become part of the first column's name. Importing with ``replace`` drops
    entries the file does not have.
    """
    context = Context(user_id=hass_admin_user.id)
    await add_listed(
        hass, hass_admin_user, plate="AE1234BK", label="Skoda", priority="critical"
    )
    await add_listed(hass, hass_admin_user, plate="KA0001OO", label="Audi")
    path = allowed_dir / "watchlist.csv"
    exported = await hass.services.async_call(
        DOMAIN,
        "watchlist_export",
        {"file_path": str(path)},
        blocking=True,
        return_response=True,
        context=context,
    )
    assert exported is not None
    assert exported["path"] == str(path)
    written = await hass.async_add_executor_job(path.read_text, "utf-8")
    assert written == exported["csv"]

    await hass.services.async_call(
        DOMAIN,
        "watchlist_remove",
        {"plate": "KA0001OO"},
        blocking=True,
        context=context,
    )
    await add_listed(hass, hass_admin_user, plate="BC7777HP", label="Not in the file")
    await hass.async_add_executor_job(
        path.write_bytes, "\ufeff".encode() + written.encode()
    )
    response = await hass.services.async_call(
        DOMAIN,
        "watchlist_import",
        {"file_path": str(path), "replace": True},
        blocking=True,
        return_response=True,
        context=context,
    )
    assert response == {"imported": 2, "total": 2}
    entries = init_folder.runtime_data.alerts.entries
    assert sorted((e.plate, e.label, e.priority.value) for e in entries) == [
        ("AE1234BK", "Skoda", "critical"),
        ("KA0001OO", "Audi", "high"),
    ]


@pytest.mark.parametrize(
    ("service", "data", "key"),
    [
        ("watchlist_import", {}, "csv_required"),
        ("watchlist_import", {"file_path": "/etc/passwd"}, "path_not_allowed"),
        ("watchlist_import", {"file_path": "watchlist.csv"}, "path_not_allowed"),
        ("watchlist_export", {"file_path": "/etc/watchlist.csv"}, "path_not_allowed"),
    ],
)
async def test_watchlist_files_only_inside_allowed_folders(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_admin_user: User,
    allowed_dir: Path,
    *,
    service: str,
    data: dict[str, Any],
    key: str,
) -> None:
    """Import and export never touch a file outside allowlist_external_dirs, and say why."""
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            service,
            data,
            blocking=True,
            context=Context(user_id=hass_admin_user.id),
        )
    assert err.value.translation_key == key
    assert init_folder.runtime_data.alerts.entries == []
    assert not (Path("/etc") / "watchlist.csv").exists()


async def test_a_naive_expiry_is_local_time(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_admin_user: User,
    freezer: FrozenDateTimeFactory,
) -> None:
    """An expiry typed without a zone means midnight where Home Assistant is, not in UTC.

    In Kyiv (UTC+2 in November) a case that ends at local midnight ends at 22:00 UTC.
    """
    freezer.move_to(NOW)
    await hass.config.async_set_time_zone("Europe/Kyiv")
    listed = await add_listed(
        hass, hass_admin_user, plate="AE1234BK", expires_at="2026-11-26 00:00:00"
    )
    assert listed["expires_at"] == "2026-11-25T22:00:00+00:00"
    hits = async_capture_events(hass, EVENT_WATCHLIST_HIT)
    await announce(hass, init_folder, "AE1234BK", at=NOW + timedelta(hours=9))
    await announce(
        hass, init_folder, "AE1234BK", camera="bridge", at=NOW + timedelta(hours=11)
    )
    assert [hit.data["camera"] for hit in hits] == ["exit_kyiv_road"]


async def test_camera_image_shows_the_latest_plate_crop(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    entity_registry: er.EntityRegistry,
) -> None:
    """The dashboard's picture of a camera is the crop of its newest sighting, and changes with the next car."""
    await announce(hass, init_folder, "AE1234BK")
    entity_id = entity_registry.async_get_entity_id(
        "image", DOMAIN, f"{init_folder.entry_id}_exit_kyiv_road_plate_crop"
    )
    assert entity_id is not None
    state = hass.states.get(entity_id)
    assert state is not None
    assert state.state == NOW.isoformat()
    client = await hass_client()
    response = await client.get(f"/api/image_proxy/{entity_id}")
    assert response.status == HTTPStatus.OK
    assert await response.read() == b"\xff\xd8crop"

    later = NOW + timedelta(minutes=1)
    runtime = init_folder.runtime_data
    sighting, _ = await hass.async_add_executor_job(
        runtime.store.record,
        NewSighting(
            camera="exit_kyiv_road",
            seen_at=later,
            plate="KA7777OO",
            raw="KA7777OO",
            confidence=0.9,
            source="folder",
            crop_jpeg=b"\xff\xd8second crop",
        ),
    )
    runtime.hub.async_publish(sighting)
    await hass.async_block_till_done()
    state = hass.states.get(entity_id)
    assert state is not None
    assert state.state == later.isoformat()
    response = await client.get(f"/api/image_proxy/{entity_id}")
    assert await response.read() == b"\xff\xd8second crop"


async def test_signed_link_without_an_image_or_a_hub(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """A validly signed link to a sighting without that image is 404, and while the hub is unloaded 503, never an error page."""
    runtime = init_folder.runtime_data
    sighting, _ = await hass.async_add_executor_job(
        runtime.store.record,
        NewSighting(
            camera="bridge",
            seen_at=NOW,
            plate="AE1234BK",
            raw="AE1234BK",
            confidence=0.9,
            source="folder",
            crop_jpeg=b"\xff\xd8crop",
        ),
    )
    client = await hass_client_no_auth()
    snapshot = URL(runtime.alerts.image_url(sighting.id, "snapshot"))
    crop = URL(runtime.alerts.image_url(sighting.id, "crop"))
    assert (await client.get(snapshot.path_qs)).status == HTTPStatus.NOT_FOUND
    assert (await client.get(crop.path_qs)).status == HTTPStatus.OK

    assert await hass.config_entries.async_unload(init_folder.entry_id)
    await hass.async_block_till_done()
    response = await client.get(crop.path_qs)
    assert response.status == HTTPStatus.SERVICE_UNAVAILABLE


async def test_the_wanted_car_right_behind_a_one_edit_car_alerts(
    hass: HomeAssistant, init_folder: MockConfigEntry, hass_admin_user: User
) -> None:
    """Another car one character off must not silence the wanted car a minute later.

    The one-edit hit alerts (it may be the wanted car misread); the exact hit in
    the same pass is news and alerts once more; the pass is quiet after that.
    """
    await add_listed(hass, hass_admin_user, plate="AE1234BK")
    hits = async_capture_events(hass, EVENT_WATCHLIST_HIT)
    await announce(hass, init_folder, "AE1234BX")
    await announce(hass, init_folder, "AE1234BK", at=NOW + timedelta(seconds=60))
    await announce(hass, init_folder, "AEI234BK", at=NOW + timedelta(seconds=61))
    await announce(hass, init_folder, "AE1234BX", at=NOW + timedelta(seconds=62))
    assert [(hit.data["plate"], hit.data["match_kind"]) for hit in hits] == [
        ("AE1234BX", "one_edit"),
        ("AE1234BK", "exact"),
    ]


async def test_a_pattern_alerts_for_every_car_it_lists(
    hass: HomeAssistant, init_folder: MockConfigEntry, hass_admin_user: User
) -> None:
    """A witness's partial plate fits many cars: each passing car alerts, once per pass.

    Look-alike misreads of one car are that car's pass, not a new car.
    """
    await add_listed(hass, hass_admin_user, plate="AE*BK")
    hits = async_capture_events(hass, EVENT_WATCHLIST_HIT)
    for minute, plate in enumerate(("AE1111BK", "AE2222BK", "AE1111BK", "AEI111BK")):
        await announce(hass, init_folder, plate, at=NOW + timedelta(minutes=minute))
    assert [hit.data["plate"] for hit in hits] == ["AE1111BK", "AE2222BK"]


@pytest.mark.parametrize(
    ("read", "alternatives"),
    [("AEI234BK", ()), ("AE1234BX", ()), ("KA9999OO", (("AE1234BK", 0.6),))],
)
async def test_recent_sightings_are_the_wanted_vehicles(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_admin_user: User,
    *,
    read: str,
    alternatives: tuple[tuple[str, float], ...],
) -> None:
    """An officer judges a misread or second-guess alert by where the wanted car was seen before.

    So the alert lists the listed plate's sightings with their look-alike
    misreads, and the sighting that alerted; not the earlier sightings of the
    plate that was read, which may be another car's.
    """
    await add_listed(hass, hass_admin_user, plate="AE1234BK")
    await announce(
        hass, init_folder, "AE1234BK", camera="bridge", at=NOW - timedelta(hours=3)
    )
    await announce(
        hass, init_folder, "AEI234BK", camera="centre", at=NOW - timedelta(hours=2)
    )
    await announce(hass, init_folder, read, camera="lviv", at=NOW - timedelta(hours=1))
    hits = async_capture_events(hass, EVENT_WATCHLIST_HIT)
    await announce(hass, init_folder, read, alternatives=alternatives)
    recent = hits[-1].data["recent_sightings"]
    expected = ["exit_kyiv_road", "centre", "bridge"]
    if read == "AEI234BK":  # the earlier read in Lviv was a look-alike misread too
        expected.insert(1, "lviv")
    assert [(item["camera"], item["camera_name"]) for item in recent] == [
        (camera, camera) for camera in expected
    ]
    assert recent[-1]["seen_at"] == (NOW - timedelta(hours=3)).isoformat()
    assert recent[-1]["direction"] == "receding"
    assert recent[-1]["confidence"] == 0.93


async def test_recent_sightings_of_a_pattern_hit_are_the_car_that_was_read(
    hass: HomeAssistant, init_folder: MockConfigEntry, hass_admin_user: User
) -> None:
    """A pattern lists many cars; the alert shows the route of the one that fits, not of the others."""
    await add_listed(hass, hass_admin_user, plate="AE*BK")
    await announce(
        hass, init_folder, "AE1111BK", camera="bridge", at=NOW - timedelta(hours=2)
    )
    await announce(
        hass, init_folder, "AE2222BK", camera="centre", at=NOW - timedelta(hours=1)
    )
    hits = async_capture_events(hass, EVENT_WATCHLIST_HIT)
    await announce(hass, init_folder, "AEI111BK")
    assert [item["camera"] for item in hits[-1].data["recent_sightings"]] == [
        "exit_kyiv_road",
        "bridge",
    ]


async def test_an_exact_alternative_makes_an_unsure_read_watched(
    hass: HomeAssistant, init_folder: MockConfigEntry, hass_admin_user: User
) -> None:
    """The pipeline keeps an unsure read only when it may be a watched car; the listed plate among its guesses is such.

    A best read one edit off must not hide an exact alternative: the read is
    watched, and its alert cites the alternative as exact, the better evidence.
    """
    await add_listed(hass, hass_admin_user, plate="AE1234BK")
    alerts = init_folder.runtime_data.alerts
    guess = (("AE1234BK", 0.4),)
    assert alerts.is_watched("AE1234BX", guess, "exit_kyiv_road", NOW)
    assert alerts.is_watched("KA9999OO", guess, "exit_kyiv_road", NOW)
    assert not alerts.is_watched("AE1234BX", (), "exit_kyiv_road", NOW)
    assert not alerts.is_watched(
        "KA9999OO", (("AE1234BX", 0.4),), "exit_kyiv_road", NOW
    )
    hits = async_capture_events(hass, EVENT_WATCHLIST_HIT)
    await announce(hass, init_folder, "AE1234BX", alternatives=guess)
    assert [
        (h.data["match_kind"], h.data["read_plate"], h.data["from_alternative"])
        for h in hits
    ] == [("exact", "AE1234BK", True)]


async def test_last_seen_never_moves_back_in_time(
    hass: HomeAssistant, init_folder: MockConfigEntry, hass_admin_user: User
) -> None:
    """A slow source delivers an older sighting after a newer one: the dashboard keeps the newer.

    A better read of the sighting on show still replaces it, and a restart
    shows the same.
    """
    await add_listed(hass, hass_admin_user, plate="AE1234BK", label="Skoda")

    async def sight(camera: str, at: datetime, plate: str, confidence: float) -> None:
        await record_and_announce(
            hass,
            init_folder,
            NewSighting(
                camera=camera,
                seen_at=at,
                plate=plate,
                raw=plate,
                confidence=confidence,
                source="folder",
                event_id=f"{camera}-{at.isoformat()}",
            ),
        )

    def shown() -> tuple[str, str, str]:
        state = hass.states.get("sensor.watchlist_last_seen_skoda")
        assert state is not None
        return (state.state, state.attributes["camera"], state.attributes["match_kind"])

    await sight("bridge", NOW, "AEI234BK", 0.7)
    await sight("exit_kyiv_road", NOW - timedelta(minutes=10), "AE1234BK", 0.9)
    assert shown() == (NOW.isoformat(), "bridge", "lookalike")
    listing = await call(hass, "watchlist_list", {}, hass_admin_user)
    assert listing is not None
    assert listing["entries"][0]["last_seen"]["camera"] == "bridge"  # type: ignore[index]

    await sight("bridge", NOW, "AE1234BK", 0.95)
    assert shown() == (NOW.isoformat(), "bridge", "exact")

    await hass.config_entries.async_reload(init_folder.entry_id)
    await hass.async_block_till_done()
    assert shown() == (NOW.isoformat(), "bridge", "exact")


async def test_last_seen_follows_a_purge(
    hass: HomeAssistant, init_folder: MockConfigEntry, hass_admin_user: User
) -> None:
    """After a purge the sensor shows the latest sighting left, or none, as after a restart."""
    await add_listed(hass, hass_admin_user, plate="AE1234BK", label="Skoda")
    for camera, at in (("exit_kyiv_road", NOW - timedelta(days=2)), ("bridge", NOW)):
        await record_and_announce(
            hass,
            init_folder,
            NewSighting(
                camera=camera,
                seen_at=at,
                plate="AE1234BK",
                raw="AE1234BK",
                confidence=0.9,
                source="folder",
            ),
        )

    def shown() -> tuple[str, str | None]:
        state = hass.states.get("sensor.watchlist_last_seen_skoda")
        assert state is not None
        return state.state, state.attributes.get("camera")

    assert shown() == (NOW.isoformat(), "bridge")
    await call(
        hass,
        "purge_sightings",
        {"since": (NOW - timedelta(days=1)).isoformat(), "reason": "erasure"},
        hass_admin_user,
    )
    await hass.async_block_till_done()
    assert shown() == ((NOW - timedelta(days=2)).isoformat(), "exit_kyiv_road")
    await call(
        hass,
        "purge_sightings",
        {"plate": "AE1234BK", "reason": "erasure"},
        hass_admin_user,
    )
    await hass.async_block_till_done()
    assert shown() == (STATE_UNKNOWN, None)
    await hass.config_entries.async_reload(init_folder.entry_id)
    await hass.async_block_till_done()
    assert shown() == (STATE_UNKNOWN, None)


async def test_an_entry_removed_while_a_sighting_is_matched_costs_no_other_alert(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_admin_user: User,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An entry removed between the store and the index costs only its own hit.

    The sighting matched against the old index still alerts and stores the
    hits of the entries that are listed, and nothing fails.
    """
    caplog.set_level(logging.DEBUG, logger="custom_components.plate_tracker")
    removed = await add_listed(hass, hass_admin_user, plate="AE1234BK")
    await add_listed(hass, hass_admin_user, plate="AE*BK")
    store = init_folder.runtime_data.store
    hits = async_capture_events(hass, EVENT_WATCHLIST_HIT)
    assert await hass.async_add_executor_job(
        store.watchlist_remove, removed["entry_id"]
    )
    sighting = await announce(hass, init_folder, "AE1234BK")
    assert [hit.data["listed_plate"] for hit in hits] == ["AE*BK"]
    stored = await hass.async_add_executor_job(store.hits_for_sighting, sighting.id)
    assert [hit.listed_plate for hit in stored] == ["AE*BK"]
    assert "was removed while sighting" in caplog.text
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("service", "data"),
    [
        ("watchlist_remove", {"plate": "AE1234BK"}),
        ("watchlist_import", {"csv": "plate\nKA0001OO\n", "replace": True}),
    ],
)
async def test_the_audit_line_commits_with_the_change_and_the_index_follows_it(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_admin_user: User,
    monkeypatch: pytest.MonkeyPatch,
    *,
    service: str,
    data: dict[str, Any],
) -> None:
    """No audit write stands between a removal and the index: the line is written in the change's own transaction."""
    await add_listed(hass, hass_admin_user, plate="AE1234BK")
    await add_listed(hass, hass_admin_user, plate="KA0001OO")
    runtime = init_folder.runtime_data

    def written_apart(*_args: Any) -> None:
        raise AssertionError("the audit line was written apart from its change")

    monkeypatch.setattr(runtime.store, "audit_append", written_apart)
    await hass.services.async_call(
        DOMAIN,
        service,
        data,
        blocking=True,
        context=Context(user_id=hass_admin_user.id),
    )
    assert [entry.plate for entry in runtime.alerts.entries] == ["KA0001OO"]
    audit = await hass.async_add_executor_job(runtime.store.audit_log)
    assert audit[0].action == service


async def test_two_watchlist_changes_at_once_leave_the_latest_watchlist(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_admin_user: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reload that read the watchlist first but finished last must not bring back a removed entry.

    Two changes at once (an add and a remove from two automations) each reload
    the index; were the older read applied last, a plate taken off the list
    would go on alerting the police until the next change or restart.
    """
    removed = await add_listed(hass, hass_admin_user, plate="AE1234BK")
    runtime = init_folder.runtime_data
    store = runtime.store
    read_watchlist = store.watchlist
    reading = threading.Event()
    release = threading.Event()
    reads = 0

    def first_read_is_slow() -> list[Any]:
        nonlocal reads
        reads += 1
        entries = read_watchlist()
        if reads == 1:
            reading.set()
            release.wait(10)
        return entries

    monkeypatch.setattr(store, "watchlist", first_read_is_slow)
    older = hass.async_create_task(runtime.alerts.async_reload_watchlist())
    assert await hass.async_add_executor_job(reading.wait, 10)
    assert await hass.async_add_executor_job(
        store.watchlist_remove, removed["entry_id"]
    )
    await runtime.alerts.async_reload_watchlist()
    assert runtime.alerts.entries == []
    release.set()
    await older
    assert runtime.alerts.entries == []
    hits = async_capture_events(hass, EVENT_WATCHLIST_HIT)
    await announce(hass, init_folder, "AE1234BK")
    assert hits == []


async def test_a_late_correction_does_not_alert_again_after_a_newer_hit(
    hass: HomeAssistant, init_folder: MockConfigEntry, hass_admin_user: User
) -> None:
    """A sighting corrected after the same car was seen elsewhere is still one alert.

    The direction learnt at the end of a long event re-announces the sighting;
    a second alert for it would send the police after a car twice for one pass.
    """
    await add_listed(hass, hass_admin_user, plate="AE1234BK")
    runtime = init_folder.runtime_data
    runtime.alerts.cooldown = AlertCooldown(0)
    hits = async_capture_events(hass, EVENT_WATCHLIST_HIT)
    first = await announce(hass, init_folder, "AE1234BK")
    await announce(
        hass, init_folder, "AE1234BK", camera="bridge", at=NOW + timedelta(seconds=5)
    )
    runtime.hub.async_publish(first)
    await hass.async_block_till_done()
    assert [hit.data["camera"] for hit in hits] == ["exit_kyiv_road", "bridge"]


async def test_watchlist_hits_are_announced_in_the_order_of_the_sightings(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_admin_user: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Hits reach the bus in the order their sightings were announced.

    Automations tell the police where a car was last seen: an earlier sighting's
    alert arriving after a later one's would point them the wrong way.
    """
    await add_listed(hass, hass_admin_user, plate="AE1234BK")
    runtime = init_folder.runtime_data
    runtime.alerts.cooldown = AlertCooldown(0)
    store = runtime.store
    record_hit = store.record_hit
    slow = [True]

    def first_hit_is_slow(*args: Any) -> int:
        if slow.pop() if slow else False:
            time.sleep(0.3)
        return record_hit(*args)

    monkeypatch.setattr(store, "record_hit", first_hit_is_slow)
    sightings = [
        (
            await hass.async_add_executor_job(
                store.record,
                NewSighting(
                    camera=camera,
                    seen_at=NOW + timedelta(seconds=second),
                    plate="AE1234BK",
                    raw="AE1234BK",
                    confidence=0.93,
                    source="folder",
                ),
            )
        )[0]
        for second, camera in enumerate(("exit_kyiv_road", "bridge"))
    ]
    hits = async_capture_events(hass, EVENT_WATCHLIST_HIT)
    for sighting in sightings:
        runtime.hub.async_publish(sighting)
    await hass.async_block_till_done()
    assert [hit.data["sighting_id"] for hit in hits] == [s.id for s in sightings]
