"""Cameras that read plates themselves, pushing to the source's webhook: Home Assistant level."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta, timezone
import json
import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant import config_entries
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.const import CONF_WEBHOOK_ID, STATE_UNKNOWN
from homeassistant.core import HomeAssistant, State
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    mock_restore_cache_with_extra_data,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.plate_tracker.const import (
    CONF_ALLOW_REMOTE,
    CONF_ANPR_CAMERA,
    CONF_READ_PICTURES,
    CONF_SOURCE,
    DOMAIN,
    EVENT_SIGHTING,
    SOURCE_ANPR,
    SUBENTRY_SOURCE,
)
from custom_components.plate_tracker.pipeline import PipelineStoppedError
from custom_components.plate_tracker.records import Direction, Reader

from .helpers import wait_until
from .sources.test_anpr import (
    MULTIPART,
    dahua_tollgate,
    hikvision_alert,
    jpeg,
    multipart,
)
from .synthetic import scene_jpeg

WEBHOOK_ID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"


def anpr_entry(*, read_pictures: bool = False) -> MockConfigEntry:
    """Return an entry with one ANPR camera source, not yet added to Home Assistant."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Plate Tracker",
        data={},
        options={"min_confidence": 0.5},
        subentries_data=[
            ConfigSubentryData(
                subentry_type=SUBENTRY_SOURCE,
                title="ANPR exit_north",
                unique_id="anpr:exit_north",
                data={
                    CONF_SOURCE: SOURCE_ANPR,
                    CONF_ANPR_CAMERA: "exit_north",
                    CONF_READ_PICTURES: read_pictures,
                    CONF_ALLOW_REMOTE: False,
                    CONF_WEBHOOK_ID: WEBHOOK_ID,
                },
            )
        ],
    )


@pytest.fixture
def read_pictures() -> bool:
    """Whether the source's engine reads the pictures too (parametrised per test)."""
    return False


@pytest.fixture
async def entry(
    hass: HomeAssistant, read_pictures: bool
) -> AsyncGenerator[MockConfigEntry]:
    """Set up the ANPR entry; unload it after the test."""
    entry = anpr_entry(read_pictures=read_pictures)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def _post(
    hass_client_no_auth: ClientSessionGenerator, body: bytes, content_type: str
) -> tuple[int, dict[str, object]]:
    """POST to the source's webhook as a camera would; return status and JSON answer."""
    client = await hass_client_no_auth()
    response = await client.post(
        f"/api/webhook/{WEBHOOK_ID}", data=body, headers={"Content-Type": content_type}
    )
    return response.status, await response.json()


