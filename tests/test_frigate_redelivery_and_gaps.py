"""Frigate as a source under a broken or hostile MQTT stream, and across gaps in it."""

# The fixtures of test_frigate_source.py are imported, and named as test arguments.
# ruff: noqa: F811

from __future__ import annotations

from collections.abc import Generator
import json
import time
from typing import Any
from unittest.mock import patch

from homeassistant.components.mqtt.const import MQTT_CONNECTION_STATE
from homeassistant.core import HomeAssistant
from homeassistant.helpers.dispatcher import async_dispatcher_send
import pytest
from pytest_homeassistant_custom_component.common import (
    async_capture_events,
    async_fire_mqtt_message,
)
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
    AiohttpClientMockResponse,
)

from custom_components.plate_tracker.const import EVENT_SIGHTING

from .conftest import FRIGATE_URL
from .helpers import wait_until
from .synthetic import scene_jpeg
from .test_frigate_source import (  # noqa: F401  # fixtures
    EVENT_ID,
    StartFrigate,
    frigate_event,
    frigate_event_list,
    listed_event,
    no_retry_waits,
    start_frigate,
)

pytestmark = pytest.mark.parametrize("expected_lingering_timers", [True])


def _snapshot_calls(aioclient_mock: AiohttpClientMocker) -> list[str]:
    return [
        call[1].path
        for call in aioclient_mock.mock_calls
        if call[1].path.endswith(".jpg")
    ]


