"""The dashboard feed's subscription lives exactly as long as the card's websocket wants it.

Wall dashboards stay subscribed for weeks: a listener left behind by each
unsubscribe, dropped connection or reload would pile up and sign links for a
card that is gone; a feed that stops following the hub leaves the wall frozen
with no error to show.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from homeassistant.components.websocket_api.const import SIGNAL_WEBSOCKET_DISCONNECTED
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.helpers.dispatcher import DATA_DISPATCHER, async_dispatcher_connect
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.plate_tracker.const import (
    CONF_INBOX,
    CONF_SOURCE,
    DOMAIN,
    SIGNAL_SIGHTING,
    SIGNAL_SIGHTINGS_REMOVED,
    SOURCE_FOLDER,
    SUBENTRY_SOURCE,
)

from .test_dashboard_card import NOW, _next, _record, _subscribe

FEED_SIGNALS = (SIGNAL_SIGHTING, SIGNAL_SIGHTINGS_REMOVED)

CARD_FIELDS = {
    "sighting_id",
    "plate",
    "camera",
    "camera_name",
    "seen_at",
    "direction",
    "confidence",
    "crop_url",
}
"""What plate-tracker-card.js reads from a feed sighting (its ``_receive`` and ``_row``)."""


def _feed_listeners(hass: HomeAssistant, entry_id: str) -> int:
    """Count the feed's callbacks connected to an entry's signals."""
    return sum(
        1
        for template in FEED_SIGNALS
        for target in hass.data.get(DATA_DISPATCHER, {}).get(
            template.format(entry_id=entry_id), {}
        )
        if "ws_subscribe_sightings" in getattr(target, "__qualname__", "")
    )


def _another_hub(inbox: Path) -> MockConfigEntry:
    """Return the hub as set up again after being deleted: a new entry, the same inbox."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Plate Tracker",
        data={},
        options={"min_confidence": 0.5},
        subentries_data=[
            ConfigSubentryData(
                subentry_type=SUBENTRY_SOURCE,
                title="Inbox plate_inbox",
                unique_id=f"folder:{inbox}",
                data={CONF_SOURCE: SOURCE_FOLDER, CONF_INBOX: "plate_inbox"},
            )
        ],
    )


