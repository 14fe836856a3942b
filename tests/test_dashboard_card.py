"""The dashboard card's backend: its live websocket feed and how the card's file is served.

The card itself runs in a real browser in ``tests/e2e/test_dashboard_card.py``.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
import sqlite3
import threading
from typing import Any

from homeassistant.components.frontend import DATA_EXTRA_MODULE_URL
from homeassistant.components.websocket_api.const import SIGNAL_WEBSOCKET_DISCONNECTED
from homeassistant.core import HomeAssistant
from homeassistant.helpers.dispatcher import DATA_DISPATCHER, async_dispatcher_connect
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    MockHAClientWebSocket,
    WebSocketGenerator,
)

from custom_components.plate_tracker.const import SIGNAL_SIGHTING
from custom_components.plate_tracker.dashboard import CARD_FILE, CARD_URL
from custom_components.plate_tracker.records import Direction, NewSighting, Sighting
from custom_components.plate_tracker.store import SearchQuery, SightingStore

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


async def _record(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    plate: str,
    seen_at: datetime,
    *,
    crop: bool = True,
    direction: Direction = Direction.UNKNOWN,
) -> Sighting:
    store: SightingStore = entry.runtime_data.store
    sighting, _ = await hass.async_add_executor_job(
        store.record,
        NewSighting(
            camera="exit_kyiv_road",
            seen_at=seen_at,
            plate=plate,
            raw=plate,
            confidence=0.91,
            source="folder",
            direction=direction,
            crop_jpeg=b"crop" if crop else None,
        ),
    )
    return sighting


async def _next(client: MockHAClientWebSocket) -> dict[str, Any]:
    """Return the next message; fail (instead of hanging) when none comes."""
    async with asyncio.timeout(10):
        message: dict[str, Any] = await client.receive_json()
        return message


async def _subscribe(
    client: MockHAClientWebSocket, **extra: Any
) -> tuple[int, dict[str, Any]]:
    await client.send_json_auto_id(
        {"type": "plate_tracker/sightings/subscribe", **extra}
    )
    result = await _next(client)
    return result["id"], result


async def test_feed_starts_with_the_latest_sightings_newest_first(
    hass: HomeAssistant,
    folder_entry: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """The first message lists the latest sightings, newest first, with signed image links.

    Each names its camera as the camera map does, or by its id when it is not on the map.
    """
    folder_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        folder_entry,
        options={
            **folder_entry.options,
            "cameras": {
                "exit_kyiv_road": {
                    "name": "Kyiv road exit",
                    "latitude": 50.40,
                    "longitude": 30.45,
                    "role": "exit",
                    "leaving_direction": "receding",
                }
            },
        },
    )
    assert await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    for hours, plate in enumerate(("AE1234BK", "KA0001AA", "BC7777OO")):
        await _record(
            hass,
            folder_entry,
            plate,
            NOW - timedelta(hours=hours),
            crop=plate != "KA0001AA",
        )
    client = await hass_ws_client(hass)

    subscription, result = await _subscribe(client, limit=2)

    assert result["success"], result
    first = await _next(client)
    assert first["id"] == subscription
    assert first["event"]["initial"] is True
    sightings = first["event"]["sightings"]
    assert [sighting["plate"] for sighting in sightings] == ["AE1234BK", "KA0001AA"]
    assert sightings[0]["camera"] == "exit_kyiv_road"
    assert sightings[0]["camera_name"] == "Kyiv road exit"
    assert "/api/plate_tracker/sightings/" in sightings[0]["crop_url"]
    assert "&sig=" in sightings[0]["crop_url"]
    assert sightings[1]["crop_url"] is None
    await hass.config_entries.async_unload(folder_entry.entry_id)


async def test_feed_pushes_new_and_reannounced_sightings_until_unsubscribed(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """Announced sightings arrive as they come; a late direction re-sends the same id."""
    client = await hass_ws_client(hass)
    subscription, result = await _subscribe(client)
    assert result["success"], result
    initial = await _next(client)
    assert initial["event"] == {"initial": True, "sightings": []}
    hub = init_folder.runtime_data.hub

    sighting = await _record(hass, init_folder, "AE1234BK", NOW)
    hub.async_publish(sighting)
    pushed = await _next(client)
    assert pushed["id"] == subscription
    assert "initial" not in pushed["event"]
    assert [s["plate"] for s in pushed["event"]["sightings"]] == ["AE1234BK"]
    # Not on the camera map: named by its id.
    assert pushed["event"]["sightings"][0]["camera_name"] == "exit_kyiv_road"
    assert pushed["event"]["sightings"][0]["direction"] == "unknown"

    updated = await hass.async_add_executor_job(
        init_folder.runtime_data.store.get, sighting.id
    )
    assert updated is not None
    hub.async_publish(replace(updated, direction=Direction.RECEDING))
    again = (await _next(client))["event"]["sightings"][0]
    assert again["sighting_id"] == sighting.id
    assert again["direction"] == "receding"

    await client.send_json_auto_id(
        {"type": "unsubscribe_events", "subscription": subscription}
    )
    assert (await _next(client))["success"]
    hub.async_publish(await _record(hass, init_folder, "KA0001AA", NOW))
    await hass.async_block_till_done()
    # Nothing more for the old subscription: the next message answers a new command.
    await client.send_json_auto_id({"type": "ping"})
    assert (await _next(client))["type"] == "pong"


async def test_feed_refuses_a_bad_limit_and_a_missing_hub(
    hass: HomeAssistant,
    folder_entry: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """A limit out of range is refused; without a loaded hub the error says so."""
    folder_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    client = await hass_ws_client(hass)

    for limit in (0, 101, "many"):
        _, result = await _subscribe(client, limit=limit)
        assert not result["success"]
        assert result["error"]["code"] == "invalid_format"

    await hass.config_entries.async_unload(folder_entry.entry_id)
    await hass.async_block_till_done()
    _, result = await _subscribe(client)
    assert not result["success"]
    assert result["error"]["code"] == "not_loaded"


async def test_feed_refused_while_the_database_fails_and_then_checked(
    hass: HomeAssistant,
    folder_entry: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A first page the database cannot read is a clear refusal, and damage gets a check.

    The card shows the refusal and subscribes again later; by then a reload
    has checked the file (here it is sound, so it is kept) and the feed works.
    """
    folder_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    await _record(hass, folder_entry, "AE1234BK", NOW, crop=False)
    store = folder_entry.runtime_data.store

    def damaged(query: object) -> None:
        err = sqlite3.DatabaseError("database disk image is malformed")
        err.sqlite_errorcode = sqlite3.SQLITE_CORRUPT  # type: ignore[attr-defined]
        raise err

    monkeypatch.setattr(store, "search", damaged)
    client = await hass_ws_client(hass)
    _, result = await _subscribe(client)
    assert not result["success"]
    assert result["error"]["code"] == "store_failed"
    assert "malformed" in result["error"]["message"]
    await hass.async_block_till_done()

    assert folder_entry.runtime_data.store is not store, "reloaded to check the file"
    _, result = await _subscribe(client)
    assert result["success"]
    first = await _next(client)
    assert first["event"]["initial"] is True
    assert [one["plate"] for one in first["event"]["sightings"]] == ["AE1234BK"]


