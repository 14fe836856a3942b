"""A Frigate to test against: its scene, its event messages and event list, its source set up.

Shared by the end-to-end tests of the Frigate source. The fake Frigate's HTTP API is
``harness.FakeFrigate``; the fixtures that start it and the broker are in ``conftest.py``.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

from paho.mqtt import publish

from .harness import (
    EventSubscription,
    FakeFrigate,
    RunningHass,
    load_demo_feed,
    run_flow,
    wait_loaded,
)

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


def scene() -> bytes:
    """Return the generated street scene every snapshot shows: a car with plate ``PLATE``."""
    demo_feed = load_demo_feed()
    data: bytes = demo_feed.render_scene(
        demo_feed.plate_from_text(PLATE), camera=CAMERA, rng=random.Random(1234)
    )
    return data


def frigate_event(event_type: str, event_id: str, start: float, frame: float) -> str:
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


def publish_event(host: str, port: int, event_id: str) -> None:
    """Publish new, update and end of one car event, a second apart, as Frigate would."""
    start = time.time()
    for number, event_type in enumerate(("new", "update", "end")):
        publish.single(
            f"{MQTT_PREFIX}/events",
            frigate_event(event_type, event_id, start, start + number * 0.5),
            hostname=host,
            port=port,
        )
        time.sleep(1)


async def set_up_frigate_source(
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


async def sighting_of_events(
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
            await asyncio.to_thread(publish_event, host, port, event_id)
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


def ended_event(event_id: str, start: float) -> dict[str, Any]:
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
