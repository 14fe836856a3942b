"""Event entities: each camera fires ``plate_read`` with the sighting."""

from __future__ import annotations

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import EVENT_TYPE_PLATE_READ
from .coordinator import PlateTrackerConfigEntry, sighting_payload
from .entity import PlateTrackerCameraEntity, async_add_camera_entities
from .records import Sighting

PARALLEL_UPDATES = 0

PLATE_EVENT = EventEntityDescription(
    key="plate",
    translation_key="plate",
    event_types=[EVENT_TYPE_PLATE_READ],
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

    @callback
    def handle_sighting(self, sighting: Sighting) -> None:
        """Fire ``plate_read`` with the sighting as event attributes."""
        self._trigger_event(EVENT_TYPE_PLATE_READ, sighting_payload(sighting))