async def test_card_is_served_and_loaded_by_the_frontend(
    hass: HomeAssistant,
    folder_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    """With the frontend, the card's module is served and listed for every page to load."""
    assert await async_setup_component(hass, "frontend", {})
    folder_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()

    urls = [
        url for url in hass.data[DATA_EXTRA_MODULE_URL].urls if url.startswith(CARD_URL)
    ]
    assert len(urls) == 1
    assert urls[0].startswith(f"{CARD_URL}?v=")
    client = await hass_client()
    response = await client.get(urls[0])
    assert response.status == 200
    body = await response.text()
    assert body == CARD_FILE.read_text(encoding="utf-8")
    assert 'customElements.define("plate-tracker-card"' in body
    await hass.config_entries.async_unload(folder_entry.entry_id)


async def test_no_card_without_the_frontend(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    """A headless Home Assistant gets no card route (and no error)."""
    assert DATA_EXTRA_MODULE_URL not in hass.data
    client = await hass_client()
    response = await client.get(CARD_URL)
    assert response.status == 404


async def test_feed_closed_while_the_store_is_read_leaves_no_listener(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A dashboard closed while its first page is read must not leave the feed running.

    Phones and tablets drop their websocket all the time; on a slow disk each drop
    during the first read would otherwise leave a listener behind for good, signing
    links for every sighting to a connection that is gone, until Home Assistant stops.
    """
    store = init_folder.runtime_data.store
    reading = threading.Event()
    release = threading.Event()
    search = store.search

    def slow_search(query: SearchQuery) -> Any:
        reading.set()
        release.wait(10)
        return search(query)

    monkeypatch.setattr(store, "search", slow_search)
    closed = asyncio.Event()
    async_dispatcher_connect(hass, SIGNAL_WEBSOCKET_DISCONNECTED, closed.set)
    client = await hass_ws_client(hass)
    await client.send_json_auto_id({"type": "plate_tracker/sightings/subscribe"})
    assert await hass.async_add_executor_job(reading.wait, 10)

    await client.close()
    async with asyncio.timeout(10):
        await closed.wait()
    release.set()
    await hass.async_block_till_done()

    signal = init_folder.runtime_data.hub.signal(SIGNAL_SIGHTING)
    feeds = [
        target
        for target in hass.data[DATA_DISPATCHER].get(signal, {})
        if "ws_subscribe_sightings" in getattr(target, "__qualname__", "")
    ]
    assert feeds == []


async def test_feed_drops_sightings_a_purge_erased(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """An erased plate must leave the dashboards that show it, not linger until a reload.

    A purge (an erasure request, or retention) removes sightings for good; the card on
    the control room's wall must not keep showing them. The feed sends the list again,
    as a first message, so the card replaces what it shows.
    """
    client = await hass_ws_client(hass)
    subscription, result = await _subscribe(client)
    assert result["success"], result
    assert (await _next(client))["event"]["sightings"] == []
    hub = init_folder.runtime_data.hub
    for minutes, plate in enumerate(("AE1234BK", "KA0001AA")):
        hub.async_publish(
            await _record(hass, init_folder, plate, NOW + timedelta(minutes=minutes))
        )
        assert (await _next(client))["event"]["sightings"][0]["plate"] == plate

    await hass.services.async_call(
        "plate_tracker",
        "purge_sightings",
        {"plate": "AE1234BK", "reason": "Erasure request 17"},
        blocking=True,
        return_response=True,
    )

    refreshed = await _next(client)
    assert refreshed["id"] == subscription
    assert refreshed["event"]["initial"] is True
    assert [one["plate"] for one in refreshed["event"]["sightings"]] == ["KA0001AA"]


async def test_feed_purged_while_the_first_list_is_read(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A purge during the first read may come after that read's snapshot: the list comes again."""
    hub = init_folder.runtime_data.hub
    hub.async_publish(await _record(hass, init_folder, "AE1234BK", NOW))
    store = init_folder.runtime_data.store
    reading = threading.Event()
    release = threading.Event()
    search = store.search

    def slow_search(query: SearchQuery) -> Any:
        page = search(query)
        if not reading.is_set():
            reading.set()
            release.wait(10)
        return page

    monkeypatch.setattr(store, "search", slow_search)
    client = await hass_ws_client(hass)
    await client.send_json_auto_id({"type": "plate_tracker/sightings/subscribe"})
    assert await hass.async_add_executor_job(reading.wait, 10)
    await hass.services.async_call(
        "plate_tracker",
        "purge_sightings",
        {"plate": "AE1234BK", "reason": "Erasure request 18"},
        blocking=True,
        return_response=True,
    )
    release.set()

    assert (await _next(client))["success"]
    first = await _next(client)
    assert [one["plate"] for one in first["event"]["sightings"]] == ["AE1234BK"]
    again = await _next(client)
    assert again["event"] == {"initial": True, "sightings": []}
