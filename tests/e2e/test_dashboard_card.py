"""The dashboard card in a real browser: live sightings, search with a reason, a plate's route.

A real ``hass`` with the web UI and the integration from this checkout (an inbox-folder source,
the real recognition models), Debian's chromium driven by Playwright, logged in as the owner the
way the web UI remembers a login. Sightings are made as a camera makes them: a generated street
scene uploaded into the inbox. Nothing behind the card is mocked.

Run alone with ``scripts/test -m e2e tests/e2e/test_dashboard_card.py``. Where chromium runs
outside the test's environment (the Python 3.14 root, which shares the machine's network), CI
lends it: ``PLATE_TRACKER_E2E_BROWSER_CDP`` names its DevTools address and the test connects to
it instead of launching one. Without chromium the test is skipped, except under CI (``CI`` set),
where a missing browser is a failure unless CI says that this environment has none
(``PLATE_TRACKER_E2E_NO_BROWSER``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
import math
from pathlib import Path
import random
import re
from typing import Any

from playwright.async_api import (
    ConsoleMessage,
    Error as PlaywrightError,
    Locator,
    Page,
    async_playwright,
    expect,
)
import pytest

from custom_components.plate_tracker.dashboard import CARD_FILE

from .harness import (
    HASS_START_TIMEOUT,
    Chromium,
    EventSubscription,
    RunningHass,
    e2e_marks,
    form_defaults,
    free_port,
    load_demo_feed,
    log_in_browser,
    running_hass,
    wait_for,
    wait_loaded,
    write_hass_config,
)

pytestmark = e2e_marks()

PLATE = "AA1234BB"
INBOX = "plate_inbox"
# The plate is seen first at the entrance, before the page is open, then at the bridge while it
# is: the second sighting must reach the card live. The cameras stand 40 m apart, so that
# seconds between the two sightings are a plausible drive, not a misread to leave out.
CAMERAS = {
    "entrance_north": {
        "name": "Entrance north",
        "latitude": 50.4500,
        "longitude": 30.5200,
    },
    "bridge": {"name": "Bridge", "latitude": 50.4503, "longitude": 30.5203},
}
FIRST_CAMERA, LIVE_CAMERA = CAMERAS
# Types a length, a title, then a length out of range (which must change nothing).
EDITOR_SCRIPT = """async () => {
  const editor = customElements.get("plate-tracker-card").getConfigElement();
  document.body.append(editor);
  editor.hass = document.querySelector("home-assistant").hass;
  editor.setConfig({type: "custom:plate-tracker-card", limit: 20});
  const changes = [];
  editor.addEventListener("config-changed", (event) => changes.push(event.detail.config));
  const type = (id, value) => {
    const input = editor.shadowRoot.getElementById(id);
    input.value = value;
    input.dispatchEvent(new Event("change"));
  };
  type("limit", "35");
  type("title", "Exits");
  type("limit", "500");
  editor.remove();
  return changes;
}"""
# A route of two trips as get_route returns it (oldest first): the card's map, in a bare page.
ROUTE_MAP_SCRIPT = """async () => {
  await customElements.whenDefined("plate-tracker-card");
  const card = document.createElement("plate-tracker-card");
  card.setConfig({});
  card._build();
  const stop = (camera, latitude, longitude) => ({ camera, camera_name: camera, latitude, longitude });
  card._renderMap([
    { index: 0, sightings: [stop("west", 50.45, 30.40), stop("centre", 50.45, 30.52)] },
    { index: 1, sightings: [
      stop("centre", 50.45, 30.52),
      stop("east", 50.50, 30.60),
      stop("east", 50.50, 30.60),
      { camera: "unmapped", latitude: null, longitude: null },
    ] },
  ]);
  const svg = card.shadowRoot.getElementById("route-map");
  const circles = Object.fromEntries([...svg.querySelectorAll("circle.camera")].map(
    (c) => [c.dataset.camera, [Number(c.getAttribute("cx")), Number(c.getAttribute("cy"))]]));
  return {
    circles,
    lines: [...svg.querySelectorAll("polyline")].map((l) => ({
      cls: l.getAttribute("class"), trip: l.dataset.trip, points: l.getAttribute("points").split(" ").length })),
    arrows: [...svg.querySelectorAll("path.direction")].map((a) => ({
      cls: a.getAttribute("class"), trip: a.dataset.trip, from: a.dataset.from, to: a.dataset.to,
      transform: a.getAttribute("transform") })),
  };
}"""
# A route cut to its latest sightings, one of them too fast to be the same car, one a misread
# counted as this vehicle: the card's trip list, in a bare page, in English and in Ukrainian.
ROUTE_TRIPS_SCRIPT = """async (language) => {
  await customElements.whenDefined("plate-tracker-card");
  const card = document.createElement("plate-tracker-card");
  card.setConfig({});
  card._hass = { language };
  card._build();
  const stop = (id, camera, flags, plate = "AA1234BB") => ({
    id, camera, camera_name: camera.toUpperCase(), time: "2026-11-27T06:00:00+00:00", plate,
    direction: "unknown", flags });
  const pair = (from_id, to_id, from_camera, to_camera, speed_kmh) => ({
    from_id, to_id, from_camera, to_camera, distance_km: 7, seconds: 60, speed_kmh });
  const list = (route) => {
    card._renderTrips(route);
    const root = card.shadowRoot;
    return {
      stops: [...root.querySelectorAll("ol#trips li.stop")].map((row) => ({
        id: row.dataset.id, cls: row.getAttribute("class"), flags: row.dataset.flags ?? null,
        labels: [...row.querySelectorAll(".flag")].map((flag) => [flag.dataset.flag, flag.textContent]) })),
      note: root.getElementById("route-truncated").textContent,
    };
  };
  const cut = list({ truncated: true, sighting_count: 250, trips: [{ index: 7, sightings: [
    stop(1, "west", ["impossible_travel"]), stop(2, "east", ["impossible_travel"]),
    stop(3, "north", ["joined_misread", "impossible_travel"], "AA1234BV") ] }],
    impossible_travel: [pair(1, 2, "west", "east", 412.3), pair(2, 3, "east", "north", null)] });
  const whole = list({ truncated: false, sighting_count: 1, trips: [{ index: 0, sightings: [stop(4, "west", [])] }] });
  return { cut, whole };
}"""
SEARCH_REASON = "e2e: dashboard card search"
DASHBOARD = "plate-tracker"
VIEW = "plates"
CONTROL_TEXT = "plate_tracker e2e dashboard"
CITY_STATES = ("inside", "left", "entered", "unknown")

# The inbox is polled every 2 s, a file settles for 2 s, then the engine reads it once.
SIGHTING_TIMEOUT = 60
UI_TIMEOUT_MS = 30_000  # the first page load parses the whole web UI on two cores
LIVE_TIMEOUT_MS = 15_000  # from the bus event to the row: a push, not a poll
UNHANDLED_REJECTION_DETAILS = """
window.addEventListener("unhandledrejection", (event) => {
  if (!(event.reason instanceof Error)) {
    console.error("unhandled rejection: " + JSON.stringify(event.reason));
  }
});
"""


@dataclass
class Hass(RunningHass):
    """A hass process with the web UI, a logged-in client, and its inbox folder."""

    inbox: Path


@pytest.fixture
async def hass_with_ui(tmp_path: Path) -> AsyncGenerator[Hass]:
    """Run a real ``hass`` with the web UI and a Plate Tracker inbox, its owner logged in."""
    port = free_port()
    config = tmp_path / "config"
    write_hass_config(config, port, frontend=True)
    # The README's one-line setup: the hub with an inbox-folder source, made at start-up.
    with (config / "configuration.yaml").open("a", encoding="utf-8") as yaml:
        yaml.write(f"plate_tracker:\n  inbox: {INBOX}\n")
    async with running_hass(config, port, tmp_path) as (client, process):
        await client.onboard()
        # As a user opens a dashboard: once hass has started. Before, the web UI can ask for
        # the services while a platform that hass sets up at every start is still installing
        # its requirements (Home Assistant 2026.10: assist_satellite's voice libraries, built
        # from source on Python 3.14); that request fails and the page never leaves "Loading".
        await wait_for(
            "hass to finish starting",
            client.started,
            within=HASS_START_TIMEOUT,
            interval=1,
            alive=process.death,
        )
        await client.confirm_http_config()
        yield Hass(client, process, config / INBOX)


async def _map_camera(hass: Hass, entry_id: str, camera: str) -> None:
    """Put ``camera`` on the city map through the entry's options, as a user does."""
    place = CAMERAS[camera]
    client = hass.client
    result = await client.start_options_flow(entry_id)
    assert result["type"] == "menu", result
    result = await client.options_flow_step(
        result["flow_id"], {"next_step_id": "camera"}
    )
    assert result["step_id"] == "camera", result
    result = await client.options_flow_step(
        result["flow_id"], form_defaults(result["data_schema"]) | {"camera": camera}
    )
    assert result["step_id"] == "camera_details", result
    result = await client.options_flow_step(
        result["flow_id"],
        form_defaults(result["data_schema"])
        | {
            "name": place["name"],
            "location": {
                "latitude": place["latitude"],
                "longitude": place["longitude"],
            },
            "role": "inside",
        },
    )
    assert result["type"] == "create_entry", result


