"""Base entities: one device per camera, plus one for the entry's engine."""

from __future__ import annotations

from collections.abc import Callable, Iterable
import logging
import re
from typing import Any, cast

from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import (
    AddConfigEntryEntitiesCallback,
    async_get_current_platform,
)

from .const import (
    CONF_SOURCE,
    DOMAIN,
    SIGNAL_NEW_CAMERA,
    SIGNAL_SIGHTING,
    SIGNAL_SIGHTINGS_REMOVED,
    SIGNAL_SOURCE_HEALTH,
    SIGNAL_WATCHLIST_CHANGED,
    SOURCE_ANPR,
    SOURCE_FRIGATE,
)
from .coordinator import PlateTrackerConfigEntry, SourceStatus
from .records import Sighting, WatchlistEntry

_LOGGER = logging.getLogger(__name__)

SHOWN_LABEL_LENGTH = 200
SHOWN_REASON_LENGTH = 500
"""A watchlist entry's label and reason as entities show them: the lengths
watchlist_add accepts. An imported spreadsheet can hold a case file in a cell;
shown whole, it would push a state's attributes past the recorder's 16 KiB,
and the recorder then keeps none of them (not where the car was last seen)."""

# Home Assistant 2026.10 names a parent device by its registry id and deprecates naming
# it by identifiers (to be removed in 2027.8); older releases know only identifiers.
_VIA_DEVICE_ID = "via_device_id" in DeviceInfo.__optional_keys__


def camera_device_info(entry: PlateTrackerConfigEntry, camera: str) -> DeviceInfo:
    """Return the device of one camera of the entry's source, under the engine's device."""
    info = DeviceInfo(
        identifiers={(DOMAIN, f"{entry.entry_id}_{camera}")},
        name=camera,
        manufacturer="plate_tracker",
        model="Camera",
    )
    if not _VIA_DEVICE_ID:
        info["via_device"] = (DOMAIN, entry.entry_id)
    elif (engine_device := entry.runtime_data.engine_device_id) is not None:
        cast("dict[str, Any]", info)["via_device_id"] = engine_device
    return info


def engine_device_info(entry: PlateTrackerConfigEntry) -> DeviceInfo:
    """Return the device standing for the entry's recognition engine and source."""
    return DeviceInfo(
        identifiers={(DOMAIN, entry.entry_id)},
        name=entry.title,
        manufacturer="plate_tracker",
        model="Recognition engine",
        entry_type=DeviceEntryType.SERVICE,
    )


def source_device_info(
    entry: PlateTrackerConfigEntry, subentry: ConfigSubentry
) -> DeviceInfo:
    """Return the device standing for one source of the entry."""
    manufacturer, model = {
        SOURCE_FRIGATE: ("Frigate", "NVR"),
        SOURCE_ANPR: ("plate_tracker", "ANPR camera webhook"),
    }.get(subentry.data.get(CONF_SOURCE, ""), ("plate_tracker", "Inbox folder"))
    return DeviceInfo(
        identifiers={(DOMAIN, f"{entry.entry_id}_source_{subentry.subentry_id}")},
        name=subentry.title,
        manufacturer=manufacturer,
        model=model,
    )


class PlateTrackerSourceEntity(Entity):
    """An entity of one source, on the source's device, updated when its status changes."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(
        self,
        entry: PlateTrackerConfigEntry,
        subentry: ConfigSubentry,
        description: EntityDescription,
    ) -> None:
        """Attach the entity to the source's device and status."""
        self.entity_description = description
        self._entry_id = entry.entry_id
        self._subentry_id = subentry.subentry_id
        self._status: SourceStatus = entry.runtime_data.source_status[
            subentry.subentry_id
        ]
        self._attr_unique_id = (
            f"{entry.entry_id}_{subentry.subentry_id}_{description.key}"
        )
        self._attr_device_info = source_device_info(entry, subentry)

    async def async_added_to_hass(self) -> None:
        """Follow the source's status."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass,
                SIGNAL_SOURCE_HEALTH.format(entry_id=self._entry_id),
                self._source_changed,
            )
        )

    @callback
    def _source_changed(self, subentry_id: str) -> None:
        if subentry_id == self._subentry_id:
            self.async_write_ha_state()


def _watchlist_device_identifier(entry_id: str) -> tuple[str, str]:
    return (DOMAIN, f"{entry_id}_watchlist")


def watchlist_device_info(entry: PlateTrackerConfigEntry) -> DeviceInfo:
    """Return the device that groups the watchlist's entities."""
    return DeviceInfo(
        identifiers={_watchlist_device_identifier(entry.entry_id)},
        name="Watchlist",
        manufacturer="plate_tracker",
        model="Watchlist",
        entry_type=DeviceEntryType.SERVICE,
    )


@callback
def async_add_camera_entities(
    hass: HomeAssistant,
    entry: PlateTrackerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    entities_for: Callable[[str], Iterable[Entity]],
) -> None:
    """Add a platform's entities for every known camera and for each new one."""
    hub = entry.runtime_data.hub
    async_add_entities(
        entity
        for camera in sorted(hub.known_cameras)
        for entity in entities_for(camera)
    )

    @callback
    def add_camera(camera: str) -> None:
        async_add_entities(entities_for(camera))

    entry.async_on_unload(
        async_dispatcher_connect(hass, hub.signal(SIGNAL_NEW_CAMERA), add_camera)
    )


