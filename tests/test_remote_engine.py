"""Home Assistant with its plates read on an engine server (the Home Assistant OS set-up).

The server is the real one, with the real models, on loopback.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager
import json
from pathlib import Path
import subprocess
import sys
import threading
import time
from typing import Any
from unittest.mock import patch

from aiohttp import web
from aiohttp.test_utils import TestServer
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceResponse
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.requirements import RequirementsNotFound
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)

from custom_components.plate_tracker.const import (
    CONF_ENGINE_TOKEN,
    CONF_ENGINE_URL,
    CONF_PARALLEL_READS,
    DOMAIN,
    EVENT_SIGHTING,
    ISSUE_ENGINE_SERVER_UNAVAILABLE,
    ISSUE_LOCAL_ENGINE_UNSUPPORTED,
    LOCAL_ENGINE_REQUIREMENTS,
    REGIONS,
)
from custom_components.plate_tracker.coordinator import LocalEngine
from custom_components.plate_tracker.engine import (
    PlateRecognizer,
    remote as remote_module,
)
from custom_components.plate_tracker.engine.remote import RemoteEngine
from custom_components.plate_tracker.engine.server import KNOWN_REGIONS, create_app
from custom_components.plate_tracker.engine.types import FrameResult

from .engine.test_imaging import DAMAGED_QOI
from .helpers import reauth_flows, wait_until
from .synthetic import scene_jpeg

pytestmark = [pytest.mark.enable_socket, pytest.mark.usefixtures("socket_enabled")]

TOKEN = "engine-token"  # noqa: S105 - a test server's token
NEW_TOKEN = "rotated-token"  # noqa: S105 - the same server restarted with another
REPO = Path(__file__).resolve().parents[1]


class EngineServer:
    """A real engine server on loopback that counts the reads it answered."""

    def __init__(self, recognizer: PlateRecognizer) -> None:
        """Serve ``recognizer``'s reads."""
        self.reads = 0
        self.port = 0
        """Set once started: a closed TestServer forgets its port."""
        self.app = create_app(recognizer, token=TOKEN)
        self.app.on_response_prepare.append(self._count)
        self.server = TestServer(self.app, host="127.0.0.1")

    async def _count(self, request: web.Request, _: web.StreamResponse) -> None:
        if request.path == "/v1/read":
            self.reads += 1

    @property
    def url(self) -> str:
        """The address Home Assistant is given."""
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def recognizer(model_cache: Path) -> PlateRecognizer:
    """Load the real engine once for the module."""
    return PlateRecognizer(model_cache, threads=2)


@pytest.fixture
async def engine_server(recognizer: PlateRecognizer) -> AsyncGenerator[EngineServer]:
    """Start the engine server; closed after the test."""
    server = EngineServer(recognizer)
    await server.server.start_server()
    server.port = server.server.port
    yield server
    await server.server.close()


