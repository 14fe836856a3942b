"""Frigate as a source: MQTT events in, one sighting per vehicle pass out."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import time
from types import MappingProxyType
from typing import Any
from unittest.mock import patch

import aiohttp
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.mqtt.const import MQTT_CONNECTION_STATE
from homeassistant.config_entries import ConfigEntryState, ConfigSubentry
from homeassistant.const import CONF_PASSWORD, CONF_USERNAME, STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_mqtt_message,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
    AiohttpClientMockResponse,
)
from pytest_homeassistant_custom_component.typing import MqttMockHAClient
from syrupy.assertion import SnapshotAssertion

from custom_components.plate_tracker.const import (
    CONF_FRIGATE_URL,
    CONF_MQTT_PREFIX,
    CONF_SOURCE,
    DOMAIN,
    EVENT_SIGHTING,
    FRIGATE_PROBE_SECONDS,
    SOURCE_FRIGATE,
    SUBENTRY_SOURCE,
)
from custom_components.plate_tracker.diagnostics import (
    async_get_config_entry_diagnostics,
)
from custom_components.plate_tracker.engine.remote import EngineUnavailableError
from custom_components.plate_tracker.records import NewSighting

from .conftest import FRIGATE_URL
from .helpers import fake_authenticated_frigate, reauth_flows, wait_until
from .synthetic import render_plate, scene_jpeg, spaced

EVENT_ID = "1764065700.123456-abc123"

# The MQTT integration's own periodic timer outlives a test on Home Assistant 2026.10;
# it is not ours, and our entries are unloaded by the fixtures below.
pytestmark = pytest.mark.parametrize("expected_lingering_timers", [True])

RETRIES = 2


@pytest.fixture(autouse=True)
def no_retry_waits() -> Generator[None]:
    """Try an unanswered end's snapshot again at once, twice (minutes apart in real use)."""
    with patch(
        "custom_components.plate_tracker.sources.frigate.SNAPSHOT_RETRY_DELAYS",
        (0,) * RETRIES,
    ):
        yield


def frigate_event(
    kind: str, *, frame_time: float, event_id: str = EVENT_ID, **after: Any
) -> str:
    """Return a Frigate ``<prefix>/events`` payload as Frigate 0.14+ publishes it."""
    body = {
        "id": event_id,
        "camera": "bridge",
        "label": "car",
        "top_score": 0.9,
        "false_positive": False,
        "start_time": 1764065700.0,
        "end_time": frame_time if kind == "end" else None,
        "has_snapshot": True,
        "snapshot": {
            "frame_time": frame_time,
            "box": [300, 250, 1000, 700],
            "score": 0.9,
        },
        "entered_zones": [],
        **after,
    }
    return json.dumps({"type": kind, "before": body, "after": body})


type StartFrigate = Callable[..., Awaitable[MockConfigEntry]]


def remember_cameras(
    hass_storage: dict[str, Any], entry: MockConfigEntry, cameras: list[str]
) -> None:
    """Keep the camera list a Frigate source read before Home Assistant (re)started."""
    (subentry_id,) = entry.subentries
    key = f"{DOMAIN}.frigate_stream_{subentry_id}"
    hass_storage[key] = {
        "version": 1,
        "minor_version": 1,
        "key": key,
        "data": {"last_message": None, "cameras": cameras},
    }


FRIGATE_CONFIG = {"cameras": {"bridge": {"zones": {}}, "gate": {"zones": {}}}}
"""What Frigate's ``/api/config`` answers: the cameras whose events are read."""


@pytest.fixture
def frigate_event_list() -> list[dict[str, Any]]:
    """Return what Frigate's ``/api/events`` lists: nothing, until a test adds events."""
    return []


@pytest.fixture
async def start_frigate(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    frigate_entry: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
    frigate_event_list: list[dict[str, Any]],
) -> AsyncGenerator[StartFrigate]:
    """Return a function that sets up the Frigate entry with a given snapshot answer.

    The entry is unloaded after the test, so no MQTT timer outlives it.
    """

    async def start(
        stats: dict[str, Any] | None = None, **snapshot_answer: Any
    ) -> MockConfigEntry:
        aioclient_mock.get(f"{FRIGATE_URL}/api/stats", **(stats or {"json": {}}))
        # Only the cameras Frigate's configuration lists are read; a Frigate
        # that does not answer its stats does not answer that either.
        aioclient_mock.get(
            f"{FRIGATE_URL}/api/config", **(stats or {"json": FRIGATE_CONFIG})
        )

        async def event_list(
            method: str, url: Any, data: Any
        ) -> AiohttpClientMockResponse:
            return AiohttpClientMockResponse(method, url, json=list(frigate_event_list))

        aioclient_mock.get(f"{FRIGATE_URL}/api/events", side_effect=event_list)
        aioclient_mock.get(
            f"{FRIGATE_URL}/api/events/{EVENT_ID}/snapshot.jpg", **snapshot_answer
        )
        frigate_entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(frigate_entry.entry_id)
        await hass.async_block_till_done()
        return frigate_entry

    yield start
    if frigate_entry.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(frigate_entry.entry_id)
        await hass.async_block_till_done()


@pytest.fixture
async def init_frigate(start_frigate: StartFrigate) -> MockConfigEntry:
    """Set up a Frigate entry whose snapshots show plate AE1234BK."""
    return await start_frigate(content=scene_jpeg("AE1234BK", seed=1))


