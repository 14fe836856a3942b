"""Frigate as a source reads only the cameras Frigate's own configuration lists."""

# The fixtures of test_frigate_source.py are imported, and named as test arguments.
# ruff: noqa: F811

from __future__ import annotations

from datetime import timedelta
import time
from typing import Any

import aiohttp
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
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

from custom_components.plate_tracker.const import EVENT_SIGHTING
from custom_components.plate_tracker.sources.frigate import CAMERA_LIST_INTERVAL

from .conftest import FRIGATE_URL
from .helpers import wait_until
from .synthetic import scene_jpeg
from .test_frigate_source import (  # noqa: F401  # fixtures
    FRIGATE_CONFIG,
    StartFrigate,
    frigate_event,
    frigate_event_list,
    no_retry_waits,
    remember_cameras,
    start_frigate,
)

pytestmark = pytest.mark.parametrize("expected_lingering_timers", [True])

FORGED_ID = "1764065799.000000-forged"


def _config_reads(aioclient_mock: AiohttpClientMocker) -> int:
    return sum(call[1].path == "/api/config" for call in aioclient_mock.mock_calls)


def _snapshot_calls(aioclient_mock: AiohttpClientMocker) -> list[str]:
    return [
        call[1].path
        for call in aioclient_mock.mock_calls
        if call[1].path.endswith(".jpg")
    ]


def _config_answer(
    aioclient_mock: AiohttpClientMocker, answers: list[dict[str, Any]]
) -> None:
    """Answer ``/api/config`` with the first of ``answers`` (a test changes it)."""

    async def config(method: str, url: Any, data: Any) -> AiohttpClientMockResponse:
        answer = answers[0]
        if "exc" in answer:
            raise answer["exc"]
        return AiohttpClientMockResponse(method, url, json=answer)

    aioclient_mock.get(f"{FRIGATE_URL}/api/config", side_effect=config)