@pytest.fixture
def retry_a_down_server_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let each read try a server that is down (one every DOWN_RETRY_SECONDS does)."""
    monkeypatch.setattr(remote_module, "DOWN_RETRY_SECONDS", 0)


async def _setup(
    hass: HomeAssistant, entry: MockConfigEntry, **options: object
) -> None:
    hass.config_entries.async_update_entry(entry, options={**entry.options, **options})
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def _read_plates(hass: HomeAssistant, image: Path) -> ServiceResponse:
    return await hass.services.async_call(
        DOMAIN,
        "read_plates",
        {"file_path": str(image)},
        blocking=True,
        return_response=True,
    )


async def test_uploads_are_read_on_the_engine_server(
    hass: HomeAssistant,
    folder_entry: MockConfigEntry,
    inbox: Path,
    engine_server: EngineServer,
) -> None:
    """With a server set, every frame goes to it and becomes a sighting as if read here."""
    folder_entry.add_to_hass(hass)
    with patch("custom_components.plate_tracker.async_process_requirements") as install:
        await _setup(
            hass,
            folder_entry,
            **{CONF_ENGINE_URL: engine_server.url, CONF_ENGINE_TOKEN: TOKEN},
        )
    assert folder_entry.state is ConfigEntryState.LOADED
    # Home Assistant OS cannot install onnxruntime: with a server it is never asked to.
    install.assert_not_called()
    assert isinstance(folder_entry.runtime_data.engine, RemoteEngine)

    events = async_capture_events(hass, EVENT_SIGHTING)
    camera_dir = inbox / "gate"
    camera_dir.mkdir()
    part = camera_dir / ".20261125T101500.jpg.part"
    await hass.async_add_executor_job(part.write_bytes, scene_jpeg("AE1234BK"))
    await hass.async_add_executor_job(part.replace, camera_dir / "20261125T101500.jpg")
    await wait_until(lambda: bool(events))
    await hass.async_block_till_done()
    assert events[0].data["plate"] == "AE1234BK"
    assert engine_server.reads == 1
    sightings = folder_entry.runtime_data.store.latest_per_camera()
    assert sightings["gate"].has_crop
    await hass.config_entries.async_unload(folder_entry.entry_id)


async def test_a_damaged_upload_is_set_aside_and_the_next_one_read(
    hass: HomeAssistant,
    folder_entry: MockConfigEntry,
    inbox: Path,
    engine_server: EngineServer,
) -> None:
    """A file Pillow's decoder raised IndexError on was an engine fault on the server.

    The inbox then waited for the engine: that file, first in line, blocked
    every upload after it, and the server was reported down. It is the
    camera's bad file: moved aside, and the next upload read.
    """
    folder_entry.add_to_hass(hass)
    await _setup(
        hass,
        folder_entry,
        **{CONF_ENGINE_URL: engine_server.url, CONF_ENGINE_TOKEN: TOKEN},
    )
    events = async_capture_events(hass, EVENT_SIGHTING)
    camera_dir = inbox / "gate"
    camera_dir.mkdir()
    await hass.async_add_executor_job(
        (camera_dir / "20261125T101500.jpg").write_bytes, DAMAGED_QOI
    )
    await hass.async_add_executor_job(
        (camera_dir / "20261125T101600.jpg").write_bytes, scene_jpeg("AE1234BK")
    )
    await wait_until(lambda: bool(events))
    await hass.async_block_till_done()
    assert [event.data["plate"] for event in events] == ["AE1234BK"]
    assert engine_server.reads == 2
    rejected = await hass.async_add_executor_job(
        lambda: [path.name for path in (inbox / ".rejected").rglob("*.jpg")]
    )
    assert rejected == ["20261125T101500.jpg"]
    remote = folder_entry.runtime_data.engine
    assert isinstance(remote, RemoteEngine)
    assert remote.connection.available is True
    assert remote.connection.consecutive_failures == 0
    assert (
        ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_ENGINE_SERVER_UNAVAILABLE)
        is None
    )
    await hass.config_entries.async_unload(folder_entry.entry_id)


async def test_service_says_when_the_engine_server_is_gone(
    hass: HomeAssistant,
    folder_entry: MockConfigEntry,
    allowed_dir: Path,
    engine_server: EngineServer,
) -> None:
    """read_plates reads on the server, and names the server when it stops answering."""
    folder_entry.add_to_hass(hass)
    await _setup(
        hass,
        folder_entry,
        **{CONF_ENGINE_URL: engine_server.url, CONF_ENGINE_TOKEN: TOKEN},
    )
    image = allowed_dir / "gate.jpg"
    image.write_bytes(scene_jpeg("BC5512HP", seed=4))

    response = await _read_plates(hass, image)
    assert response is not None
    assert [plate["plate"] for plate in response["plates"]] == ["BC5512HP"]

    url = engine_server.url
    await engine_server.server.close()
    with pytest.raises(HomeAssistantError) as caught:
        await _read_plates(hass, image)
    assert caught.value.translation_key == "engine_unavailable"
    assert caught.value.translation_placeholders["url"] == f"{url}/"
    await hass.config_entries.async_unload(folder_entry.entry_id)


async def test_engine_server_outage_is_a_sensor_and_a_repair_issue(
    hass: HomeAssistant,
    folder_entry: MockConfigEntry,
    allowed_dir: Path,
    engine_server: EngineServer,
    entity_registry: er.EntityRegistry,
) -> None:
    """Operators see a dead engine server on the engine's device and in Repairs, as a dead NVR."""
    issue_registry = ir.async_get(hass)
    folder_entry.add_to_hass(hass)
    await _setup(
        hass,
        folder_entry,
        **{CONF_ENGINE_URL: engine_server.url, CONF_ENGINE_TOKEN: TOKEN},
    )
    entity_id = entity_registry.async_get_entity_id(
        "binary_sensor", DOMAIN, f"{folder_entry.entry_id}_engine_server"
    )
    assert entity_id is not None
    state = hass.states.get(entity_id)
    assert state is not None
    assert state.state == "on"

    image = allowed_dir / "gate.jpg"
    image.write_bytes(scene_jpeg("BC5512HP", seed=4))
    url = engine_server.url
    await engine_server.server.close()
    for _ in range(3):
        with pytest.raises(HomeAssistantError):
            await _read_plates(hass, image)
    await hass.async_block_till_done()
    state = hass.states.get(entity_id)
    assert state is not None
    assert state.state == "off"
    assert state.attributes["consecutive_failures"] == 3
    assert "unreachable" in state.attributes["last_error"]
    assert state.attributes["token_refused"] is False
    issue = issue_registry.async_get_issue(DOMAIN, ISSUE_ENGINE_SERVER_UNAVAILABLE)
    assert issue is not None
    assert issue.translation_key == ISSUE_ENGINE_SERVER_UNAVAILABLE
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["url"] == f"{url}/"
    await hass.config_entries.async_unload(folder_entry.entry_id)

    # Reading locally again: the old server's outage is no longer an issue.
    hass.config_entries.async_update_entry(
        folder_entry, options={**folder_entry.options, CONF_ENGINE_URL: ""}
    )
    await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    assert isinstance(folder_entry.runtime_data.engine, LocalEngine)
    assert (
        issue_registry.async_get_issue(DOMAIN, ISSUE_ENGINE_SERVER_UNAVAILABLE) is None
    )
    await hass.config_entries.async_unload(folder_entry.entry_id)