async def test_event_updates_make_one_sighting(
    hass: HomeAssistant,
    init_frigate: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    aioclient_mock: AiohttpClientMocker,
    snapshot: SnapshotAssertion,
) -> None:
    """new, update and end of one Frigate event are one vehicle pass: one sighting, one alert.

    Announcing every update would flood the police with duplicates of one car.
    """
    events = async_capture_events(hass, EVENT_SIGHTING)
    async_fire_mqtt_message(
        hass, "frigate/events", frigate_event("new", frame_time=1764065700.5)
    )
    async_fire_mqtt_message(
        hass, "frigate/events", frigate_event("update", frame_time=1764065701.0)
    )
    async_fire_mqtt_message(
        hass, "frigate/events", frigate_event("end", frame_time=1764065701.0)
    )
    await wait_until(lambda: bool(events))
    await hass.async_block_till_done()

    assert len(events) == 1
    assert events[0].data["plate"] == "AE1234BK"
    assert events[0].data["event_id"] == EVENT_ID
    assert events[0].data["source"] == "frigate"
    # Two different frames were fetched (new, update); the end brought no newer frame.
    snapshot_calls = [
        call for call in aioclient_mock.mock_calls if call[1].path.endswith(".jpg")
    ]
    assert len(snapshot_calls) == 2
    store = init_frigate.runtime_data.store
    assert await hass.async_add_executor_job(store.count) == 1

    entity_entries = er.async_entries_for_config_entry(
        entity_registry, init_frigate.entry_id
    )
    camera_entities = sorted(
        e.entity_id for e in entity_entries if "bridge" in e.entity_id
    )
    assert camera_entities == snapshot(name="camera-entities")
    last_plate = hass.states.get("sensor.bridge_last_plate")
    assert last_plate is not None
    assert last_plate.state == "AE1234BK"
    assert last_plate.attributes["event_id"] == EVENT_ID
    plate_event = hass.states.get("event.bridge_plate")
    assert plate_event is not None
    assert plate_event.attributes["event_type"] == "plate_read"
    assert plate_event.attributes["plate"] == "AE1234BK"


async def test_malformed_messages_are_counted_not_fatal(
    hass: HomeAssistant, init_frigate: MockConfigEntry
) -> None:
    """Garbage on the events topic is logged and counted, and the next good event still works."""
    events = async_capture_events(hass, EVENT_SIGHTING)
    for payload in (
        "not json",
        "[]",
        '{"type": "new"}',
        '{"type":"new","after":{"id":1}}',
        b"\xff\xfe",
    ):
        async_fire_mqtt_message(hass, "frigate/events", payload)
    async_fire_mqtt_message(
        hass, "frigate/events", frigate_event("end", frame_time=1764065702.0)
    )
    await wait_until(lambda: bool(events))

    assert init_frigate.runtime_data.source_counters["mqtt_malformed"] == 5
    assert events[0].data["plate"] == "AE1234BK"


async def test_dead_frigate_loses_no_pass_end(
    hass: HomeAssistant, start_frigate: StartFrigate
) -> None:
    """When Frigate's API fails, the failure is counted and nothing crashes."""
    frigate_entry = await start_frigate(status=500)

    async_fire_mqtt_message(
        hass, "frigate/events", frigate_event("new", frame_time=1764065700.5)
    )
    async_fire_mqtt_message(
        hass, "frigate/events", frigate_event("end", frame_time=1764065701.5)
    )
    await hass.async_block_till_done()
    await wait_until(
        lambda: frigate_entry.runtime_data.source_counters["snapshot_fetch_errors"] == 2
    )
    assert frigate_entry.runtime_data.pipeline.counters.sightings_recorded == 0


def frigate_recovering(
    failures: int, answer: AiohttpClientMockResponse | None = None
) -> tuple[dict[str, Any], list[int]]:
    """Return a snapshot answer that fails ``failures`` times (no answer), then serves the scene.

    With it, the list of the answers given (HTTP status, 0 for none) as they are given.
    """
    answers: list[int] = []
    image = scene_jpeg("AE1234BK", seed=1)

    async def snapshot(method: str, url: Any, data: Any) -> AiohttpClientMockResponse:
        if len(answers) < failures:
            answers.append(0)
            raise aiohttp.ClientConnectionError("connection refused")
        answers.append(200)
        return answer or AiohttpClientMockResponse(method, url, response=image)

    return {"side_effect": snapshot}, answers


async def test_an_end_reads_the_snapshot_frigate_failed_to_serve(
    hass: HomeAssistant, start_frigate: StartFrigate
) -> None:
    """A snapshot that could not be downloaded is downloaded at the event's end.

    Frigate's ``end`` repeats the frame of the last ``update`` when nothing better
    came: a download of that frame that failed (Frigate busy for a moment) must
    not count as read, or the car is lost though Frigate answers again.
    """
    answer, answers = frigate_recovering(1)
    entry = await start_frigate(**answer)
    events = async_capture_events(hass, EVENT_SIGHTING)
    async_fire_mqtt_message(
        hass, "frigate/events", frigate_event("new", frame_time=1764065700.5)
    )
    async_fire_mqtt_message(
        hass, "frigate/events", frigate_event("end", frame_time=1764065700.5)
    )
    await wait_until(lambda: bool(events))
    await hass.async_block_till_done()

    assert answers == [0, 200]
    assert events[0].data["plate"] == "AE1234BK"
    assert events[0].data["reader"] == "engine"
    counters = entry.runtime_data.source_counters
    assert (counters["snapshot_fetch_errors"], counters["snapshot_fetch_retries"]) == (
        1,
        0,
    )
    stored = await hass.async_add_executor_job(
        entry.runtime_data.store.get, events[0].data["sighting_id"]
    )
    assert stored is not None
    assert stored.has_snapshot


async def test_an_unread_end_is_tried_again_until_frigate_answers(
    hass: HomeAssistant, start_frigate: StartFrigate
) -> None:
    """A car whose every snapshot met a dead Frigate is read once Frigate is back.

    A short event (one message) during a Frigate restart would otherwise leave
    no sighting at all; the end's snapshot is on Frigate's disk, so it is asked
    for again while Frigate does not answer.
    """
    answer, answers = frigate_recovering(RETRIES)
    entry = await start_frigate(**answer)
    events = async_capture_events(hass, EVENT_SIGHTING)
    async_fire_mqtt_message(
        hass, "frigate/events", frigate_event("end", frame_time=1764065700.5)
    )
    await wait_until(lambda: bool(events))

    assert answers == [0] * RETRIES + [200]
    assert events[0].data["plate"] == "AE1234BK"
    counters = entry.runtime_data.source_counters
    assert (counters["snapshot_fetch_errors"], counters["snapshot_fetch_retries"]) == (
        0,
        RETRIES,
    )


