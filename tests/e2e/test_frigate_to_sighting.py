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
import json
import os
from pathlib import Path
import random
import time
from typing import Any

from paho.mqtt import publish
import pytest

from .harness import (
    EXTERNAL_BROKER_ENV,
    HOST,
    EventSubscription,
    FakeFrigate,
    RunningHass,
    e2e_marks,
    load_demo_feed,
    mosquitto_binary,
    run_flow,
    start_mosquitto,
    wait_for,
    wait_for_reauth,
    wait_loaded,
)

pytestmark = e2e_marks(timeout=900)

PLATE = "AE1234BK"
CAMERA = "bridge"
MQTT_PREFIX = "frigate"
# Frigate's box of the car in the generated 1280x720 scene (the car is drawn in its lower half).
VEHICLE_BOX = [100, 280, 1180, 720]

SIGHTING_TIMEOUT = 60  # three snapshot reads on two cores, then the pass is published
# Home Assistant batches MQTT subscriptions for a moment before sending them to the broker;
# Frigate's event messages are not retained, so publishing too early would lose them.
SUBSCRIBE_SETTLE = 3.0
PUBLISH_ATTEMPTS = 3
FRIGATE_USER = "police"
FRIGATE_PASSWORD = "s3cret"  # noqa: S105 - the fake Frigate's password
NEW_FRIGATE_PASSWORD = "n3w-s3cret"  # noqa: S105 - the same, changed by its admin


def _ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncGenerator[tuple[str, int]]:
    """Provide a real MQTT broker: mosquitto started for this test, or the one CI started."""
    if external := os.environ.get(EXTERNAL_BROKER_ENV):
        host, _, external_port = external.rpartition(":")
        yield host, int(external_port)
        return
    binary = mosquitto_binary()
    if binary is None:
        message = "mosquitto is not installed (Debian: apt-get install mosquitto)"
        if _ci():
            pytest.fail(f"{message}; CI must run the end-to-end test")
        pytest.skip(message)
    process, port = await start_mosquitto(binary, tmp_path)
    try:
        yield HOST, port
    finally:
        await process.stop(grace=5)


@pytest.fixture
async def frigate() -> AsyncGenerator[FakeFrigate]:
    """Serve a fake Frigate whose every event snapshot shows a car with plate AE1234BK."""
    demo_feed = load_demo_feed()
    scene: bytes = demo_feed.render_scene(
        demo_feed.plate_from_text(PLATE), camera=CAMERA, rng=random.Random(1234)
    )
    fake = FakeFrigate(snapshot=scene)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def frigate_with_login() -> AsyncGenerator[FakeFrigate]:
    """Serve the same fake Frigate behind a login, as on its authenticated port 8971."""
    demo_feed = load_demo_feed()
    scene: bytes = demo_feed.render_scene(
        demo_feed.plate_from_text(PLATE), camera=CAMERA, rng=random.Random(1234)
    )
    fake = FakeFrigate(snapshot=scene, login=(FRIGATE_USER, FRIGATE_PASSWORD))
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


def _frigate_event(event_type: str, event_id: str, start: float, frame: float) -> str:
    """Return one message of ``<prefix>/events`` as Frigate 0.16 sends it."""
    after = {
        "id": event_id,
        "camera": CAMERA,
        "frame_time": frame,
        "snapshot": {
            "frame_time": frame,
            "box": VEHICLE_BOX,
            "area": 475200,
            "region": [0, 0, 1280, 720],
            "score": 0.91,
            "attributes": [],
        },
        "label": "car",
        "sub_label": None,
        "top_score": 0.91,
        "false_positive": False,
        "start_time": start,
        "end_time": frame if event_type == "end" else None,
        "score": 0.9,
        "box": VEHICLE_BOX,
        "area": 475200,
        "ratio": 2.45,
        "region": [0, 0, 1280, 720],
        "stationary": False,
        "motionless_count": 0,
        "position_changes": 1,
        "current_zones": [],
        "entered_zones": [],
        "has_clip": True,
        "has_snapshot": True,
        "attributes": {},
        "current_attributes": [],
        "recognized_license_plate": None,
        "recognized_license_plate_score": None,
    }
    before = {**after, "frame_time": start, "snapshot": None, "end_time": None}
    return json.dumps({"type": event_type, "before": before, "after": after})