def _reauth_flow(hass: HomeAssistant) -> dict[str, Any]:
    """Return the one re-authentication flow Home Assistant shows for the hub."""
    (flow,) = reauth_flows(hass)
    return flow


async def _answer_token(
    hass: HomeAssistant, flow_id: str, token: str
) -> dict[str, object]:
    return dict(
        await hass.config_entries.flow.async_configure(
            flow_id, {CONF_ENGINE_TOKEN: token}
        )
    )


async def test_refused_token_at_start_asks_for_the_token(
    hass: HomeAssistant, folder_entry: MockConfigEntry, engine_server: EngineServer
) -> None:
    """Retrying cannot fix a token: Home Assistant asks for it, checks it, and starts the hub with it."""
    folder_entry.add_to_hass(hass)
    await _setup(
        hass,
        folder_entry,
        **{CONF_ENGINE_URL: engine_server.url, CONF_ENGINE_TOKEN: "stale"},
    )
    assert folder_entry.state is ConfigEntryState.SETUP_ERROR
    flow = _reauth_flow(hass)
    assert flow["step_id"] == "reauth_engine"
    flow_id = str(flow["flow_id"])

    result = await _answer_token(hass, flow_id, "still-wrong")
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "engine_auth"}
    assert result["description_placeholders"] == {
        "url": engine_server.url,
        "name": folder_entry.title,
    }

    result = await _answer_token(hass, flow_id, TOKEN)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert folder_entry.state is ConfigEntryState.LOADED
    assert folder_entry.options[CONF_ENGINE_TOKEN] == TOKEN
    assert isinstance(folder_entry.runtime_data.engine, RemoteEngine)
    await hass.config_entries.async_unload(folder_entry.entry_id)


