"""The sightings database in Home Assistant: opened, checked, and set aside when damaged.

``store/recovery.py`` does the file work; this module decides when, and tells
the user through a repair issue. A write or a service call that SQLite refuses
as damaged reloads the entry (at most once an hour); the next setup checks the
whole file and sets it aside if the check finds damage.

The plates of watchlist entries a damaged file lost are wanted cars: they are
kept in the integration's own storage, never in the repair issue, whose data
and placeholders every diagnostics download carries unredacted.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
import logging
from pathlib import Path
import sqlite3
import time

from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryError, ConfigEntryNotReady
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .backup import async_open_store
from .const import DOMAIN, ISSUE_DATABASE_DAMAGED
from .store import SightingStore
from .store.errors import is_damaged
from .store.recovery import SetAside, check_store, resume_set_aside, set_damaged_aside
from .store.schema import SCHEMA_VERSION, schema_version

_LOGGER = logging.getLogger(__name__)

STORE_CHECK_INTERVAL = 3600.0
"""Seconds before a call refused as damaged makes the entry check its database again."""


@dataclass(slots=True)
class _StoreChecks:
    """Entries whose database a call found damaged, to be checked when set up again."""

    due: set[str] = field(default_factory=set)
    asked: dict[str, float] = field(default_factory=dict)
    """When each entry last asked for a check (monotonic seconds): one an hour at most."""


DATA_STORE_CHECKS: HassKey[_StoreChecks] = HassKey(f"{DOMAIN}_store_checks")

LOST_WATCHLIST_STORAGE_KEY = f"{DOMAIN}.lost_watchlist"
LOST_WATCHLIST_STORAGE_VERSION = 1
DATA_LOST_WATCHLIST: HassKey[Store[dict[str, list[str]]]] = HassKey(
    f"{DOMAIN}_lost_watchlist"
)


def _lost_watchlist_store(hass: HomeAssistant) -> Store[dict[str, list[str]]]:
    """Return the storage of lost watchlist plates: per kept file's name, its plates.

    One instance per Home Assistant, so that its writes are queued in order.
    """
    if (store := hass.data.get(DATA_LOST_WATCHLIST)) is None:
        store = hass.data[DATA_LOST_WATCHLIST] = Store(
            hass,
            LOST_WATCHLIST_STORAGE_VERSION,
            LOST_WATCHLIST_STORAGE_KEY,
            private=True,
            atomic_writes=True,
        )
    return store


async def async_lost_watchlist(hass: HomeAssistant, kept: str) -> list[str]:
    """Return the plates of the watchlist entries lost with the kept file ``kept``."""
    lost = await _lost_watchlist_store(hass).async_load() or {}
    return list(lost.get(kept, ()))


async def _async_keep_lost_watchlist(
    hass: HomeAssistant, kept: str, plates: Sequence[str]
) -> None:
    store = _lost_watchlist_store(hass)
    lost = await store.async_load() or {}
    await store.async_save({**lost, kept: list(plates)})


async def async_forget_lost_watchlist(hass: HomeAssistant, kept: str) -> None:
    """Drop the lost plates of the kept file ``kept`` once they are listed again."""
    store = _lost_watchlist_store(hass)
    lost = await store.async_load() or {}
    if kept in lost:
        await store.async_save(
            {name: plates for name, plates in lost.items() if name != kept}
        )


def plates_of_issue_data(text: str | float | None) -> list[str]:
    """Return the plates an older version wrote into the issue, comma-separated."""
    return [plate.strip() for plate in str(text or "").split(",") if plate.strip()]


def store_unavailable(db_path: Path, err: BaseException) -> ConfigEntryNotReady:
    """Return setup's translated wait for a database that cannot be used now."""
    return ConfigEntryNotReady(
        translation_domain=DOMAIN,
        translation_key="store_unavailable",
        translation_placeholders={"path": str(db_path), "error": str(err)},
    )


@callback
def async_store_failed(hass: HomeAssistant, entry_id: str, err: Exception) -> None:
    """Reload the entry to check its database when SQLite refused a call as damaged.

    A refused sighting waits already (in the spool, or as its file in the
    inbox). Damage in a page a write needs refuses every later write too, and
    waiting sightings raise no alerts: so the file is checked (``PRAGMA
    integrity_check``) when the entry is set up again: damaged indexes are
    rebuilt, and a file with damaged pages is set aside.
    """
    if not is_damaged(err):
        return
    checks = _checks(hass)
    now = time.monotonic()
    last = checks.asked.get(entry_id)
    if entry_id in checks.due or (
        last is not None and now - last < STORE_CHECK_INTERVAL
    ):
        return
    checks.due.add(entry_id)
    checks.asked[entry_id] = now
    _LOGGER.error(
        "The sightings database reported damage (%s): Plate Tracker reloads to"
        " check the file; sightings wait to be stored meanwhile",
        err,
    )
    hass.config_entries.async_schedule_reload(entry_id)


