"""A camera that reads plates itself pushes its reads to Home Assistant: the real path.

A real ``hass`` process with the integration from this checkout. The ANPR source is added
through the config flow over REST, as the UI does, and the address the flow shows is the one
the "camera" (this test) sends to over HTTP: a Hikvision ISAPI alarm with its pictures, and a
JSON read with a picture only, which the real engine reads. The results are read as an
automation sees them: bus events over the websocket API and a sensor over REST.

Run alone with ``scripts/test -m e2e``.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
import io
import json
from pathlib import Path
import random
from typing import Any

from aiohttp import ClientSession
from PIL import Image
import pytest

from .harness import (
    EventSubscription,
    RunningHass,
    e2e_marks,
    load_demo_feed,
    wait_loaded,
)

pytestmark = e2e_marks()

CAMERA = "exit_north"
HIKVISION_PLATE = "AE 1234 BK"
ENGINE_PLATE = "BC5512HP"
SIGHTING_TIMEOUT = 60
BOUNDARY = "MIME_boundary"


def _jpeg(color: str, size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG")
    return out.getvalue()


def _hikvision_alarm(seen_at: datetime, crop: bytes, scene: bytes) -> bytes:
    """Return the multipart body of an ANPR alarm as a Hikvision camera's alarm server sends it."""
    alert = f"""<?xml version="1.0" encoding="UTF-8"?>
<EventNotificationAlert version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">
<ipAddress>127.0.0.1</ipAddress><channelID>1</channelID>
<dateTime>{seen_at.isoformat()}</dateTime><activePostCount>1</activePostCount>
<eventType>ANPR</eventType><eventState>active</eventState>
<eventDescription>ANPR</eventDescription><channelName>{CAMERA}</channelName>
<UUID>e2e-anpr-0001</UUID>
<ANPR><licensePlate>{HIKVISION_PLATE}</licensePlate><direction>reverse</direction>
<confidenceLevel>98</confidenceLevel></ANPR>
</EventNotificationAlert>
""".encode()
    body = b""
    for name, kind, content in (
        ("anpr.xml", "text/xml", alert),
        ("licensePlatePicture.jpg", "image/jpeg", crop),
        ("detectionPicture.jpg", "image/jpeg", scene),
    ):
        body += (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{name}"\r\nContent-Type: {kind}\r\n'
                f"Content-Length: {len(content)}\r\n\r\n"
            ).encode()
            + content
            + b"\r\n"
        )
    return body + f"--{BOUNDARY}--\r\n".encode()


async def _add_anpr_source(hass: RunningHass) -> str:
    """Add the ANPR camera through the config flow; return the webhook path it shows."""
    client = hass.client
    flow = await client.start_flow("plate_tracker")
    flow = await client.flow_step(flow["flow_id"], {"next_step_id": "anpr"})
    assert flow["step_id"] == "anpr", flow
    flow = await client.flow_step(
        flow["flow_id"],
        {"camera": CAMERA, "read_pictures": False, "allow_remote": False},
    )
    assert flow["step_id"] == "anpr_address", flow
    path: str = flow["description_placeholders"]["path"]
    assert path in flow["description_placeholders"]["url"]
    flow = await client.flow_step(flow["flow_id"], {})
    assert flow["type"] == "create_entry", f"{flow}\nhass log:\n{hass.log()}"
    return path


async def _send(
    session: ClientSession, url: str, body: bytes, content_type: str
) -> tuple[int, Any]:
    async with session.post(
        url, data=body, headers={"Content-Type": content_type}
    ) as r:
        return r.status, await r.json(content_type=None)


