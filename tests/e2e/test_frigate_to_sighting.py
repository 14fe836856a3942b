"""A Frigate event becomes a plate sighting in a real Home Assistant: the whole path, real parts.

Real mosquitto, a real ``hass`` process with the integration from this checkout and the real
recognition models, a fake Frigate HTTP API serving a generated street scene, and Frigate-format
event messages published to the broker. The result is read the way a user or an automation would
see it: a bus event over the websocket API and a sensor state over the REST API.

Run alone with ``scripts/test -m e2e``. Without mosquitto the test is skipped, except under CI
(``CI`` set), where a missing broker is a failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
import time
from typing import Any

from paho.mqtt import publish
import pytest

from .frigate import (
    CAMERA,
    MQTT_PREFIX,
    PLATE,
    SIGHTING_TIMEOUT,
    SUBSCRIBE_SETTLE,
    frigate_event,
    publish_event,
    scene,
    set_up_frigate_source,
    sighting_of_events,
)
from .harness import (
    EventSubscription,
    FakeFrigate,
    RunningHass,
    e2e_marks,
    wait_for,
    wait_for_reauth,
    wait_loaded,
)

pytestmark = e2e_marks(timeout=900)


FRIGATE_USER = "police"
FRIGATE_PASSWORD = "s3cret"  # noqa: S105 - the fake Frigate's password
NEW_FRIGATE_PASSWORD = "n3w-s3cret"  # noqa: S105 - the same, changed by its admin


@pytest.fixture
async def frigate_with_login() -> AsyncGenerator[FakeFrigate]:
    """Serve the same fake Frigate behind a login, as on its authenticated port 8971."""
    fake = FakeFrigate(snapshot=scene(), login=(FRIGATE_USER, FRIGATE_PASSWORD))
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


async def testfrigate_event_becomes_sighting(
    broker: tuple[str, int], frigate: FakeFrigate, hass_process: RunningHass
) -> None:
    """A car passing a Frigate camera ends up as a sighting a user and an automation can see.

    This is the product's whole path with nothing mocked: if the config flows, the MQTT
    subscription, the snapshot fetch, the ONNX read, the store or the entities break in a way
    the unit tests cannot see (wrong topic, wrong URL, blocking the loop, a missing requirement),
    this test fails.
    """
    hass = hass_process
    client = hass.client
    await set_up_frigate_source(hass, broker, frigate)
    assert "/api/version" in frigate.requests, (
        "the flow must check Frigate before saving"
    )

    sighting, sent = await sighting_of_events(hass, frigate, broker)
    assert sighting["plate"] == PLATE, sighting
    assert sighting["camera"] == CAMERA, sighting
    assert sighting["event_id"] in sent, (sighting, sent)
    event_id = sighting["event_id"]
    assert any(
        path.startswith(f"/api/events/{event_id}/snapshot.jpg")
        for path in frigate.requests
    ), frigate.requests

    async def sensor_shows_plate() -> bool:
        return bool(_plate_sensors(await client.states()))

    await wait_for("a sensor showing the plate", sensor_shows_plate, within=30)
    sensors = _plate_sensors(await client.states())
    assert any(CAMERA in _names(state) for state in sensors), sensors
    assert any(state["attributes"].get("event_id") == event_id for state in sensors), (
        sensors
    )

    # Anyone on the broker can publish: what Frigate never sends is counted, not
    # followed. A traversing id must not make the integration fetch another path.
    host, port = broker
    hostile = [
        "[" * 100_000,
        frigate_event("new", "../../api/stats", time.time(), time.time()),
        frigate_event("new", "..", time.time(), time.time()),
    ]
    for payload in hostile:
        await asyncio.to_thread(
            publish.single,
            f"{MQTT_PREFIX}/events",
            payload,
            hostname=host,
            port=port,
        )

    async def all_counted() -> bool:
        return any(
            state["entity_id"].endswith("malformed_messages")
            and state["state"] == str(len(hostile))
            for state in await client.states()
        )

    await wait_for("the hostile messages counted", all_counted, within=30)
    snapshots = [path for path in frigate.requests if "snapshot.jpg" in path]
    assert snapshots, frigate.requests
    assert all(
        path.split("?")[0]
        in {f"/api/events/{sent_id}/snapshot.jpg" for sent_id in sent}
        for path in snapshots
    ), frigate.requests

    await _a_pass_during_a_frigate_restart_is_read(hass, frigate, broker)


async def _a_pass_during_a_frigate_restart_is_read(
    hass: RunningHass, frigate: FakeFrigate, broker: tuple[str, int]
) -> None:
    """Check that a short pass (one ``end`` message) while Frigate restarts is read once it is back."""
    host, port = broker
    event_id = f"{time.time():.6f}-restart"
    snapshot_path = f"/api/events/{event_id}/snapshot.jpg"
    subscription = EventSubscription(hass.client)
    try:
        await subscription.subscribe("plate_tracker_sighting")
        await asyncio.sleep(SUBSCRIBE_SETTLE)
        frigate.restarting = True
        start = time.time()
        await asyncio.to_thread(
            publish.single,
            f"{MQTT_PREFIX}/events",
            frigate_event("end", event_id, start, start + 0.5),
            hostname=host,
            port=port,
        )

        async def refused() -> bool:
            return any(path.startswith(snapshot_path) for path in frigate.requests)

        await wait_for("the snapshot asked for during the restart", refused, within=30)
        frigate.restarting = False
        sighting = await subscription.next_event(SIGHTING_TIMEOUT)
    finally:
        frigate.restarting = False
        await subscription.close()
    asked = [path for path in frigate.requests if path.startswith(snapshot_path)]
    assert sighting is not None, f"Frigate served {asked}\nhass log:\n{hass.log()}"
    assert sighting["event_id"] == event_id, sighting
    assert sighting["plate"] == PLATE, sighting
    assert len(asked) >= 2, asked


def _plate_sensors(states: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        state
        for state in states
        if state["entity_id"].startswith("sensor.") and state["state"] == PLATE
    ]


def _names(state: dict[str, Any]) -> str:
    """Return the entity id and friendly name, lower case, to find the camera's device in."""
    return (
        f"{state['entity_id']} {state['attributes'].get('friendly_name', '')}".lower()
    )


