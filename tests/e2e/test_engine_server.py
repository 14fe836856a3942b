"""Home Assistant reads plates on a separate engine server: the Home Assistant OS set-up, real parts.

A real ``hass`` process with the integration from this checkout, and the engine server started
as an operator would (``scripts/engine serve`` with a token file) in its own process. The
options flow points the integration at the server; a camera upload into the inbox folder must
come out as a sighting, and a stopped server must show on the engine server's connectivity
sensor without taking the integration down.

Run alone with ``scripts/test -m e2e``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path
import random
import sys
from typing import Any

import pytest

from .harness import (
    HOST,
    REPO,
    EventSubscription,
    ManagedProcess,
    RunningHass,
    e2e_marks,
    free_port,
    load_demo_feed,
    port_open,
    run_flow,
    upload,
    wait_for,
    wait_for_reauth,
    wait_loaded,
)

pytestmark = e2e_marks()

PLATE = "BC5512HP"
CAMERA = "gate"
TOKEN = "e2e-engine-token"  # noqa: S105 - a test server's token
NEW_TOKEN = "e2e-rotated-token"  # noqa: S105 - the same server restarted with another
SERVER_START_TIMEOUT = 60  # loads (and on a first run folds) the models
SIGHTING_TIMEOUT = 60


@dataclass
class EngineServer:
    """The engine server process and the address Home Assistant is given."""

    process: ManagedProcess
    url: str
    port: int


class EngineServers:
    """Starts ``scripts/engine serve`` as README says, on one port, and stops what it started."""

    def __init__(self, tmp_path: Path) -> None:
        """Serve on a free port; logs and token files go to ``tmp_path``."""
        self.tmp_path = tmp_path
        self.port = free_port()
        self.started: list[ManagedProcess] = []

    async def start(self, token: str) -> EngineServer:
        """Start a server that accepts ``token`` (from a token file) and wait until it listens."""
        number = len(self.started)
        token_file = self.tmp_path / f"engine-{number}.token"
        token_file.write_text(f"{token}\n", encoding="utf-8")
        process = ManagedProcess(
            "engine server",
            [
                str(REPO / "scripts" / "engine"),
                "serve",
                "--host",
                HOST,
                "--port",
                str(self.port),
                "--token-file",
                str(token_file),
            ],
            self.tmp_path / f"engine-{number}.log",
            REPO,
        )
        self.started.append(process)
        await wait_for(
            "the engine server to listen",
            lambda: port_open(self.port),
            within=SERVER_START_TIMEOUT,
            interval=0.5,
            alive=process.death,
        )
        return EngineServer(process, f"http://{HOST}:{self.port}", self.port)

    async def stop_all(self) -> None:
        """Stop every server started (a stopped one again is harmless)."""
        for process in self.started:
            await process.stop(grace=5)


@pytest.fixture
async def engine_servers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncGenerator[EngineServers]:
    """Start engine servers in this test's Python environment; all stopped after the test."""
    # scripts/engine runs in the venv named by VENV: the one running the tests.
    monkeypatch.setenv("VENV", str(Path(sys.executable).parent.parent))
    servers = EngineServers(tmp_path)
    try:
        yield servers
    finally:
        await servers.stop_all()