async def _tick(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float
) -> None:
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def _forged_and_real_event(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> None:
    """Publish an end of a made-up camera, then one of Frigate's camera ``bridge``."""
    aioclient_mock.get(
        f"{FRIGATE_URL}/api/events/{FORGED_ID}/snapshot.jpg",
        content=scene_jpeg("BC4321AA", seed=2),
    )
    async_fire_mqtt_message(
        hass,
        "frigate/events",
        frigate_event(
            "end", frame_time=time.time(), event_id=FORGED_ID, camera="intruder"
        ),
    )
    async_fire_mqtt_message(
        hass, "frigate/events", frigate_event("end", frame_time=time.time())
    )


async def test_an_event_of_a_camera_frigate_does_not_have_is_not_read(
    hass: HomeAssistant,
    *,
    start_frigate: StartFrigate,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Anyone who may publish on Frigate's topic prefix must not invent a camera.

    The event's ``camera`` was taken as it was: a made-up camera got a device,
    entities and a sighting (with its watchlist alert) of a car nobody saw.
    Now its message waits for Frigate's camera list to be read again (a camera
    may have been added), and is skipped, counted and logged when it is not there.
    """
    entry = await start_frigate(content=scene_jpeg("AE1234BK", seed=1))
    await wait_until(lambda: _config_reads(aioclient_mock) == 1)
    events = async_capture_events(hass, EVENT_SIGHTING)

    await _forged_and_real_event(hass, aioclient_mock)
    await wait_until(lambda: bool(events))
    await _tick(hass, freezer, CAMERA_LIST_INTERVAL)
    await wait_until(
        lambda: entry.runtime_data.source_counters["frigate_unknown_camera"] == 1
    )
    await hass.async_block_till_done()

    assert [event.data["camera"] for event in events] == ["bridge"]
    assert _snapshot_calls(aioclient_mock) == [
        f"/api/events/{events[0].data['event_id']}/snapshot.jpg"
    ]
    assert _config_reads(aioclient_mock) == 2
    assert not [
        device
        for device in dr.async_entries_for_config_entry(device_registry, entry.entry_id)
        if device.name == "intruder"
    ]
    assert "Frigate's configuration has no such camera" in caplog.text


async def test_a_stream_of_made_up_cameras_reads_the_list_once_a_minute(
    hass: HomeAssistant,
    start_frigate: StartFrigate,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A publisher inventing cameras must not make Home Assistant hammer Frigate's API.

    Each message of a camera not listed asks for the list again: a stream of
    them is answered by one read a minute at the most.
    """
    entry = await start_frigate(content=scene_jpeg("AE1234BK", seed=1))
    await wait_until(lambda: _config_reads(aioclient_mock) == 1)
    for index in range(50):
        async_fire_mqtt_message(
            hass,
            "frigate/events",
            frigate_event(
                "new",
                frame_time=time.time(),
                event_id=f"e{index}",
                camera=f"cam{index}",
            ),
        )
    await hass.async_block_till_done()
    assert _config_reads(aioclient_mock) == 1

    await _tick(hass, freezer, CAMERA_LIST_INTERVAL / 2)
    assert _config_reads(aioclient_mock) == 1
    await _tick(hass, freezer, CAMERA_LIST_INTERVAL / 2)
    await wait_until(
        lambda: entry.runtime_data.source_counters["frigate_unknown_camera"] == 50
    )
    assert _config_reads(aioclient_mock) == 2
    assert not _snapshot_calls(aioclient_mock)


async def test_a_camera_added_to_frigate_is_read_without_a_restart(
    hass: HomeAssistant,
    start_frigate: StartFrigate,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A camera added to Frigate after Home Assistant started is not taken for a forgery.

    Its first event waits for the next read of Frigate's camera list, which
    names it; then the event is read, none of its messages lost.
    """
    answers: list[dict[str, Any]] = [FRIGATE_CONFIG]
    # Registered first, this answer wins over the fixture's.
    _config_answer(aioclient_mock, answers)
    aioclient_mock.get(
        f"{FRIGATE_URL}/api/events/{FORGED_ID}/snapshot.jpg",
        content=scene_jpeg("BC4321AA", seed=2),
    )
    entry = await start_frigate(content=scene_jpeg("AE1234BK", seed=1))
    await wait_until(lambda: _config_reads(aioclient_mock) == 1)
    events = async_capture_events(hass, EVENT_SIGHTING)

    answers[0] = {"cameras": {**FRIGATE_CONFIG["cameras"], "yard": {}}}
    for kind in ("new", "update", "end"):
        async_fire_mqtt_message(
            hass,
            "frigate/events",
            frigate_event(
                kind, frame_time=time.time(), event_id=FORGED_ID, camera="yard"
            ),
        )
    await hass.async_block_till_done()
    assert not events
    await _tick(hass, freezer, CAMERA_LIST_INTERVAL)
    await wait_until(lambda: bool(events))
    await hass.async_block_till_done()

    assert [(event.data["camera"], event.data["plate"]) for event in events] == [
        ("yard", "BC4321AA")
    ]
    assert entry.runtime_data.source_counters["frigate_unknown_camera"] == 0
    assert entry.runtime_data.source_counters["frigate_after_end"] == 0


async def test_events_wait_for_the_first_camera_list_while_frigate_is_down(
    hass: HomeAssistant,
    start_frigate: StartFrigate,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Before any camera list was read, an event is neither read unchecked nor lost.

    It waits until Frigate answers, and is read then.
    """
    answers: list[dict[str, Any]] = [
        {"exc": aiohttp.ClientConnectionError("connection refused")}
    ]
    _config_answer(aioclient_mock, answers)
    entry = await start_frigate(content=scene_jpeg("AE1234BK", seed=1))
    await wait_until(lambda: _config_reads(aioclient_mock) == 1)
    events = async_capture_events(hass, EVENT_SIGHTING)
    async_fire_mqtt_message(
        hass, "frigate/events", frigate_event("end", frame_time=time.time())
    )
    await hass.async_block_till_done()
    assert not _snapshot_calls(aioclient_mock)

    answers[0] = FRIGATE_CONFIG
    await _tick(hass, freezer, CAMERA_LIST_INTERVAL)
    await wait_until(lambda: bool(events))

    assert [event.data["camera"] for event in events] == ["bridge"]
    assert entry.runtime_data.source_counters["frigate_unknown_camera"] == 0


async def test_cameras_listed_before_a_restart_are_read_while_frigate_is_down(
    hass: HomeAssistant,
    start_frigate: StartFrigate,
    frigate_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    aioclient_mock: AiohttpClientMocker,
) -> None:
    """The camera list is kept across restarts: Frigate down at a restart holds up none of its cameras.

    Frigate's own plate read is then all there is, and it is stored at once.
    """
    remember_cameras(hass_storage, frigate_entry, ["bridge"])
    _config_answer(
        aioclient_mock, [{"exc": aiohttp.ClientConnectionError("connection refused")}]
    )
    await start_frigate(exc=aiohttp.ClientConnectionError("connection refused"))
    events = async_capture_events(hass, EVENT_SIGHTING)
    async_fire_mqtt_message(
        hass,
        "frigate/events",
        frigate_event(
            "end",
            frame_time=time.time(),
            recognized_license_plate="KA 7777 OO",
            recognized_license_plate_score=0.91,
        ),
    )
    await wait_until(lambda: bool(events))

    assert events[0].data["plate"] == "KA7777OO"
    assert events[0].data["reader"] == "nvr"


async def test_the_camera_list_read_is_kept_for_the_next_start(
    hass: HomeAssistant,
    start_frigate: StartFrigate,
    frigate_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    aioclient_mock: AiohttpClientMocker,
) -> None:
    """What ``test_cameras_listed_before_a_restart_are_read_while_frigate_is_down`` starts from is what a run leaves."""
    entry = await start_frigate(content=scene_jpeg("AE1234BK", seed=1))
    await wait_until(lambda: _config_reads(aioclient_mock) == 1)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()

    (subentry_id,) = frigate_entry.subentries
    saved = hass_storage[f"plate_tracker.frigate_stream_{subentry_id}"]["data"]
    assert saved["cameras"] == sorted(FRIGATE_CONFIG["cameras"])


async def test_frigate_without_a_camera_list_loses_no_event(
    hass: HomeAssistant,
    start_frigate: StartFrigate,
    aioclient_mock: AiohttpClientMocker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Frigate that answers, but with no camera list (a proxy refusing the path), is not down.

    Waiting for a list that never comes would lose every car: the events are
    read unchecked, and the log says so.
    """
    aioclient_mock.get(f"{FRIGATE_URL}/api/config", status=404)
    await start_frigate(content=scene_jpeg("AE1234BK", seed=1))
    await wait_until(lambda: _config_reads(aioclient_mock) == 1)
    events = async_capture_events(hass, EVENT_SIGHTING)
    async_fire_mqtt_message(
        hass, "frigate/events", frigate_event("end", frame_time=time.time())
    )
    await wait_until(lambda: bool(events))

    assert events[0].data["camera"] == "bridge"
    assert "read, unchecked" in caplog.text
