"""Real parts for the end-to-end test: a mosquitto broker, a fake Frigate, a hass process, a client.

Everything listens on 127.0.0.1 on free ports and writes its log into the test's folder, so a
failure message can show what each part said. Every part is stopped by its fixture, even when
the test fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
import importlib.util
import json
import os
from pathlib import Path
import secrets
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from types import ModuleType
from typing import TYPE_CHECKING, Any

from aiohttp import ClientSession, ClientTimeout, WSMsgType, web
import pytest

from custom_components.plate_tracker.engine.models import ensure_models

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Playwright

REPO = Path(__file__).resolve().parents[2]
ENTRY_LOAD_TIMEOUT = 120  # the integration loads the ONNX models during setup
HOST = "127.0.0.1"
OWNER_USERNAME = "e2e"
OWNER_PASSWORD = "e2e-password"  # noqa: S105 - the test installation's owner
FRIGATE_VERSION = "0.16.0"
# Set by .ci/run when mosquitto runs outside the environment the tests run in (the Python 3.14
# root filesystem has none): "host:port" of a broker to use instead of starting one.
EXTERNAL_BROKER_ENV = "PLATE_TRACKER_E2E_BROKER"
# Set where no browser can run and none is lent (see BROWSER_CDP_ENV): the browser test is
# skipped there, even under CI, instead of failing for the missing browser.
NO_BROWSER_ENV = "PLATE_TRACKER_E2E_NO_BROWSER"
# Set by .ci/run when chromium runs outside the environment the tests run in (the Python 3.14
# root filesystem has none, but shares the machine's network): the DevTools address
# ("http://127.0.0.1:port") of a headless chromium to connect to instead of launching one.
BROWSER_CDP_ENV = "PLATE_TRACKER_E2E_BROWSER_CDP"


def e2e_marks(timeout: int = 600) -> list[pytest.MarkDecorator]:
    """Return an end-to-end module's ``pytestmark``: the ``e2e`` mark, real sockets, a time limit."""
    return [
        pytest.mark.e2e,
        pytest.mark.enable_socket,
        pytest.mark.usefixtures("socket_enabled"),
        pytest.mark.timeout(timeout),
    ]


def in_ci() -> bool:
    """Whether CI runs the tests: a missing broker or browser is a failure there, not a skip."""
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


async def wait_for(
    what: str,
    check: Callable[[], Awaitable[bool]],
    *,
    within: float,
    interval: float = 0.25,
    alive: Callable[[], str | None] | None = None,
) -> None:
    """Poll ``check`` until it is true; fail after ``within`` s or when ``alive`` reports a death."""
    deadline = time.monotonic() + within
    while True:
        if alive is not None and (death := alive()) is not None:
            raise AssertionError(f"while waiting for {what}: {death}")
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f} s waiting for {what}")
        await asyncio.sleep(interval)


