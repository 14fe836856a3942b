"""Frigate as a source: MQTT events in, one sighting per vehicle pass out."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
import json
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_mqtt_message,
)
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker
from pytest_homeassistant_custom_component.typing import MqttMockHAClient
from syrupy.assertion import SnapshotAssertion

from custom_components.plate_tracker.const import EVENT_SIGHTING

from .conftest import FRIGATE_URL
from .helpers import wait_until
from .synthetic import scene_jpeg

EVENT_ID = "1764065700.123456-abc123"

# The MQTT integration's own periodic timer outlives a test on Home Assistant 2026.10;
# it is not ours, and our entries are unloaded by the fixtures below.
pytestmark = pytest.mark.parametrize("expected_lingering_timers", [True])


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


@pytest.fixture
async def start_frigate(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    frigate_entry: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
) -> AsyncGenerator[StartFrigate]:
    """Return a function that sets up the Frigate entry with a given snapshot answer.

    The entry is unloaded after the test, so no MQTT timer outlives it.
    """

    async def start(**snapshot_answer: Any) -> MockConfigEntry:
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
    assert aioclient_mock.call_count == 2
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