@pytest.mark.parametrize(
    ("failure", "tries"),
    [
        ({"exc": aiohttp.ClientConnectionError("refused")}, 1 + RETRIES),
        ({"status": 503}, 1 + RETRIES),
        ({"status": 404}, 1),
    ],
    ids=["no_answer", "frigate_error", "not_found"],
)
async def test_retries_of_an_end_stop(
    hass: HomeAssistant,
    start_frigate: StartFrigate,
    aioclient_mock: AiohttpClientMocker,
    failure: dict[str, Any],
    tries: int,
) -> None:
    """An end is tried again only while Frigate does not answer, and a bounded number of times.

    A 404 is Frigate's answer that it has no snapshot (the event was deleted, or
    Frigate keeps no snapshots on disk): asking again cannot change it.
    """
    entry = await start_frigate(**failure)
    async_fire_mqtt_message(
        hass, "frigate/events", frigate_event("end", frame_time=1764065700.5)
    )
    counters = entry.runtime_data.source_counters
    await wait_until(lambda: counters["snapshot_fetch_errors"] == 1)
    await hass.async_block_till_done()

    snapshot_calls = [
        call for call in aioclient_mock.mock_calls if call[1].path.endswith(".jpg")
    ]
    assert len(snapshot_calls) == tries
    assert counters["snapshot_fetch_retries"] == tries - 1
    assert entry.runtime_data.pipeline.counters.sightings_recorded == 0


def listed_event(event_id: str, *, ended: float | None) -> dict[str, Any]:
    """Return an event as Frigate's ``/api/events`` lists it."""
    return {
        "id": event_id,
        "label": "car",
        "sub_label": None,
        "camera": "bridge",
        "start_time": (ended or time.time()) - 4.0,
        "end_time": ended,
        "false_positive": False,
        "zones": [],
        "thumbnail": "",
        "has_clip": True,
        "has_snapshot": True,
        "retain_indefinitely": False,
        "plus_id": None,
        "model_hash": None,
        "detector_type": "cpu",
        "model_type": "ssd",
        # Relative units, unlike the events topic: not a box in pixels.
        "data": {"box": [0.2, 0.3, 0.5, 0.6], "score": 0.9, "type": "object"},
    }


async def _end_came_then_broker_lost(hass: HomeAssistant, event_id: str) -> None:
    """Let an event without a snapshot end by MQTT, then lose the broker."""
    async_fire_mqtt_message(
        hass,
        "frigate/events",
        frigate_event(
            "end",
            frame_time=time.time(),
            event_id=event_id,
            has_snapshot=False,
            snapshot=None,
        ),
    )
    await hass.async_block_till_done()
    async_dispatcher_send(hass, MQTT_CONNECTION_STATE, False)
    await hass.async_block_till_done()


async def test_events_missed_while_the_broker_was_lost_are_read(
    hass: HomeAssistant,
    start_frigate: StartFrigate,
    aioclient_mock: AiohttpClientMocker,
    frigate_event_list: list[dict[str, Any]],
) -> None:
    """Cars that passed while the broker was lost are asked of Frigate's API once it is back.

    Frigate's event messages are not kept for a client that is away: without
    asking, every car of the outage would be lost. An event whose end came is
    not read again, and one still in progress is left to its messages.
    """
    entry = await start_frigate(content=scene_jpeg("AE1234BK", seed=1))
    events = async_capture_events(hass, EVENT_SIGHTING)
    await _end_came_then_broker_lost(hass, "seen-end")

    ended = time.time() + 1.0
    frigate_event_list[:] = [
        listed_event("in-progress", ended=None),
        listed_event(EVENT_ID, ended=ended),
        listed_event("seen-end", ended=ended - 2.0),
        listed_event("long-ago", ended=ended - 7200.0),
    ]
    async_dispatcher_send(hass, MQTT_CONNECTION_STATE, True)
    await wait_until(lambda: bool(events))
    await hass.async_block_till_done()

    assert [event.data["event_id"] for event in events] == [EVENT_ID]
    assert events[0].data["plate"] == "AE1234BK"
    requests = [call[1] for call in aioclient_mock.mock_calls]
    (listing,) = [url for url in requests if url.path == "/api/events"]
    assert listing.query["in_progress"] == "0"
    assert listing.query["has_snapshot"] == "1"
    # Listed by start: from an hour before the last message on, to catch long events.
    after, before = float(listing.query["after"]), float(listing.query["before"])
    assert ended - 2.0 - 3600 - 60 - 1 < after < ended - 3600
    assert ended - 5.0 < before <= time.time()
    assert [url.path for url in requests if url.path.endswith(".jpg")] == [
        f"/api/events/{EVENT_ID}/snapshot.jpg"
    ]
    assert entry.runtime_data.source_counters["missed_events_read"] == 1