async def _upload_scene(
    hass: Hass, subscription: EventSubscription, camera: str, seed: int
) -> dict[str, Any]:
    """Upload a street scene with PLATE as ``camera`` would; return the sighting it made."""
    demo_feed = load_demo_feed()
    scene: bytes = demo_feed.render_scene(
        demo_feed.plate_from_text(PLATE), camera=camera, rng=random.Random(seed)
    )
    folder = hass.inbox / camera
    folder.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(
        demo_feed.write_atomically, folder / f"e2e-{seed}.jpg", scene
    )
    sighting = await subscription.next_event(SIGHTING_TIMEOUT)
    assert sighting is not None, (
        f"no sighting {SIGHTING_TIMEOUT} s after uploading a scene to {folder}\n"
        f"hass log:\n{hass.log()}"
    )
    assert (sighting["plate"], sighting["camera"]) == (PLATE, camera), sighting
    return sighting


@dataclass
class Console:
    """What the page said on its console: errors and uncaught exceptions."""

    errors: list[str] = field(default_factory=list)

    def message(self, message: ConsoleMessage) -> None:
        """Keep a console error.

        None is ignored: on this bare hass the web UI itself logs no error, even without
        internet, so any error is news.
        """
        if message.type == "error":
            self.errors.append(f"console.error at {message.location}: {message.text}")

    def page_error(self, error: PlaywrightError) -> None:
        """Keep an uncaught exception."""
        self.errors.append(f"uncaught {error.name}: {error.message}\n{error.stack}")