async def test_anpr_camera_reads_become_sightings(
    hass_process: RunningHass, tmp_path: Path
) -> None:
    """The camera's own read is stored as it is (Hikvision, Dahua); a picture without a read is read here."""
    hass = hass_process
    client = hass.client
    await client.onboard()
    await client.confirm_http_config()
    path = await _add_anpr_source(hass)
    await wait_loaded(hass, "plate_tracker", retry_fails=True)
    url = client.base_url + path

    seen_at = (datetime.now(UTC) - timedelta(seconds=30)).replace(microsecond=0)
    alarm = _hikvision_alarm(
        seen_at, _jpeg("white", (160, 40)), _jpeg("gray", (640, 360))
    )
    demo_feed = load_demo_feed()
    scene: bytes = demo_feed.render_scene(
        demo_feed.plate_from_text(ENGINE_PLATE), camera="gate", rng=random.Random(77)
    )
    picture_only = json.dumps(
        {"camera": "gate", "plate": "", "image": base64.b64encode(scene).decode()}
    ).encode()

    dahua_push = json.dumps(
        {
            "Picture": {
                "Plate": {"PlateNumber": "BC5512HP", "Confidence": 91, "IsExist": True},
                "SnapInfo": {
                    "DeviceID": "ITC-1",
                    "AccurateTime": "2026-11-27 23:10:05.120",
                    "Direction": "Obverse",
                },
                "NormalPic": {
                    "Content": base64.b64encode(_jpeg("gray", (640, 360))).decode(),
                    "PicName": "BC5512HP-20261127231005.jpg",
                },
                "CutoutPic": {
                    "Content": base64.b64encode(_jpeg("white", (160, 40))).decode()
                },
            }
        }
    ).encode()

    subscription = EventSubscription(client)
    try:
        await subscription.subscribe("plate_tracker_sighting")
        async with ClientSession() as session:
            answer = await _send(
                session, url, alarm, f"multipart/form-data; boundary={BOUNDARY}"
            )
            assert answer == (200, {"stored": 1, "Result": True}), (
                f"{answer}\nhass log:\n{hass.log()}"
            )
            camera_read = await subscription.next_event(SIGHTING_TIMEOUT)
            answer = await _send(session, url, picture_only, "application/json")
            assert answer == (200, {"stored": 1, "Result": True}), (
                f"{answer}\nhass log:\n{hass.log()}"
            )
            engine_read = await subscription.next_event(SIGHTING_TIMEOUT)
            answer = await _send(session, url, dahua_push, "application/json")
            assert answer == (200, {"stored": 1, "Result": True}), (
                f"{answer}\nhass log:\n{hass.log()}"
            )
            dahua_read = await subscription.next_event(SIGHTING_TIMEOUT)
            # Not a read: refused with a reason, and nothing is stored.
            status, refused = await _send(session, url, b"{", "application/json")
            assert status == 400
            assert "not JSON" in refused["error"]
    finally:
        await subscription.close()

    assert camera_read is not None, f"no sighting\nhass log:\n{hass.log()}"
    assert camera_read["plate"] == "AE1234BK"
    assert camera_read["camera"] == CAMERA
    assert camera_read["reader"] == "nvr"
    assert camera_read["direction"] == "receding"
    assert camera_read["confidence"] == pytest.approx(0.98)
    assert camera_read["seen_at"] == seen_at.isoformat()
    assert engine_read is not None, f"no sighting\nhass log:\n{hass.log()}"
    assert engine_read["plate"] == ENGINE_PLATE
    assert engine_read["camera"] == "gate"
    assert engine_read["reader"] == "engine"
    assert dahua_read is not None, f"no sighting\nhass log:\n{hass.log()}"
    assert dahua_read["plate"] == "BC5512HP"
    assert dahua_read["camera"] == CAMERA
    assert dahua_read["reader"] == "nvr"
    assert dahua_read["direction"] == "approaching"
    assert dahua_read["confidence"] == pytest.approx(0.91)

    states = {state["entity_id"]: state for state in await client.states()}
    sensor = next(
        state
        for entity_id, state in states.items()
        if entity_id.startswith("sensor.")
        and entity_id.endswith("_last_plate")
        and state["state"] == "BC5512HP"
    )
    # The camera's latest read, Dahua's, on the source's camera.
    assert sensor["attributes"]["sighting_id"] == dahua_read["sighting_id"]
    # The camera's pictures are the sighting's evidence: its plate image shows the crop.
    image_entity = sensor["entity_id"].replace("sensor.", "image.") + "_image"
    assert image_entity in states, sorted(states)