async def test_unsubscribe_disconnects_every_listener(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """Unsubscribing leaves nothing connected: the card subscribes anew at each limit change."""
    client = await hass_ws_client(hass)
    subscriptions = []
    for _ in range(3):
        subscription, result = await _subscribe(client)
        assert result["success"], result
        await _next(client)
        subscriptions.append(subscription)
    assert _feed_listeners(hass, init_folder.entry_id) == 3 * len(FEED_SIGNALS)

    for subscription in subscriptions:
        await client.send_json_auto_id(
            {"type": "unsubscribe_events", "subscription": subscription}
        )
        assert (await _next(client))["success"]
    assert _feed_listeners(hass, init_folder.entry_id) == 0


async def test_a_dropped_connection_ends_the_feed_quietly(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A tablet that drops its socket leaves no listener, and what comes next logs no error."""
    client = await hass_ws_client(hass)
    _, result = await _subscribe(client)
    assert result["success"], result
    await _next(client)
    closed = asyncio.Event()
    async_dispatcher_connect(hass, SIGNAL_WEBSOCKET_DISCONNECTED, closed.set)

    await client.close()
    async with asyncio.timeout(10):
        await closed.wait()
    assert _feed_listeners(hass, init_folder.entry_id) == 0

    with caplog.at_level(logging.WARNING):
        init_folder.runtime_data.hub.async_publish(
            await _record(hass, init_folder, "AE1234BK", NOW)
        )
        await hass.services.async_call(
            DOMAIN,
            "purge_sightings",
            {"plate": "AE1234BK", "reason": "Erasure request 21"},
            blocking=True,
            return_response=True,
        )
        await hass.async_block_till_done()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_the_feed_goes_on_across_a_reload_without_doubling(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """A reload (options saved, a damaged file checked) keeps the wall's feed, once."""
    client = await hass_ws_client(hass)
    subscription, result = await _subscribe(client)
    assert result["success"], result
    await _next(client)

    for _ in range(2):
        assert await hass.config_entries.async_reload(init_folder.entry_id)
        await hass.async_block_till_done()
    assert _feed_listeners(hass, init_folder.entry_id) == len(FEED_SIGNALS)

    init_folder.runtime_data.hub.async_publish(
        await _record(hass, init_folder, "AE1234BK", NOW)
    )
    message = await _next(client)
    assert message["id"] == subscription
    assert [one["plate"] for one in message["event"]["sightings"]] == ["AE1234BK"]
    # Signed by the new runtime data's signer: the link opens.
    assert "&sig=" in message["event"]["sightings"][0]["crop_url"]
    await client.send_json_auto_id({"type": "ping"})
    assert (await _next(client))["type"] == "pong", "one message per sighting"


async def test_the_feed_follows_the_hub_deleted_and_set_up_again(
    hass: HomeAssistant,
    folder_entry: MockConfigEntry,
    inbox: Path,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """A hub deleted and added again (a new entry id) still reaches the wall's open feed.

    The deleted entry's signals are never sent again: listening to them left the
    card subscribed, without an error, to a feed that would never say anything,
    and kept those listeners until the wall's browser reloaded.
    """
    folder_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    await _record(hass, folder_entry, "AE1234BK", NOW)
    client = await hass_ws_client(hass)
    subscription, result = await _subscribe(client)
    assert result["success"], result
    await _next(client)
    old_entry_id = folder_entry.entry_id

    assert (await hass.config_entries.async_remove(old_entry_id))[
        "require_restart"
    ] is False
    await hass.async_block_till_done()
    assert _feed_listeners(hass, old_entry_id) == 0

    new_hub = _another_hub(inbox)
    new_hub.add_to_hass(hass)
    assert await hass.config_entries.async_setup(new_hub.entry_id)
    await hass.async_block_till_done()
    assert _feed_listeners(hass, new_hub.entry_id) == len(FEED_SIGNALS)
    # The list again from the new hub's store (the database outlives the entry).
    listed = await _next(client)
    assert listed["id"] == subscription
    assert listed["event"]["initial"] is True
    assert [one["plate"] for one in listed["event"]["sightings"]] == ["AE1234BK"]

    new_hub.runtime_data.hub.async_publish(
        await _record(hass, new_hub, "KA0001AA", NOW)
    )
    message = await _next(client)
    assert message["id"] == subscription
    assert [one["plate"] for one in message["event"]["sightings"]] == ["KA0001AA"]
    assert await hass.config_entries.async_unload(new_hub.entry_id)


async def test_a_read_only_user_gets_the_feed_with_only_what_the_card_shows(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
    hass_read_only_access_token: str,
) -> None:
    """A wall dashboard's non-admin user gets the live list, and no more than the card shows.

    Not the full scene's signed snapshot link, the reader's other guesses, the
    plate's box, the legal hold or the NVR's event id: those are for
    administrators' audited searches.
    """
    sighting = await _record(hass, init_folder, "AE1234BK", NOW)
    client = await hass_ws_client(hass, hass_read_only_access_token)
    _, result = await _subscribe(client)
    assert result["success"], result
    first = (await _next(client))["event"]["sightings"]
    init_folder.runtime_data.hub.async_publish(sighting)
    pushed = (await _next(client))["event"]["sightings"]

    for shown in (first, pushed):
        assert [one["plate"] for one in shown] == ["AE1234BK"]
        assert set(shown[0]) == CARD_FIELDS
        assert shown[0]["sighting_id"] == sighting.id
        assert "&sig=" in shown[0]["crop_url"]


async def test_the_feed_refuses_unknown_fields(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """A cursor, a page or a plate filter is not part of the feed: a clear refusal."""
    client = await hass_ws_client(hass)
    bad: list[dict[str, Any]] = [
        {"cursor": "abc"},
        {"page_size": 50},
        {"plate": "AE1234BK"},
        {"limit": None},
        {"limit": -5},
        {"limit": 10**30},
    ]
    for extra in bad:
        _, result = await _subscribe(client, **extra)
        assert not result["success"], extra
        assert result["error"]["code"] == "invalid_format", extra
    assert _feed_listeners(hass, init_folder.entry_id) == 0