class PlateTrackerCameraEntity(Entity):
    """An entity of one camera, updated when that camera yields a sighting."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(
        self,
        entry: PlateTrackerConfigEntry,
        camera: str,
        description: EntityDescription,
    ) -> None:
        """Attach the entity to the camera's device."""
        self.entity_description = description
        self.camera = camera
        self._hub = entry.runtime_data.hub
        self._attr_unique_id = f"{entry.entry_id}_{camera}_{description.key}"
        self._attr_device_info = camera_device_info(entry, camera)

    @property
    def last_sighting(self) -> Sighting | None:
        """The camera's latest published sighting."""
        return self._hub.last_by_camera.get(self.camera)

    async def async_added_to_hass(self) -> None:
        """Listen for the camera's sightings."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass, self._hub.signal(SIGNAL_SIGHTING), self._sighting_received
            )
        )
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass,
                self._hub.signal(SIGNAL_SIGHTINGS_REMOVED),
                self._sightings_removed,
            )
        )

    @callback
    def _sighting_received(self, sighting: Sighting) -> None:
        if sighting.camera == self.camera:
            self.handle_sighting(sighting)
            self.async_write_ha_state()

    @callback
    def _sightings_removed(self) -> None:
        self.handle_latest_changed()
        self.async_write_ha_state()

    @callback
    def handle_sighting(self, sighting: Sighting) -> None:
        """Update the entity's own state from a new sighting (before it is written)."""

    @callback
    def handle_latest_changed(self) -> None:
        """Show ``last_sighting`` again: a purge may have erased the one shown.

        Entities whose state is the latest sighting override this; an event
        entity's past events are history and stay.
        """


def shown_text(text: str, length: int) -> str:
    """Return ``text`` cut to ``length`` characters, an ellipsis marking the cut."""
    return text if len(text) <= length else text[: length - 1] + "…"


class PlateTrackerWatchlistEntity(Entity):
    """An entity of one watchlist entry, on the Watchlist device."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(
        self,
        entry: PlateTrackerConfigEntry,
        listed: WatchlistEntry,
        key: str | None = None,
    ) -> None:
        """Attach the entity to the Watchlist device under a stable id per entry (and key)."""
        if listed.id is None:
            raise ValueError("only a stored watchlist entry has entities")
        self.listed_id = listed.id
        suffix = f"_{key}" if key else ""
        self._attr_unique_id = f"{entry.entry_id}_watchlist_{listed.id}{suffix}"
        self._attr_device_info = watchlist_device_info(entry)
        self.update_listed(listed)

    @callback
    def update_listed(self, listed: WatchlistEntry) -> None:
        """Take the entry's current label, plate and priority (it may have been edited)."""
        self._listed = listed
        self._attr_translation_placeholders = {
            "name": shown_text(listed.label or listed.plate, SHOWN_LABEL_LENGTH)
        }
        self.listed_changed()
        if self.hass is not None:
            self.async_write_ha_state()

    @callback
    def listed_changed(self) -> None:
        """Update derived state after the entry changed (before it is written)."""


@callback
def async_track_watchlist_entities[T: PlateTrackerWatchlistEntity](
    hass: HomeAssistant,
    entry: PlateTrackerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    entity_for: Callable[[WatchlistEntry], T],
    include: Callable[[WatchlistEntry], bool] | None = None,
) -> None:
    """Keep one entity per (included) watchlist entry, as entries are added, edited, removed.

    Called from a platform's setup, after the watchlist was read: entities the
    registry still holds for entries that read lacks are removed first.
    """
    alerts = entry.runtime_data.alerts
    current: dict[int, T] = {}
    _async_remove_entities_of_lost_entries(
        hass, entry, async_get_current_platform().domain
    )

    @callback
    def sync() -> None:
        wanted = {
            listed.id: listed
            for listed in alerts.entries
            if listed.id is not None and (include is None or include(listed))
        }
        registry = er.async_get(hass)
        for listed_id in set(current) - set(wanted):
            entity = current.pop(listed_id)
            if entity.registry_entry is not None:
                registry.async_remove(entity.entity_id)
        for listed_id, entity in current.items():
            entity.update_listed(wanted[listed_id])
        new = [
            entity_for(listed)
            for listed_id, listed in wanted.items()
            if listed_id not in current
        ]
        current.update((entity.listed_id, entity) for entity in new)
        async_add_entities(new)

    sync()
    entry.async_on_unload(
        async_dispatcher_connect(
            hass, SIGNAL_WATCHLIST_CHANGED.format(entry_id=entry.entry_id), sync
        )
    )


@callback
def _async_remove_entities_of_lost_entries(
    hass: HomeAssistant, entry: PlateTrackerConfigEntry, platform_domain: str
) -> None:
    """Remove the platform's registered entities of watchlist entries the store no longer has.

    An entry removed while the entry ran took its entities along; one lost with
    a damaged database (or dropped while Home Assistant was stopped) left them
    in the registry, "unavailable" forever. ``alerts.entries`` is only ever set
    from a read that succeeded (a failed read raises before it is indexed, and
    setup waits), so a database that cannot be read for a while removes nothing.
    Only entities on the Watchlist device count: a camera may be named like an
    entry's unique id.
    """
    watchlist_device = dr.async_get(hass).async_get_device(
        identifiers={_watchlist_device_identifier(entry.entry_id)}
    )
    if watchlist_device is None:
        return
    listed_ids = {listed.id for listed in entry.runtime_data.alerts.entries}
    unique_id = re.compile(rf"{re.escape(entry.entry_id)}_watchlist_(\d+)(?:_\w+)?")
    registry = er.async_get(hass)
    for registered in er.async_entries_for_config_entry(registry, entry.entry_id):
        if (
            registered.domain != platform_domain
            or registered.device_id != watchlist_device.id
            or (found := unique_id.fullmatch(registered.unique_id)) is None
            or int(found[1]) in listed_ids
        ):
            continue
        _LOGGER.info(
            "Removing %s: its watchlist entry %s is no longer stored",
            registered.entity_id,
            found[1],
        )
        registry.async_remove(registered.entity_id)
