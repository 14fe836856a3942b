"""The daily retention purge: personal data is kept no longer than the user allows."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from functools import partial
import logging
import sqlite3

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
from .database import async_store_failed
from .store import PurgeProgress, PurgeReport, SightingStore

_LOGGER = logging.getLogger(__name__)
AUDIT_ACTION = "retention_purge"


async def async_purge_expired(
    hass: HomeAssistant, entry: PlateTrackerConfigEntry
) -> PurgeReport:
    """Remove what the retention options no longer allow, in the store's small batches.

    A purge that fails part-way has erased what its committed batches removed:
    that is written to the audit log too, with the error, before it is raised.
    """
    options = entry.options
    store = entry.runtime_data.store
    keep_image_days = options.get(CONF_KEEP_IMAGE_DAYS) or None
    progress = PurgeProgress()
    try:
        report = await hass.async_add_executor_job(
            partial(
                _purge_and_audit,
                store,
                int(options.get(CONF_KEEP_DAYS, DEFAULT_KEEP_DAYS)),
                int(options.get(CONF_KEEP_HIT_DAYS, DEFAULT_KEEP_HIT_DAYS)),
                int(keep_image_days) if keep_image_days else None,
                progress,
            )
        )
    except Exception:
        if progress.sightings:
            await entry.runtime_data.hub.async_sightings_removed(store)
        raise
    if report.sightings:
        await entry.runtime_data.hub.async_sightings_removed(store)
    entry.runtime_data.last_purge = (dt_util.utcnow(), report)
    _LOGGER.info(
        "Retention purge removed %s sightings, %s images, %s plates",
        report.sightings,
        report.images,
        report.plates,
    )
    return report


async def _async_nightly_purge(
    hass: HomeAssistant, entry: PlateTrackerConfigEntry
) -> None:
    """Run the scheduled purge, which nobody awaits: a database error ends here.

    The purge's thread has logged and audited it already; left to the task,
    it would reach the log again as a bare "Task exception was never
    retrieved". A damaged file gets checked, as after any refused write.
    """
    try:
        await async_purge_expired(hass, entry)
    except sqlite3.Error as err:
        async_store_failed(hass, entry.entry_id, err)


def _purge_and_audit(
    store: SightingStore,
    keep_days: int,
    keep_hit_days: int,
    keep_image_days: int | None,
    progress: PurgeProgress,
) -> PurgeReport:
    """Purge and write the audit line in one blocking job.

    Audited from the purge's own thread: cancelling the awaiting task (Home
    Assistant stopping) does not stop the thread, which goes on erasing, so
    an audit left to the task would be skipped.
    """
    try:
        report = store.purge_expired(
            dt_util.utcnow(),
            keep_days,
            keep_hit_days,
            keep_image_days,
            progress=progress,
        )
    except BaseException as err:
        _audit_interrupted(store, progress, err)
        raise
    store.audit_append(None, AUDIT_ACTION, asdict(report), None, dt_util.utcnow())
    return report


def _audit_interrupted(
    store: SightingStore, progress: PurgeProgress, err: BaseException
) -> None:
    """Audit what a failed purge had already erased; a failing audit is logged, not raised."""
    report = progress.report()
    _LOGGER.error(
        "Retention purge failed after removing %s sightings, %s images: %s",
        report.sightings,
        report.images,
        err,
    )
    if report == PurgeReport():
        return
    try:
        store.audit_append(
            None,
            AUDIT_ACTION,
            {**asdict(report), "interrupted": str(err) or type(err).__name__},
            None,
            dt_util.utcnow(),
        )
    except sqlite3.Error:
        _LOGGER.exception("Could not audit the interrupted retention purge")


@callback
def async_schedule_retention(
    hass: HomeAssistant, entry: PlateTrackerConfigEntry
) -> None:
    """Purge once a day at night, in the background; stop when the entry unloads."""

    @callback
    def purge_now(now: datetime) -> None:  # noqa: ARG001 - time-change callbacks get the time
        entry.runtime_data.hub.async_run_tracked(
            _async_nightly_purge(hass, entry), f"{DOMAIN} retention purge"
        )

    entry.async_on_unload(
        async_track_time_change(
            hass, purge_now, hour=RETENTION_HOUR, minute=RETENTION_MINUTE, second=0
        )
    )