async def port_open(port: int, host: str = HOST) -> bool:
    """Return whether something accepts TCP connections on ``host:port``."""
    try:
        _, writer = await asyncio.open_connection(host, port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


def log_tail(path: Path, lines: int = 60) -> str:
    """Return the last ``lines`` lines of a log file, for failure messages."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def load_demo_feed() -> ModuleType:
    """Import scripts/demo_feed.py, which draws the street scenes (scripts/ is no package)."""
    spec = importlib.util.spec_from_file_location(
        "demo_feed", REPO / "scripts" / "demo_feed.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: its dataclasses look their module up in sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class ManagedProcess:
    """A child process with its output in a log file, stopped politely, then firmly."""

    def __init__(self, name: str, argv: list[str], log: Path, cwd: Path) -> None:
        """Start ``argv`` now."""
        self.name = name
        self.log = log
        self._log_file = log.open("wb")
        self._process = subprocess.Popen(  # noqa: S603 - argv is built by the test, not input
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def death(self) -> str | None:
        """Return why the process is gone, or None while it runs."""
        code = self._process.poll()
        if code is None:
            return None
        return f"{self.name} exited with {code}; its log ends:\n{log_tail(self.log)}"

    async def stop(self, grace: float) -> None:
        """SIGTERM, wait up to ``grace`` seconds, then SIGKILL."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                await asyncio.to_thread(self._process.wait, grace)
            except subprocess.TimeoutExpired:
                self._process.kill()
                await asyncio.to_thread(self._process.wait)
        self._log_file.close()


def mosquitto_binary() -> str:
    """Return the Debian mosquitto binary, or one on PATH; without one skip (under CI: fail)."""
    if Path("/usr/sbin/mosquitto").is_file():
        return "/usr/sbin/mosquitto"
    if found := shutil.which("mosquitto"):
        return found
    message = "mosquitto is not installed (Debian: apt-get install mosquitto)"
    if in_ci():
        pytest.fail(f"{message}; CI must run the end-to-end test")
    pytest.skip(message)


async def start_mosquitto(
    binary: str, workdir: Path, port: int | None = None
) -> tuple[ManagedProcess, int]:
    """Start an anonymous mosquitto on ``port`` (default a free one) of 127.0.0.1; return it and the port.

    Given the port of a broker stopped before, this is that broker back after a restart:
    without persistence it remembers no session, as after a crash.
    """
    port = port or free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        textwrap.dedent(
            f"""\
            listener {port} {HOST}
            allow_anonymous true
            persistence false
            log_dest stdout
            log_type all
            """
        ),
        encoding="utf-8",
    )
    process = ManagedProcess(
        "mosquitto", [binary, "-c", str(conf)], workdir / "mosquitto.log", workdir
    )
    await wait_for(
        f"mosquitto on port {port}",
        lambda: port_open(port),
        within=20,
        alive=process.death,
    )
    return process, port


def chromium_binary() -> str | None:
    """Return the Debian chromium, or one on PATH (Playwright cannot download its own here)."""
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


@dataclass(frozen=True)
class Chromium:
    """The chromium a browser test drives: a binary to launch, or a running one lent over CDP."""

    binary: str | None = None
    cdp_url: str | None = None

    @asynccontextmanager
    async def new_context(
        self, playwright: Playwright, **options: Any
    ) -> AsyncIterator[BrowserContext]:
        """Yield a fresh browser context, closed afterwards with a browser launched for it.

        A lent browser outlives the test and may serve others: only the context made here is
        closed; the connection to it ends when ``playwright`` stops.
        """
        if self.cdp_url is not None:
            lent = await playwright.chromium.connect_over_cdp(self.cdp_url)
            context = await lent.new_context(**options)
            try:
                yield context
            finally:
                await context.close()
            return
        browser = await playwright.chromium.launch(executable_path=self.binary)
        try:
            yield await browser.new_context(**options)
        finally:
            await browser.close()


SNAPSHOT_PACKET_BYTES = 8 * 1024
"""The fake Frigate sends snapshots in packets this large."""


