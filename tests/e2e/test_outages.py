"""Outages: a pass while the MQTT broker or Home Assistant itself was down is still a sighting.

Frigate's event messages are not kept for a client that is away: a car that passes while the
broker is down, or while Home Assistant is stopped, never reaches Home Assistant over MQTT. Once
both are back, the integration must ask Frigate's HTTP API for the events that ended in the gap
and read them, and what was stored before must still be there. Real mosquitto, real ``hass``
processes on one configuration folder, the fake Frigate's event list.

The broker test starts a broker of its own to stop, also where CI lends the other tests the
host's broker (the Python 3.14 root, which has mosquitto installed for this test).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path
import time
from typing import Any

import pytest

from .frigate import (
    CAMERA,
    PLATE,
    SIGHTING_TIMEOUT,
    ended_event,
    publish_event,
    set_up_frigate_source,
    sighting_of_events,
)
from .harness import (
    HOST,
    EventSubscription,
    FakeFrigate,
    ManagedProcess,
    RunningHass,
    e2e_marks,
    free_port,
    mosquitto_binary,
    running_hass,
    start_mosquitto,
    wait_for,
    wait_loaded,
    write_hass_config,
)

pytestmark = e2e_marks(timeout=900)

# Home Assistant's MQTT client tries the broker again every 10 s.
RECONNECT_WITHIN = 60


@dataclass
class StoppableBroker:
    """A mosquitto of this test's own, which it may stop and start again on the same port."""

    binary: str
    workdir: Path
    process: ManagedProcess
    port: int

    async def stop(self) -> None:
        """Stop it, as a crash or a restart of the broker's host would."""
        await self.process.stop(grace=5)

    async def start(self) -> None:
        """Start it again on its port."""
        self.process, _ = await start_mosquitto(self.binary, self.workdir, self.port)


@pytest.fixture
async def own_broker(tmp_path: Path) -> AsyncGenerator[StoppableBroker]:
    """Start a mosquitto this test may stop, even where the other tests use a lent broker."""
    binary = mosquitto_binary()
    workdir = tmp_path / "mosquitto"
    workdir.mkdir()
    process, port = await start_mosquitto(binary, workdir)
    broker = StoppableBroker(binary, workdir, process, port)
    try:
        yield broker
    finally:
        await broker.process.stop(grace=5)


async def _broker_sensor(hass: RunningHass) -> dict[str, Any]:
    """Return the state of the Frigate source's *MQTT broker* connectivity sensor."""
    sensors = [
        state
        for state in await hass.client.states()
        if state["entity_id"].startswith("binary_sensor.")
        and state["entity_id"].endswith("_mqtt_broker")
    ]
    assert len(sensors) == 1, sensors
    return sensors[0]


async def test_pass_during_a_broker_outage_is_read(
    own_broker: StoppableBroker,
    frigate: FakeFrigate,
    hass_process: RunningHass,
) -> None:
    """Broker down: the source says so; a car passes; broker back: that car is a sighting.

    Then an event published over the broker that came back becomes a sighting too:
    Home Assistant subscribed again to a broker that forgot every session.
    """
    hass = hass_process
    broker = (HOST, own_broker.port)
    await set_up_frigate_source(hass, broker, frigate)
    sighting, _ = await sighting_of_events(hass, frigate, broker)
    assert sighting["plate"] == PLATE, sighting
    assert (await _broker_sensor(hass))["state"] == "on"

    await own_broker.stop()

    async def shows(state: str) -> bool:
        return bool((await _broker_sensor(hass))["state"] == state)

    await wait_for("the broker shown disconnected", lambda: shows("off"), within=60)

    missed_id = f"{time.time():.6f}-outage"
    frigate.ended.append(ended_event(missed_id, time.time() - 1.0))
    snapshot_path = f"/api/events/{missed_id}/snapshot.jpg"
    assert not any(path.startswith(snapshot_path) for path in frigate.requests)

    subscription = EventSubscription(hass.client)
    try:
        await subscription.subscribe("plate_tracker_sighting")
        await own_broker.start()
        await wait_for(
            "the broker shown connected again",
            lambda: shows("on"),
            within=RECONNECT_WITHIN,
        )
        caught_up = await subscription.next_event(SIGHTING_TIMEOUT)
    finally:
        await subscription.close()
    assert caught_up is not None, (
        f"no sighting of the missed event; Frigate served {frigate.requests}\n"
        f"hass log:\n{hass.log()}"
    )
    assert caught_up["event_id"] == missed_id, caught_up
    assert caught_up["plate"] == PLATE, caught_up
    assert caught_up["camera"] == CAMERA, caught_up
    assert any(path.startswith(snapshot_path) for path in frigate.requests), (
        frigate.requests
    )
    listed = [path for path in frigate.requests if path.startswith("/api/events?")]
    assert listed, frigate.requests

    after, sent = await sighting_of_events(hass, frigate, broker)
    assert after["event_id"] in sent, (after, sent)
    assert after["plate"] == PLATE, after


async def _search(hass: RunningHass) -> list[dict[str, Any]]:
    """Return every stored sighting, searched as an operator does."""
    answer = await hass.client.websocket_answer(
        {
            "type": "call_service",
            "domain": "plate_tracker",
            "service": "search_sightings",
            "service_data": {
                "since": "2026-01-01T00:00:00+00:00",
                "page_size": 100,
                "reason": "e2e restart",
            },
            "return_response": True,
        }
    )
    assert answer["success"], answer
    found: list[dict[str, Any]] = answer["result"]["response"]["sightings"]
    return found


async def test_pass_while_home_assistant_is_stopped_is_read_at_start(
    broker: tuple[str, int],
    frigate: FakeFrigate,
    tmp_path: Path,
) -> None:
    """Home Assistant stops; a car passes (its messages go to no one); it starts again.

    The first sighting is still stored, and the pass of the gap is read from Frigate's
    event list: the time of the last message was kept across the restart.
    """
    port = free_port()
    config = tmp_path / "config"
    write_hass_config(config, port)
    runs = [tmp_path / "first", tmp_path / "second"]
    for folder in runs:
        folder.mkdir()

    async with running_hass(config, port, runs[0]) as (client, process):
        hass = RunningHass(client, process)
        await set_up_frigate_source(hass, broker, frigate)
        before, _ = await sighting_of_events(hass, frigate, broker)
        assert before["plate"] == PLATE, before

    missed_id = f"{time.time():.6f}-stopped"
    start = time.time()
    # Frigate publishes the pass as always; no one is subscribed.
    await asyncio.to_thread(publish_event, *broker, missed_id)
    frigate.ended.append(ended_event(missed_id, start))

    async with running_hass(config, port, runs[1]) as (client, process):
        hass = RunningHass(client, process)
        await client.log_in()
        await wait_loaded(hass, "plate_tracker")

        async def read() -> bool:
            return any(
                state["entity_id"] == f"sensor.{CAMERA}_last_plate"
                and state["attributes"].get("event_id") == missed_id
                for state in await client.states()
            )

        try:
            await wait_for("the missed pass read", read, within=SIGHTING_TIMEOUT * 2)
        except AssertionError as err:
            raise AssertionError(
                f"{err}; Frigate served {frigate.requests}\nhass log:\n{hass.log()}"
            ) from None
        found = {row["event_id"]: row for row in await _search(hass)}
    assert before["event_id"] in found, found
    assert found[missed_id]["plate"] == PLATE, found[missed_id]
    assert found[missed_id]["camera"] == CAMERA, found[missed_id]