def _engine_sensor(states: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next(
        (
            state
            for state in states
            if state["entity_id"].startswith("binary_sensor.")
            and state["attributes"].get("device_class") == "connectivity"
            and "token_refused" in state["attributes"]
        ),
        None,
    )


async def _sighting_of_upload(
    hass: RunningHass, inbox: Path, name: str, scene: bytes
) -> dict[str, Any]:
    """Upload ``scene`` into the inbox and return the sighting Home Assistant announces."""
    subscription = EventSubscription(hass.client)
    try:
        await subscription.subscribe("plate_tracker_sighting")
        await asyncio.to_thread(upload, inbox, CAMERA, name, scene)
        sighting = await subscription.next_event(SIGHTING_TIMEOUT)
    finally:
        await subscription.close()
    assert sighting is not None, f"no sighting\nhass log:\n{hass.log()}"
    return sighting


async def test_plates_are_read_on_the_engine_server(
    engine_servers: EngineServers, hass_process: RunningHass, tmp_path: Path
) -> None:
    """The Home Assistant OS path end to end.

    Options flow, reads on the server, the sensor off while it is down, and a
    server restarted with a new token: Home Assistant asks for it and reads again.
    """
    engine_server = await engine_servers.start(TOKEN)
    hass = hass_process
    client = hass.client
    await client.onboard()
    await client.confirm_http_config()
    await run_flow(
        hass,
        "plate_tracker",
        {"user": "folder", "folder": {"inbox": "plate_inbox"}},
    )
    await wait_loaded(hass, "plate_tracker")
    (entry,) = await client.entries("plate_tracker")

    flow = await client.start_options_flow(entry["entry_id"])
    flow = await client.options_flow_step(flow["flow_id"], {"next_step_id": "engine"})
    assert flow["step_id"] == "engine", flow
    flow = await client.options_flow_step(
        flow["flow_id"], {"engine_url": engine_server.url, "engine_token": TOKEN}
    )
    assert flow["type"] == "create_entry", f"{flow}\nhass log:\n{hass.log()}"
    await wait_loaded(hass, "plate_tracker")

    async def server_sensor_on() -> bool:
        sensor = _engine_sensor(await client.states())
        return sensor is not None and sensor["state"] == "on"

    await wait_for("the engine server sensor", server_sensor_on, within=60)

    demo_feed = load_demo_feed()
    scene: bytes = demo_feed.render_scene(
        demo_feed.plate_from_text(PLATE), camera=CAMERA, rng=random.Random(77)
    )
    inbox = tmp_path / "config" / "plate_inbox"
    sighting = await _sighting_of_upload(hass, inbox, "20261126T101500.jpg", scene)
    assert sighting["plate"] == PLATE, sighting
    assert sighting["camera"] == CAMERA, sighting

    await engine_server.process.stop(grace=5)
    for number in range(3):
        await asyncio.to_thread(
            upload, inbox, CAMERA, f"20261126T1016{number:02}.jpg", scene
        )

    async def server_sensor_off() -> bool:
        sensor = _engine_sensor(await client.states())
        return sensor is not None and sensor["state"] == "off"

    await wait_for("the engine server sensor to go off", server_sensor_off, within=90)
    sensor = _engine_sensor(await client.states())
    assert sensor is not None
    assert "unreachable" in sensor["attributes"]["last_error"], sensor
    (entry,) = await client.entries("plate_tracker")
    assert entry["state"] == "loaded", entry

    # The server comes back with a new token: retrying cannot help, so Home
    # Assistant asks for it (the reauth flow), checks it and reads again.
    await engine_servers.start(NEW_TOKEN)
    await asyncio.to_thread(upload, inbox, CAMERA, "20261126T101700.jpg", scene)

    reauth = await wait_for_reauth(hass, "plate_tracker")
    assert reauth["step_id"] == "reauth_engine", reauth
    sensor = _engine_sensor(await client.states())
    assert sensor is not None
    assert sensor["attributes"]["token_refused"] is True, sensor
    result = await client.flow_step(reauth["flow_id"], {"engine_token": "wrong"})
    assert result["errors"] == {"base": "engine_auth"}, result
    result = await client.flow_step(reauth["flow_id"], {"engine_token": NEW_TOKEN})
    assert result["type"] == "abort", result
    assert result["reason"] == "reauth_successful", result
    await wait_loaded(hass, "plate_tracker")
    await wait_for("the engine server sensor", server_sensor_on, within=60)
    sighting = await _sighting_of_upload(hass, inbox, "20261126T101800.jpg", scene)
    assert sighting["plate"] == PLATE, sighting