@dataclass
class FakeFrigate:
    """The parts of Frigate's HTTP API plate_tracker calls, answering with one generated scene.

    With ``login`` it behaves like Frigate's authenticated port 8971: ``POST /api/login``
    with that user and password sets a ``frigate_token`` cookie, and every other path
    but ``/api/version`` needs that token as a bearer token.
    """

    snapshot: bytes
    requests: list[str] = field(default_factory=list)
    url: str = ""
    login: tuple[str, str] | None = None
    """The user and password Frigate accepts; None: no login (port 5000)."""
    restarting: bool = False
    """Answer every request with 502, as the proxy in front of Frigate's API does while it restarts."""
    ended: list[dict[str, Any]] = field(default_factory=list)
    """Events ``/api/events`` lists (those that started within its ``after``-``before``)."""
    _token: str = ""
    _runner: web.AppRunner | None = None

    def change_password(self, password: str) -> None:
        """Change the user's password, as Frigate's admin would; tokens given before stop working."""
        assert self.login is not None
        self.login = (self.login[0], password)
        self._token = ""

    async def start(self) -> None:
        """Listen on a free 127.0.0.1 port."""
        app = web.Application()
        app.router.add_post("/api/login", self._login)
        app.router.add_get("/api/version", self._version)
        app.router.add_get("/api/config", self._config)
        app.router.add_get("/api/stats", self._stats)
        app.router.add_get("/api/events", self._events)
        app.router.add_get("/api/events/{event_id}/snapshot.jpg", self._image)
        app.router.add_get("/api/events/{event_id}/thumbnail.jpg", self._image)
        app.middlewares.append(self._record)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, HOST, port).start()
        self.url = f"http://{HOST}:{port}"

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _record(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        self.requests.append(request.path_qs)
        if self.restarting:
            return web.Response(status=502, text="Bad Gateway")
        open_paths = ("/api/version", "/api/login")
        if self.login is not None and request.path not in open_paths:
            given = request.headers.get("Authorization", "")
            if not self._token or given != f"Bearer {self._token}":
                return web.Response(status=401, text="Unauthorized")
        return await handler(request)

    async def _login(self, request: web.Request) -> web.Response:
        data = await request.json()
        if self.login is None or (data.get("user"), data.get("password")) != self.login:
            return web.Response(status=401, text="Login failed")
        self._token = secrets.token_hex(16)
        response = web.json_response({})
        response.set_cookie("frigate_token", self._token)
        return response

    async def _version(self, request: web.Request) -> web.Response:
        return web.Response(text=FRIGATE_VERSION)

    async def _events(self, request: web.Request) -> web.Response:
        """List the ``ended`` events that started in the asked window, newest first, as Frigate does."""
        after = float(request.query.get("after", "0"))
        before = float(request.query.get("before", "inf"))
        listed = [
            event for event in self.ended if after <= event["start_time"] <= before
        ]
        listed.sort(key=lambda event: event["start_time"], reverse=True)
        return web.json_response(listed)

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response({"service": {"version": "0.16.0"}})

    async def _config(self, request: web.Request) -> web.Response:
        cameras = {
            name: {"enabled": True, "detect": {"width": 1280, "height": 720}}
            for name in ("entrance_north", "bridge", "exit_kyiv_road")
        }
        return web.json_response(
            {"cameras": cameras, "mqtt": {"topic_prefix": "frigate"}}
        )

    async def _image(self, request: web.Request) -> web.StreamResponse:
        # In packets, as over a real network: a client that reads only what
        # has arrived gets a cut JPEG (it did, and loopback hid it).
        response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        await response.prepare(request)
        for start in range(0, len(self.snapshot), SNAPSHOT_PACKET_BYTES):
            await response.write(self.snapshot[start : start + SNAPSHOT_PACKET_BYTES])
            await asyncio.sleep(0.001)
        await response.write_eof()
        return response


def upload(inbox: Path, camera: str, name: str, data: bytes) -> None:
    """Upload into ``camera``'s inbox folder as an FTP server finishes a file.

    Written aside, then renamed into place, so the inbox never sees half a file.
    """
    folder = inbox / camera
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{name}.part"
    partial.write_bytes(data)
    partial.replace(folder / name)


def write_hass_config(config: Path, http_port: int, *, frontend: bool = False) -> None:
    """Write a minimal configuration: only what the REST and websocket APIs need.

    Not default_config: that would make hass install the frontend and a dozen other packages on
    its first start, which is slow and tests nothing of ours. With ``frontend``, the web UI too
    (its package comes with the test requirements) and the recorder it expects, and onboarding
    finished but for the owner account, which ``HassClient.onboard`` creates.
    """
    config.mkdir(parents=True, exist_ok=True)
    (config / "configuration.yaml").write_text(
        textwrap.dedent(
            f"""\
            homeassistant:
              name: plate_tracker e2e
              latitude: 50.45
              longitude: 30.52
              elevation: 179
              unit_system: metric
              time_zone: Europe/Kyiv
              country: UA
              currency: UAH
            http:
              server_host: {HOST}
              server_port: {http_port}
            api:
            config:
            onboarding:
            websocket_api:
            logger:
              default: warning
              logs:
                custom_components.plate_tracker: debug
                homeassistant.components.mqtt: info
                homeassistant.setup: info
                homeassistant.loader: info
            """
        ),
        encoding="utf-8",
    )
    # The integration from this checkout, as HACS would install it...
    custom = config / "custom_components"
    custom.mkdir(exist_ok=True)
    (custom / "plate_tracker").symlink_to(
        REPO / "custom_components" / "plate_tracker", target_is_directory=True
    )
    # ...and the models scripts/setup fetched, so hass does not download them again.
    models = config / "plate_tracker" / "models"
    models.parent.mkdir(parents=True, exist_ok=True)
    models.symlink_to(REPO / "models" / "cache", target_is_directory=True)
    if frontend:
        _enable_frontend(config)


def _enable_frontend(config: Path) -> None:
    """Serve the web UI, and skip the onboarding steps that follow the owner account.

    Until onboarding is finished the UI shows the onboarding wizard instead of dashboards. Its
    later steps (location, analytics, suggested integrations) would set up integrations that reach
    out to the internet, so they are recorded as done, as on an installation whose owner clicked
    through them; the owner step stays open for ``HassClient.onboard``.
    """
    # The web UI asks the recorder for its state on every page (recorder/info) and logs a
    # rejected promise when there is none; every real installation has one.
    with (config / "configuration.yaml").open("a", encoding="utf-8") as yaml:
        yaml.write("frontend:\nrecorder:\n")
    storage = config / ".storage"
    storage.mkdir(exist_ok=True)
    (storage / "onboarding").write_text(
        json.dumps(
            {
                "version": 4,
                "minor_version": 1,
                "key": "onboarding",
                "data": {"done": ["core_config", "analytics", "integration"]},
            }
        ),
        encoding="utf-8",
    )


HASS_START_TIMEOUT = 240  # a fresh config writes .storage and compiles bytecode


@asynccontextmanager
async def running_hass(
    config: Path, port: int, folder: Path
) -> AsyncIterator[tuple[HassClient, ManagedProcess]]:
    """Run ``hass`` on ``config`` until it serves HTTP on ``port``; stop it on the way out.

    The models ``scripts/setup`` fetched are checked first, so that hass does not download
    them. The log goes to ``folder/hass.log``.
    """
    await asyncio.to_thread(ensure_models, REPO / "models" / "cache")
    process = ManagedProcess(
        "hass",
        [str(hass_executable()), "--config", str(config), "--log-no-color"],
        folder / "hass.log",
        folder,
    )
    session = ClientSession()
    client = HassClient(session, f"http://{HOST}:{port}")
    try:
        await wait_for(
            "hass to serve HTTP",
            client.answers,
            within=HASS_START_TIMEOUT,
            interval=1,
            alive=process.death,
        )
        yield client, process
    finally:
        await session.close()
        await process.stop(grace=60)


def hass_executable() -> Path:
    """Return the hass of the environment running the tests."""
    return Path(sys.executable).parent / "hass"


def form_defaults(data_schema: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the values the frontend would submit for a form left untouched.

    ``data_schema`` is a flow step's serialized schema: each field's default, else its suggested
    value; a required boolean starts ``False`` and a required dropdown on its first option; a
    section (``expandable``) becomes a dict.
    """
    values: dict[str, Any] = {}
    for field_ in data_schema:
        name = field_["name"]
        if field_.get("type") == "expandable":
            values[name] = form_defaults(field_.get("schema", []))
        elif "default" in field_:
            values[name] = field_["default"]
        elif (
            suggested := (field_.get("description") or {}).get("suggested_value")
        ) is not None:
            values[name] = suggested
        elif field_.get("required"):
            selector = field_.get("selector") or {}
            if "boolean" in selector:
                values[name] = False
            elif options := (selector.get("select") or {}).get("options"):
                # A required dropdown starts on its first option.
                first = options[0]
                values[name] = first["value"] if isinstance(first, dict) else first
    return values


class HassClient:
    """Home Assistant's REST and websocket APIs, as the frontend uses them."""

    def __init__(self, session: ClientSession, base_url: str) -> None:
        """Talk to the hass at ``base_url`` through ``session``."""
        self.session = session
        self.base_url = base_url
        self.token = ""
        self.refresh_token = ""
        self.token_expires_in = 0

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def request(
        self, method: str, path: str, payload: dict[str, Any] | None = None
    ) -> Any:
        """Send a JSON request; fail with the answer's body on any non-2xx status."""
        async with self.session.request(
            method, self.base_url + path, json=payload, headers=self._headers()
        ) as response:
            body = await response.text()
            assert response.status < 300, (
                f"{method} {path} -> {response.status}: {body}"
            )
            return json.loads(body) if body else None

    async def answers(self) -> bool:
        """Return whether hass serves HTTP yet."""
        try:
            async with self.session.get(
                self.base_url + "/api/onboarding", timeout=ClientTimeout(total=5)
            ) as response:
                return response.status == 200
        except (OSError, TimeoutError):
            return False

    async def started(self) -> bool:
        """Return whether hass has finished starting (needs the login of ``onboard``).

        HTTP answers long before: the integrations that start with hass are still being set up,
        some still installing their requirements.
        """
        config = await self.request("GET", "/api/config")
        return bool(config["state"] == "RUNNING")

    async def onboard(self) -> None:
        """Create the owner account through onboarding and log in as it."""
        created = await self.request(
            "POST",
            "/api/onboarding/users",
            {
                "client_id": self._client_id,
                "name": "E2E Owner",
                "username": OWNER_USERNAME,
                "password": OWNER_PASSWORD,
                "language": "en",
            },
        )
        await self._take_tokens(created["auth_code"])

    async def log_in(self) -> None:
        """Log in as the owner ``onboard`` created, as the login page does (a hass started again)."""
        flow = await self.request(
            "POST",
            "/auth/login_flow",
            {
                "client_id": self._client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": self._client_id,
            },
        )
        result = await self.request(
            "POST",
            f"/auth/login_flow/{flow['flow_id']}",
            {
                "client_id": self._client_id,
                "username": OWNER_USERNAME,
                "password": OWNER_PASSWORD,
            },
        )
        assert result["type"] == "create_entry", result
        await self._take_tokens(result["result"])

    @property
    def _client_id(self) -> str:
        return self.base_url + "/"

    async def _take_tokens(self, code: str) -> None:
        """Trade an authorization code for the tokens every later request sends."""
        async with self.session.post(
            self.base_url + "/auth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "client_id": self._client_id,
            },
        ) as response:
            body = await response.text()
            assert response.status == 200, f"/auth/token -> {response.status}: {body}"
            tokens = json.loads(body)
            self.token = tokens["access_token"]
            self.refresh_token = tokens["refresh_token"]
            self.token_expires_in = tokens["expires_in"]

    def frontend_tokens(self) -> dict[str, Any]:
        """Return the login as the web UI keeps it in ``localStorage["hassTokens"]``."""
        return {
            "hassUrl": self.base_url,
            "clientId": self.base_url + "/",
            "access_token": self.token,
            "refresh_token": self.refresh_token,
            "expires": int(time.time() * 1000) + self.token_expires_in * 1000,
            "expires_in": self.token_expires_in,
            "token_type": "Bearer",
        }

    async def websocket_answer(self, command: dict[str, Any]) -> dict[str, Any]:
        """Send one websocket API command on a connection of its own; return the whole answer."""
        url = self.base_url.replace("http://", "ws://") + "/api/websocket"
        async with self.session.ws_connect(url) as ws:
            assert (await ws.receive_json())["type"] == "auth_required"
            await ws.send_json({"type": "auth", "access_token": self.token})
            answer = await ws.receive_json()
            assert answer["type"] == "auth_ok", answer
            await ws.send_json({"id": 1, **command})
            reply: dict[str, Any] = await ws.receive_json()
            return reply

    async def websocket_command(self, command: dict[str, Any]) -> Any:
        """Send one websocket API command; return its result, failing when it is refused."""
        answer = await self.websocket_answer(command)
        assert answer.get("success"), f"{command['type']} refused: {answer}"
        return answer.get("result")

    async def confirm_http_config(self) -> None:
        """Confirm the ``http:`` settings of configuration.yaml, as the owner does in the web UI.

        Home Assistant 2026.10 takes them into its storage once, as a trial: until the owner
        confirms them, the web UI puts a dialog over every page (and it takes the clicks meant
        for the page), and five minutes later hass reverts to its default port and restarts.
        Older releases apply the YAML as it is and do not know the command.
        """
        answer = await self.websocket_answer({"type": "http/config"})
        if not answer.get("success"):
            assert answer["error"]["code"] == "unknown_command", answer
            return
        if answer["result"]["pending"] is not None:
            await self.websocket_command({"type": "http/config/promote"})

    async def call_service(
        self, domain: str, service: str, data: dict[str, Any]
    ) -> dict[str, Any]:
        """Call a service that answers, through the REST API; return its response."""
        answer: dict[str, Any] = await self.request(
            "POST", f"/api/services/{domain}/{service}?return_response", data
        )
        response: dict[str, Any] = answer["service_response"]
        return response

    async def start_options_flow(self, entry_id: str) -> dict[str, Any]:
        """Open an entry's options the way the UI's "Configure" does."""
        result: dict[str, Any] = await self.request(
            "POST", "/api/config/config_entries/options/flow", {"handler": entry_id}
        )
        return result

    async def options_flow_step(
        self, flow_id: str, user_input: dict[str, Any]
    ) -> dict[str, Any]:
        """Answer the current step of an options flow."""
        result: dict[str, Any] = await self.request(
            "POST", f"/api/config/config_entries/options/flow/{flow_id}", user_input
        )
        return result

    async def start_flow(self, handler: str) -> dict[str, Any]:
        """Start a config flow the way the UI's "Add integration" does."""
        result: dict[str, Any] = await self.request(
            "POST",
            "/api/config/config_entries/flow",
            {"handler": handler, "show_advanced_options": False},
        )
        return result

    async def flow_step(
        self, flow_id: str, user_input: dict[str, Any]
    ) -> dict[str, Any]:
        """Answer the current step of a flow (a form's fields, or a menu's next_step_id)."""
        result: dict[str, Any] = await self.request(
            "POST", f"/api/config/config_entries/flow/{flow_id}", user_input
        )
        return result

    async def entries(self, domain: str) -> list[dict[str, Any]]:
        """Return the config entries of ``domain`` with their states."""
        everything: list[dict[str, Any]] = await self.request(
            "GET", "/api/config/config_entries/entry"
        )
        return [entry for entry in everything if entry["domain"] == domain]

    async def states(self) -> list[dict[str, Any]]:
        """Return every entity's state (GET /api/states)."""
        states: list[dict[str, Any]] = await self.request("GET", "/api/states")
        return states


class EventSubscription:
    """A websocket connection subscribed to one event type."""

    def __init__(self, client: HassClient) -> None:
        """Use ``client``'s session and token."""
        self._client = client
        self._ws: Any = None

    async def subscribe(self, event_type: str) -> None:
        """Authenticate and subscribe."""
        url = self._client.base_url.replace("http://", "ws://") + "/api/websocket"
        self._ws = await self._client.session.ws_connect(url)
        assert (await self._ws.receive_json())["type"] == "auth_required"
        await self._ws.send_json({"type": "auth", "access_token": self._client.token})
        answer = await self._ws.receive_json()
        assert answer["type"] == "auth_ok", answer
        await self._ws.send_json(
            {"id": 1, "type": "subscribe_events", "event_type": event_type}
        )
        answer = await self._ws.receive_json()
        assert answer.get("success"), answer

    async def next_event(self, within: float) -> dict[str, Any] | None:
        """Return the next event's ``data``, or None when none came ``within`` seconds.

        One deadline for the whole wait: ``receive(timeout=...)`` starts its time-out
        again after each ping it answers, and Home Assistant pings every 55 s, so a
        wait of 60 s for an event that never comes would never end.
        """
        try:
            async with asyncio.timeout(within):
                while True:
                    message = await self._ws.receive()
                    if message.type != WSMsgType.TEXT:
                        raise AssertionError(f"websocket closed: {message!r}")
                    payload = json.loads(message.data)
                    if payload.get("type") == "event":
                        data: dict[str, Any] = payload["event"]["data"]
                        return data
        except TimeoutError:
            return None

    async def close(self) -> None:
        """Close the websocket."""
        if self._ws is not None:
            await self._ws.close()


async def log_in_browser(context: BrowserContext, client: HassClient) -> None:
    """Give every page of ``context`` the login of ``client``, as a remembered web UI login.

    The web UI reads its tokens from ``localStorage["hassTokens"]`` before it would show the
    login form, and refreshes them itself when they expire.
    """
    origin = client.base_url
    tokens = json.dumps(client.frontend_tokens())
    await context.add_init_script(
        f"""
        if (location.origin === {json.dumps(origin)}
            && !window.localStorage.getItem("hassTokens")) {{
          window.localStorage.setItem("hassTokens", {json.dumps(tokens)});
        }}
        """
    )


@dataclass
class RunningHass:
    """A hass process under test and a logged-in client for it."""

    client: HassClient
    process: ManagedProcess

    def log(self) -> str:
        """Return the end of hass's log, to explain a failure."""
        return log_tail(self.process.log, 80)


async def run_flow(
    hass: RunningHass, handler: str, answers: dict[str, Any]
) -> dict[str, Any]:
    """Drive a config flow through the REST API until it creates its entry.

    ``answers`` maps each step id to the answer for it: a dict of form fields, or, for a menu,
    the option to pick (given as a string; a form asking for a ``source`` gets it as that field,
    so the flow may show the choice either way). Fields not answered keep the form's defaults,
    as in the frontend (newer MQTT flows require a whole "other_settings" section, for one).
    Any other outcome fails with the flow's answer.
    """
    result = await hass.client.start_flow(handler)
    answered: set[str] = set()
    while result["type"] in ("form", "menu"):
        step = result["step_id"]
        if result.get("errors"):
            raise AssertionError(f"{handler} flow step {step!r} refused: {result}")
        if step not in answers:
            raise AssertionError(
                f"{handler} flow asked for an unexpected step: {result}"
            )
        if step in answered:
            raise AssertionError(
                f"{handler} flow asked for step {step!r} again: {result}"
            )
        answered.add(step)
        answer = answers[step]
        if result["type"] == "menu":
            payload = {"next_step_id": answer}
        elif isinstance(answer, str):
            payload = {"source": answer}
        else:
            # What the frontend sends: the form's defaults, then what the user typed.
            payload = form_defaults(result.get("data_schema") or []) | answer
        result = await hass.client.flow_step(result["flow_id"], payload)
    if result["type"] != "create_entry":
        raise AssertionError(f"{handler} flow ended without an entry: {result}")
    return result


async def reauth_flow(client: HassClient, domain: str) -> dict[str, Any] | None:
    """Return the re-authentication flow ``domain`` waits in, as the frontend lists it, or None."""
    flows: list[dict[str, Any]] = await client.websocket_command(
        {"type": "config_entries/flow/progress"}
    )
    return next(
        (
            flow
            for flow in flows
            if flow["handler"] == domain and flow["context"]["source"] == "reauth"
        ),
        None,
    )


async def wait_for_reauth(hass: RunningHass, domain: str) -> dict[str, Any]:
    """Wait until ``domain`` asks to re-authenticate; return that flow."""

    async def asked() -> bool:
        return await reauth_flow(hass.client, domain) is not None

    await wait_for(f"{domain} to ask for a credential", asked, within=90)
    flow = await reauth_flow(hass.client, domain)
    assert flow is not None, hass.log()
    return flow


async def wait_loaded(
    hass: RunningHass, domain: str, *, retry_fails: bool = False
) -> dict[str, Any]:
    """Wait until the config entry of ``domain`` is set up and return it.

    Fails early when setup failed, and with ``retry_fails`` also when it is
    waiting to retry (for a test where nothing should keep it from starting).
    """
    failed = {"setup_error", "migration_error", "failed_unload"}
    if retry_fails:
        failed.add("setup_retry")
    found: list[dict[str, Any]] = []

    async def loaded() -> bool:
        entries = await hass.client.entries(domain)
        if any(entry["state"] in failed for entry in entries):
            raise AssertionError(
                f"{domain} entry failed to set up: {entries}\nhass log:\n{hass.log()}"
            )
        found[:] = [entry for entry in entries if entry["state"] == "loaded"]
        return bool(found)

    try:
        await wait_for(
            f"the {domain} entry to load",
            loaded,
            within=ENTRY_LOAD_TIMEOUT,
            interval=0.5,
            alive=hass.process.death,
        )
    except AssertionError as err:
        raise AssertionError(f"{err}\nhass log:\n{hass.log()}") from err
    return found[0]