@asynccontextmanager
async def _explained(
    what: str, page: Page, hass: Hass, console: Console, folder: Path
) -> AsyncIterator[None]:
    """Turn a failure inside into one that shows the page, the console and hass's log."""
    try:
        yield
    except (AssertionError, PlaywrightError) as err:
        screenshot = folder / f"{what.replace(' ', '_')}.png"
        try:
            await page.screenshot(path=screenshot, full_page=True)
        except PlaywrightError as shot_error:
            screenshot = Path(f"(no screenshot: {shot_error.message})")
        errors = "\n".join(console.errors) or "(none)"
        try:
            # Why the web UI shows an error card in place of a card: only in edit mode does
            # it print the reason, which it keeps in the error card's configuration.
            card_errors = await page.locator("hui-error-card").evaluate_all(
                "cards => cards.map(card => card._config?.message ?? card._config?.error)"
            )
        except PlaywrightError as read_error:
            card_errors = [f"(not read: {read_error.message})"]
        raise AssertionError(
            f"{what}: {err}\nscreenshot: {screenshot}\nconsole errors:\n{errors}\n"
            f"cards in error: {card_errors or '(none)'}\nhass log:\n{hass.log()}"
        ) from err


async def _audit_reasons(hass: Hass) -> list[str | None]:
    """Return the reasons the audit log holds for searches."""
    log = await hass.client.call_service(
        "plate_tracker", "audit_log", {"action": "search_sightings"}
    )
    return [record["reason"] for record in log["records"]]


async def test_card_shows_searches_and_routes_live_sightings(
    chromium: Chromium, hass_with_ui: Hass, tmp_path: Path
) -> None:
    """The card a user opens on a dashboard shows what the cameras see, as they see it.

    Unit tests check the services and the websocket command one by one; only a browser shows
    that the card loads in the real web UI without errors, that its subscription delivers a
    sighting to the screen without a reload, that its form passes the reason the audit log
    requires (and shows the refusal without one), and that a click opens the plate's route.
    """
    hass = hass_with_ui
    client = hass.client
    entry = await wait_loaded(hass, "plate_tracker", retry_fails=True)
    for camera in CAMERAS:
        await _map_camera(hass, entry["entry_id"], camera)
        # Every change of options reloads the hub; the reload has begun by the time the
        # flow answers, and the next options flow needs the hub loaded again.
        await wait_loaded(hass, "plate_tracker", retry_fails=True)

    # A dashboard of its own, as Settings -> Dashboards -> Add makes it: the default one is
    # now the built-in overview, which the web UI shows instead of a saved configuration.
    await client.websocket_command(
        {
            "type": "lovelace/dashboards/create",
            "url_path": DASHBOARD,
            "title": "Plates",
            "mode": "storage",
            "require_admin": False,
            "show_in_sidebar": True,
        }
    )
    # What the dashboard's raw configuration editor saves.
    await client.websocket_command(
        {
            "type": "lovelace/config/save",
            "url_path": DASHBOARD,
            "config": {
                "views": [
                    {
                        "path": VIEW,
                        "cards": [
                            # The control: when it shows and the card does not, the web UI
                            # works and the card is at fault.
                            {"type": "markdown", "content": CONTROL_TEXT},
                            # One result per page: the second sighting needs "More".
                            {
                                "type": "custom:plate-tracker-card",
                                "title": "Plates",
                                "page_size": 1,
                            },
                        ],
                    }
                ]
            },
        }
    )

    subscription = EventSubscription(client)
    await subscription.subscribe("plate_tracker_sighting")
    try:
        first = await _upload_scene(hass, subscription, FIRST_CAMERA, seed=1)
        async with (
            async_playwright() as playwright,
            chromium.new_context(
                playwright, viewport={"width": 1280, "height": 1600}
            ) as context,
        ):
            await log_in_browser(context, client)
            # A promise rejected with a websocket error object reaches "pageerror" as
            # just "Object"; this says which error it was.
            await context.add_init_script(UNHANDLED_REJECTION_DETAILS)
            page = await context.new_page()
            console = Console()
            page.on("console", console.message)
            page.on("pageerror", console.page_error)
            await _check_card(
                page,
                hass,
                console,
                tmp_path,
                first=first,
                live=lambda: _upload_scene(hass, subscription, LIVE_CAMERA, seed=2),
            )
    finally:
        await subscription.close()


