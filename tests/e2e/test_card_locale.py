"""The dashboard card in a real chromium, on a bare page: time zones and the user's language.

As the bare-page tests of ``tests/e2e/test_dashboard_card.py`` do, the card's script is loaded
into a blank page and given a ``hass`` of its own: no Home Assistant is needed to see what the
card writes. Run alone with ``scripts/test -m e2e tests/e2e/test_card_locale.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from playwright.async_api import Page, async_playwright

from custom_components.plate_tracker.dashboard import CARD_FILE

from .harness import Chromium, e2e_marks

pytestmark = e2e_marks(timeout=120)


@asynccontextmanager
async def _card_page(
    chromium: Chromium, **context: Any
) -> AsyncIterator[tuple[Page, list[str]]]:
    """Yield a blank page with the card's script loaded, and the errors its console shows."""
    async with (
        async_playwright() as playwright,
        chromium.new_context(playwright, **context) as browser_context,
    ):
        page = await browser_context.new_page()
        errors: list[str] = []
        page.on(
            "console",
            lambda message: (
                errors.append(message.text) if message.type == "error" else None
            ),
        )
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.set_content("<!doctype html><html><body></body></html>")
        # The card waits for the web UI's root element before it defines itself.
        await page.evaluate(
            'customElements.define("home-assistant", class extends HTMLElement {})'
        )
        await page.add_script_tag(content=CARD_FILE.read_text(encoding="utf-8"))
        await page.evaluate('customElements.whenDefined("plate-tracker-card")')
        yield page, errors


# The live list of a card given ``locale`` (hass.locale) and Home Assistant's time zone: what
# the row of a sighting at 06:00 UTC says, and of one seen just now.
TIMES_SCRIPT = """({ locale, serverZone }) => {
  const card = document.createElement("plate-tracker-card");
  card.setConfig({});
  card.hass = { language: "en", locale, config: { time_zone: serverZone } };
  const now = new Date();
  card._receive({ initial: true, sightings: [
    { sighting_id: 1, plate: "AA0001AA", camera: "gate", seen_at: "2026-11-27T06:00:00+00:00", confidence: 0.9 },
    { sighting_id: 2, plate: "BB0002BB", camera: "gate", seen_at: now.toISOString(), confidence: 0.9 },
  ] });
  const meta = [...card.shadowRoot.querySelectorAll("ul#recent li.sighting .meta")].map((row) => row.textContent.split(" · ")[0]);
  const server = (options) => now.toLocaleTimeString("en", { timeZone: serverZone, ...options });
  return { meta, today24: server({ hourCycle: "h23" }) };
}"""


async def test_times_follow_the_users_time_zone_setting(chromium: Chromium) -> None:
    """A user who set "use the server's time zone" reads the card's times in it.

    Home Assistant's own pages (history, logbook, the entities' timestamps) then show the
    server's time; an officer at a desk in another time zone, or on a laptop with a wrong
    zone, read the card in the browser's instead and compared times hours apart. The
    12/24-hour setting of the profile applies as well.
    """
    async with _card_page(chromium, timezone_id="America/New_York", locale="en-US") as (
        page,
        errors,
    ):
        server = await page.evaluate(
            TIMES_SCRIPT,
            {
                "locale": {
                    "language": "en",
                    "time_zone": "server",
                    "time_format": "24",
                },
                "serverZone": "Europe/Kyiv",
            },
        )
        local = await page.evaluate(
            TIMES_SCRIPT,
            {
                "locale": {"language": "en", "time_zone": "local", "time_format": "12"},
                "serverZone": "Europe/Kyiv",
            },
        )
    assert not errors, errors
    # 06:00 UTC is 08:00 in Kyiv, 01:00 in New York; another day than today: date and time.
    # Newest first: the sighting of just now shows the time alone.
    assert server["meta"] == [server["today24"], "11/27/2026, 08:00:00"]
    assert local["meta"][1] == "11/27/2026, 1:00:00 AM"


# A card built in English, its route of a plate open; then the user switches the profile to Ukrainian (the frontend hands
# the card a new hass, without reloading the page).
LANGUAGE_SCRIPT = """async () => {
  const route = { truncated: false, sighting_count: 1, trips: [{ index: 0, sightings: [
    { id: 1, camera: "gate", camera_name: "Gate", time: "2026-11-27T06:00:00+00:00", plate: "AA0001AA",
      direction: "approaching", flags: [] }] }] };
  const callWS = async (message) => ({ response: message.service === "get_route"
    ? route : { city_status: { state: "inside" }, last_sighting: null } });
  const card = document.createElement("plate-tracker-card");
  card.setConfig({});
  card.hass = { language: "en", callWS };
  card._receive({ initial: true, sightings: [
    { sighting_id: 1, plate: "AA0001AA", camera: "gate", seen_at: "2026-11-27T06:00:00+00:00",
      confidence: 0.9, direction: "approaching" }] });
  card.shadowRoot.getElementById("reason").value = "case 42";  // a route lookup needs one
  await card._showRoute("AA0001AA");
  card.hass = { language: "uk", callWS };
  const root = card.shadowRoot;
  return {
    title: root.querySelector("h2").textContent,
    headings: [...root.querySelectorAll("h3")].map((node) => node.textContent),
    placeholders: [...root.querySelectorAll("input")].map((node) => node.placeholder),
    buttons: [...root.querySelectorAll("button")].map((node) => node.textContent),
    row: root.querySelector("ul#recent li.sighting .meta").textContent,
    status: root.getElementById("status").textContent,
    trips: [...root.querySelectorAll("ol#trips li")].map((node) => node.textContent),
  };
}"""


async def test_texts_follow_a_change_of_the_users_language(chromium: Chromium) -> None:
    """The card speaks the language the user switches to, without a page reload.

    Before, only what was drawn after the switch (new rows) changed: headings, the search
    form and its buttons stayed in the first language, half the card in each.
    """
    async with _card_page(chromium) as (page, errors):
        shown = await page.evaluate(LANGUAGE_SCRIPT)
    assert not errors, errors
    assert shown == {
        "title": "Plate Tracker",
        "headings": ["Останні фіксації", "Пошук", "Маршрут AA0001AA"],
        "placeholders": [
            "Номер або шаблон (* і ?)",
            "Підстава (записується в журнал аудиту)",
        ],
        "buttons": ["Пошук", "Ще", "Закрити"],
        "row": shown["row"],
        "status": "Статус у місті: у місті",
        "trips": ["Поїздка 1", shown["trips"][1]],
    }
    assert "наближається" in shown["row"]
    assert "наближається" in shown["trips"][1]
