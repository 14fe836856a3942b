"""Which way a vehicle passed a Frigate camera, and what that means at a city exit, inside Home Assistant.

Direction comes only from what the source knows: the Frigate zones the user
mapped for each camera, else the vehicle's movement over the event. It often
becomes known only when the event ends, after the pass was announced; the
city status must follow it then.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
import json
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import Context, Event, HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_mqtt_message,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.plate_tracker.const import DOMAIN, EVENT_SIGHTING
from custom_components.plate_tracker.records import Direction
from custom_components.plate_tracker.routes import EVENT_LEFT_CITY

from .conftest import FRIGATE_URL
from .helpers import wait_until
from .synthetic import scene_jpeg

# The MQTT integration's own periodic timer outlives a test on Home Assistant 2026.10;
# it is not ours, and our entries are unloaded by the fixtures below.
pytestmark = pytest.mark.parametrize("expected_lingering_timers", [True])

START = datetime(2026, 11, 25, 20, 40, tzinfo=UTC)
PLATE = "AE1234BK"
NEAR = [300, 250, 1000, 700]
"""Where the car is when Frigate first sees it at the gate: big, low in the picture."""
FAR = [550, 150, 750, 280]
"""Where it is when the event ends: small and high up, driving away."""
CAMERAS = {
    "gate": {
        "name": "North gate",
        "latitude": 50.52,
        "longitude": 30.50,
        "role": "exit",
        "leaving_direction": "receding",
    },
    "centre": {
        "name": "Centre",
        "latitude": 50.45,
        "longitude": 30.52,
        "role": "inside",
        "leaving_direction": None,
    },
}
FRIGATE_CONFIG = {
    "cameras": {
        "gate": {"zones": {"city_limit": {}, "road": {}}},
        "centre": {"zones": {"road": {}, "square": {}}},
    }
}


def frigate_event(
    kind: str,
    event_id: str,
    *,
    camera: str = "gate",
    frame_time: float,
    box: list[int] = NEAR,
    entered_zones: list[str] | None = None,
) -> str:
    """Return a Frigate ``<prefix>/events`` payload with the vehicle at ``box`` now."""
    body: dict[str, Any] = {
        "id": event_id,
        "camera": camera,
        "label": "car",
        "false_positive": False,
        "start_time": START.timestamp(),
        "end_time": frame_time if kind == "end" else None,
        "frame_time": frame_time,
        "box": box,
        "has_snapshot": True,
        # The best snapshot stays the first, close-up frame: the plate is read there.
        "snapshot": {"frame_time": START.timestamp() + 0.5, "box": NEAR},
        "entered_zones": entered_zones or [],
    }
    return json.dumps({"type": kind, "before": body, "after": body})


@pytest.fixture
async def frigate_city(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    frigate_entry: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
) -> AsyncGenerator[MockConfigEntry]:
    """Set up a Frigate hub with a camera map; every event's snapshot shows AE1234BK."""
    freezer.move_to(START)
    aioclient_mock.get(f"{FRIGATE_URL}/api/stats", json={})
    aioclient_mock.get(f"{FRIGATE_URL}/api/config", text=json.dumps(FRIGATE_CONFIG))
    for event_id in ("leaving", "zoned", "zoned-elsewhere"):
        aioclient_mock.get(
            f"{FRIGATE_URL}/api/events/{event_id}/snapshot.jpg",
            content=scene_jpeg(PLATE, seed=1),
        )
    frigate_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        frigate_entry, options={**frigate_entry.options, "cameras": CAMERAS}
    )
    assert await hass.config_entries.async_setup(frigate_entry.entry_id)
    await hass.async_block_till_done()
    yield frigate_entry
    if frigate_entry.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(frigate_entry.entry_id)
        await hass.async_block_till_done()


async def _camera_form(hass: HomeAssistant, entry: MockConfigEntry, camera: str) -> Any:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "camera"}
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {"camera": camera, "trip_gap_minutes": 30, "max_speed_kmh": 200},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "camera_details"
    return result


def _selector_options(result: Any, field: str) -> list[str]:
    for key, selector in result["data_schema"].schema.items():
        if str(key) == field:
            return list(selector.config["options"])
    raise AssertionError(f"{field} is not on the form")


def _suggested(result: Any) -> dict[str, Any]:
    return {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description and "suggested_value" in key.description
    }


GATE = {
    "name": "North gate",
    "location": {"latitude": 50.52, "longitude": 30.50},
    "role": "exit",
    "leaving_direction": "receding",
}