async def _image_loads(image: Locator) -> bool:
    """Return whether the browser could load and decode the picture of an ``img``."""
    width: int = await image.evaluate(
        "img => img.decode().then(() => img.naturalWidth, () => 0)"
    )
    return width > 0


async def _check_card(
    page: Page,
    hass: Hass,
    console: Console,
    folder: Path,
    *,
    first: dict[str, Any],
    live: Callable[[], Awaitable[dict[str, Any]]],
) -> None:
    """Drive the card through the four things a user does with it."""
    expect.set_options(timeout=UI_TIMEOUT_MS)
    card = page.locator("plate-tracker-card")
    recent = card.locator("ul#recent li.sighting")

    async with _explained("the card renders", page, hass, console, folder):
        await page.goto(f"{hass.client.base_url}/{DASHBOARD}/{VIEW}")
        await expect(page.locator("hui-markdown-card")).to_contain_text(CONTROL_TEXT)
        await expect(card).to_have_count(1)
        await expect(recent.first).to_have_attribute(
            "data-id", str(first["sighting_id"])
        )
        assert not console.errors, "the web UI logged errors while the card rendered"

    async with _explained("a sighting arrives live", page, hass, console, folder):
        second = await live()
        newest = recent.first
        await expect(newest).to_have_attribute(
            "data-id", str(second["sighting_id"]), timeout=LIVE_TIMEOUT_MS
        )
        await expect(newest).to_have_attribute("data-plate", PLATE)
        await expect(newest).to_have_attribute("data-camera", LIVE_CAMERA)
        await expect(newest).to_contain_text(PLATE)
        # Named as the camera map names it, not by its id.
        await expect(newest).to_contain_text(str(CAMERAS[LIVE_CAMERA]["name"]))
        await expect(recent.nth(1)).to_have_attribute(
            "data-id", str(first["sighting_id"])
        )
        # The crop comes through the integration's authenticated image view.
        thumbnail = newest.locator("img")
        await expect(thumbnail).to_have_count(1)
        assert await _image_loads(thumbnail), (
            "the thumbnail of the sighting did not load"
        )

    async with _explained("a search", page, hass, console, folder):
        error = card.locator("#error")
        results = card.locator("ul#results li.sighting")
        # Whether or not the card keeps an empty #error around, it shows no error yet.
        assert not "".join(await error.all_inner_texts()).strip()
        await card.locator("input#plate").fill(PLATE)
        await card.locator("input#reason").fill("")
        await card.locator("button#search").click()
        await expect(error).to_have_text(re.compile(r"\S"))

        await card.locator("input#reason").fill(SEARCH_REASON)
        await card.locator("button#search").click()
        more = card.locator("button#more")
        await expect(results).to_have_count(1)
        await expect(more).to_be_visible()
        await more.click()
        await expect(results).to_have_count(2)
        await expect(more).to_be_hidden()
        await expect(results.first).to_have_attribute(
            "data-id", str(second["sighting_id"])
        )
        await expect(results.nth(1)).to_have_attribute(
            "data-id", str(first["sighting_id"])
        )
        assert SEARCH_REASON in await _audit_reasons(hass), (
            "the search did not reach the audit log with its reason"
        )

    async with _explained("the route of a plate", page, hass, console, folder):
        await results.first.click()
        route = card.locator("#route")
        await expect(route).to_be_visible()
        stops = route.locator("ol#trips li.stop")
        await expect(stops).to_have_count(2)
        assert {
            await stops.nth(0).get_attribute("data-camera"),
            await stops.nth(1).get_attribute("data-camera"),
        } == set(CAMERAS)
        await expect(route.locator("svg#route-map circle.camera")).to_have_count(
            len(CAMERAS)
        )
        # A line per trip, with an arrow from the earlier sighting's camera to the later's.
        trip_lines = route.locator("svg#route-map polyline.trip")
        await expect(trip_lines).to_have_count(
            await route.locator("ol#trips li.trip").count()
        )
        arrow = route.locator("svg#route-map path.direction")
        await expect(arrow).to_have_count(1)
        assert (
            await arrow.get_attribute("data-from"),
            await arrow.get_attribute("data-to"),
        ) == (first["camera"], second["camera"])
        where = await hass.client.call_service(
            "plate_tracker", "where_is", {"plate": PLATE, "reason": SEARCH_REASON}
        )
        state = where["city_status"]["state"]
        assert state in CITY_STATES, where
        await expect(route.locator("#status")).to_contain_text(state)
        # The picture of where it was last seen: the newest sighting's snapshot.
        last_seen = route.locator("a#last-seen img")
        await expect(last_seen).to_have_count(1)
        assert f"/sightings/{second['sighting_id']}/" in str(
            await last_seen.get_attribute("src")
        )
        assert await _image_loads(last_seen), (
            "the picture of the last sighting did not load"
        )

    async with _explained("the card's settings editor", page, hass, console, folder):
        # What the dashboard editor does with the element the card names: give it the
        # configuration and hass, then listen for config-changed as the user types.
        changes = await page.evaluate(EDITOR_SCRIPT)
        assert changes == [
            {"type": "custom:plate-tracker-card", "limit": 35},
            {"type": "custom:plate-tracker-card", "limit": 35, "title": "Exits"},
        ], "the editor did not report the settings as typed (or took a length of 500)"
        assert not console.errors, "the web UI logged errors while the card was used"


