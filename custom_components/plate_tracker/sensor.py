"""Sensors: each camera's last plate, the engine's health counters, the watchlist's vehicles."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfTime
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import (
    CONF_SOURCE,
    SIGNAL_SIGHTINGS_REMOVED,
    SIGNAL_WATCHLIST_HIT,
    SOURCE_ANPR,
)
from .coordinator import PlateTrackerConfigEntry, PlateTrackerRuntimeData, SourceStatus
from .entity import (
    SHOWN_LABEL_LENGTH,
    SHOWN_REASON_LENGTH,
    PlateTrackerCameraEntity,
    PlateTrackerSourceEntity,
    PlateTrackerWatchlistEntity,
    async_add_camera_entities,
    async_track_watchlist_entities,
    engine_device_info,
    shown_text,
)
from .matching.journeys import CityState
from .records import Sighting, WatchlistEntry
from .routes import RouteTracker, WatchlistVehicleEntity, async_track_watchlist_vehicles

PARALLEL_UPDATES = 0
# Health counters live in memory; reading them is free, so poll them.
SCAN_INTERVAL = timedelta(seconds=30)

LAST_PLATE = SensorEntityDescription(key="last_plate", translation_key="last_plate")
LAST_SIGHTING = SensorEntityDescription(
    key="last_sighting",
    translation_key="last_sighting",
    device_class=SensorDeviceClass.TIMESTAMP,
)


@dataclass(frozen=True, kw_only=True)
class EngineSensorEntityDescription(SensorEntityDescription):
    """A health counter of the entry's pipeline or source."""

    value_fn: Callable[[PlateTrackerRuntimeData], float | int | datetime | None]


ENGINE_SENSORS: tuple[EngineSensorEntityDescription, ...] = (
    EngineSensorEntityDescription(
        key="frames_read",
        translation_key="frames_read",
        # Changes with every frame: worth recording only while tuning.
        entity_registry_enabled_default=False,
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
        # MQTT messages from Frigate and requests to an ANPR camera's webhook.
        value_fn=lambda data: (
            data.source_counters["mqtt_malformed"]
            + data.source_counters["anpr_malformed"]
        ),
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
        # Changes with every frame: worth recording only while tuning.
        entity_registry_enabled_default=False,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda data: data.pipeline.queue_depth,
    ),
    EngineSensorEntityDescription(
        key="spool_depth",
        translation_key="spool_depth",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda data: data.pipeline.spool_depth,
    ),
    EngineSensorEntityDescription(
        key="last_purge",
        translation_key="last_purge",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda data: data.last_purge[0] if data.last_purge else None,
    ),
    EngineSensorEntityDescription(
        key="read_time",
        translation_key="read_time",
        # Changes with every frame: worth recording only while tuning.
        entity_registry_enabled_default=False,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfTime.SECONDS,
        suggested_display_precision=3,
        value_fn=lambda data: data.pipeline.counters.last_read_seconds,
    ),
)


@dataclass(frozen=True, kw_only=True)
class SourceTimeDescription(SensorEntityDescription):
    """When a push source last sent something."""

    value_fn: Callable[[SourceStatus], datetime | None]
    written_every: timedelta | None = None
    """Write a later time only once it is this far past the one written (None: every time)."""


