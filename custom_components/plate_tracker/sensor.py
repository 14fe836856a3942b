"""Sensors: each camera's last plate, and the engine's health counters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from homeassistant.components.sensor import (
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfTime
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import PlateTrackerConfigEntry, PlateTrackerRuntimeData
from .entity import (
    PlateTrackerCameraEntity,
    async_add_camera_entities,
    engine_device_info,
)
from .records import Sighting

PARALLEL_UPDATES = 0
# Health counters live in memory; reading them is free, so poll them.
SCAN_INTERVAL = timedelta(seconds=30)

LAST_PLATE = SensorEntityDescription(key="last_plate", translation_key="last_plate")


@dataclass(frozen=True, kw_only=True)
class EngineSensorEntityDescription(SensorEntityDescription):
    """A health counter of the entry's pipeline or source."""

    value_fn: Callable[[PlateTrackerRuntimeData], float | int | None]


ENGINE_SENSORS: tuple[EngineSensorEntityDescription, ...] = (
    EngineSensorEntityDescription(
        key="frames_read",
        translation_key="frames_read",
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=lambda data: data.pipeline.counters.frames_read,
    ),
    EngineSensorEntityDescription(
        key="frames_dropped",
        translation_key="frames_dropped",
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=lambda data: data.pipeline.counters.frames_dropped,
    ),
    EngineSensorEntityDescription(
        key="frames_rejected",
        translation_key="frames_rejected",
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=lambda data: data.pipeline.counters.frames_rejected,
    ),
    EngineSensorEntityDescription(
        key="messages_malformed",
        translation_key="messages_malformed",
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=lambda data: data.source_counters["mqtt_malformed"],
    ),
    EngineSensorEntityDescription(
        key="sightings_recorded",
        translation_key="sightings_recorded",
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=lambda data: data.pipeline.counters.sightings_recorded,
    ),
    EngineSensorEntityDescription(
        key="queue_depth",
        translation_key="queue_depth",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda data: data.pipeline.queue_depth,
    ),
    EngineSensorEntityDescription(
        key="read_time",
        translation_key="read_time",
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfTime.SECONDS,
        suggested_display_precision=3,
        value_fn=lambda data: data.pipeline.counters.last_read_seconds,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: PlateTrackerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the engine's counters and a last-plate sensor per camera."""
    async_add_entities(
        EngineSensorEntity(entry, description) for description in ENGINE_SENSORS
    )
    async_add_camera_entities(
        hass,
        entry,
        async_add_entities,
        lambda camera: [LastPlateSensorEntity(entry, camera, LAST_PLATE)],
    )


class LastPlateSensorEntity(PlateTrackerCameraEntity, SensorEntity):
    """The plate of the camera's latest sighting."""

    def __init__(
        self,
        entry: PlateTrackerConfigEntry,
        camera: str,
        description: SensorEntityDescription,
    ) -> None:
        """Start from the latest stored sighting, so a restart shows the same state."""
        super().__init__(entry, camera, description)
        self._show(self.last_sighting)

    def _show(self, sighting: Sighting | None) -> None:
        if sighting is None:
            self._attr_native_value = None
            self._attr_extra_state_attributes = {}
            return
        self._attr_native_value = sighting.plate
        attributes: dict[str, Any] = {
            "confidence": round(sighting.confidence, 4),
            "seen_at": sighting.seen_at.isoformat(),
            "raw": sighting.raw,
            "event_id": sighting.event_id,
            "sighting_id": sighting.id,
            "region": sighting.region,
            "direction": sighting.direction.value,
        }
        self._attr_extra_state_attributes = attributes

    @callback
    def handle_sighting(self, sighting: Sighting) -> None:
        """Show the new plate."""
        self._show(sighting)


class EngineSensorEntity(SensorEntity):
    """One health counter of the recognition pipeline or the source."""

    _attr_has_entity_name = True
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    entity_description: EngineSensorEntityDescription

    def __init__(
        self, entry: PlateTrackerConfigEntry, description: EngineSensorEntityDescription
    ) -> None:
        """Attach the counter to the entry's engine device."""
        self.entity_description = description
        self._runtime = entry.runtime_data
        self._attr_unique_id = f"{entry.entry_id}_{description.key}"
        self._attr_device_info = engine_device_info(entry)

    @property
    def native_value(self) -> float | int | None:
        """The counter's current value."""
        return self.entity_description.value_fn(self._runtime)