@asynccontextmanager
async def _bare_card_page(chromium: Chromium) -> AsyncIterator[tuple[Page, Console]]:
    """Yield a blank page with the card's script loaded, and what its console says.

    For the parts of the card that draw what a service returned: no Home Assistant needed.
    """
    async with (
        async_playwright() as playwright,
        chromium.new_context(playwright) as context,
    ):
        page = await context.new_page()
        console = Console()
        page.on("console", console.message)
        page.on("pageerror", console.page_error)
        await page.set_content("<!doctype html><html><body></body></html>")
        # The card waits for the web UI's root element before it defines itself.
        await page.evaluate(
            'customElements.define("home-assistant", class extends HTMLElement {})'
        )
        await page.add_script_tag(content=CARD_FILE.read_text(encoding="utf-8"))
        yield page, console


async def test_route_map_draws_each_trip_and_the_way_it_went(
    chromium: Chromium,
) -> None:
    """Trips are separate lines, the latest strongest, with an arrow along each leg.

    Hours apart, two trips are no road between their cameras. The arrows sit halfway along
    each leg, pointing from the earlier sighting to the later; a repeated camera (no leg) and a
    camera without a place on the map get none.
    """
    async with _bare_card_page(chromium) as (page, console):
        drawn = await page.evaluate(ROUTE_MAP_SCRIPT)
    assert not console.errors, console.errors
    assert set(drawn["circles"]) == {"west", "centre", "east"}
    assert drawn["lines"] == [
        {"cls": "trip earlier", "trip": "0", "points": 2},
        {"cls": "trip", "trip": "1", "points": 3},
    ]
    legs = [(a["cls"], a["trip"], a["from"], a["to"]) for a in drawn["arrows"]]
    assert legs == [
        ("direction earlier", "0", "west", "centre"),
        ("direction", "1", "centre", "east"),
    ]
    for arrow in drawn["arrows"]:
        found = re.fullmatch(
            r"translate\((\S+) (\S+)\) rotate\((\S+)\)", arrow["transform"]
        )
        assert found, arrow
        x, y, angle = map(float, found.groups())
        (x1, y1), (x2, y2) = (
            drawn["circles"][arrow["from"]],
            drawn["circles"][arrow["to"]],
        )
        assert (x, y) == pytest.approx(((x1 + x2) / 2, (y1 + y2) / 2), abs=0.11)
        assert angle == pytest.approx(
            math.degrees(math.atan2(y2 - y1, x2 - x1)), abs=0.11
        )


@dataclass(frozen=True)
class _RouteWords:
    """What the trip list says, in one language."""

    impossible: str
    speeds: tuple[str, str, str]
    """Stop 1's (to the camera after it), stop 2's (from the one before) and stop 3's (no speed)."""
    joined: str
    note: str


