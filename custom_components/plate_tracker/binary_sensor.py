"""Connectivity of each source, and of the engine server when plates are read on one.

A Frigate source has its HTTP API and MQTT broker, an inbox its folder. These
sensors, not the cameras' entities, show a dead NVR or broker: a camera's last
plate stays true while its NVR is down, and a quiet camera is not broken.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import CONF_SOURCE, SIGNAL_ENGINE_HEALTH, SOURCE_FOLDER, SOURCE_FRIGATE
from .coordinator import PlateTrackerConfigEntry, SourceStatus
from .engine.remote import RemoteEngine
from .entity import PlateTrackerSourceEntity, engine_device_info
from .sources.health import ConnectionHealth

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class SourceConnectivityDescription(BinarySensorEntityDescription):
    """One connection of a source."""

    health_fn: Callable[[SourceStatus], ConnectionHealth]
    reports_login: bool = True
    """Whether a refused login can be the cause (not for a folder)."""


CONNECTIVITY_SENSORS: tuple[SourceConnectivityDescription, ...] = (
    SourceConnectivityDescription(
        key="frigate_api",
        translation_key="frigate_api",
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC,
        health_fn=lambda status: status.api,
    ),
    SourceConnectivityDescription(
        key="mqtt_broker",
        translation_key="mqtt_broker",
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC,
        health_fn=lambda status: status.mqtt,
    ),
)
INBOX_SENSORS: tuple[SourceConnectivityDescription, ...] = (
    SourceConnectivityDescription(
        key="inbox_folder",
        translation_key="inbox_folder",
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC,
        health_fn=lambda status: status.inbox,
        reports_login=False,
    ),
)
SENSORS_BY_SOURCE = {SOURCE_FRIGATE: CONNECTIVITY_SENSORS, SOURCE_FOLDER: INBOX_SENSORS}


async def async_setup_entry(
    hass: HomeAssistant,  # noqa: ARG001 - the signature Home Assistant calls
    entry: PlateTrackerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the connectivity sensors of every source, on the source's own device.

    With an engine server, its connectivity too, on the engine's device.
    """
    if isinstance(engine := entry.runtime_data.engine, RemoteEngine):
        async_add_entities([EngineServerConnectivityEntity(entry, engine)])
    for subentry in entry.subentries.values():
        descriptions = SENSORS_BY_SOURCE.get(subentry.data.get(CONF_SOURCE, ""), ())
        if not descriptions:
            continue
        async_add_entities(
            (
                SourceConnectivityEntity(entry, subentry, description)
                for description in descriptions
            ),
            config_subentry_id=subentry.subentry_id,
        )


class SourceConnectivityEntity(PlateTrackerSourceEntity, BinarySensorEntity):
    """Whether one connection of a source works."""

    entity_description: SourceConnectivityDescription

    @property
    def is_on(self) -> bool | None:
        """True while the connection works; None before anything is known."""
        return self.entity_description.health_fn(self._status).available

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Why the connection is down, when it is."""
        health = self.entity_description.health_fn(self._status)
        attributes: dict[str, Any] = {
            "consecutive_failures": health.consecutive_failures,
            "last_error": health.last_error,
        }
        if self.entity_description.reports_login:
            attributes["login_refused"] = health.auth_failed
        return attributes


class EngineServerConnectivityEntity(BinarySensorEntity):
    """Whether the engine server answers: while it is off, frames go unread."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    _attr_translation_key = "engine_server"
    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY
    _attr_entity_category = EntityCategory.DIAGNOSTIC

    def __init__(self, entry: PlateTrackerConfigEntry, engine: RemoteEngine) -> None:
        """Attach the sensor to the engine's device."""
        self._engine = engine
        self._entry_id = entry.entry_id
        self._attr_unique_id = f"{entry.entry_id}_engine_server"
        self._attr_device_info = engine_device_info(entry)

    async def async_added_to_hass(self) -> None:
        """Follow the server's answers."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass,
                SIGNAL_ENGINE_HEALTH.format(entry_id=self._entry_id),
                self.async_write_ha_state,
            )
        )

    @property
    def is_on(self) -> bool | None:
        """True while the server answers."""
        return self._engine.connection.available

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Why the server is off, when it is."""
        health = self._engine.connection
        return {
            "consecutive_failures": health.consecutive_failures,
            "last_error": health.last_error,
            "token_refused": health.auth_failed,
        }