@asynccontextmanager
async def _restarted(
    server: EngineServer, recognizer: PlateRecognizer, token: str
) -> AsyncIterator[None]:
    """Stop ``server`` and serve again on its port, now with ``token``."""
    await server.server.close()
    restarted = TestServer(
        create_app(recognizer, token=token),
        host="127.0.0.1",
        port=server.port,
    )
    await restarted.start_server()
    try:
        yield
    finally:
        await restarted.close()


async def _set_up_reading_on(
    hass: HomeAssistant, entry: MockConfigEntry, server: EngineServer, folder: Path
) -> Path:
    """Set the hub up on ``server`` with its token; return an image of plate BC5512HP."""
    entry.add_to_hass(hass)
    await _setup(hass, entry, **{CONF_ENGINE_URL: server.url, CONF_ENGINE_TOKEN: TOKEN})
    image = folder / "gate.jpg"
    image.write_bytes(scene_jpeg("BC5512HP", seed=4))
    return image


@pytest.mark.usefixtures("retry_a_down_server_at_once")
async def test_token_changed_on_the_server_asks_for_the_new_one(
    hass: HomeAssistant,
    folder_entry: MockConfigEntry,
    allowed_dir: Path,
    engine_server: EngineServer,
    recognizer: PlateRecognizer,
) -> None:
    """The server was down, then came back with a new token: Home Assistant asks for it.

    The connection was already off when the token was refused: the refusal must
    still reach the sensor and start the reauth flow.
    """
    issue_registry = ir.async_get(hass)
    image = await _set_up_reading_on(hass, folder_entry, engine_server, allowed_dir)
    await engine_server.server.close()
    for _ in range(3):
        with pytest.raises(HomeAssistantError):
            await _read_plates(hass, image)
    async with _restarted(engine_server, recognizer, NEW_TOKEN):
        with pytest.raises(HomeAssistantError):
            await _read_plates(hass, image)
        await hass.async_block_till_done()
        entity_id = er.async_get(hass).async_get_entity_id(
            "binary_sensor", DOMAIN, f"{folder_entry.entry_id}_engine_server"
        )
        assert entity_id is not None
        state = hass.states.get(entity_id)
        assert state is not None
        assert state.state == "off"
        assert state.attributes["token_refused"] is True
        # The reauth flow is how it is fixed: no repair issue besides it.
        assert (
            issue_registry.async_get_issue(DOMAIN, ISSUE_ENGINE_SERVER_UNAVAILABLE)
            is None
        )
        flow = _reauth_flow(hass)
        assert flow["step_id"] == "reauth_engine"
        result = await _answer_token(hass, str(flow["flow_id"]), NEW_TOKEN)
        assert result["reason"] == "reauth_successful"
        await hass.async_block_till_done()
        assert folder_entry.state is ConfigEntryState.LOADED
        response = await _read_plates(hass, image)
        assert response is not None
        assert [plate["plate"] for plate in response["plates"]] == ["BC5512HP"]
        await hass.config_entries.async_unload(folder_entry.entry_id)


@pytest.mark.usefixtures("retry_a_down_server_at_once")
async def test_token_that_works_again_ends_the_reauth_prompt(
    hass: HomeAssistant,
    folder_entry: MockConfigEntry,
    allowed_dir: Path,
    engine_server: EngineServer,
    recognizer: PlateRecognizer,
) -> None:
    """A server started once with the wrong token and again with the right one leaves no prompt."""
    image = await _set_up_reading_on(hass, folder_entry, engine_server, allowed_dir)
    async with _restarted(engine_server, recognizer, NEW_TOKEN):
        with pytest.raises(HomeAssistantError):
            await _read_plates(hass, image)
        await hass.async_block_till_done()
        assert _reauth_flow(hass)["step_id"] == "reauth_engine"
    async with _restarted(engine_server, recognizer, TOKEN):
        response = await _read_plates(hass, image)
        assert response is not None
        assert [plate["plate"] for plate in response["plates"]] == ["BC5512HP"]
        await hass.async_block_till_done()
        assert not reauth_flows(hass)
        await hass.config_entries.async_unload(folder_entry.entry_id)