@pytest.mark.parametrize(
    ("language", "said"),
    [
        (
            "en",
            _RouteWords(
                "impossible travel: a misread or a cloned plate?",
                (
                    "412 km/h to EAST",
                    "412 km/h from WEST",
                    "at the same moment as EAST",
                ),
                "misread, same vehicle",
                "The latest 3 of 250 sightings.",
            ),
        ),
        (
            "uk",
            _RouteWords(
                "неможливий переїзд: помилка зчитування чи клон номера?",
                (
                    "412 км/год до EAST",
                    "412 км/год від WEST",
                    "в ту саму мить, що й EAST",
                ),
                "помилка зчитування, той самий автомобіль",
                "Останні 3 з 250 фіксацій.",
            ),
        ),
    ],
    ids=["en", "uk"],
)
async def test_route_list_flags_doubtful_sightings_and_says_when_it_is_cut(
    chromium: Chromium, language: str, said: _RouteWords
) -> None:
    """An officer reading a route sees which sightings it doubts, and that older ones exist.

    A speed no car makes between two cameras marks a misread or a cloned plate; a misread
    counted as this vehicle says so; a route longer than the card asks for says how much of it
    is shown.
    """
    async with _bare_card_page(chromium) as (page, console):
        listed = await page.evaluate(ROUTE_TRIPS_SCRIPT, language)
    assert not console.errors, console.errors
    # Each side of a too-fast pair names the other camera, and the speed when there is one.
    to_east, from_west, same_moment = (
        f"{said.impossible} ({speed})" for speed in said.speeds
    )
    assert listed["cut"]["stops"] == [
        {
            "id": "1",
            "cls": "stop impossible",
            "flags": "impossible_travel",
            "labels": [["impossible_travel", to_east]],
        },
        {
            "id": "2",
            "cls": "stop impossible",
            "flags": "impossible_travel",
            "labels": [["impossible_travel", from_west]],
        },
        {
            "id": "3",
            "cls": "stop impossible",
            "flags": "joined_misread impossible_travel",
            "labels": [
                ["joined_misread", said.joined],
                ["impossible_travel", same_moment],
            ],
        },
    ]
    assert listed["cut"]["note"] == said.note
    assert listed["whole"] == {
        "stops": [{"id": "4", "cls": "stop", "flags": None, "labels": []}],
        "note": "",
    }