async def test_hikvision_read_is_stored_with_its_pictures(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """A Hikvision ANPR alarm is stored before the camera hears 200, the camera's read as it is."""
    events = async_capture_events(hass, EVENT_SIGHTING)
    crop, scene = jpeg("white"), jpeg("black", (320, 180))
    # The camera's clock, in its own zone: two minutes before now.
    seen = (dt_util.utcnow() - timedelta(minutes=2)).replace(microsecond=0)
    told = seen.astimezone(timezone(timedelta(hours=2))).isoformat()
    body = multipart(
        (
            "anpr.xml",
            "text/xml",
            hikvision_alert("AE 1234 BK", confidence="96", date_time=told),
        ),
        ("licensePlatePicture.jpg", "image/jpeg", crop),
        ("detectionPicture.jpg", "image/jpeg", scene),
    )

    status, answer = await _post(hass_client_no_auth, body, MULTIPART)

    assert (status, answer) == (200, {"stored": 1, "Result": True})
    store = entry.runtime_data.store
    latest = (await hass.async_add_executor_job(store.latest_per_camera))["exit_north"]
    assert latest.plate == "AE1234BK"
    assert latest.raw == "AE 1234 BK"
    assert latest.confidence == pytest.approx(0.96)
    assert latest.reader is Reader.NVR
    assert latest.source == SOURCE_ANPR
    assert latest.direction is Direction.APPROACHING
    assert latest.seen_at == seen
    assert await hass.async_add_executor_job(store.image, latest.id, "crop") == crop
    assert (
        await hass.async_add_executor_job(store.image, latest.id, "snapshot") == scene
    )
    await hass.async_block_till_done()
    assert [event.data["plate"] for event in events] == ["AE1234BK"]
    assert events[0].data["camera"] == "exit_north"

    # The camera sends it again (it missed the answer): the same UUID is the same sighting.
    status, answer = await _post(hass_client_no_auth, body, MULTIPART)
    assert status == 200
    assert await hass.async_add_executor_job(store.count) == 1


async def test_dahua_push_is_stored_and_acknowledged_once(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """A Dahua ITSAPI push: stored with its pictures, answered with its Result; a resend is no second car."""
    body = json.dumps(dahua_tollgate()).encode()
    before = dt_util.utcnow()

    status, answer = await _post(hass_client_no_auth, body, "application/json")

    assert (status, answer) == (200, {"stored": 1, "Result": True})
    store = entry.runtime_data.store
    latest = (await hass.async_add_executor_job(store.latest_per_camera))["exit_north"]
    assert (latest.plate, latest.reader) == ("AE1234BK", Reader.NVR)
    assert latest.confidence == pytest.approx(0.87)
    assert latest.direction is Direction.APPROACHING
    # The camera's local time has no offset: the arrival dates it.
    assert latest.seen_at >= before.replace(microsecond=0)
    assert await hass.async_add_executor_job(store.image, latest.id, "crop") == (
        jpeg("white")
    )
    assert await hass.async_add_executor_job(store.image, latest.id, "snapshot") == (
        jpeg("black")
    )

    status, answer = await _post(hass_client_no_auth, body, "application/json")
    assert (status, answer) == (200, {"stored": 1, "Result": True})
    assert await hass.async_add_executor_job(store.count) == 1

    heartbeat = b'{"Active": "keepAlive", "DeviceID": "ITC-EXIT-N"}'
    status, answer = await _post(hass_client_no_auth, heartbeat, "application/json")
    assert (status, answer) == (
        200,
        {"ignored": "not an ANPR read", "Result": True},
    )
    assert await hass.async_add_executor_job(store.count) == 1


async def test_json_picture_without_a_plate_is_read_by_the_engine(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """A camera that read no plate sends its picture: the engine reads it."""
    body = json.dumps(
        {
            "camera": "bridge",
            "plate": "unknown",
            "image": base64.b64encode(scene_jpeg("AE1234BK", seed=3)).decode(),
        }
    ).encode()

    status, answer = await _post(hass_client_no_auth, body, "application/json")

    assert (status, answer) == (200, {"stored": 1, "Result": True})
    latest = (
        await hass.async_add_executor_job(entry.runtime_data.store.latest_per_camera)
    )["bridge"]
    assert latest.plate == "AE1234BK"
    assert latest.reader is Reader.ENGINE
    assert latest.has_crop


@pytest.mark.parametrize("read_pictures", [True])
async def test_reading_pictures_too_prefers_the_engine(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """With the engine reading too, its read wins; the camera's stands where it reads none."""
    store = entry.runtime_data.store
    engine_read = json.dumps(
        {
            "camera": "gate_a",
            "plate": "AE1284BK",  # the camera misread a digit
            "confidence": 70,
            "image": base64.b64encode(scene_jpeg("AE1234BK", seed=3)).decode(),
        }
    ).encode()
    nothing_to_read = json.dumps(
        {
            "camera": "gate_b",
            "plate": "BC0001AA",
            "confidence": 90,
            "image": base64.b64encode(jpeg("gray", (640, 360))).decode(),
        }
    ).encode()
    broken_picture = json.dumps(
        {
            "camera": "gate_c",
            "plate": "KA7777XX",
            "image": base64.b64encode(b"\xff\xd8\xff" + b"\0" * 64).decode(),
        }
    ).encode()

    for body in (engine_read, nothing_to_read, broken_picture):
        assert await _post(hass_client_no_auth, body, "application/json") == (
            200,
            {"stored": 1, "Result": True},
        )

    latest = await hass.async_add_executor_job(store.latest_per_camera)
    assert (latest["gate_a"].plate, latest["gate_a"].reader) == (
        "AE1234BK",
        Reader.ENGINE,
    )
    assert (latest["gate_b"].plate, latest["gate_b"].reader) == ("BC0001AA", Reader.NVR)
    # A picture the engine cannot open does not cost the camera's read.
    assert (latest["gate_c"].plate, latest["gate_c"].reader) == ("KA7777XX", Reader.NVR)
    assert entry.runtime_data.pipeline.counters.frames_rejected == 1


async def test_bad_requests_are_refused_counted_and_logged_once(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """400 with a reason for bad requests, 200 for heartbeats; one warning, not one per request."""
    caplog.set_level(logging.DEBUG, "custom_components.plate_tracker")
    for body in (b"{broken", b'{"plate": 5}', b'{"camera": "../x", "plate": "AA"}'):
        status, answer = await _post(hass_client_no_auth, body, "application/json")
        assert status == 400
        assert isinstance(answer["error"], str)
        assert answer["error"]
    heartbeat = hikvision_alert(event_type="videoloss").split(b"<ANPR>")[0] + (
        b"</EventNotificationAlert>"
    )
    assert await _post(hass_client_no_auth, heartbeat, "application/xml") == (
        200,
        {"ignored": "not an ANPR read", "Result": True},
    )

    counters = entry.runtime_data.source_counters
    assert counters["anpr_malformed"] == 3
    assert counters["anpr_ignored"] == 1
    assert counters["anpr_reads"] == 0
    assert await hass.async_add_executor_job(entry.runtime_data.store.count) == 0
    warnings = [
        record
        for record in caplog.records
        if record.levelno == logging.WARNING and "Refused a request" in record.message
    ]
    assert len(warnings) == 1, "a camera repeating a bad request must not flood the log"


async def test_unloaded_source_takes_its_webhook_away(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    """Unloading removes the webhook; setting up again brings it back at the same address."""
    assert WEBHOOK_ID in hass.data["webhook"]
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert WEBHOOK_ID not in hass.data["webhook"]
    # Reloading registers it again (the same address: the camera need not change).
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert WEBHOOK_ID in hass.data["webhook"]


async def test_add_anpr_source_shows_its_address_and_keeps_it(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    """Add a second ANPR camera, then reconfigure it: the address stays the same."""
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_SOURCE),
        context={"source": config_entries.SOURCE_USER},
    )
    assert result["type"] is FlowResultType.MENU
    assert "anpr" in result["menu_options"]
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "anpr"}
    )
    assert result["step_id"] == "anpr"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_ANPR_CAMERA: "exit south", CONF_READ_PICTURES: False}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_ANPR_CAMERA: "invalid_camera_name"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_ANPR_CAMERA: " exit_south ", CONF_READ_PICTURES: True}
    )
    assert result["step_id"] == "anpr_address"
    placeholders = result["description_placeholders"]
    assert placeholders["path"].startswith("/api/webhook/")
    assert placeholders["url"].endswith(placeholders["path"])
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()

    subentry = next(
        sub for sub in entry.subentries.values() if sub.unique_id == "anpr:exit_south"
    )
    assert subentry.title == "ANPR exit_south"
    assert subentry.data[CONF_ANPR_CAMERA] == "exit_south"
    assert subentry.data[CONF_READ_PICTURES] is True
    webhook_id = subentry.data[CONF_WEBHOOK_ID]
    assert placeholders["path"] == f"/api/webhook/{webhook_id}"
    assert len(webhook_id) >= 32
    assert webhook_id in hass.data["webhook"]

    # The same camera twice is refused.
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_SOURCE),
        context={"source": config_entries.SOURCE_USER},
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "anpr"}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_ANPR_CAMERA: "exit_south"}
    )
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"

    result = await entry.start_subentry_reconfigure_flow(hass, subentry.subentry_id)
    assert result["step_id"] == "anpr"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_ANPR_CAMERA: "exit_south_2", CONF_READ_PICTURES: False}
    )
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    subentry = entry.subentries[subentry.subentry_id]
    assert subentry.data[CONF_ANPR_CAMERA] == "exit_south_2"
    assert subentry.data[CONF_WEBHOOK_ID] == webhook_id
    assert webhook_id in hass.data["webhook"]


