"""Image entities: the last plate crop of each camera."""

from __future__ import annotations

from datetime import timedelta
import logging
import sqlite3

from homeassistant.components.image import ImageEntity, ImageEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import PlateTrackerConfigEntry
from .database import async_store_failed
from .entity import PlateTrackerCameraEntity, async_add_camera_entities
from .records import Sighting

_LOGGER = logging.getLogger(__name__)

PARALLEL_UPDATES = 0

_NEXT_MOMENT = timedelta(microseconds=1)

PLATE_CROP = ImageEntityDescription(key="plate_crop", translation_key="plate_crop")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: PlateTrackerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a plate-crop image per camera."""
    async_add_camera_entities(
        hass,
        entry,
        async_add_entities,
        lambda camera: [PlateCropImageEntity(hass, entry, camera)],
    )


class PlateCropImageEntity(PlateTrackerCameraEntity, ImageEntity):
    """The plate crop of the camera's latest sighting, served from the store."""

    _attr_content_type = "image/jpeg"

    def __init__(
        self, hass: HomeAssistant, entry: PlateTrackerConfigEntry, camera: str
    ) -> None:
        """Set up the image entity (ImageEntity needs hass for its HTTP client)."""
        PlateTrackerCameraEntity.__init__(self, entry, camera, PLATE_CROP)
        ImageEntity.__init__(self, hass)
        self._store = entry.runtime_data.store
        self._entry_id = entry.entry_id
        if (sighting := self.last_sighting) is not None:
            self._attr_image_last_updated = sighting.seen_at

    @callback
    def handle_sighting(self, sighting: Sighting) -> None:
        """Tell the frontend that a new crop is there.

        The state must change for the frontend to fetch it: a second plate of one
        picture has the same time as the first, and a pass read late an earlier one.
        """
        shown = self._attr_image_last_updated
        self._attr_image_last_updated = (
            sighting.seen_at
            if shown is None or sighting.seen_at > shown
            else shown + _NEXT_MOMENT
        )

    @callback
    def handle_latest_changed(self) -> None:
        """Tell the frontend the crop shown may be gone (served from ``last_sighting``)."""
        last = self.last_sighting
        self._attr_image_last_updated = last.seen_at if last is not None else None

    async def async_image(self) -> bytes | None:
        """Return the crop of the latest sighting, or None when it has none.

        None too when the database fails to read it: every open dashboard asks, so
        damage gets the file checked here as a signed link gets it checked.
        """
        if (sighting := self.last_sighting) is None:
            return None
        try:
            return await self.hass.async_add_executor_job(
                self._store.image, sighting.id, "crop"
            )
        except sqlite3.Error as err:
            async_store_failed(self.hass, self._entry_id, err)
            _LOGGER.warning(
                "The crop of sighting %s could not be read: %s", sighting.id, err
            )
            return None
