"""Diagnostics: settings, counters and recent sightings, with plates and places redacted."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import (
    CONF_LATITUDE,
    CONF_LONGITUDE,
    CONF_PASSWORD,
    CONF_USERNAME,
    CONF_WEBHOOK_ID,
)
from homeassistant.core import HomeAssistant

from .backup import backup_in_progress
from .const import (
    CONF_ENGINE_TOKEN,
    CONF_ENGINE_URL,
    CONF_FRIGATE_URL,
    CONF_INBOX,
    SOURCE_ANPR,
    SOURCE_FRIGATE,
)
from .coordinator import PlateTrackerConfigEntry, sighting_payload
from .engine.remote import RemoteEngine
from .store.recovery import kept_damaged_files
from .store.spool import SightingSpool

# Plates are personal data; so are places and the raw reads and alternatives that
# spell a plate. Camera names and counters are what support needs and are kept.
# A Frigate login, an engine server's token and an ANPR camera's webhook id are credentials.
TO_REDACT = {
    CONF_WEBHOOK_ID,
    CONF_USERNAME,
    CONF_PASSWORD,
    CONF_ENGINE_TOKEN,
    CONF_ENGINE_URL,
    "plate",
    "raw",
    "alternatives",
    "event_id",
    CONF_LATITUDE,
    CONF_LONGITUDE,
    CONF_FRIGATE_URL,
    CONF_INBOX,
}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _spool_state(spool: SightingSpool | None) -> dict[str, int] | None:
    """Return what the spool holds only in memory and what it dropped to bound that."""
    if spool is None:
        return None
    return {
        "memory_only": spool.memory_only,
        "images_dropped": spool.images_dropped,
        "sightings_dropped": spool.sightings_dropped,
        "write_errors": spool.write_errors,
        "unreadable_lines": spool.unreadable_lines,
    }


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant,
    entry: PlateTrackerConfigEntry,
) -> dict[str, Any]:
    """Return what helps to debug an entry, without personal data."""
    runtime = entry.runtime_data
    kept = await hass.async_add_executor_job(kept_damaged_files, runtime.store.path)
    return {
        "entry": {
            "options": async_redact_data(dict(entry.options), TO_REDACT),
            "sources": [
                async_redact_data(dict(subentry.data), TO_REDACT)
                for subentry in entry.subentries.values()
            ],
        },
        "engine": "server" if isinstance(runtime.engine, RemoteEngine) else "local",
        "store": {
            # A backup in progress without the file held means its copy may not open.
            "backup_in_progress": backup_in_progress(hass),
            "main_file_held_for_backup": runtime.store.main_file_held,
            # Set aside when damaged, never deleted: what they are and the room they take.
            "damaged_files_kept": kept,
        },
        "pipeline": {
            "queue_depth": runtime.pipeline.queue_depth,
            "spool_depth": runtime.pipeline.spool_depth,
            "spool": _spool_state(runtime.pipeline.spool),
            "counters": asdict(runtime.pipeline.counters),
        },
        # Keyed by subentry id: a source's title and errors name the NVR's host.
        "source_status": {
            subentry_id: {
                "frigate_api": async_redact_data(asdict(status.api), {"last_error"}),
                "mqtt_broker": async_redact_data(asdict(status.mqtt), {"last_error"}),
            }
            if status.kind == SOURCE_FRIGATE
            else {
                "last_request": _iso(status.last_request),
                "last_read": _iso(status.last_read),
            }
            if status.kind == SOURCE_ANPR
            # An inbox's error names its path.
            else {
                "inbox_folder": async_redact_data(asdict(status.inbox), {"last_error"})
            }
            for subentry_id, status in runtime.source_status.items()
        },
        "source": dict(runtime.source_counters),
        "cameras": sorted(runtime.hub.known_cameras),
        "last_sightings": {
            camera: async_redact_data(sighting_payload(sighting), TO_REDACT)
            for camera, sighting in sorted(runtime.hub.last_by_camera.items())
        },
    }