async def test_reauth_without_an_engine_server_has_nothing_to_ask(
    hass: HomeAssistant, init_folder: MockConfigEntry
) -> None:
    """A reauth left over from a server no longer used ends at once."""
    result = await init_folder.start_reauth_flow(hass)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_not_needed"


async def test_no_engine_server_entity_for_the_local_engine(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """A Home Assistant that reads plates itself has no server to watch."""
    assert (
        entity_registry.async_get_entity_id(
            "binary_sensor", DOMAIN, f"{init_folder.entry_id}_engine_server"
        )
        is None
    )


async def test_setup_waits_for_an_unreachable_engine_server(
    hass: HomeAssistant, folder_entry: MockConfigEntry
) -> None:
    """A server that is down at start-up is retried, not given up on."""
    folder_entry.add_to_hass(hass)
    await _setup(hass, folder_entry, **{CONF_ENGINE_URL: "http://127.0.0.1:9"})
    assert folder_entry.state is ConfigEntryState.SETUP_RETRY


def _no_onnxruntime() -> AbstractContextManager[object]:
    """Installing the local engine fails, as on Home Assistant OS (musl)."""
    return patch(
        "custom_components.plate_tracker.async_process_requirements",
        side_effect=RequirementsNotFound(DOMAIN, ["onnxruntime==1.32.0"]),
    )


async def test_no_onnxruntime_for_this_system_is_a_repair_issue(
    hass: HomeAssistant, folder_entry: MockConfigEntry, issue_registry: ir.IssueRegistry
) -> None:
    """On Home Assistant OS the local engine cannot be installed: say what to do instead."""
    folder_entry.add_to_hass(hass)
    with _no_onnxruntime():
        await _setup(hass, folder_entry)
    assert folder_entry.state is ConfigEntryState.SETUP_ERROR
    issue = issue_registry.async_get_issue(DOMAIN, ISSUE_LOCAL_ENGINE_UNSUPPORTED)
    assert issue is not None
    assert issue.translation_placeholders == {"requirements": "onnxruntime==1.32.0"}


async def test_setting_a_server_starts_a_hub_that_could_not_read_locally(
    hass: HomeAssistant, folder_entry: MockConfigEntry, engine_server: EngineServer
) -> None:
    """What the repair issue tells a Home Assistant OS user to do must work without a restart."""
    folder_entry.add_to_hass(hass)
    with _no_onnxruntime():
        await _setup(hass, folder_entry)
        assert folder_entry.state is ConfigEntryState.SETUP_ERROR
        result = await hass.config_entries.options.async_init(folder_entry.entry_id)
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"next_step_id": "engine"}
        )
        result = await hass.config_entries.options.async_configure(
            result["flow_id"],
            {CONF_ENGINE_URL: engine_server.url, CONF_ENGINE_TOKEN: TOKEN},
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done()
    assert folder_entry.state is ConfigEntryState.LOADED
    assert isinstance(folder_entry.runtime_data.engine, RemoteEngine)
    await hass.config_entries.async_unload(folder_entry.entry_id)


async def test_local_engine_is_the_default(
    hass: HomeAssistant, init_folder: MockConfigEntry
) -> None:
    """Without a server address nothing changes for a Home Assistant Core install."""
    assert isinstance(init_folder.runtime_data.engine, LocalEngine)


async def test_options_check_the_engine_server(
    hass: HomeAssistant, init_folder: MockConfigEntry, engine_server: EngineServer
) -> None:
    """The form refuses an address that is not a server, or the wrong token, and recovers."""
    result = await hass.config_entries.options.async_init(init_folder.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "engine"}
    )
    assert result["step_id"] == "engine"
    for answer, error in (
        ({CONF_ENGINE_URL: "engine:8790"}, {CONF_ENGINE_URL: "invalid_url"}),
        ({CONF_ENGINE_URL: "http://[engine"}, {CONF_ENGINE_URL: "invalid_url"}),
        ({CONF_ENGINE_URL: "http://127.0.0.1:9"}, {"base": "engine_unreachable"}),
        (
            {CONF_ENGINE_URL: engine_server.url, CONF_ENGINE_TOKEN: "wrong"},
            {"base": "engine_auth"},
        ),
    ):
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], answer
        )
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == error
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_ENGINE_URL: engine_server.url, CONF_ENGINE_TOKEN: TOKEN},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert init_folder.options[CONF_ENGINE_URL] == engine_server.url
    assert init_folder.options[CONF_ENGINE_TOKEN] == TOKEN
    assert init_folder.options["min_confidence"] == 0.5
    await hass.async_block_till_done()
    assert isinstance(init_folder.runtime_data.engine, RemoteEngine)


