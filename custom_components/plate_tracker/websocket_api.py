"""Websocket commands of the dashboard card: a live feed of the latest sightings.

The card subscribes once and gets the latest sightings, then every new (or
re-announced: a direction learned late) sighting as it is stored, without
polling. Searches and routes go through the audited services instead.
"""

from __future__ import annotations

from collections.abc import Sequence
import sqlite3
from typing import Any

from homeassistant.components import websocket_api
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
import voluptuous as vol

from .const import DOMAIN, SIGNAL_SIGHTING, SIGNAL_SIGHTINGS_REMOVED
from .coordinator import PlateTrackerConfigEntry, loaded_hub, sighting_with_links
from .database import async_store_failed
from .records import Sighting
from .store import SearchQuery

WS_SUBSCRIBE_SIGHTINGS = f"{DOMAIN}/sightings/subscribe"
DEFAULT_FEED_SIZE = 20
MAX_FEED_SIZE = 100


@callback
def async_register_websocket_commands(hass: HomeAssistant) -> None:
    """Register the card's commands (once, when the integration is set up)."""
    websocket_api.async_register_command(hass, ws_subscribe_sightings)


@websocket_api.websocket_command(
    {
        vol.Required("type"): WS_SUBSCRIBE_SIGHTINGS,
        vol.Optional("limit", default=DEFAULT_FEED_SIZE): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=MAX_FEED_SIZE)
        ),
    }
)
@websocket_api.async_response
async def ws_subscribe_sightings(
    hass: HomeAssistant,
    connection: websocket_api.ActiveConnection,
    msg: dict[str, Any],
) -> None:
    """Send the latest sightings, newest first, then each sighting as it is announced.

    Every message is ``{"sightings": [...]}`` in the services' form (signed image
    links and the camera's name included); the first one also has ``"initial": true``. A sighting
    announced again (a direction learned at the end of a pass) comes again with
    the same ``sighting_id``. The subscription is made before the store is read,
    so nothing stored in between is missed (what is announced meanwhile follows
    the first message); a sighting may then come twice. After a purge the list
    comes again, with ``"initial": true``, without what was erased (empty when
    the store fails to read it). A database
    that fails to read refuses the subscription (``store_failed``) and, when
    damaged, gets its file checked; the card shows the error and asks again later.
    """
    entry = loaded_hub(hass)
    if entry is None:
        connection.send_error(
            msg["id"], "not_loaded", "Plate Tracker is not set up or not loaded"
        )
        return
    hub = entry.runtime_data.hub
    waiting: list[Sighting] | None = []
    purged_while_reading = False
    # Per purge being answered: what was announced since its read of the store began.
    rereads: list[list[Sighting]] = []

    def send(sightings: Sequence[Sighting], *, initial: bool = False) -> None:
        # The entry is looked up per message: a reload replaces its runtime data
        # (and the link signer) but keeps its id, so the signal stays the same.
        if (current := loaded_hub(hass)) is None:
            return
        event: dict[str, Any] = {
            "sightings": [sighting_with_links(current, one) for one in sightings]
        }
        if initial:
            event["initial"] = True
        connection.send_message(websocket_api.event_message(msg["id"], event))

    @callback
    def forward(sighting: Sighting) -> None:
        for announced in rereads:
            announced.append(sighting)
        if waiting is not None:
            waiting.append(sighting)
        else:
            send([sighting])

    async def read_page(current: PlateTrackerConfigEntry) -> tuple[Sighting, ...]:
        # A database that fails to read gets its file checked when damaged; the
        # error is raised on, for the caller to refuse or skip the list.
        try:
            page = await hass.async_add_executor_job(
                current.runtime_data.store.search, SearchQuery(page_size=msg["limit"])
            )
        except sqlite3.Error as err:
            async_store_failed(hass, current.entry_id, err)
            raise
        return page.sightings

    async def send_after_purge() -> None:
        # The whole list again, so the card drops what was erased; what is announced
        # while the store is read is sent again after it, or the list would hide it.
        if (current := loaded_hub(hass)) is None:
            return
        announced: list[Sighting] = []
        rereads.append(announced)
        try:
            sightings = await read_page(current)
        except sqlite3.Error:
            # The card must not keep showing what was erased: an empty list, then
            # what is announced from now on. Sent as it is: the entry is
            # reloading to check the file, and has no link signer meanwhile.
            if msg["id"] in connection.subscriptions:
                connection.send_message(
                    websocket_api.event_message(
                        msg["id"], {"sightings": [], "initial": True}
                    )
                )
            return
        finally:
            rereads.remove(announced)
        if msg["id"] in connection.subscriptions:
            send(sightings, initial=True)
            if announced:
                send(announced)

    @callback
    def purged() -> None:
        nonlocal purged_while_reading
        if waiting is not None:
            # The first list may have been read before the purge: read again after it.
            purged_while_reading = True
            return
        hass.async_create_background_task(
            send_after_purge(), f"{WS_SUBSCRIBE_SIGHTINGS} after a purge"
        )

    unsubscribers = [
        async_dispatcher_connect(hass, hub.signal(SIGNAL_SIGHTING), forward),
        async_dispatcher_connect(hass, hub.signal(SIGNAL_SIGHTINGS_REMOVED), purged),
    ]

    @callback
    def unsubscribe() -> None:
        for unsubscribe_one in unsubscribers:
            unsubscribe_one()

    # Registered before the store is read: a connection closed meanwhile ends it.
    connection.subscriptions[msg["id"]] = unsubscribe
    try:
        sightings = await read_page(entry)
    except sqlite3.Error as err:
        if connection.subscriptions.pop(msg["id"], None) is not None:
            unsubscribe()
        connection.send_error(
            msg["id"], "store_failed", f"The sightings database failed: {err}"
        )
        return
    connection.send_result(msg["id"])
    send(sightings, initial=True)
    pending = waiting if waiting is not None else []
    waiting = None
    for sighting in pending:
        send([sighting])
    if purged_while_reading:
        purged()
