"""Device trackers: each watchlisted vehicle, placed at the camera that saw it last.

The map card draws the vehicle's route from the tracker's history; zones are
computed by Home Assistant from the coordinates.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.device_tracker import SourceType, TrackerEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import PlateTrackerConfigEntry
from .records import WatchlistEntry
from .routes import (
    VEHICLE_LOCATION_ACCURACY,
    RouteTracker,
    WatchlistVehicleEntity,
    async_track_watchlist_vehicles,
)

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: PlateTrackerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a tracker per watchlisted vehicle, following the watchlist."""

    def tracker_for(
        tracker: RouteTracker, listed: WatchlistEntry
    ) -> VehicleTrackerEntity:
        return VehicleTrackerEntity(entry, tracker, listed, "location")

    async_track_watchlist_vehicles(hass, entry, async_add_entities, tracker_for)


class VehicleTrackerEntity(WatchlistVehicleEntity, TrackerEntity):
    """Where a watchlisted vehicle was last seen: the location of that camera."""

    _attr_translation_key = "vehicle"
    _attr_source_type = SourceType.GPS
    _attr_location_accuracy = VEHICLE_LOCATION_ACCURACY

    @callback
    def _show(self) -> None:
        """Stand at the last camera; unknown when it is not on the map."""
        found = self.whereabouts
        last = found.last if found else None
        self._attr_latitude = last.latitude if last else None
        self._attr_longitude = last.longitude if last else None
        attributes: dict[str, Any] = {
            "plate": self._listed.plate,
            "entry_id": self.listed_id,
            "camera": last.camera if last else None,
            "camera_name": last.camera_name if last else None,
            "seen_at": last.seen_at.isoformat() if last else None,
            "direction": last.direction.value if last else None,
            "city_status": found.status.state.value if found else None,
        }
        self._attr_extra_state_attributes = attributes
