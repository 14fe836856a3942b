"""The daily retention purge: personal data is kept no longer than the user allows."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
import logging

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.event import async_track_time_change
from homeassistant.util import dt as dt_util

from .const import (
    CONF_KEEP_DAYS,
    CONF_KEEP_HIT_DAYS,
    CONF_KEEP_IMAGE_DAYS,
    DEFAULT_KEEP_DAYS,
    DEFAULT_KEEP_HIT_DAYS,
    DOMAIN,
    RETENTION_HOUR,
    RETENTION_MINUTE,
)
from .coordinator import PlateTrackerConfigEntry
from .store import PurgeReport

_LOGGER = logging.getLogger(__name__)
AUDIT_ACTION = "retention_purge"


async def async_purge_expired(
    hass: HomeAssistant, entry: PlateTrackerConfigEntry
) -> PurgeReport:
    """Remove what the retention options no longer allow, in the store's small batches."""
    options = entry.options
    store = entry.runtime_data.store
    keep_image_days = options.get(CONF_KEEP_IMAGE_DAYS) or None
    report = await hass.async_add_executor_job(
        store.purge_expired,
        dt_util.utcnow(),
        int(options.get(CONF_KEEP_DAYS, DEFAULT_KEEP_DAYS)),
        int(options.get(CONF_KEEP_HIT_DAYS, DEFAULT_KEEP_HIT_DAYS)),
        int(keep_image_days) if keep_image_days else None,
    )
    await hass.async_add_executor_job(
        store.audit_append, None, AUDIT_ACTION, asdict(report), None, dt_util.utcnow()
    )
    entry.runtime_data.last_purge = (dt_util.utcnow(), report)
    _LOGGER.info(
        "Retention purge removed %s sightings, %s images, %s plates",
        report.sightings,
        report.images,
        report.plates,
    )
    return report


@callback
def async_schedule_retention(
    hass: HomeAssistant, entry: PlateTrackerConfigEntry
) -> None:
    """Purge once a day at night, in the background; stop when the entry unloads."""

    @callback
    def purge_now(now: datetime) -> None:  # noqa: ARG001 - time-change callbacks get the time
        entry.runtime_data.hub.async_run_tracked(
            async_purge_expired(hass, entry), f"{DOMAIN} retention purge"
        )

    entry.async_on_unload(
        async_track_time_change(
            hass, purge_now, hour=RETENTION_HOUR, minute=RETENTION_MINUTE, second=0
        )
    )