async def test_frigate_zones_are_mapped_per_camera_in_the_options(
    hass: HomeAssistant, frigate_city: MockConfigEntry
) -> None:
    """The user names the gate's Frigate zones that mean leaving or coming in; they apply at once, to that camera only.

    Frigate zone names are per camera: ``road`` at the centre means nothing
    at the gate, so a map for one camera must never decide another's direction.
    """
    result = await _camera_form(hass, frigate_city, "gate")
    # Frigate's own zone names for this camera are offered; others can be typed.
    assert _selector_options(result, "zones_receding") == ["city_limit", "road"]

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {**GATE, "zones_receding": ["city_limit"], "zones_approaching": ["city_limit"]},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "zone_in_two_directions"}
    assert result["description_placeholders"] == {
        "camera": "gate",
        "zone": "city_limit",
    }

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            **GATE,
            "zones_receding": ["city_limit"],
            "zones_approaching": ["road", " "],
            "zones_left": ["typed_zone"],
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert frigate_city.options["cameras"]["gate"]["zone_directions"] == {
        "city_limit": "receding",
        "road": "approaching",
        "typed_zone": "left",
    }
    assert "zone_directions" not in frigate_city.options["cameras"]["centre"]
    assert frigate_city.state is ConfigEntryState.LOADED

    sightings = async_capture_events(hass, EVENT_SIGHTING)
    async_fire_mqtt_message(
        hass,
        "frigate/events",
        frigate_event(
            "end",
            "zoned",
            frame_time=START.timestamp() + 2,
            entered_zones=["road", "city_limit"],
        ),
    )
    async_fire_mqtt_message(
        hass,
        "frigate/events",
        frigate_event(
            "end",
            "zoned-elsewhere",
            camera="centre",
            frame_time=START.timestamp() + 3,
            entered_zones=["road"],
        ),
    )
    await wait_until(lambda: len(sightings) == 2)
    directions = {event.data["camera"]: event.data["direction"] for event in sightings}
    assert directions == {"gate": "receding", "centre": "unknown"}

    # Editing the camera shows its zones where they were put.
    result = await _camera_form(hass, frigate_city, "gate")
    suggested = _suggested(result)
    assert suggested["zones_receding"] == ["city_limit"]
    assert suggested["zones_approaching"] == ["road"]
    assert suggested["zones_left"] == ["typed_zone"]
    assert suggested["zones_right"] == []
    assert "typed_zone" in _selector_options(result, "zones_left")


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 500},
        {"text": "<html>proxy error</html>"},
        {"text": '{"mqtt": {}}'},
        {"text": '{"cameras": {"gate": {"zones": 5}}}'},
        {"text": '{"cameras": {"gate": {"zones": "city_limit"}}}'},
        {"exc": TimeoutError()},
    ],
)
async def test_zone_fields_work_when_frigate_does_not_list_zones(
    hass: HomeAssistant,
    frigate_city: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
    answer: dict[str, Any],
) -> None:
    """Frigate's zone list is only a convenience: without it the user types zone names and the form still saves."""
    aioclient_mock.clear_requests()
    aioclient_mock.get(f"{FRIGATE_URL}/api/stats", json={})
    aioclient_mock.get(f"{FRIGATE_URL}/api/config", **answer)
    result = await _camera_form(hass, frigate_city, "gate")
    assert _selector_options(result, "zones_receding") == []
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**GATE, "zones_receding": ["city_limit"]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert frigate_city.options["cameras"]["gate"]["zone_directions"] == {
        "city_limit": "receding"
    }


async def test_exit_learns_at_the_event_end_that_a_wanted_car_left(
    hass: HomeAssistant,
    frigate_city: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A wanted car is announced at the gate while its direction is unknown; the event's end shows it drove away.

    Police must hear that it left the city: the direction learnt only at the
    end updates the stored sighting, the correction is announced, and the
    city status turns to ``left`` with ``plate_tracker_left_city``. The
    watchlist alert is not repeated, and the hit is recorded once.
    """
    left: list[Event] = async_capture_events(hass, EVENT_LEFT_CITY)
    hits: list[Event] = async_capture_events(hass, "plate_tracker_watchlist_hit")
    sightings: list[Event] = async_capture_events(hass, EVENT_SIGHTING)
    response = await hass.services.async_call(
        DOMAIN,
        "watchlist_add",
        {"plate": PLATE, "label": "Stolen", "priority": "critical"},
        blocking=True,
        return_response=True,
        context=Context(),
    )
    assert response is not None
    listed_id = response["entry"]["entry_id"]
    runtime = frigate_city.runtime_data

    start = START.timestamp()
    async_fire_mqtt_message(
        hass, "frigate/events", frigate_event("new", "leaving", frame_time=start + 0.5)
    )
    await wait_until(lambda: runtime.pipeline.counters.sightings_recorded == 1)
    # The pass goes on: it is announced after "announce after" (3 s), direction unknown.
    freezer.tick(timedelta(seconds=4))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert [event.data["direction"] for event in sightings] == ["unknown"]
    assert len(hits) == 1
    assert hits[0].data["city_status"] == "unknown"
    assert runtime.routes is not None
    assert runtime.routes.whereabouts[PLATE].status.state.value == "unknown"
    assert left == []

    # Updates move the car without a new snapshot; the end brings no new frame.
    async_fire_mqtt_message(
        hass,
        "frigate/events",
        frigate_event(
            "update", "leaving", frame_time=start + 3, box=[450, 200, 850, 480]
        ),
    )
    async_fire_mqtt_message(
        hass,
        "frigate/events",
        frigate_event("end", "leaving", frame_time=start + 6, box=FAR),
    )
    await wait_until(lambda: bool(left))
    await hass.async_block_till_done()

    (event,) = left
    assert event.data["plate"] == PLATE
    assert event.data["camera"] == "gate"
    assert event.data["direction"] == "receding"
    assert event.data["status"]["reason"] == "exit_leaving"
    assert [event.data["direction"] for event in sightings] == ["unknown", "receding"]
    assert sightings[0].data["sighting_id"] == sightings[1].data["sighting_id"]
    stored = await hass.async_add_executor_job(
        runtime.store.get, sightings[1].data["sighting_id"]
    )
    assert stored is not None
    assert stored.direction is Direction.RECEDING
    assert stored.seen_at == START + timedelta(seconds=0.5)
    assert len(hits) == 1, "the correction is the same pass: no second alert"
    recorded = await hass.async_add_executor_job(
        runtime.store.hits_for_entry, int(listed_id)
    )
    assert len(recorded) == 1
    assert runtime.pipeline.counters.sightings_recorded == 1
