"""The dashboard feed when the list it sends again after a purge cannot be read."""

from __future__ import annotations

import sqlite3

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from .helpers import wait_until
from .test_dashboard_card import NOW, _next, _record, _subscribe


async def test_feed_reread_after_a_purge_meeting_damage_gets_the_file_checked(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Damage met while the list is read again after a purge is handled as on the first read.

    The file is checked (the entry reloads), the list is emptied rather than left
    showing erased plates, and the card's feed goes on: what is stored after the
    reload still reaches the control room's wall.
    """
    client = await hass_ws_client(hass)
    subscription, result = await _subscribe(client)
    assert result["success"], result
    assert (await _next(client))["event"]["sightings"] == []
    hub = init_folder.runtime_data.hub
    hub.async_publish(await _record(hass, init_folder, "AE1234BK", NOW))
    assert (await _next(client))["event"]["sightings"][0]["plate"] == "AE1234BK"
    store = init_folder.runtime_data.store

    def damaged(query: object) -> None:
        err = sqlite3.DatabaseError("database disk image is malformed")
        err.sqlite_errorcode = sqlite3.SQLITE_CORRUPT  # type: ignore[attr-defined]
        raise err

    monkeypatch.setattr(store, "search", damaged)
    await hass.services.async_call(
        "plate_tracker",
        "purge_sightings",
        {"plate": "AE1234BK", "reason": "Erasure request 19"},
        blocking=True,
        return_response=True,
    )
    # The list is read again in a background task; the reload it asks for checks the file.
    await wait_until(
        lambda: (
            init_folder.state is ConfigEntryState.LOADED
            and init_folder.runtime_data.store is not store
        )
    )
    await hass.async_block_till_done()

    # The erased plate must not stay on the wall: unable to read the list again,
    # the feed empties it rather than keep showing what the purge erased.
    message = await _next(client)
    assert message["id"] == subscription
    assert message["event"] == {"sightings": [], "initial": True}

    init_folder.runtime_data.hub.async_publish(
        await _record(hass, init_folder, "KA0001AA", NOW)
    )
    message = await _next(client)
    assert message["id"] == subscription
    assert [one["plate"] for one in message["event"]["sightings"]] == ["KA0001AA"]
