"""A watchlist entry's long label or reason does not make its entities' attributes unrecordable."""

from __future__ import annotations

from homeassistant.auth.models import User
from homeassistant.components.recorder.db_schema import MAX_STATE_ATTRS_BYTES
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.json import json_bytes
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.plate_tracker.const import DOMAIN

LONG_LABEL = "Stolen from the depot on Kyivska street, " * 20
LONG_REASON = "Case 2026/1187: " + "witness statement pasted from the case file. " * 400


async def test_a_long_imported_reason_keeps_the_attributes_recordable(
    hass: HomeAssistant, init_folder: MockConfigEntry, hass_admin_user: User
) -> None:
    """A spreadsheet row with a case file pasted into its reason is imported whole.

    Its sensors showed it whole too: over the recorder's 16 KiB the recorder
    stores none of the state's attributes (not when, where or how the wanted
    car was last seen), and a long label made the name as long. What is
    shown is cut to the lengths watchlist_add accepts; the entry keeps it all.
    """
    await hass.services.async_call(
        DOMAIN,
        "watchlist_import",
        {"csv": f'plate,label,reason\nAE1234BK,"{LONG_LABEL}","{LONG_REASON}"\n'},
        blocking=True,
        context=Context(user_id=hass_admin_user.id),
        return_response=True,
    )
    await hass.async_block_till_done()
    (listed,) = init_folder.runtime_data.alerts.entries
    assert listed.reason == LONG_REASON.strip()

    registry = er.async_get(hass)
    watchlist_entities = [
        registered.entity_id
        for registered in er.async_entries_for_config_entry(
            registry, init_folder.entry_id
        )
        if registered.unique_id.startswith(
            f"{init_folder.entry_id}_watchlist_{listed.id}"
        )
    ]
    assert len(watchlist_entities) == 3
    for entity_id in watchlist_entities:
        state = hass.states.get(entity_id)
        assert state is not None
        assert len(json_bytes(dict(state.attributes))) < MAX_STATE_ATTRS_BYTES
        assert len(state.attributes["friendly_name"]) < 300
    last_seen_id = registry.async_get_entity_id(
        "sensor", DOMAIN, f"{init_folder.entry_id}_watchlist_{listed.id}"
    )
    assert last_seen_id is not None
    last_seen = hass.states.get(last_seen_id)
    assert last_seen is not None
    shown = last_seen.attributes["reason"]
    assert shown.endswith("…")
    assert LONG_REASON.startswith(shown.removesuffix("…"))
    assert last_seen.attributes["listed_plate"] == "AE1234BK"