ANPR_SENSORS: tuple[SourceTimeDescription, ...] = (
    SourceTimeDescription(
        key="anpr_last_request",
        translation_key="anpr_last_request",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda status: status.last_request,
        # Heartbeats come every few seconds: a state (a recorder row) each would be
        # thousands a day, for a sensor read in minutes.
        written_every=timedelta(minutes=1),
    ),
    SourceTimeDescription(
        key="anpr_last_read",
        translation_key="anpr_last_read",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda status: status.last_read,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: PlateTrackerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the engine's counters, a last-plate sensor per camera, an ANPR camera's times."""
    async_add_entities(
        LastPurgeSensorEntity(entry, description)
        if description.key == "last_purge"
        else EngineSensorEntity(entry, description)
        for description in ENGINE_SENSORS
    )
    for subentry in entry.subentries.values():
        if subentry.data.get(CONF_SOURCE) == SOURCE_ANPR:
            async_add_entities(
                (
                    SourceTimeSensorEntity(entry, subentry, description)
                    for description in ANPR_SENSORS
                ),
                config_subentry_id=subentry.subentry_id,
            )
    async_add_camera_entities(
        hass,
        entry,
        async_add_entities,
        lambda camera: [
            LastPlateSensorEntity(entry, camera, LAST_PLATE),
            LastSightingSensorEntity(entry, camera, LAST_SIGHTING),
        ],
    )
    async_track_watchlist_entities(
        hass,
        entry,
        async_add_entities,
        lambda listed: WatchlistLastSeenSensorEntity(entry, listed),
    )

    def status_sensor_for(
        tracker: RouteTracker, listed: WatchlistEntry
    ) -> CityStatusSensorEntity:
        return CityStatusSensorEntity(entry, tracker, listed, "city_status")

    async_track_watchlist_vehicles(hass, entry, async_add_entities, status_sensor_for)


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

    @callback
    def handle_latest_changed(self) -> None:
        """Show the latest sighting the store still holds."""
        self._show(self.last_sighting)


class LastSightingSensorEntity(PlateTrackerCameraEntity, SensorEntity):
    """When the camera last saw a plate: an exit camera gone quiet shows here.

    The latest time wins: a pass read late (Frigate's events caught up after a broker
    outage) does not move the sensor back. It starts from the store, so a restart
    shows the same time.
    """

    async def async_added_to_hass(self) -> None:
        """Start from the camera's latest stored sighting."""
        await super().async_added_to_hass()
        if (last := self.last_sighting) is not None:
            self.handle_sighting(last)

    @callback
    def handle_sighting(self, sighting: Sighting) -> None:
        """Move to the sighting's time when it is later than the one shown."""
        shown = self._attr_native_value
        if not isinstance(shown, datetime) or sighting.seen_at > shown:
            self._attr_native_value = sighting.seen_at

    @callback
    def handle_latest_changed(self) -> None:
        """Show the time of the latest sighting the store still holds."""
        last = self.last_sighting
        self._attr_native_value = last.seen_at if last is not None else None


class SourceTimeSensorEntity(PlateTrackerSourceEntity, RestoreSensor):
    """When an ANPR camera last sent something: a camera gone quiet shows here.

    Restored across restarts, so a camera that died before one still shows
    when it was last heard of, not "unknown".
    """

    entity_description: SourceTimeDescription
    _restored: datetime | None = None
    _written: datetime | None = None

    async def async_added_to_hass(self) -> None:
        """Take the time known before a restart; follow the source from now on."""
        await super().async_added_to_hass()
        if (last := await self.async_get_last_sensor_data()) is not None and (
            isinstance(last.native_value, datetime)
        ):
            self._restored = last.native_value

    @property
    def native_value(self) -> datetime | None:
        """The latest time: since this start, else the one from before it."""
        return self.entity_description.value_fn(self._status) or self._restored

    @callback
    def _source_changed(self, subentry_id: str) -> None:
        """Write the new time, unless it is within ``written_every`` of the one written.

        A camera heard again after a silence moves the sensor at once.
        """
        if subentry_id != self._subentry_id:
            return
        value = self.entity_description.value_fn(self._status)
        step = self.entity_description.written_every
        if (
            step is not None
            and value is not None
            and self._written is not None
            and value - self._written < step
        ):
            return
        self._written = value
        self.async_write_ha_state()


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
    def native_value(self) -> float | int | datetime | None:
        """The counter's current value."""
        return self.entity_description.value_fn(self._runtime)


class LastPurgeSensorEntity(EngineSensorEntity, RestoreSensor):
    """When retention last purged: restored, so a restart does not show "unknown" until the next night."""

    _restored: datetime | None = None

    async def async_added_to_hass(self) -> None:
        """Take the time known before a restart."""
        await super().async_added_to_hass()
        if (last := await self.async_get_last_sensor_data()) is not None and (
            isinstance(last.native_value, datetime)
        ):
            self._restored = last.native_value

    @property
    def native_value(self) -> float | int | datetime | None:
        """The last purge since this start, else the one from before it."""
        return super().native_value or self._restored


class WatchlistLastSeenSensorEntity(PlateTrackerWatchlistEntity, SensorEntity):
    """When and where a watchlist entry's plate was last seen."""

    _attr_device_class = SensorDeviceClass.TIMESTAMP
    _attr_translation_key = "watchlist_last_seen"

    def __init__(self, entry: PlateTrackerConfigEntry, listed: WatchlistEntry) -> None:
        """Create the sensor of one watchlist entry on the Watchlist device."""
        self._alerts = entry.runtime_data.alerts
        super().__init__(entry, listed)

    async def async_added_to_hass(self) -> None:
        """Update on every hit of this entry, and after a purge."""
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass,
                SIGNAL_WATCHLIST_HIT.format(entry_id=self._alerts.entry_id),
                self._hit,
            )
        )
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass,
                SIGNAL_SIGHTINGS_REMOVED.format(entry_id=self._alerts.entry_id),
                self.async_write_ha_state,
            )
        )

    @callback
    def _hit(self, entry_id: int, *_: object) -> None:
        if entry_id == self.listed_id:
            self.async_write_ha_state()

    @property
    def native_value(self) -> datetime | None:
        """Time of the latest sighting that matched this entry."""
        last = self._alerts.last_hit_by_entry.get(self.listed_id)
        return last.seen_at if last is not None else None

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The entry and, once seen, where and how it matched."""
        listed = self._listed
        attributes: dict[str, Any] = {
            "entry_id": listed.id,
            "listed_plate": listed.plate,
            "label": shown_text(listed.label, SHOWN_LABEL_LENGTH),
            "reason": shown_text(listed.reason, SHOWN_REASON_LENGTH),
            "priority": listed.priority.value,
            "enabled": listed.enabled,
            "expires_at": listed.expires_at.isoformat() if listed.expires_at else None,
        }
        if (last := self._alerts.last_hit_by_entry.get(self.listed_id)) is not None:
            attributes |= {
                "camera": last.camera,
                "camera_name": self._alerts.camera_names.get(last.camera, last.camera),
                "plate_read": last.plate_read,
                "match_kind": last.match_kind,
                "sighting_id": last.sighting_id,
                "hit_id": last.hit_id,
            }
        return attributes


class CityStatusSensorEntity(WatchlistVehicleEntity, SensorEntity):
    """Whether a watchlisted vehicle is in the city, with the sighting that decided it."""

    _attr_device_class = SensorDeviceClass.ENUM
    _attr_options = [state.value for state in CityState]  # noqa: RUF012 - HA declares it an instance attribute
    _attr_translation_key = "city_status"

    @callback
    def _show(self) -> None:
        found = self.whereabouts
        if found is None:
            self._attr_native_value = None
            self._attr_extra_state_attributes = {"plate": self._listed.plate}
            return
        status = found.status
        decided = status.decided_by
        self._attr_native_value = status.state.value
        self._attr_extra_state_attributes = {
            "plate": self._listed.plate,
            "entry_id": self.listed_id,
            "reason": status.reason.value,
            "camera": decided.camera if decided else None,
            "camera_name": decided.camera_name if decided else None,
            "seen_at": decided.seen_at.isoformat() if decided else None,
            "direction": decided.direction.value if decided else None,
            "sighting_id": decided.id if decided else None,
            "last_known_state": (
                status.last_known_state.value if status.last_known_state else None
            ),
            "last_known_sighting_id": (
                status.last_known_by.id if status.last_known_by else None
            ),
        }
