"""Websocket commands of the dashboard card: a live feed of the latest sightings.

The card subscribes once and gets the latest sightings, then every new (or
re-announced: a direction learned late) sighting as it is stored, without
polling. Searches and routes go through the audited services instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import sqlite3
from typing import Any

from homeassistant.components import websocket_api
from homeassistant.config_entries import (
    SIGNAL_CONFIG_ENTRY_CHANGED,
    ConfigEntry,
    ConfigEntryChange,
    ConfigEntryState,
)
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
import voluptuous as vol

from .const import DOMAIN, SIGNAL_SIGHTING, SIGNAL_SIGHTINGS_REMOVED
from .coordinator import PlateTrackerConfigEntry, loaded_hub
from .database import async_store_failed
from .records import Sighting
from .store import SearchQuery

WS_SUBSCRIBE_SIGHTINGS = f"{DOMAIN}/sightings/subscribe"
DEFAULT_FEED_SIZE = 20
MAX_FEED_SIZE = 100


def card_sighting(entry: PlateTrackerConfigEntry, sighting: Sighting) -> dict[str, Any]:
    """Return a sighting with what the card's live list shows, and nothing more.

    The feed is open to every user (wall dashboards run as non-admin users), so
    it shows what the cameras' ``last_plate`` sensors show, with the signed link
    of the plate's crop: not the scene's snapshot, the reader's other guesses,
    the legal hold or the NVR's event id, which the audited services give
    administrators.
    """
    alerts = entry.runtime_data.alerts
    return {
        "sighting_id": sighting.id,
        "plate": sighting.plate,
        "camera": sighting.camera,
        "camera_name": alerts.camera_names.get(sighting.camera, sighting.camera),
        "seen_at": sighting.seen_at.isoformat(),
        "direction": sighting.direction.value,
        "confidence": round(sighting.confidence, 4),
        "crop_url": alerts.image_url(sighting.id, "crop")
        if sighting.has_crop
        else None,
    }


class _HubFollower:
    """Connects a feed to the signals of the loaded hub, whichever entry it is.

    A reload keeps the entry's id, and so its signals. A hub deleted and set up
    again is a new entry: the deleted one's signals are never sent again, and a
    feed left on them would leave the wall's card subscribed to silence, with
    its callbacks kept until the card's browser goes.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        forward: Callable[[Sighting], None],
        list_again: Callable[[], None],
    ) -> None:
        """Call ``forward`` per sighting announced, ``list_again`` after a purge or a new hub."""
        self._hass = hass
        self._forward = forward
        self._list_again = list_again
        self._entry_id: str | None = None
        self._listeners: list[CALLBACK_TYPE] = []
        self._stop_watching_entries = async_dispatcher_connect(
            hass, SIGNAL_CONFIG_ENTRY_CHANGED, self._entry_changed
        )

    @callback
    def follow(self, entry: PlateTrackerConfigEntry) -> None:
        """Listen to the signals of this (loaded) entry's hub instead."""
        self._stop_listening()
        self._entry_id = entry.entry_id
        hub = entry.runtime_data.hub
        self._listeners = [
            async_dispatcher_connect(
                self._hass, hub.signal(SIGNAL_SIGHTING), self._forward
            ),
            async_dispatcher_connect(
                self._hass, hub.signal(SIGNAL_SIGHTINGS_REMOVED), self._list_again
            ),
        ]

    @callback
    def stop(self) -> None:
        """End the feed: nothing of it stays connected."""
        self._stop_watching_entries()
        self._stop_listening()

    @callback
    def _stop_listening(self) -> None:
        self._entry_id = None
        while self._listeners:
            self._listeners.pop()()

    @callback
    def _entry_changed(self, change: ConfigEntryChange, entry: ConfigEntry) -> None:
        if entry.domain != DOMAIN:
            return
        if change is ConfigEntryChange.REMOVED and entry.entry_id == self._entry_id:
            self._stop_listening()
        elif (
            entry.state is ConfigEntryState.LOADED and entry.entry_id != self._entry_id
        ):
            # The hub set up again: the list from its store first, then its sightings.
            self.follow(entry)
            self._list_again()


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

    Every message is ``{"sightings": [...]}`` in the form of ``card_sighting``
    (the crop's signed link and the camera's name included); the first one also
    has ``"initial": true``. A sighting
    announced again (a direction learned at the end of a pass) comes again with
    the same ``sighting_id``. The subscription is made before the store is read,
    so nothing stored in between is missed (what is announced meanwhile follows
    the first message); a sighting may then come twice. After a purge the list
    comes again, with ``"initial": true``, without what was erased (empty when
    the store fails to read it), and so after the hub was deleted and set up
    again (a new entry, whose signals the feed then follows). A database
    that fails to read refuses the subscription (``store_failed``) and, when
    damaged, gets its file checked; the card shows the error and asks again later.
    """
    entry = loaded_hub(hass)
    if entry is None:
        connection.send_error(
            msg["id"], "not_loaded", "Plate Tracker is not set up or not loaded"
        )
        return
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
            "sightings": [card_sighting(current, one) for one in sightings]
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

    async def send_list_again() -> None:
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
            send_list_again(), f"{WS_SUBSCRIBE_SIGHTINGS} list again"
        )

    follower = _HubFollower(hass, forward, purged)
    follower.follow(entry)

    # Registered before the store is read: a connection closed meanwhile ends it.
    connection.subscriptions[msg["id"]] = follower.stop
    try:
        sightings = await read_page(entry)
    except sqlite3.Error as err:
        if connection.subscriptions.pop(msg["id"], None) is not None:
            follower.stop()
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
