"""A watchlist entry's long label or reason does not make its entities' attributes unrecordable."""

from __future__ import annotations

from homeassistant.components.recorder.db_schema import MAX_STATE_ATTRS_BYTES
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.json import json_bytes
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.plate_tracker.const import DOMAIN
from custom_components.plate_tracker.records import WatchlistEntry

LONG_LABEL = "Stolen from the depot on Kyivska street, " * 20
LONG_REASON = "Case 2026/1187: " + "witness statement pasted from the case file. " * 400


async def test_a_long_imported_reason_keeps_the_attributes_recordable(
    hass: HomeAssistant, init_folder: MockConfigEntry
) -> None:
    """An entry with a case file pasted into its reason keeps it whole.

    Earlier releases imported such spreadsheet rows (CSV import now refuses a
    label over 200 or a reason over 500 characters, as watchlist_add does),
    so a database may hold them. Their sensors showed them whole too: over
    the recorder's 16 KiB the recorder stores none of the state's attributes
    (not when, where or how the wanted car was last seen), and a long label
    made the name as long. What is shown is cut to the lengths watchlist_add
    accepts; the entry keeps it all.
    """
    await hass.async_add_executor_job(
        init_folder.runtime_data.store.watchlist_add,
        WatchlistEntry(
            id=None, plate="AE1234BK", label=LONG_LABEL, reason=LONG_REASON.strip()
        ),
    )
    await init_folder.runtime_data.alerts.async_reload_watchlist()
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
