"""The daily retention purge: personal data is kept no longer than the user allows."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from functools import partial
from itertools import pairwise
import logging
import sqlite3

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
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
from .store import MAX_PAGE_SIZE, PurgeProgress, PurgeReport, SightingStore

_LOGGER = logging.getLogger(__name__)
AUDIT_ACTION = "retention_purge"
HELD_ACTION = "retention_purge_held"
ISSUE_CLOCK_AHEAD = "retention_clock_ahead"

MAX_PURGE_GAP = timedelta(days=7)
"""The longest the clock may have moved since the last purge before it is doubted.

The purge runs every night and audits every run, so the last run's time is
where the clock stood a day ago; a week covers Home Assistant being off for a
while. A clock that moved less far erases at most that much early.
"""
CLOCK_CONFIRM_PERIOD = timedelta(days=7)
"""How long a doubted clock must go on steadily before it is taken as right."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockDoubt:
    """The clock stands far past the last purge: a wrong clock or a long absence.

    The nightly purge is held from ``held_since`` on while the clock goes on
    steadily from there (no jump of more than ``MAX_PURGE_GAP`` between the
    nights held); once it has for ``CLOCK_CONFIRM_PERIOD`` it is taken as right.
    """

    now: datetime
    last_purge: datetime
    held_since: datetime
    nights_held: int
    """The nights held steadily so far, this one included."""

    @property
    def resumes_at(self) -> datetime:
        """When the purge takes the clock as right, should it go on as it is."""
        return self.held_since + CLOCK_CONFIRM_PERIOD

    @property
    def confirmed(self) -> bool:
        """Whether the clock has gone on steadily long enough to be taken as right."""
        return self.now >= self.resumes_at


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
    A clock far past the last purge holds it (see ``_doubt_the_clock``).
    """
    try:
        doubt = await hass.async_add_executor_job(
            _doubt_the_clock, entry.runtime_data.store, dt_util.utcnow()
        )
        if doubt is not None and not doubt.confirmed:
            _async_purge_held(hass, doubt)
            return
        if doubt is not None:
            _LOGGER.warning(
                "The clock has gone on steadily since %s, %s after the last retention "
                "purge (%s): it is taken as right and the purge runs",
                doubt.held_since.isoformat(timespec="seconds"),
                doubt.held_since - doubt.last_purge,
                doubt.last_purge.isoformat(timespec="seconds"),
            )
        ir.async_delete_issue(hass, DOMAIN, ISSUE_CLOCK_AHEAD)
        await async_purge_expired(hass, entry)
    except sqlite3.Error as err:
        async_store_failed(hass, entry.entry_id, err)


def _doubt_the_clock(store: SightingStore, now: datetime) -> ClockDoubt | None:
    """Return why ``now`` is doubted, auditing the night held; None when it is not.

    A clock set years ahead (a bad NTP server, a dead RTC battery) would erase
    at once what retention keeps for weeks: the sightings and hits the police
    rely on. The last purge's audit line, written every night, tells where
    the clock stood a day ago. The newest sighting does not: when Home
    Assistant's clock jumps, the cameras' times look wrong beside it and
    sightings are dated by their arrival, on the wrong clock. Quiet cameras
    hold nothing, as the purge runs (and is audited) every night; Home
    Assistant off for longer than ``MAX_PURGE_GAP`` looks like a jump, so a
    clock that then goes on steadily is taken as right after
    ``CLOCK_CONFIRM_PERIOD``. Each night held is audited, which is also how
    the next night knows since when.
    """
    last = store.audit_log(action=AUDIT_ACTION, limit=1)
    if not last or now - last[0].at <= MAX_PURGE_GAP:
        return None
    last_purge = last[0].at
    held = sorted(
        (
            line
            for line in store.audit_log(
                action=HELD_ACTION, since=last_purge, limit=MAX_PAGE_SIZE
            )
            if line.details.get("last_purge") == last_purge.isoformat()
        ),
        key=lambda line: line.id,
    )
    nights = [line.at for line in held] + [now]
    steady_from = 0
    for night, (earlier, later) in enumerate(pairwise(nights), start=1):
        if not timedelta(0) <= later - earlier <= MAX_PURGE_GAP:
            steady_from = night
    doubt = ClockDoubt(
        now=now,
        last_purge=last_purge,
        held_since=nights[steady_from],
        nights_held=len(nights) - steady_from,
    )
    if not doubt.confirmed:
        store.audit_append(
            None,
            HELD_ACTION,
            {
                "last_purge": last_purge.isoformat(),
                "ahead_days": round((now - last_purge) / timedelta(days=1), 1),
                "resumes_at": doubt.resumes_at.isoformat(),
            },
            None,
            now,
        )
    return doubt


@callback
def _async_purge_held(hass: HomeAssistant, doubt: ClockDoubt) -> None:
    """Say that the purge was held, and until when, in the log and a repair issue."""
    days = (doubt.now - doubt.last_purge).days
    _LOGGER.error(
        "Retention purge held: the clock says %s, %s days after the last purge (%s). "
        "If the clock is wrong, set it right and the purge goes on; if Home "
        "Assistant was off that long, the purge runs from %s (night %s held)",
        doubt.now.isoformat(timespec="seconds"),
        days,
        doubt.last_purge.isoformat(timespec="seconds"),
        doubt.resumes_at.isoformat(timespec="seconds"),
        doubt.nights_held,
    )
    ir.async_create_issue(
        hass,
        DOMAIN,
        ISSUE_CLOCK_AHEAD,
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key=ISSUE_CLOCK_AHEAD,
        translation_placeholders={
            "now": doubt.now.isoformat(timespec="minutes"),
            "last_purge": doubt.last_purge.isoformat(timespec="minutes"),
            "days": str(days),
            "resumes_at": doubt.resumes_at.isoformat(timespec="minutes"),
            "nights": str(doubt.nights_held),
        },
    )


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