def _publish_event(host: str, port: int, event_id: str) -> None:
    """Publish new, update and end of one car event, a second apart, as Frigate would."""
    start = time.time()
    for number, event_type in enumerate(("new", "update", "end")):
        publish.single(
            f"{MQTT_PREFIX}/events",
            _frigate_event(event_type, event_id, start, start + number * 0.5),
            hostname=host,
            port=port,
        )
        time.sleep(1)


async def _set_up_frigate_source(
    hass: RunningHass,
    broker: tuple[str, int],
    frigate: FakeFrigate,
    login: dict[str, str] | None = None,
) -> None:
    """Onboard, connect MQTT to ``broker`` and add the Frigate source, as a user would."""
    host, port = broker
    await hass.client.onboard()
    # Else Home Assistant 2026.10 would go back to its default port five minutes in.
    await hass.client.confirm_http_config()
    await run_flow(hass, "mqtt", {"broker": {"broker": host, "port": port}})
    await wait_loaded(hass, "mqtt")
    await run_flow(
        hass,
        "plate_tracker",
        {
            "user": "frigate",
            "frigate": {
                "frigate_url": frigate.url,
                "mqtt_prefix": MQTT_PREFIX,
                **(login or {}),
            },
        },
    )
    await wait_loaded(hass, "plate_tracker")


async def _sighting_of_events(
    hass: RunningHass, frigate: FakeFrigate, broker: tuple[str, int]
) -> tuple[dict[str, Any], list[str]]:
    """Publish car events until one becomes a sighting; return it and the event ids sent."""
    host, port = broker
    subscription = EventSubscription(hass.client)
    try:
        await subscription.subscribe("plate_tracker_sighting")
        await asyncio.sleep(SUBSCRIBE_SETTLE)
        sent: list[str] = []
        sighting: dict[str, Any] | None = None
        for attempt in range(PUBLISH_ATTEMPTS):
            event_id = f"{time.time():.6f}-e2e{attempt}"
            sent.append(event_id)
            await asyncio.to_thread(_publish_event, host, port, event_id)
            sighting = await subscription.next_event(SIGHTING_TIMEOUT)
            if sighting is not None:
                break
    finally:
        await subscription.close()
    assert sighting is not None, (
        f"no plate_tracker_sighting after {PUBLISH_ATTEMPTS} Frigate events {sent}; "
        f"Frigate served {frigate.requests}\nhass log:\n{hass.log()}"
    )
    return sighting, sent


async def test_frigate_event_becomes_sighting(
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
    await _set_up_frigate_source(hass, broker, frigate)
    assert "/api/version" in frigate.requests, (
        "the flow must check Frigate before saving"
    )

    sighting, sent = await _sighting_of_events(hass, frigate, broker)
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
        _frigate_event("new", "../../api/stats", time.time(), time.time()),
        _frigate_event("new", "..", time.time(), time.time()),
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
            _frigate_event("end", event_id, start, start + 0.5),
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
    await _set_up_frigate_source(
        hass,
        broker,
        frigate,
        login={"username": FRIGATE_USER, "password": FRIGATE_PASSWORD},
    )
    sighting, _ = await _sighting_of_events(hass, frigate, broker)
    assert sighting["plate"] == PLATE, sighting

    frigate.change_password(NEW_FRIGATE_PASSWORD)
    await asyncio.to_thread(_publish_event, host, port, f"{time.time():.6f}-refused")

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
    sighting, sent = await _sighting_of_events(hass, frigate, broker)
    assert sighting["plate"] == PLATE, sighting
    assert sighting["event_id"] in sent, (sighting, sent)