async def test_a_message_repeated_after_its_end_is_not_a_second_pass(
    hass: HomeAssistant,
    start_frigate: StartFrigate,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    """A duplicated ``end`` or a late ``update`` (QoS 1 redelivery) reads no pass again.

    Each was taken for the end of an event never seen: its snapshot was
    downloaded again and the same car announced (and alerted) a second time.
    """
    entry = await start_frigate(content=scene_jpeg("AE1234BK", seed=1))
    events = async_capture_events(hass, EVENT_SIGHTING)
    for kind in ("new", "end"):
        async_fire_mqtt_message(
            hass, "frigate/events", frigate_event(kind, frame_time=1764065700.5)
        )
    await wait_until(lambda: bool(events))
    await hass.async_block_till_done()
    for kind in ("end", "update"):
        async_fire_mqtt_message(
            hass, "frigate/events", frigate_event(kind, frame_time=1764065701.5)
        )
    await hass.async_block_till_done()
    await hass.async_add_executor_job(time.sleep, 0.5)
    await hass.async_block_till_done()

    assert len(events) == 1
    assert _snapshot_calls(aioclient_mock) == [f"/api/events/{EVENT_ID}/snapshot.jpg"]
    assert entry.runtime_data.source_counters["frigate_after_end"] == 2


async def test_a_retained_event_message_is_not_read_at_each_start(
    hass: HomeAssistant,
    start_frigate: StartFrigate,
    aioclient_mock: AiohttpClientMocker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Frigate never retains its event messages: one retained by a bridge or a user is old.

    The broker hands it to every new subscription, so each restart read and
    announced that car again (dated by arrival once its frame time was a week old).
    """
    entry = await start_frigate(content=scene_jpeg("AE1234BK", seed=1))
    events = async_capture_events(hass, EVENT_SIGHTING)
    async_fire_mqtt_message(
        hass,
        "frigate/events",
        frigate_event("end", frame_time=time.time()),
        retain=True,
    )
    await hass.async_block_till_done()
    await hass.async_add_executor_job(time.sleep, 0.3)
    await hass.async_block_till_done()

    assert not events
    assert not _snapshot_calls(aioclient_mock)
    assert entry.runtime_data.source_counters["mqtt_retained"] == 1
    assert "retained" in caplog.text


async def test_a_huge_message_is_refused_unparsed(
    hass: HomeAssistant,
    start_frigate: StartFrigate,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    """A message far larger than any Frigate event is malformed, not parsed on the event loop.

    Parsing tens of megabytes of JSON stalls all of Home Assistant; Frigate's
    own messages are a few kilobytes.
    """
    entry = await start_frigate(content=scene_jpeg("AE1234BK", seed=1))
    payload = json.loads(frigate_event("end", frame_time=time.time()))
    payload["after"]["path_data"] = [[[0.5, 0.5], 1.0]] * 200_000
    async_fire_mqtt_message(hass, "frigate/events", json.dumps(payload))
    await hass.async_block_till_done()

    assert entry.runtime_data.source_counters["mqtt_malformed"] == 1
    assert not _snapshot_calls(aioclient_mock)


class FakeClock:
    """The wall clock of ``source.py`` alone, moved by the test: gaps of minutes take none."""

    def __init__(self) -> None:
        """Start at the real time."""
        self.now = time.time()

    def time(self) -> float:
        """Return the test's time."""
        return self.now


@pytest.fixture
def clock() -> Generator[FakeClock]:
    """Give the source a clock the test moves."""
    fake = FakeClock()
    with patch("custom_components.plate_tracker.source.time", fake):
        yield fake


def _failing_event_list(
    aioclient_mock: AiohttpClientMocker, frigate_event_list: list[dict[str, Any]]
) -> list[bool]:
    """Answer Frigate's event list with 502 while the returned flag is set."""
    down = [True]

    async def event_list(method: str, url: Any, data: Any) -> AiohttpClientMockResponse:
        if down[0]:
            return AiohttpClientMockResponse(method, url, status=502)
        return AiohttpClientMockResponse(method, url, json=list(frigate_event_list))

    aioclient_mock.get(f"{FRIGATE_URL}/api/events", side_effect=event_list)
    return down


def _end_without_snapshot(hass: HomeAssistant, event_id: str) -> None:
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


async def _broker(hass: HomeAssistant, connected: bool) -> None:
    async_dispatcher_send(hass, MQTT_CONNECTION_STATE, connected)
    await hass.async_block_till_done()


def _gap_event(clock: FakeClock, ended: float) -> dict[str, Any]:
    event = listed_event(EVENT_ID, ended=ended)
    event["start_time"] = ended - 4.0
    return event


async def _first_gap_not_listed(
    hass: HomeAssistant, clock: FakeClock, aioclient_mock: AiohttpClientMocker
) -> None:
    """Lose the broker after a message; it comes back 10 minutes later, Frigate not yet.

    Then a message comes, 100 s after the broker: the stream goes on, the
    first gap's events still unlisted.
    """
    _end_without_snapshot(hass, "before")
    await hass.async_block_till_done()
    await _broker(hass, False)
    clock.now += 600
    await _broker(hass, True)
    await wait_until(
        lambda: any(call[1].path == "/api/events" for call in aioclient_mock.mock_calls)
    )
    await hass.async_block_till_done()
    clock.now += 100
    _end_without_snapshot(hass, "after")
    await hass.async_block_till_done()


async def test_a_gap_frigate_could_not_list_is_read_after_a_later_gap(
    hass: HomeAssistant,
    start_frigate: StartFrigate,
    aioclient_mock: AiohttpClientMocker,
    frigate_event_list: list[dict[str, Any]],
    clock: FakeClock,
) -> None:
    """A second broker loss must not forget the first one whose events are still unread.

    The second gap's catch-up listed from its own start only and then marked
    nothing pending: every car of the first gap was lost.
    """
    base = clock.now
    # Registered first, this answer wins over the fixture's.
    down = _failing_event_list(aioclient_mock, frigate_event_list)
    entry = await start_frigate(content=scene_jpeg("AE1234BK", seed=1))
    events = async_capture_events(hass, EVENT_SIGHTING)
    await _first_gap_not_listed(hass, clock, aioclient_mock)

    frigate_event_list[:] = [_gap_event(clock, base + 300)]
    down[0] = False
    await _broker(hass, False)
    clock.now += 100
    await _broker(hass, True)
    await wait_until(lambda: bool(events))

    assert [event.data["event_id"] for event in events] == [EVENT_ID]
    assert entry.runtime_data.source_counters["missed_events_read"] == 1


async def test_a_gap_still_unread_at_a_restart_is_read_after_it(
    hass: HomeAssistant,
    start_frigate: StartFrigate,
    aioclient_mock: AiohttpClientMocker,
    frigate_event_list: list[dict[str, Any]],
    clock: FakeClock,
) -> None:
    """Home Assistant restarting while Frigate cannot list a gap yet loses none of its cars.

    Only the last message's time was kept, and messages after the gap had
    moved it on: after the restart, the gap was never asked for.
    """
    base = clock.now
    # Registered first, this answer wins over the fixture's.
    down = _failing_event_list(aioclient_mock, frigate_event_list)
    entry = await start_frigate(content=scene_jpeg("AE1234BK", seed=1))
    events = async_capture_events(hass, EVENT_SIGHTING)
    await _first_gap_not_listed(hass, clock, aioclient_mock)

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    frigate_event_list[:] = [_gap_event(clock, base + 300)]
    down[0] = False
    clock.now += 100
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_until(lambda: bool(events))

    assert [event.data["event_id"] for event in events] == [EVENT_ID]


async def test_frigate_back_on_the_broker_has_its_gap_read(
    hass: HomeAssistant,
    start_frigate: StartFrigate,
    aioclient_mock: AiohttpClientMocker,
    frigate_event_list: list[dict[str, Any]],
) -> None:
    """Frigate losing the broker while Home Assistant keeps it is a gap too.

    Frigate's ``<prefix>/available`` says ``offline`` (its last will) and then
    ``online``; nothing else tells Home Assistant that events were missed.
    The retained ``online`` every subscription gets is no gap.
    """
    entry = await start_frigate(content=scene_jpeg("AE1234BK", seed=1))
    events = async_capture_events(hass, EVENT_SIGHTING)
    _end_without_snapshot(hass, "before")
    await hass.async_block_till_done()
    async_fire_mqtt_message(hass, "frigate/available", "online", retain=True)
    await hass.async_block_till_done()
    assert not [c for c in aioclient_mock.mock_calls if c[1].path == "/api/events"]

    async_fire_mqtt_message(hass, "frigate/available", "offline")
    frigate_event_list[:] = [listed_event(EVENT_ID, ended=time.time() + 1.0)]
    async_fire_mqtt_message(hass, "frigate/available", "online")
    await wait_until(lambda: bool(events))

    assert [event.data["event_id"] for event in events] == [EVENT_ID]
    assert entry.runtime_data.source_counters["missed_events_read"] == 1