async def test_event_list_entries_without_a_usable_id_are_skipped(
    hass: HomeAssistant,
    start_frigate: StartFrigate,
    frigate_event_list: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One entry of Frigate's list with an id that is no name costs no other missed car.

    An id that is a list or a dict raised TypeError in the lookup of stored
    events: it ended the catch-up, and every event of the gap was lost.
    """
    entry = await start_frigate(content=scene_jpeg("AE1234BK", seed=1))
    events = async_capture_events(hass, EVENT_SIGHTING)
    await _end_came_then_broker_lost(hass, "seen-end")

    ended = time.time() + 1.0
    broken = [
        {**listed_event("x", ended=ended - 1.0), "id": ["garbage"]},
        {**listed_event("x", ended=ended - 1.0), "id": {"a": 1}},
        {**listed_event("z", ended=ended - 1.0), "camera": 7},
    ]
    frigate_event_list[:] = [listed_event(EVENT_ID, ended=ended), *broken, "event"]
    async_dispatcher_send(hass, MQTT_CONNECTION_STATE, True)
    await wait_until(lambda: bool(events))
    await hass.async_block_till_done()

    assert [event.data["event_id"] for event in events] == [EVENT_ID]
    assert entry.runtime_data.source_counters["missed_events_read"] == 1
    assert "Skipped 4 entries of Frigate's event list" in caplog.text
    assert not [record for record in caplog.records if record.levelname == "ERROR"]


async def test_events_that_ended_while_home_assistant_was_down_are_read(
    hass: HomeAssistant,
    start_frigate: StartFrigate,
    aioclient_mock: AiohttpClientMocker,
    frigate_event_list: list[dict[str, Any]],
) -> None:
    """When the last message came is kept across restarts, and the gap since is read.

    Unloading the source (as a restart does) saves the time of its last message;
    set up again, it asks Frigate for the events that ended since, and a
    sighting already stored for one of them is not read (nor announced) twice.
    """
    entry = await start_frigate(content=scene_jpeg("AE1234BK", seed=1))
    events = async_capture_events(hass, EVENT_SIGHTING)
    async_fire_mqtt_message(
        hass, "frigate/events", frigate_event("end", frame_time=time.time())
    )
    await wait_until(lambda: bool(events))
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()

    ended = time.time() + 1.0
    aioclient_mock.get(
        f"{FRIGATE_URL}/api/events/while-down/snapshot.jpg",
        content=scene_jpeg("KA7777OO", seed=2),
    )
    frigate_event_list[:] = [
        listed_event("while-down", ended=ended),
        listed_event(EVENT_ID, ended=ended - 3.0),
    ]
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_until(lambda: len(events) == 2)
    await hass.async_block_till_done()

    assert [(event.data["event_id"], event.data["plate"]) for event in events] == [
        (EVENT_ID, "AE1234BK"),
        ("while-down", "KA7777OO"),
    ]
    snapshots = [
        call[1].path
        for call in aioclient_mock.mock_calls
        if call[1].path.endswith(".jpg")
    ]
    assert snapshots.count(f"/api/events/{EVENT_ID}/snapshot.jpg") == 1
    assert await hass.async_add_executor_job(entry.runtime_data.store.count) == 2


@pytest.mark.parametrize(
    "failing", ["/api/events", f"/api/events/{EVENT_ID}/snapshot.jpg"]
)
async def test_missed_events_wait_for_frigate_to_answer(
    hass: HomeAssistant,
    *,
    start_frigate: StartFrigate,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
    frigate_event_list: list[dict[str, Any]],
    failing: str,
) -> None:
    """Frigate starting up again with the broker: what it cannot answer yet is asked again.

    The event list, or a missed event's snapshot, that Frigate does not serve
    yet is asked for again once it answers its next check, not given up.
    """
    image = scene_jpeg("AE1234BK", seed=1)
    refused: list[str] = []

    async def answer(method: str, url: Any, data: Any) -> AiohttpClientMockResponse:
        if url.path == failing and not refused:
            refused.append(url.path)
            return AiohttpClientMockResponse(method, url, status=502)
        if url.path == "/api/events":
            return AiohttpClientMockResponse(method, url, json=list(frigate_event_list))
        return AiohttpClientMockResponse(method, url, response=image)

    aioclient_mock.get(f"{FRIGATE_URL}/api/events", side_effect=answer)
    aioclient_mock.get(
        f"{FRIGATE_URL}/api/events/{EVENT_ID}/snapshot.jpg", side_effect=answer
    )
    entry = await start_frigate()
    events = async_capture_events(hass, EVENT_SIGHTING)
    await _end_came_then_broker_lost(hass, "before")
    frigate_event_list[:] = [listed_event(EVENT_ID, ended=time.time() + 1.0)]
    async_dispatcher_send(hass, MQTT_CONNECTION_STATE, True)
    await wait_until(lambda: refused == [failing])
    await hass.async_block_till_done()
    assert not events

    await _tick(hass, freezer, FRIGATE_PROBE_SECONDS)
    await wait_until(lambda: bool(events))
    assert events[0].data["event_id"] == EVENT_ID
    assert entry.runtime_data.source_counters["missed_events_read"] == 1


async def test_events_the_engine_could_not_read_are_read_when_it_answers(
    hass: HomeAssistant,
    start_frigate: StartFrigate,
    aioclient_mock: AiohttpClientMocker,
    frigate_event_list: list[dict[str, Any]],
) -> None:
    """A car seen while the engine (server) was down is read once the engine answers again.

    Its messages came and its snapshot was downloaded, but nothing could read
    it; the snapshot is still on Frigate's disk, so the event is read again
    from Frigate's list when the next frame shows the engine is back.
    """
    entry = await start_frigate(content=scene_jpeg("AE1234BK", seed=1))
    events = async_capture_events(hass, EVENT_SIGHTING)
    # The pipeline holds the engine's read: that is where an engine server's outage shows.
    pipeline = entry.runtime_data.pipeline
    read = pipeline._read_frame
    down = [True]

    async def read_unless_down(*args: Any, **kwargs: Any) -> Any:
        if down[0]:
            raise EngineUnavailableError("http://engine.test:8765", "no answer")
        return await read(*args, **kwargs)

    with patch.object(pipeline, "_read_frame", read_unless_down):
        async_fire_mqtt_message(
            hass, "frigate/events", frigate_event("end", frame_time=time.time())
        )
        counters = entry.runtime_data.pipeline.counters
        await wait_until(lambda: counters.frames_engine_unavailable == 1)
        assert not events
        frigate_event_list[:] = [listed_event(EVENT_ID, ended=time.time())]
        aioclient_mock.get(
            f"{FRIGATE_URL}/api/events/next-car/snapshot.jpg",
            content=scene_jpeg("KA7777OO", seed=2),
        )
        down[0] = False
        # The next frame the engine reads (another car) shows it is back.
        async_fire_mqtt_message(
            hass,
            "frigate/events",
            frigate_event("end", frame_time=time.time(), event_id="next-car"),
        )
        await wait_until(lambda: any(e.data["event_id"] == EVENT_ID for e in events))
    await hass.async_block_till_done()
    (read_again,) = [e for e in events if e.data["event_id"] == EVENT_ID]
    assert read_again.data["plate"] == "AE1234BK"
    assert entry.runtime_data.source_counters["missed_events_read"] == 1


async def test_a_removed_hub_leaves_no_stream_marks(
    hass: HomeAssistant, start_frigate: StartFrigate, hass_storage: dict[str, Any]
) -> None:
    """Removing the hub removes the time of each source's last message from the storage."""
    entry = await start_frigate(content=scene_jpeg("AE1234BK", seed=1))
    async_fire_mqtt_message(
        hass, "frigate/events", frigate_event("end", frame_time=time.time())
    )
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    (subentry_id,) = entry.subentries
    key = f"{DOMAIN}.frigate_stream_{subentry_id}"
    assert hass_storage[key]["data"]["last_message"] > 0

    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert key not in hass_storage


async def test_a_first_start_asks_frigate_for_nothing_missed(
    hass: HomeAssistant,
    start_frigate: StartFrigate,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    """A source that never had a message has no gap: its first start lists no events."""
    await start_frigate(content=scene_jpeg("AE1234BK", seed=1))
    async_dispatcher_send(hass, MQTT_CONNECTION_STATE, False)
    async_dispatcher_send(hass, MQTT_CONNECTION_STATE, True)
    await hass.async_block_till_done()
    assert not [
        call for call in aioclient_mock.mock_calls if call[1].path == "/api/events"
    ]


async def test_a_frigate_plus_plate_box_is_where_the_engine_reads_first(
    hass: HomeAssistant, init_frigate: MockConfigEntry
) -> None:
    """A Frigate+ model's ``license_plate`` attribute spares the search of the whole vehicle.

    The engine reads around it at once (counted as a read at the hint) and
    finds the plate there.
    """
    plate = render_plate([spaced("AE1234BK")], char_height=40)
    left, top = 560, 470  # where scene_with puts the plate
    plate_box = [left, top, left + plate.width, top + plate.height]
    events = async_capture_events(hass, EVENT_SIGHTING)
    async_fire_mqtt_message(
        hass,
        "frigate/events",
        frigate_event(
            "end",
            frame_time=1764065701.5,
            snapshot={
                "frame_time": 1764065701.5,
                "box": [300, 250, 1000, 700],
                "score": 0.9,
                "attributes": [
                    {"label": "license_plate", "box": plate_box, "score": 0.83}
                ],
            },
        ),
    )
    await wait_until(lambda: bool(events))
    assert events[0].data["plate"] == "AE1234BK"
    counters = init_frigate.runtime_data.pipeline.counters
    assert (counters.frames_read, counters.frames_read_at_hint) == (1, 1)


async def test_camera_side_plate_is_used_when_the_engine_reads_none(
    hass: HomeAssistant, start_frigate: StartFrigate
) -> None:
    """Frigate's own plate recognition is a read of its own, used when our engine finds no plate."""
    await start_frigate(content=scene_jpeg("AE1234BK", char_height=3))
    events = async_capture_events(hass, EVENT_SIGHTING)

    async_fire_mqtt_message(
        hass,
        "frigate/events",
        frigate_event(
            "end",
            frame_time=1764065701.5,
            recognized_license_plate="KA 7777 OO",
            recognized_license_plate_score=0.93,
        ),
    )
    await wait_until(lambda: bool(events))
    assert events[0].data["plate"] == "KA7777OO"
    assert events[0].data["confidence"] == 0.93
    assert events[0].data["reader"] == "nvr"


@pytest.mark.parametrize(
    "snapshot_answer",
    [{"status": 404}, {"status": 500}, {"exc": TimeoutError()}],
    ids=["event_deleted", "frigate_error", "timeout"],
)
async def test_frigate_read_survives_a_lost_snapshot(
    hass: HomeAssistant, start_frigate: StartFrigate, snapshot_answer: dict[str, Any]
) -> None:
    """A sighting is never lost because its image was.

    When Frigate read the plate itself but its snapshot cannot be downloaded
    (Frigate down, the event already deleted, a time-out), Frigate's read is
    stored and announced, without images and marked as the NVR's own read,
    so that the police still hear of a listed car that passed during an outage.
    """
    entry = await start_frigate(**snapshot_answer)
    events = async_capture_events(hass, EVENT_SIGHTING)
    plate = {
        "recognized_license_plate": "KA 7777 OO",
        "recognized_license_plate_score": 0.91,
    }
    async_fire_mqtt_message(
        hass, "frigate/events", frigate_event("new", frame_time=1764065700.5, **plate)
    )
    async_fire_mqtt_message(
        hass, "frigate/events", frigate_event("end", frame_time=1764065701.5, **plate)
    )
    await wait_until(lambda: bool(events))
    await hass.async_block_till_done()

    assert len(events) == 1
    assert events[0].data["plate"] == "KA7777OO"
    assert events[0].data["confidence"] == 0.91
    assert events[0].data["reader"] == "nvr"
    assert events[0].data["event_id"] == EVENT_ID
    runtime = entry.runtime_data
    assert runtime.source_counters["snapshot_fetch_errors"] == 2
    assert runtime.pipeline.counters.nvr_reads_without_image == 2
    stored = await hass.async_add_executor_job(
        runtime.store.get, events[0].data["sighting_id"]
    )
    assert stored is not None
    assert (stored.has_crop, stored.has_snapshot) == (False, False)
    assert stored.reader == "nvr"


async def test_boxes_far_outside_the_picture_do_not_lose_the_pass(
    hass: HomeAssistant,
    start_frigate: StartFrigate,
    aioclient_mock: AiohttpClientMocker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Box numbers that are valid JSON but beyond any picture are counted and left out; the end is read.

    The movement between such boxes raised OverflowError out of the MQTT
    callback after the event had ended there: its last snapshot was never read.
    """
    entry = await start_frigate(content=scene_jpeg("AE1234BK", seed=1))
    events = async_capture_events(hass, EVENT_SIGHTING)
    async_fire_mqtt_message(
        hass, "frigate/events", frigate_event("new", frame_time=1764065700.5)
    )
    huge = [0, 0, 1e200, 1e200]
    async_fire_mqtt_message(
        hass,
        "frigate/events",
        frigate_event(
            "end",
            frame_time=1764065701.5,
            box=huge,
            snapshot={"frame_time": 1764065701.5, "box": huge, "score": 0.9},
        ),
    )
    await wait_until(lambda: bool(events))
    await hass.async_block_till_done()

    assert not [record for record in caplog.records if record.levelname == "ERROR"]
    snapshot_calls = [
        call for call in aioclient_mock.mock_calls if call[1].path.endswith(".jpg")
    ]
    assert len(snapshot_calls) == 2
    counters = entry.runtime_data.source_counters
    assert (counters["frigate_malformed_boxes"], counters["mqtt_malformed"]) == (2, 0)
    assert events[0].data["plate"] == "AE1234BK"


async def test_a_frigate_plate_read_the_store_cannot_write_is_left_out(
    hass: HomeAssistant, start_frigate: StartFrigate
) -> None:
    """Frigate's plate read with a lone surrogate is dropped and counted; the snapshot's read is stored.

    SQLite refuses such text: the sighting went to the spool and held up every
    later one there.
    """
    entry = await start_frigate(content=scene_jpeg("AE1234BK", seed=1))
    events = async_capture_events(hass, EVENT_SIGHTING)
    async_fire_mqtt_message(
        hass,
        "frigate/events",
        frigate_event(
            "end",
            frame_time=1764065701.5,
            recognized_license_plate="AE1234BK\ud800",
            recognized_license_plate_score=0.9,
        ),
    )
    await wait_until(lambda: bool(events))
    await hass.async_block_till_done()

    assert (events[0].data["plate"], events[0].data["reader"]) == ("AE1234BK", "engine")
    runtime = entry.runtime_data
    assert runtime.source_counters["frigate_malformed_plates"] == 1
    assert runtime.pipeline.spool_depth == 0
    assert await hass.async_add_executor_job(runtime.store.count) == 1


async def test_an_end_reads_the_snapshot_of_an_event_without_frame_times(
    hass: HomeAssistant,
    init_frigate: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    """An event that has a snapshot but no usable frame time is read at its end.

    No message was a new frame, and the end read nothing either: the vehicle
    was lost without a log line or a count.
    """
    events = async_capture_events(hass, EVENT_SIGHTING)
    snapshot = {"frame_time": None, "box": [300, 250, 1000, 700]}
    for kind in ("new", "update", "end"):
        async_fire_mqtt_message(
            hass,
            "frigate/events",
            frigate_event(kind, frame_time=1764065701.5, snapshot=snapshot),
        )
    await wait_until(lambda: bool(events))
    await hass.async_block_till_done()

    assert events[0].data["plate"] == "AE1234BK"
    snapshot_calls = [
        call for call in aioclient_mock.mock_calls if call[1].path.endswith(".jpg")
    ]
    assert len(snapshot_calls) == 1


API_SENSOR = "binary_sensor.frigate_frigate_test_api"
MQTT_SENSOR = "binary_sensor.frigate_frigate_test_mqtt_broker"


async def _tick(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float
) -> None:
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def _frigate_answers_again(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    """Let Frigate's stats answer again and wait for the next check to see it."""
    aioclient_mock.clear_requests()
    aioclient_mock.get(f"{FRIGATE_URL}/api/stats", json={})
    aioclient_mock.get(f"{FRIGATE_URL}/api/config", json=FRIGATE_CONFIG)
    await _tick(hass, freezer, FRIGATE_PROBE_SECONDS)
    state = hass.states.get(API_SENSOR)
    assert state is not None
    assert state.state == STATE_ON


def _messages(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in record.getMessage() for record in caplog.records)


async def test_dead_frigate_is_shown_logged_once_and_recovers(
    hass: HomeAssistant,
    *,
    start_frigate: StartFrigate,
    frigate_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A dead NVR must be visible to the operator, not only as missing sightings.

    The outage is logged once when it starts and once when it ends (not per
    frame), shown by the source's connectivity sensor and explained by a repair
    issue; the cameras' last plates stay as they were, because they are still true.
    """
    # Frigate listed its cameras before Home Assistant restarted.
    remember_cameras(hass_storage, frigate_entry, ["bridge"])
    entry = await start_frigate(
        stats={"exc": aiohttp.ClientConnectionError("connection refused")},
        status=500,
    )
    runtime = entry.runtime_data
    sighting, _ = await hass.async_add_executor_job(
        runtime.store.record,
        NewSighting(
            camera="bridge",
            seen_at=datetime(2026, 11, 25, 9, 30, tzinfo=UTC),
            plate="AE1234BK",
            raw="AE 1234 BK",
            confidence=0.97,
            source="frigate",
            event_id="earlier",
        ),
    )
    runtime.hub.async_publish(sighting)
    await hass.async_block_till_done()

    # One failed check is not an outage yet; three in a row are.
    for _ in range(2):
        await _tick(hass, freezer, FRIGATE_PROBE_SECONDS)
    state = hass.states.get(API_SENSOR)
    assert state is not None
    assert state.state == STATE_OFF
    assert state.attributes["device_class"] == "connectivity"
    assert state.attributes["consecutive_failures"] == 3
    (subentry_id,) = entry.subentries
    issue = issue_registry.async_get_issue(DOMAIN, f"frigate_unavailable_{subentry_id}")
    assert issue is not None
    assert issue.translation_key == "frigate_unavailable"

    # More failures, and failed snapshot downloads, do not log the outage again.
    async_fire_mqtt_message(
        hass, "frigate/events", frigate_event("new", frame_time=1764065700.5)
    )
    await _tick(hass, freezer, FRIGATE_PROBE_SECONDS)
    await wait_until(lambda: runtime.source_counters["snapshot_fetch_errors"] == 1)
    assert _messages(caplog, "is unavailable") == 1
    last_plate = hass.states.get("sensor.bridge_last_plate")
    assert last_plate is not None
    assert last_plate.state == "AE1234BK"

    await _frigate_answers_again(hass, freezer, aioclient_mock)
    assert _messages(caplog, "is available again") == 1
    assert (
        issue_registry.async_get_issue(DOMAIN, f"frigate_unavailable_{subentry_id}")
        is None
    )


async def test_refused_login_asks_for_the_password(
    hass: HomeAssistant,
    start_frigate: StartFrigate,
    issue_registry: ir.IssueRegistry,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    """Retrying cannot fix a password: Home Assistant asks for the login, checks it and keeps it."""
    entry = await start_frigate(stats={"status": 401})
    await hass.async_block_till_done()
    state = hass.states.get(API_SENSOR)
    assert state is not None
    assert state.state == STATE_OFF
    assert state.attributes["login_refused"] is True
    (subentry_id,) = entry.subentries
    # The reauth flow is how it is fixed: no repair issue besides it.
    assert (
        issue_registry.async_get_issue(DOMAIN, f"frigate_unavailable_{subentry_id}")
        is None
    )
    (flow,) = reauth_flows(hass)
    assert flow["step_id"] == "reauth_frigate"

    aioclient_mock.clear_requests()
    fake_authenticated_frigate(aioclient_mock, FRIGATE_URL, accepted="s3cret")
    aioclient_mock.get(f"{FRIGATE_URL}/api/config", json=FRIGATE_CONFIG)
    login = {CONF_USERNAME: "police", CONF_PASSWORD: "wrong"}
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], login)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}
    assert result["description_placeholders"] is not None
    assert result["description_placeholders"]["source"] == "Frigate frigate.test"

    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], login | {CONF_PASSWORD: "s3cret"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    data = entry.subentries[subentry_id].data
    assert (data[CONF_USERNAME], data[CONF_PASSWORD]) == ("police", "s3cret")
    assert data[CONF_FRIGATE_URL] == FRIGATE_URL
    state = hass.states.get(API_SENSOR)
    assert state is not None
    assert state.state == STATE_ON


def _reauth_steps(hass: HomeAssistant) -> list[str]:
    return [flow["step_id"] for flow in reauth_flows(hass)]


async def test_login_that_works_again_ends_the_reauth_prompt(
    hass: HomeAssistant,
    start_frigate: StartFrigate,
    freezer: FrozenDateTimeFactory,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    """Frigate refused the login for a moment (restarting): once it answers, nothing is left to ask."""
    await start_frigate(stats={"status": 401})
    assert _reauth_steps(hass) == ["reauth_frigate"]
    await _frigate_answers_again(hass, freezer, aioclient_mock)
    assert _reauth_steps(hass) == []


async def test_reauth_for_a_removed_source_ends_at_once(
    hass: HomeAssistant, start_frigate: StartFrigate
) -> None:
    """A reauth left waiting while its source was removed has nothing to ask."""
    entry = await start_frigate()
    result = await entry.start_reauth_flow(hass, data={"reauth_source": "gone"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_not_needed"


async def test_broker_disconnect_is_shown_and_logged_once(
    hass: HomeAssistant,
    init_frigate: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Without the broker no Frigate event arrives: the operator sees it, once, until it is back."""
    state = hass.states.get(MQTT_SENSOR)
    assert state is not None
    assert state.state == STATE_ON

    for _ in range(2):
        async_dispatcher_send(hass, MQTT_CONNECTION_STATE, False)
    await hass.async_block_till_done()
    state = hass.states.get(MQTT_SENSOR)
    assert state is not None
    assert state.state == STATE_OFF
    assert issue_registry.async_get_issue(DOMAIN, "mqtt_disconnected") is not None
    assert _messages(caplog, "MQTT broker is disconnected") == 1

    async_dispatcher_send(hass, MQTT_CONNECTION_STATE, True)
    await hass.async_block_till_done()
    state = hass.states.get(MQTT_SENSOR)
    assert state is not None
    assert state.state == STATE_ON
    assert issue_registry.async_get_issue(DOMAIN, "mqtt_disconnected") is None
    assert _messages(caplog, "connected again") == 1


async def test_read_only_database_loses_no_sighting(
    hass: HomeAssistant,
    init_frigate: MockConfigEntry,
    config_dir: Path,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A sighting the database refuses is kept on disk, shown, and stored and announced once writes work again.

    Police rely on every sighting: a full disk or a locked database must delay
    it, never drop it.
    """
    runtime = init_frigate.runtime_data
    store = runtime.store
    events = async_capture_events(hass, EVENT_SIGHTING)
    # A real SQLite refusal: "attempt to write a readonly database".
    writer = store._writer
    assert writer is not None
    await hass.async_add_executor_job(writer.execute, "PRAGMA query_only = ON")

    async_fire_mqtt_message(
        hass, "frigate/events", frigate_event("end", frame_time=1764065701.0)
    )
    await wait_until(lambda: runtime.pipeline.counters.sightings_spooled == 1)
    spool = config_dir / DOMAIN / "plate_tracker.spool.jsonl"
    assert spool.is_file()
    assert issue_registry.async_get_issue(DOMAIN, "sightings_spooled") is not None
    assert await hass.async_add_executor_job(store.count) == 0
    assert events == []
    waiting = hass.states.get("sensor.plate_tracker_sightings_waiting_to_be_stored")
    assert waiting is not None

    await hass.async_add_executor_job(writer.execute, "PRAGMA query_only = OFF")
    await _tick(hass, freezer, 10)
    await wait_until(lambda: runtime.pipeline.counters.sightings_replayed == 1)
    await hass.async_block_till_done()
    assert await hass.async_add_executor_job(store.count) == 1
    assert [event.data["plate"] for event in events] == ["AE1234BK"]
    assert not spool.exists()
    assert issue_registry.async_get_issue(DOMAIN, "sightings_spooled") is None
    assert runtime.pipeline.counters.sightings_replayed == 1


async def test_spooled_sightings_are_stored_at_the_next_start(
    hass: HomeAssistant,
    init_frigate: MockConfigEntry,
    config_dir: Path,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A restart while the database refused writes loses nothing: the spool is stored first thing."""
    runtime = init_frigate.runtime_data
    writer = runtime.store._writer
    assert writer is not None
    await hass.async_add_executor_job(writer.execute, "PRAGMA query_only = ON")
    async_fire_mqtt_message(
        hass, "frigate/events", frigate_event("end", frame_time=1764065701.0)
    )
    await wait_until(lambda: runtime.pipeline.counters.sightings_spooled == 1)
    await hass.async_add_executor_job(writer.execute, "PRAGMA query_only = OFF")

    events = async_capture_events(hass, EVENT_SIGHTING)
    await hass.config_entries.async_reload(init_frigate.entry_id)
    await hass.async_block_till_done()
    runtime = init_frigate.runtime_data
    await wait_until(lambda: runtime.pipeline.counters.sightings_replayed == 1)
    await hass.async_block_till_done()
    assert await hass.async_add_executor_job(runtime.store.count) == 1
    assert [event.data["plate"] for event in events] == ["AE1234BK"]
    assert not (config_dir / DOMAIN / "plate_tracker.spool.jsonl").exists()
    assert issue_registry.async_get_issue(DOMAIN, "sightings_spooled") is None


async def test_unwritable_spool_holds_a_bounded_memory_and_says_so(
    hass: HomeAssistant,
    init_frigate: MockConfigEntry,
    *,
    config_dir: Path,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
    caplog: pytest.LogCaptureFixture,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    """With the database and the spool file both refusing writes, memory is the last resort.

    It must not grow without limit: images go first, then the oldest sightings,
    and the repair issue and the diagnostics say how many wait only in memory
    and what was dropped, so the user knows a restart now would lose them.
    """
    runtime = init_frigate.runtime_data
    spool = runtime.pipeline.spool
    assert spool is not None
    # Small bounds, so that three passes reach them (5000 sightings and 64 MB in use).
    spool._memory_only_sightings = 2
    spool._memory_only_image_bytes = 0
    writer = runtime.store._writer
    assert writer is not None
    await hass.async_add_executor_job(writer.execute, "PRAGMA query_only = ON")
    # A folder where the spool file should be: every write to it fails.
    spool.path.mkdir()

    for number in range(3):
        aioclient_mock.get(
            f"{FRIGATE_URL}/api/events/{EVENT_ID}{number}/snapshot.jpg",
            content=scene_jpeg("AE1234BK", seed=1),
        )
        async_fire_mqtt_message(
            hass,
            "frigate/events",
            frigate_event(
                "end", frame_time=1764065701.0 + number, event_id=f"{EVENT_ID}{number}"
            ),
        )
    await wait_until(lambda: runtime.pipeline.counters.sightings_spooled == 3)
    await hass.async_block_till_done()

    assert (spool.memory_only, spool.images_dropped, spool.sightings_dropped) == (
        2,
        3,
        1,
    )
    issue = issue_registry.async_get_issue(DOMAIN, "sightings_spooled")
    assert issue is not None
    assert issue.translation_key == "sightings_spooled_in_memory"
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["memory_only"] == "2"
    assert issue.translation_placeholders["sightings_dropped"] == "1"
    diagnostics = await async_get_config_entry_diagnostics(hass, init_frigate)
    assert diagnostics["pipeline"]["spool"]["sightings_dropped"] == 1
    assert _messages(caplog, "are dropped from now on") == 1

    spool.path.rmdir()
    await hass.async_add_executor_job(writer.execute, "PRAGMA query_only = OFF")
    await _tick(hass, freezer, 10)
    await wait_until(lambda: runtime.pipeline.counters.sightings_replayed == 2)
    await hass.async_block_till_done()
    assert await hass.async_add_executor_job(runtime.store.count) == 2
    assert issue_registry.async_get_issue(DOMAIN, "sightings_spooled") is None


async def test_two_frigate_sources_on_one_prefix_are_a_repair_issue(
    hass: HomeAssistant,
    init_frigate: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Two Frigate sources that follow one MQTT prefix handle every event twice.

    Sources from before the flow refused that are reported by a repair issue;
    giving one its own prefix clears it.
    """
    other_url = "http://frigate2.test:5000"
    aioclient_mock.get(f"{other_url}/api/stats", json={})
    aioclient_mock.get(f"{other_url}/api/events", json=[])
    aioclient_mock.get(f"{other_url}/api/config", json=FRIGATE_CONFIG)
    second = ConfigSubentry(
        subentry_type=SUBENTRY_SOURCE,
        title="Frigate frigate2.test",
        unique_id=f"frigate:{other_url}",
        data=MappingProxyType(
            {
                CONF_SOURCE: SOURCE_FRIGATE,
                CONF_FRIGATE_URL: other_url,
                CONF_MQTT_PREFIX: "/frigate/",
            }
        ),
    )
    assert hass.config_entries.async_add_subentry(init_frigate, second)
    await hass.async_block_till_done()
    assert init_frigate.state is ConfigEntryState.LOADED
    first_id = next(iter(init_frigate.subentries))
    issue_id = f"sources_overlap_{first_id}_{second.subentry_id}"
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "sources_overlap_mqtt_prefix"
    assert issue.translation_placeholders == {
        "first": "Frigate frigate.test",
        "second": "Frigate frigate2.test",
        "detail": "frigate",
    }

    assert hass.config_entries.async_update_subentry(
        init_frigate,
        second,
        data={**second.data, CONF_MQTT_PREFIX: "frigate2"},
    )
    await hass.async_block_till_done()
    assert init_frigate.state is ConfigEntryState.LOADED
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