async def test_first_source_can_be_an_anpr_camera(hass: HomeAssistant) -> None:
    """The first setup offers the ANPR camera too, and its webhook works at once."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "anpr"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ANPR_CAMERA: "exit_north"}
    )
    assert result["step_id"] == "anpr_address"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    (subentry,) = entry.subentries.values()
    assert subentry.data[CONF_SOURCE] == SOURCE_ANPR
    assert subentry.data[CONF_WEBHOOK_ID] in hass.data["webhook"]
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_camera_liveness_sensors(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    entity_registry: er.EntityRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The source's device shows when the camera last sent anything and last sent a read."""
    subentry_id = next(iter(entry.subentries))
    ids = {
        key: entity_registry.async_get_entity_id(
            "sensor", DOMAIN, f"{entry.entry_id}_{subentry_id}_{key}"
        )
        for key in ("anpr_last_request", "anpr_last_read")
    }
    assert all(ids.values()), ids
    registered = entity_registry.async_get(ids["anpr_last_read"])
    device = dr.async_get(hass).async_get(registered.device_id)
    assert (device.name, device.model) == ("ANPR exit_north", "ANPR camera webhook")
    assert hass.states.get(ids["anpr_last_request"]).state == STATE_UNKNOWN

    read_at = dt_util.utcnow().replace(microsecond=0)
    freezer.move_to(read_at)
    body = json.dumps({"plate": "AE1234BK"}).encode()
    assert (await _post(hass_client_no_auth, body, "application/json"))[0] == 200
    heard_at = read_at + timedelta(minutes=5)
    freezer.move_to(heard_at)
    heartbeat = hikvision_alert(event_type="videoloss").split(b"<ANPR>")[0] + (
        b"</EventNotificationAlert>"
    )
    assert (await _post(hass_client_no_auth, heartbeat, "application/xml"))[0] == 200
    await hass.async_block_till_done()

    assert hass.states.get(ids["anpr_last_read"]).state == read_at.isoformat()
    assert hass.states.get(ids["anpr_last_request"]).state == heard_at.isoformat()


