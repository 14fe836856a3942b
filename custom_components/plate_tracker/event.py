"""Event entities: each camera fires ``plate_read`` per sighting and ``watchlist_hit`` per alert."""

from __future__ import annotations

from typing import Any

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import EVENT_TYPE_PLATE_READ, EVENT_TYPE_WATCHLIST_HIT, SIGNAL_WATCHLIST_HIT
from .coordinator import PlateTrackerConfigEntry, sighting_payload
from .entity import PlateTrackerCameraEntity, async_add_camera_entities
from .records import Sighting

PARALLEL_UPDATES = 0

PLATE_EVENT = EventEntityDescription(
    key="plate",
    translation_key="plate",
    event_types=[EVENT_TYPE_PLATE_READ, EVENT_TYPE_WATCHLIST_HIT],
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: PlateTrackerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add an event entity per camera."""
    async_add_camera_entities(
        hass,
        entry,
        async_add_entities,
        lambda camera: [PlateEventEntity(entry, camera, PLATE_EVENT)],
    )


class PlateEventEntity(PlateTrackerCameraEntity, EventEntity):
    """Fires once per published sighting of its camera."""

    async def async_added_to_hass(self) -> None:
        """Also listen for watchlist hits at this camera."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass, self._hub.signal(SIGNAL_WATCHLIST_HIT), self._watchlist_hit
            )
        )

    @callback
    def handle_sighting(self, sighting: Sighting) -> None:
        """Fire ``plate_read`` with the sighting as event attributes."""
        self._trigger_event(EVENT_TYPE_PLATE_READ, sighting_payload(sighting))

    @callback
    def _watchlist_hit(
        self,
        entry_id: int,  # noqa: ARG002 - the signal names the watchlist entry; cameras do not need it
        camera: str,
        payload: dict[str, Any] | None,
    ) -> None:
        """Fire ``watchlist_hit`` with the alert's data (only for hits that alert)."""
        if camera == self.camera and payload is not None:
            self._trigger_event(EVENT_TYPE_WATCHLIST_HIT, payload)
            self.async_write_ha_state()
