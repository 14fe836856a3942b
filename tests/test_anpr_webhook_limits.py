"""When an ANPR camera must send a read again: a flood of reads, an engine that is down."""

from __future__ import annotations

import asyncio
import base64
import json

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.plate_tracker.engine.remote import EngineUnavailableError

from .synthetic import scene_jpeg
from .test_anpr_source import _post, entry, read_pictures  # noqa: F401 - fixtures


async def test_a_camera_sending_faster_than_reads_are_stored_is_told_to_wait(
    hass: HomeAssistant,
    entry: MockConfigEntry,  # noqa: F811 - the fixture
    hass_client_no_auth: ClientSessionGenerator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past the limit of waiting reads a read is answered 503 and counted; room again, it is taken.

    Each read answered 202 still holds its pictures until stored: a camera that
    sends (or resends) faster than the engine reads filled memory without bound.
    """
    pipeline = entry.runtime_data.pipeline
    counters = entry.runtime_data.source_counters
    release = asyncio.Event()

    async def slow(*args: object, **kwargs: object) -> list[object]:
        await release.wait()
        return []

    monkeypatch.setattr(pipeline, "submit", slow)
    monkeypatch.setattr(
        "custom_components.plate_tracker.anpr_webhook.ACK_SECONDS", 0.01
    )
    monkeypatch.setattr(
        "custom_components.plate_tracker.anpr_webhook.MAX_PENDING_READS",
        2,
        raising=False,  # so that code without the limit fails on the answer
    )
    try:
        for number in range(2):
            body = json.dumps({"plate": "AE1234BK", "event_id": f"e{number}"}).encode()
            assert await _post(hass_client_no_auth, body, "application/json") == (
                202,
                {"queued": True},
            )

        body = json.dumps({"plate": "AE1234BK", "event_id": "e2"}).encode()
        status, answer = await _post(hass_client_no_auth, body, "application/json")

        assert (status, answer) == (
            503,
            {"error": "too many reads waiting, send it again"},
        )
        assert counters["anpr_busy"] == 1
        assert counters["anpr_queued"] == 2
        # A heartbeat is still answered: the camera is alive, nothing waits for it.
        heartbeat = b'{"Active": "keepAlive", "DeviceID": "ITC-EXIT-N"}'
        status, _ = await _post(hass_client_no_auth, heartbeat, "application/json")
        assert status == 200
    finally:
        # Waiting reads never released would hold up the test's teardown.
        release.set()
    await hass.async_block_till_done()
    monkeypatch.setattr("custom_components.plate_tracker.anpr_webhook.ACK_SECONDS", 5.0)
    assert await _post(hass_client_no_auth, body, "application/json") == (
        200,
        {"stored": 0, "Result": True},
    )


async def test_a_picture_sent_while_the_engine_is_down_is_sent_again(
    hass: HomeAssistant,
    entry: MockConfigEntry,  # noqa: F811 - the fixture
    hass_client_no_auth: ClientSessionGenerator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A read without a plate while the engine server is down is 503: the camera keeps it.

    Answered 200 with nothing stored, the camera forgot the only picture of the
    car; nobody can ask a camera afterwards for what it pushed (as the Frigate
    source asks its NVR once the engine is back).
    """
    pipeline = entry.runtime_data.pipeline
    read_frame = pipeline._read_frame

    async def engine_down(*args: object, **kwargs: object) -> object:
        raise EngineUnavailableError("http://engine.test:8765/", "unreachable")

    monkeypatch.setattr(pipeline, "_read_frame", engine_down)
    body = json.dumps(
        {
            "plate": "unknown",
            "event_id": "e1",
            "image": base64.b64encode(scene_jpeg("AE1234BK", seed=3)).decode(),
        }
    ).encode()

    status, answer = await _post(hass_client_no_auth, body, "application/json")

    assert (status, answer) == (
        503,
        {"error": "the engine is unavailable, send it again"},
    )
    assert entry.runtime_data.source_counters["anpr_errors"] == 1
    # A read with the camera's plate is stored all the same.
    with_plate = json.dumps({"plate": "KA7777OO", "event_id": "e2"}).encode()
    assert await _post(hass_client_no_auth, with_plate, "application/json") == (
        200,
        {"stored": 1, "Result": True},
    )

    monkeypatch.setattr(pipeline, "_read_frame", read_frame)
    assert await _post(hass_client_no_auth, body, "application/json") == (
        200,
        {"stored": 1, "Result": True},
    )
    store = entry.runtime_data.store
    assert await hass.async_add_executor_job(store.count) == 2