# A hass whose every websocket answer waits until the test gives it, so that answers can be
# made to arrive in any order, and a connection that keeps home-assistant-js-websocket's
# contract: subscribeMessage(callback, message, options), a "ready" event each time the socket
# is back, and no subscription made with {resubscribe: false} sent again by itself.
FAKE_HASS_SCRIPT = """() => {
  window.fakeHass = () => {
    const calls = [];
    const connection = {
      listeners: [],
      subscriptions: [],
      addEventListener(type, listener) {
        if (type === "ready") this.listeners.push(listener);
      },
      removeEventListener(type, listener) {
        this.listeners = this.listeners.filter((one) => one !== listener);
      },
      subscribeMessage(callback, message, options) {
        return new Promise((resolve, reject) => {
          const subscription = { callback, message, options, reject, unsubscribed: 0 };
          subscription.accept = () => resolve(async () => { subscription.unsubscribed += 1; });
          this.subscriptions.push(subscription);
        });
      },
      reconnect() {
        for (const listener of [...this.listeners]) listener(this);
      },
    };
    const callWS = (message) => new Promise((resolve, reject) => calls.push({ message, resolve, reject }));
    // Answers the calls not answered yet that `which` picks.
    const answer = (which, response) => {
      for (const call of calls.filter((one) => !one.answered && which(one.message))) {
        call.answered = true;
        call.resolve({ response: typeof response === "function" ? response(call.message) : response });
      }
    };
    return { hass: { language: "en", connection, callWS }, calls, connection, answer };
  };
  // Every answer given so far is handled: the card's awaits are microtasks, all done by then.
  window.settle = () => new Promise((resolve) => setTimeout(resolve, 0));
}"""
# Plate A (a long route, slow to come) is clicked, then plate B; A's answer comes last. Then
# a route is closed while it loads.
ROUTE_RACE_SCRIPT = """async () => {
  await customElements.whenDefined("plate-tracker-card");
  const { hass, calls, answer } = fakeHass();
  const card = document.createElement("plate-tracker-card");
  card.setConfig({});
  card.hass = hass;
  const vehicles = {
    AA0001AA: { id: 1, camera: "north_exit", state: "left" },
    BB0002BB: { id: 2, camera: "bridge", state: "inside" },
  };
  card._receive({ initial: true, sightings: Object.entries(vehicles).map(([plate, { id, camera }]) => (
    { sighting_id: id, plate, camera, seen_at: `2026-11-27T06:00:0${id}+00:00`, confidence: 0.9 })) });
  const root = card.shadowRoot;
  const click = (plate) => root.querySelector(`ul#recent li.sighting[data-plate="${plate}"]`).click();
  const respond = (plate) => answer((message) => message.service_data.plate === plate, (message) => {
    const { id, camera, state } = vehicles[plate];
    if (message.service === "get_route") {
      return { truncated: false, sighting_count: 1, trips: [{ index: 0, sightings: [
        { id, camera, camera_name: camera, time: "2026-11-27T06:00:00+00:00", plate, direction: "unknown", flags: [] }] }] };
    }
    return { city_status: { state }, last_sighting: { plate, camera, seen_at: "2026-11-27T06:00:00+00:00",
      snapshot_url: `/api/plate_tracker/sightings/${id}/snapshot.jpg?exp=1&sig=x` } };
  });
  const shown = () => ({
    hidden: root.getElementById("route").hidden,
    title: root.getElementById("route-title").textContent,
    state: root.getElementById("status").dataset.state ?? null,
    last_seen: root.getElementById("last-seen").getAttribute("href"),
    stops: [...root.querySelectorAll("ol#trips li.stop")].map((row) => row.dataset.camera),
  });
  // Without a reason no route is asked for: the officer is told to give one.
  click("AA0001AA");
  const refused = { asked: calls.length, hidden: root.getElementById("route").hidden,
    error: root.getElementById("error").textContent };
  root.getElementById("reason").value = "case 7";
  click("AA0001AA");
  click("BB0002BB");
  respond("BB0002BB");
  await settle();
  const answered = shown();
  respond("AA0001AA");
  await settle();
  const afterLateAnswer = shown();
  click("AA0001AA");
  root.getElementById("route-close").click();
  respond("AA0001AA");
  await settle();
  const reasons = calls.map((call) => call.message.service_data.reason);
  return { refused, reasons, answered, afterLateAnswer, closed: shown() };
}"""
# A search of two pages: "More" clicked twice. Then a second search, its "More" still loading
# when a third search starts, and that "More" answered between.
SEARCH_RACE_SCRIPT = """async () => {
  await customElements.whenDefined("plate-tracker-card");
  const { hass, calls, answer } = fakeHass();
  const card = document.createElement("plate-tracker-card");
  card.setConfig({ page_size: 2 });
  card.hass = hass;
  document.body.append(card); // a form submits only in the document
  const root = card.shadowRoot;
  const more = root.getElementById("more");
  const search = (plate) => {
    root.getElementById("plate").value = plate;
    root.getElementById("reason").value = "case 42";
    root.getElementById("search").click();
  };
  const searches = () => calls.filter((call) => call.message.service === "search_sightings").map((call) => call.message.service_data);
  const page = (plate, ids, next_cursor) => ({ next_cursor, sightings: ids.map((id) => (
    { sighting_id: id, plate, camera: "gate", seen_at: `2026-11-27T06:${String(id).padStart(2, "0")}:00+00:00`, confidence: 0.9 })) });
  const rows = () => [...root.querySelectorAll("ul#results li.sighting")].map((row) => Number(row.dataset.id));
  const button = () => ({ hidden: more.hidden, disabled: more.disabled });
  const latest = (message) => message.service === "search_sightings";

  search("AA1111AA");
  answer(latest, page("AA1111AA", [4, 3], "c1"));
  await settle();
  more.click();
  more.click();
  const whileMoreLoads = { asked: searches().slice(1), more: button() };
  answer(latest, page("AA1111AA", [2, 1], null));
  await settle();
  const doubleClick = { ...whileMoreLoads, rows: rows(), more: [whileMoreLoads.more, button()] };

  search("BB2222BB");
  answer(latest, page("BB2222BB", [14, 13], "d1"));
  await settle();
  more.click();
  search("CC3333CC");
  more.click(); // the cursor is the earlier search's
  const asked = searches().slice(3);
  answer((message) => latest(message) && message.service_data.cursor === "d1", page("BB2222BB", [12, 11], null));
  await settle();
  const afterStaleMore = { rows: rows(), more: button() };
  answer(latest, page("CC3333CC", [24], null));
  await settle();
  card.remove();
  return { doubleClick, newSearch: { asked, afterStaleMore, rows: rows(), more: button() } };
}"""
# The card on a wall dashboard, its feed running; then Home Assistant restarts.
RECONNECT_START_SCRIPT = """async () => {
  await customElements.whenDefined("plate-tracker-card");
  const fake = fakeHass();
  const card = document.createElement("plate-tracker-card");
  card.setConfig({});
  card.hass = fake.hass;
  document.body.append(card);
  window.wall = { ...fake, card };
  const [first] = fake.connection.subscriptions;
  first.accept();
  first.callback({ initial: true, sightings: [
    { sighting_id: 1, plate: "AA0001AA", camera: "gate", seen_at: "2026-11-27T06:00:00+00:00", confidence: 0.9 }] });
  await settle();
  // The websocket is back; Home Assistant has not loaded the integration yet.
  fake.connection.reconnect();
  const again = fake.connection.subscriptions[1];
  if (again) again.reject({ code: "not_loaded", message: "Plate Tracker is not set up or not loaded" });
  await settle();
  return { options: first.options, unsubscribed: first.unsubscribed, ...wallState() };
}"""
RECONNECT_STATE_SCRIPT = """() => {
  window.wallState = () => ({
    subscriptions: wall.connection.subscriptions.length,
    listeners: wall.connection.listeners.length,
    plates: [...wall.card.shadowRoot.querySelectorAll("ul#recent li.sighting")].map((row) => row.dataset.plate),
    error: wall.card.shadowRoot.getElementById("error").textContent,
  });
}"""
# Its retry is accepted: the first message lists what the store holds now (AA0001AA was
# purged meanwhile); then the card leaves the page.
RECONNECT_RETRY_SCRIPT = """async () => {
  const retry = wall.connection.subscriptions[2];
  if (!retry) return { live: wallState() };
  retry.accept();
  retry.callback({ initial: true, sightings: [
    { sighting_id: 2, plate: "BB0002BB", camera: "gate", seen_at: "2026-11-27T07:00:00+00:00", confidence: 0.9 }] });
  await settle();
  const live = wallState();
  wall.card.remove();
  wall.connection.reconnect();
  await settle();
  return { live, options: retry.options, removed: { unsubscribed: retry.unsubscribed, ...wallState() } };
}"""
RESUBSCRIBE_MS = 15_000
"""How long the card waits before it asks again for a refused feed."""