async def _async_open(
    hass: HomeAssistant, db_path: Path, held: bool, *, check: bool = False
) -> SightingStore:
    """Open the sightings database; a damaged one is set aside and a new one started.

    Waiting cannot mend a file SQLite calls damaged, and no sighting is stored
    while the entry waits. The damaged file is kept whole, every row that can
    still be read is carried into the new one, and a repair issue says where
    the file is and what was carried over (see ``store/recovery.py``). ``held``: a backup
    is in progress (see ``backup.py``). With ``check`` the whole file is
    checked too, after a write was refused as damaged.
    """
    try:
        resumed = await hass.async_add_executor_job(
            partial(resume_set_aside, db_path, held=held)
        )
    except Exception as err:
        raise store_unavailable(db_path, err) from err
    if resumed is not None:
        store, set_aside = resumed
        await _async_report_set_aside(hass, db_path, set_aside)
        return store
    open_store = partial(SightingStore.open, db_path, held=held)
    try:
        store = await hass.async_add_executor_job(open_store)
        if check:
            try:
                await hass.async_add_executor_job(check_store, store)
            except Exception:
                with suppress(sqlite3.Error):
                    await hass.async_add_executor_job(store.close)
                raise
            _LOGGER.info("The sightings database %s passed SQLite's checks", db_path)
    except Exception as err:
        if not is_damaged(err):
            version = await hass.async_add_executor_job(_newer_schema, db_path)
            if version is not None:
                raise ConfigEntryError(
                    translation_domain=DOMAIN,
                    translation_key="database_newer",
                    translation_placeholders={
                        "path": str(db_path),
                        "version": str(version),
                        "supported": str(SCHEMA_VERSION),
                    },
                ) from err
            raise store_unavailable(db_path, err) from err
        damage = err
    else:
        return store
    try:
        store, set_aside = await hass.async_add_executor_job(
            partial(
                set_damaged_aside, db_path, dt_util.utcnow(), str(damage), held=held
            )
        )
    except Exception as err:
        raise store_unavailable(db_path, err) from err
    await _async_report_set_aside(hass, db_path, set_aside)
    return store


def _newer_schema(db_path: Path) -> int | None:
    """Return the schema version of a file a newer release wrote, else None.

    Such a file is never migrated down nor set aside, and waiting does not
    make it readable: setup fails for good and says so. Read without a
    write (``mode=ro``), as the refused open left the file.
    """
    try:
        conn = sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True)
        try:
            version = schema_version(conn)
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return version if version > SCHEMA_VERSION else None


async def _async_report_set_aside(
    hass: HomeAssistant, db_path: Path, set_aside: SetAside
) -> None:
    """Raise the repair issue that names the kept file and what came over from it.

    The issue counts the lost watchlist entries; their plates are stored
    apart, under the kept file's name, for the repair that lists them again.
    """
    kept = set_aside.damaged.name
    if set_aside.watchlist_lost:
        # The plates to add again are known (from the watchlist's index).
        key = "database_damaged_watchlist_lost"
        await _async_keep_lost_watchlist(hass, kept, set_aside.watchlist_lost)
    elif not set_aside.watchlist_complete:
        key = "database_damaged_watchlist_incomplete"
    elif set_aside.unread:
        key = "database_damaged_rows_lost"
    else:
        key = "database_damaged"
    carried = set_aside.carried
    ir.async_create_issue(
        hass,
        DOMAIN,
        ISSUE_DATABASE_DAMAGED.format(damaged=kept),
        # Lost entries whose plates are known are listed again in one step (repairs.py).
        is_fixable=bool(set_aside.watchlist_lost),
        is_persistent=True,
        data={"kept": kept} if set_aside.watchlist_lost else None,
        severity=ir.IssueSeverity.ERROR,
        translation_key=key,
        translation_placeholders={
            "path": str(db_path),
            "damaged": str(set_aside.damaged),
            "error": set_aside.reason,
            "watchlist": str(carried["watchlist"]),
            "watchlist_lost": str(len(set_aside.watchlist_lost or ())),
            "sightings": str(carried["sightings"]),
            "images": str(carried["images"]),
            "hits": str(carried["watchlist_hits"]),
            "audit": str(carried["audit"]),
        },
    )


async def _async_move_lost_plates_out_of_issues(hass: HomeAssistant) -> None:
    """Move the lost plates an older version put into its repair issues to the storage.

    Those issues are persistent: until moved, every diagnostics download
    carried the plates.
    """
    registry = ir.async_get(hass)
    for (domain, issue_id), issue in list(registry.issues.items()):
        if (
            domain != DOMAIN
            or not issue.data
            or "plates" not in issue.data
            or issue.severity is None
            or issue.translation_key is None
        ):
            continue
        kept = str(issue.data.get("kept") or "")
        plates = plates_of_issue_data(issue.data["plates"])
        await _async_keep_lost_watchlist(hass, kept, plates)
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=bool(issue.is_fixable),
            is_persistent=issue.is_persistent,
            data={"kept": kept},
            severity=issue.severity,
            translation_key=issue.translation_key,
            translation_placeholders={
                **(issue.translation_placeholders or {}),
                "watchlist_lost": str(len(plates)),
            },
        )


def _checks(hass: HomeAssistant) -> _StoreChecks:
    return hass.data.setdefault(DATA_STORE_CHECKS, _StoreChecks())


@callback
def async_check_due(hass: HomeAssistant, entry_id: str) -> None:
    """Check the entry's database when it is next set up."""
    _checks(hass).due.add(entry_id)


async def async_open_database(
    hass: HomeAssistant, entry_id: str, db_path: Path
) -> SightingStore:
    """Open the entry's database: checked if one is due, held if a backup runs.

    Repair issues of an older version that name lost plates are rewritten first.
    """
    await _async_move_lost_plates_out_of_issues(hass)
    checks = _checks(hass)
    check = entry_id in checks.due
    checks.due.discard(entry_id)
    try:
        return await async_open_store(
            hass, partial(_async_open, hass, db_path, check=check)
        )
    except BaseException:
        # The check may not have run (a locked file, an I/O error): the retry checks.
        if check:
            checks.due.add(entry_id)
        raise