async def test_liveness_survives_a_restart(
    hass: HomeAssistant, entity_registry: er.EntityRegistry
) -> None:
    """After a restart a camera that has not sent since still shows when it last did."""
    entry = anpr_entry()
    entry.add_to_hass(hass)
    subentry_id = next(iter(entry.subentries))
    entity_id = "sensor.anpr_exit_north_last_read"
    entity_registry.async_get_or_create(
        "sensor",
        DOMAIN,
        f"{entry.entry_id}_{subentry_id}_anpr_last_read",
        suggested_object_id="anpr_exit_north_last_read",
        config_entry=entry,
        config_subentry_id=subentry_id,
    )
    before = datetime(2026, 11, 27, 3, 14, tzinfo=UTC)
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(entity_id, before.isoformat()),
                {
                    "native_value": {
                        "__type": "<class 'datetime.datetime'>",
                        "isoformat": before.isoformat(),
                    },
                    "native_unit_of_measurement": None,
                },
            )
        ],
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get(entity_id).state == before.isoformat()
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_answer_says_when_to_send_again(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A read that could not be stored is 503 (send again); a slow one 202 (it is queued)."""
    pipeline = entry.runtime_data.pipeline
    body = json.dumps({"plate": "AE1234BK"}).encode()

    async def broken(*args: object, **kwargs: object) -> list[object]:
        raise RuntimeError("the spool's disk is gone")

    monkeypatch.setattr(pipeline, "submit", broken)
    status, answer = await _post(hass_client_no_auth, body, "application/json")
    assert (status, answer) == (503, {"error": "not stored, send it again"})
    assert entry.runtime_data.source_counters["anpr_errors"] == 1

    finished = asyncio.Event()

    async def slow(*args: object, **kwargs: object) -> list[object]:
        await asyncio.sleep(0.2)
        finished.set()
        return []

    monkeypatch.setattr(pipeline, "submit", slow)
    monkeypatch.setattr(
        "custom_components.plate_tracker.anpr_webhook.ACK_SECONDS", 0.01
    )
    status, answer = await _post(hass_client_no_auth, body, "application/json")
    assert (status, answer) == (202, {"queued": True})
    # The read goes on after the answer.
    await asyncio.wait_for(finished.wait(), 5)
    assert entry.runtime_data.source_counters["anpr_queued"] == 1

    async def slow_then_broken(*args: object, **kwargs: object) -> list[object]:
        await asyncio.sleep(0.2)
        raise RuntimeError("the spool's disk is gone")

    monkeypatch.setattr(pipeline, "submit", slow_then_broken)
    status, answer = await _post(hass_client_no_auth, body, "application/json")
    assert (status, answer) == (202, {"queued": True})
    # Answered already, a read that fails later is still counted.
    await wait_until(lambda: entry.runtime_data.source_counters["anpr_errors"] == 2)

    async def stopped(*args: object, **kwargs: object) -> list[object]:
        raise PipelineStoppedError

    monkeypatch.setattr(pipeline, "submit", stopped)
    status, answer = await _post(hass_client_no_auth, body, "application/json")
    assert status == 503
    assert answer == {"error": "plate recognition is stopping, send it again"}


async def test_a_time_past_the_calendar_is_dated_on_arrival(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """A time whose offset takes it past the year 9999 is no time: the read is stored, dated on arrival.

    Converting it to UTC raised OverflowError out of the webhook; Home Assistant
    then answered an empty 200, so the camera forgot a read that was never stored.
    """
    before = dt_util.utcnow()
    body = (
        b'{"plate": "AE1234BK", "event_id": "e1", "time": "9999-12-31T23:59:59-05:00"}'
    )

    status, answer = await _post(hass_client_no_auth, body, "application/json")

    assert (status, answer) == (200, {"stored": 1, "Result": True})
    store = entry.runtime_data.store
    latest = (await hass.async_add_executor_job(store.latest_per_camera))["exit_north"]
    assert latest.plate == "AE1234BK"
    assert before.replace(microsecond=0) <= latest.seen_at <= dt_util.utcnow()


async def test_a_plate_the_store_cannot_write_is_refused_and_holds_up_nothing(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """A plate with a lone surrogate (valid JSON) is refused on arrival; the next read is stored.

    SQLite cannot write it: accepted, it went to the spool, which never got rid
    of it, and every later read of every push source queued behind it.
    """
    status, answer = await _post(
        hass_client_no_auth,
        b'{"plate": "AE1234BK\\ud800", "event_id": "e1"}',
        "application/json",
    )
    assert status == 400
    assert "UTF-8 cannot write" in str(answer["error"])

    status, answer = await _post(
        hass_client_no_auth,
        b'{"plate": "KA7777OO", "event_id": "e2"}',
        "application/json",
    )

    assert (status, answer) == (200, {"stored": 1, "Result": True})
    assert await hass.async_add_executor_job(entry.runtime_data.store.count) == 1
    assert entry.runtime_data.pipeline.spool_depth == 0
    assert entry.runtime_data.source_counters["anpr_malformed"] == 1