async def test_changed_frigate_password_is_asked_for_and_kept(
    broker: tuple[str, int], frigate_with_login: FakeFrigate, hass_process: RunningHass
) -> None:
    """Frigate on port 8971: its admin changes the password, Home Assistant asks for the new one.

    The source logs in with the user and password given in its flow; after the
    change Frigate refuses it, the reauth flow appears where the frontend lists
    it, checks the new password with Frigate, keeps it, and events become
    sightings again.
    """
    frigate = frigate_with_login
    host, port = broker
    hass = hass_process
    client = hass.client
    await set_up_frigate_source(
        hass,
        broker,
        frigate,
        login={"username": FRIGATE_USER, "password": FRIGATE_PASSWORD},
    )
    sighting, _ = await sighting_of_events(hass, frigate, broker)
    assert sighting["plate"] == PLATE, sighting

    frigate.change_password(NEW_FRIGATE_PASSWORD)
    await asyncio.to_thread(publish_event, host, port, f"{time.time():.6f}-refused")

    reauth = await wait_for_reauth(hass, "plate_tracker")
    assert reauth["step_id"] == "reauth_frigate", reauth
    login = {"username": FRIGATE_USER, "password": FRIGATE_PASSWORD}
    result = await client.flow_step(reauth["flow_id"], login)
    assert result["errors"] == {"base": "invalid_auth"}, result
    result = await client.flow_step(
        reauth["flow_id"], login | {"password": NEW_FRIGATE_PASSWORD}
    )
    assert result["type"] == "abort", result
    assert result["reason"] == "reauth_successful", result
    await wait_loaded(hass, "plate_tracker")
    sighting, sent = await sighting_of_events(hass, frigate, broker)
    assert sighting["plate"] == PLATE, sighting
    assert sighting["event_id"] in sent, (sighting, sent)