async def test_route_shows_the_plate_clicked_last(chromium: Chromium) -> None:
    """A route answered late never shows under another plate's title.

    An officer clicks a car with a long route, then another car: the first route's answer
    comes last. Its city status, picture and trips under the second plate's name would send
    someone looking for the wrong car. A route closed while it loads stays closed.
    """
    async with _bare_card_page(chromium) as (page, console):
        await page.evaluate(FAKE_HASS_SCRIPT)
        shown = await page.evaluate(ROUTE_RACE_SCRIPT)
    assert not console.errors, console.errors
    plate_b = {
        "hidden": False,
        "title": "Route of BB0002BB",
        "state": "inside",
        "last_seen": "/api/plate_tracker/sightings/2/snapshot.jpg?exp=1&sig=x",
        "stops": ["bridge"],
    }
    assert shown["refused"] == {
        "asked": 0,
        "hidden": True,
        "error": "Give a reason: every search and route lookup is written to the audit log.",
    }
    assert shown["reasons"], "no route was asked for once the reason was given"
    assert set(shown["reasons"]) == {"case 7"}, shown["reasons"]
    assert shown["answered"] == plate_b
    assert shown["afterLateAnswer"] == plate_b
    assert shown["closed"]["hidden"] is True
    assert shown["closed"]["state"] is None


async def test_search_more_loads_each_page_once_and_only_for_the_latest_search(
    chromium: Chromium,
) -> None:
    """The "More" button asks for one page at a time, never for an older search.

    A double click on "More" would list the second page twice; a page still loading when the
    officer searches for another plate would be listed under the new search's results.
    """
    async with _bare_card_page(chromium) as (page, console):
        await page.evaluate(FAKE_HASS_SCRIPT)
        result = await page.evaluate(SEARCH_RACE_SCRIPT)
    assert not console.errors, console.errors
    double_click = result["doubleClick"]
    assert [asked.get("cursor") for asked in double_click["asked"]] == ["c1"]
    assert double_click["more"] == [
        {"hidden": False, "disabled": True},
        {"hidden": True, "disabled": False},
    ]
    assert double_click["rows"] == [4, 3, 2, 1]

    new_search = result["newSearch"]
    # The second search's "More", then the third search; no "More" while it loads.
    assert [(asked["plate"], asked.get("cursor")) for asked in new_search["asked"]] == [
        ("BB2222BB", "d1"),
        ("CC3333CC", None),
    ]
    # The earlier search's page is dropped: the list waits for the new search.
    assert new_search["afterStaleMore"] == {
        "rows": [14, 13],
        "more": {"hidden": False, "disabled": True},
    }
    assert new_search["rows"] == [24]
    assert new_search["more"] == {"hidden": True, "disabled": False}


async def test_live_list_subscribes_again_after_home_assistant_restarts(
    chromium: Chromium,
) -> None:
    """A wall dashboard keeps its live list through a restart of Home Assistant.

    The websocket comes back before the integration is loaded. Left to the connection, the
    subscription is sent again, refused, and dropped without a word: the list freezes. The card
    subscribes again itself, shows the refusal, asks again later, and lists what the store
    holds then (not the sightings purged meanwhile). The old subscription is not unsubscribed:
    on the new socket its number may be another subscription's.
    """
    async with _bare_card_page(chromium) as (page, console):
        await page.clock.install()
        await page.evaluate(FAKE_HASS_SCRIPT)
        await page.evaluate(RECONNECT_STATE_SCRIPT)
        refused = await page.evaluate(RECONNECT_START_SCRIPT)
        await page.clock.run_for(RESUBSCRIBE_MS)
        retried = await page.evaluate(RECONNECT_RETRY_SCRIPT)
    assert not console.errors, console.errors
    assert refused == {
        "options": {"resubscribe": False},
        "unsubscribed": 0,
        "subscriptions": 2,
        "listeners": 1,
        "plates": ["AA0001AA"],
        "error": "Plate Tracker is not set up or not loaded.",
    }
    assert retried["live"] == {
        "subscriptions": 3,
        "listeners": 1,
        "plates": ["BB0002BB"],
        "error": "",
    }
    assert retried["options"] == {"resubscribe": False}
    # Gone from the page: unsubscribed, and deaf to the connection.
    assert retried["removed"] == {
        "unsubscribed": 1,
        "subscriptions": 3,
        "listeners": 0,
        "plates": ["BB0002BB"],
        "error": "",
    }