def test_the_integration_imports_without_onnxruntime() -> None:
    """Home Assistant OS has no onnxruntime: everything but the local engine must load there."""
    code = (
        "import sys\n"
        "sys.modules['onnxruntime'] = None\n"
        "sys.modules['onnx'] = None\n"
        "import importlib\n"
        "for name in ('', '.config_flow', '.services', '.diagnostics', '.sensor',"
        " '.binary_sensor', '.event', '.image', '.device_tracker', '.engine.remote'):\n"
        "    importlib.import_module('custom_components.plate_tracker' + name)\n"
        "assert 'onnxruntime' not in {m for m, v in sys.modules.items() if v is not None}\n"
        "print('ok')\n"
    )
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_local_engine_requirements_match_requirements_txt() -> None:
    """What Home Assistant installs for the local engine is what the tests and the server use."""
    pinned = {
        line.split("==")[0]: line.strip()
        for line in (REPO / "requirements.txt").read_text().splitlines()
        if line.startswith(("onnx==", "onnxruntime=="))
    }
    assert sorted(LOCAL_ENGINE_REQUIREMENTS) == sorted(pinned.values())
    manifest = json.loads(
        (REPO / "custom_components" / "plate_tracker" / "manifest.json").read_text()
    )
    assert not any(
        requirement.startswith("onnx") for requirement in manifest["requirements"]
    )


class _CountingRecognizer:
    """Stands in for PlateRecognizer: counts how many threads are in read at once."""

    lock = threading.Lock()
    active = 0
    most = 0

    def __init__(self) -> None:
        self.busy = False

    def read(
        self, image: bytes, vehicle_box: object = None, plate_hint: object = None
    ) -> FrameResult:
        assert not self.busy, "one recognizer was given two images at once"
        self.busy = True
        with self.lock:
            type(self).active += 1
            type(self).most = max(type(self).most, type(self).active)
        time.sleep(0.1)
        with self.lock:
            type(self).active -= 1
        self.busy = False
        return FrameResult(width=1, height=1, plates=(), seconds=0.1)


async def test_local_engine_reads_each_image_on_a_free_recognizer(
    hass: HomeAssistant,
) -> None:
    """Parallel reads and a service call beside them never share a recognizer."""
    engine = LocalEngine(hass, [_CountingRecognizer(), _CountingRecognizer()])
    results = await asyncio.gather(*(engine.read(b"image") for _ in range(5)))
    assert len(results) == 5
    assert _CountingRecognizer.most == 2


async def test_parallel_reads_option_loads_as_many_engines(
    hass: HomeAssistant, folder_entry: MockConfigEntry
) -> None:
    """Each parallel read in Home Assistant has its own engine (its own memory)."""
    folder_entry.add_to_hass(hass)
    await _setup(hass, folder_entry, **{CONF_PARALLEL_READS: 2})
    engine = folder_entry.runtime_data.engine
    assert isinstance(engine, LocalEngine)
    assert engine.workers == 2
    await hass.config_entries.async_unload(folder_entry.entry_id)


def test_every_region_the_options_offer_is_one_the_server_reads() -> None:
    """A region chosen in the options must never make the engine server refuse every frame."""
    assert set(REGIONS) <= set(KNOWN_REGIONS)
