"""Services of plate_tracker, registered once in ``async_setup``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
import voluptuous as vol

from .const import DOMAIN
from .coordinator import PlateTrackerConfigEntry
from .engine.types import FrameResult

ATTR_CONFIG_ENTRY_ID = "config_entry_id"
ATTR_FILE_PATH = "file_path"
ATTR_VEHICLE_BOX = "vehicle_box"
SERVICE_READ_PLATES = "read_plates"
MAX_SERVICE_IMAGE_BYTES = 30 * 1024 * 1024

READ_PLATES_SCHEMA = vol.Schema(
    {
        vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Exclusive(ATTR_ENTITY_ID, "image"): cv.entity_domain("camera"),
        vol.Exclusive(ATTR_FILE_PATH, "image"): cv.string,
        vol.Optional(ATTR_VEHICLE_BOX): vol.All(
            [vol.Coerce(int)], vol.Length(min=4, max=4)
        ),
    }
)


def loaded_entry(hass: HomeAssistant, entry_id: str | None) -> PlateTrackerConfigEntry:
    """Return the entry a service call names, or the only loaded one when it names none."""
    if entry_id is None:
        loaded = [
            entry
            for entry in hass.config_entries.async_entries(DOMAIN)
            if entry.state is ConfigEntryState.LOADED
        ]
        if len(loaded) != 1:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="entry_required",
                translation_placeholders={"count": str(len(loaded))},
            )
        return loaded[0]
    entry: PlateTrackerConfigEntry | None = hass.config_entries.async_get_entry(
        entry_id
    )
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_found",
            translation_placeholders={"entry_id": entry_id},
        )
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"entry_id": entry_id},
        )
    return entry


def _read_allowed_file(path: Path) -> bytes:
    if not path.is_file():
        raise FileNotFoundError(path)
    if path.stat().st_size > MAX_SERVICE_IMAGE_BYTES:
        raise ValueError(f"larger than {MAX_SERVICE_IMAGE_BYTES} bytes")
    return path.read_bytes()


async def _image_for_call(hass: HomeAssistant, call: ServiceCall) -> bytes:
    if entity_id := call.data.get(ATTR_ENTITY_ID):
        # Imported here: the camera integration is optional (an after-dependency).
        from homeassistant.components.camera import async_get_image  # noqa: PLC0415

        try:
            image = await async_get_image(hass, entity_id)
        except HomeAssistantError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="camera_unavailable",
                translation_placeholders={"entity_id": entity_id, "error": str(err)},
            ) from err
        return image.content
    if file_path := call.data.get(ATTR_FILE_PATH):
        path = Path(file_path)
        if not path.is_absolute() or not hass.config.is_allowed_path(str(path)):
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="path_not_allowed",
                translation_placeholders={"path": file_path},
            )
        try:
            return await hass.async_add_executor_job(_read_allowed_file, path)
        except (OSError, ValueError) as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="file_unreadable",
                translation_placeholders={"path": file_path, "error": str(err)},
            ) from err
    raise ServiceValidationError(
        translation_domain=DOMAIN, translation_key="image_required"
    )


def frame_result_response(result: FrameResult) -> dict[str, Any]:
    """Return the JSON-able answer of ``read_plates``."""
    return {
        "width": result.width,
        "height": result.height,
        "seconds": round(result.seconds, 4),
        "plates": [
            {
                "plate": read.text,
                "raw": read.raw,
                "confidence": round(read.confidence, 4),
                "box": list(read.box),
                "region": read.region,
                "format": read.plate_format,
                "alternatives": [
                    {"plate": text, "confidence": round(score, 4)}
                    for text, score in read.alternatives
                ],
            }
            for read in result.plates
        ],
    }


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register plate_tracker's services."""

    async def read_plates(call: ServiceCall) -> ServiceResponse:
        entry = loaded_entry(hass, call.data.get(ATTR_CONFIG_ENTRY_ID))
        image = await _image_for_call(hass, call)
        box = call.data.get(ATTR_VEHICLE_BOX)
        try:
            result = await hass.async_add_executor_job(
                entry.runtime_data.recognizer.read, image, tuple(box) if box else None
            )
        except ValueError as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="invalid_image",
                translation_placeholders={"error": str(err)},
            ) from err
        return frame_result_response(result)

    hass.services.async_register(
        DOMAIN,
        SERVICE_READ_PLATES,
        read_plates,
        schema=READ_PLATES_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
