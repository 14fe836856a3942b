"""The MQTT broker dies and comes back: a pass that ended meanwhile is still a sighting.

Frigate's event messages are not kept by the broker: a car that passes while the broker is
down never reaches Home Assistant over MQTT. The integration must show the outage, and once
Home Assistant's MQTT client is back, ask Frigate's HTTP API for the events that ended in the
gap and read them. Real mosquitto (stopped and started again on its port, without a session,
as after a crash), a real ``hass``, the fake Frigate's event list.

It needs a broker of its own to stop: where CI lends the host's broker (the Python 3.14 root),
it is skipped; the Python 3.13 line runs it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
import os
from pathlib import Path
import time
from typing import Any

import pytest

from .harness import (
    EXTERNAL_BROKER_ENV,
    HOST,
    EventSubscription,
    FakeFrigate,
    ManagedProcess,
    RunningHass,
    e2e_marks,
    mosquitto_binary,
    start_mosquitto,
    wait_for,
)
from .test_frigate_to_sighting import (
    CAMERA,
    PLATE,
    SIGHTING_TIMEOUT,
    _ci,
    _set_up_frigate_source,
    _sighting_of_events,
    frigate,  # noqa: F401 - the fixture, shared
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
    """Start a mosquitto this test may stop; skip where the broker is lent by the host."""
    if os.environ.get(EXTERNAL_BROKER_ENV):
        pytest.skip("the broker is lent by the host here; this test must stop its own")
    binary = mosquitto_binary()
    if binary is None:
        message = "mosquitto is not installed (Debian: apt-get install mosquitto)"
        if _ci():
            pytest.fail(f"{message}; CI must run the end-to-end test")
        pytest.skip(message)
    workdir = tmp_path / "mosquitto"
    workdir.mkdir()
    process, port = await start_mosquitto(binary, workdir)
    broker = StoppableBroker(binary, workdir, process, port)
    try:
        yield broker
    finally:
        await broker.process.stop(grace=5)


def _ended_event(event_id: str, start: float) -> dict[str, Any]:
    """Return one event as Frigate's ``/api/events`` lists it (Frigate 0.16)."""
    return {
        "id": event_id,
        "camera": CAMERA,
        "label": "car",
        "sub_label": None,
        "top_score": 0.91,
        "false_positive": False,
        "start_time": start,
        "end_time": start + 2.0,
        "zones": [],
        "thumbnail": None,
        "has_clip": True,
        "has_snapshot": True,
        "retain_indefinitely": False,
        "plus_id": None,
        "model_hash": None,
        "data": {
            "box": [0.08, 0.39, 0.84, 0.61],
            "region": [0, 0, 1, 1],
            "score": 0.91,
            "top_score": 0.91,
            "attributes": [],
            "type": "object",
        },
    }


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
    frigate: FakeFrigate,  # noqa: F811 - the fixture imported above
    hass_process: RunningHass,
) -> None:
    """Broker down: the source says so; a car passes; broker back: that car is a sighting.

    Then an event published over the broker that came back becomes a sighting too:
    Home Assistant subscribed again to a broker that forgot every session.
    """
    hass = hass_process
    broker = (HOST, own_broker.port)
    await _set_up_frigate_source(hass, broker, frigate)
    sighting, _ = await _sighting_of_events(hass, frigate, broker)
    assert sighting["plate"] == PLATE, sighting
    assert (await _broker_sensor(hass))["state"] == "on"

    await own_broker.stop()

    async def shows(state: str) -> bool:
        return bool((await _broker_sensor(hass))["state"] == state)

    await wait_for("the broker shown disconnected", lambda: shows("off"), within=60)

    missed_id = f"{time.time():.6f}-outage"
    frigate.ended.append(_ended_event(missed_id, time.time() - 1.0))
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

    after, sent = await _sighting_of_events(hass, frigate, broker)
    assert after["event_id"] in sent, (after, sent)
    assert after["plate"] == PLATE, after
