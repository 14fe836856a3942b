"""Backup platform: Home Assistant's backups hold a sound copy of the sightings database.

A backup copies the configuration folder file by file, the sightings database
and its WAL among them, while sightings keep arriving. A checkpoint that
rewrites the main file during the copy would leave a copy that does not open.
From ``async_pre_backup`` to ``async_post_backup`` every open store (an entry's
from its opening on, while the entry is still being set up too) leaves its main
file untouched and only adds to its WAL
(``SightingStore.hold_main_file``): the copy opens as the database was at one
moment of the backup, and no sighting, alert or search waits for the backup.

An entry set up while a backup runs is held from its store's opening on. A backup that never
says it ended is let go after ``BACKUP_HOLD_LIMIT``, with a warning.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import logging
import sqlite3

from homeassistant.core import CALLBACK_TYPE, HomeAssistant
from homeassistant.helpers.event import async_call_later
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN
from .store import SightingStore

_LOGGER = logging.getLogger(__name__)

BACKUP_HOLD_LIMIT = timedelta(hours=1)
"""How long a backup may keep the database's main file still."""


@dataclass(slots=True)
class _Backups:
    """The backup in progress, if any, and the stores it holds."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Taken by each start, end and hold, so a store set up meanwhile is let go too."""
    cancel_limit: CALLBACK_TYPE | None = None
    """Set while a backup is in progress."""
    held: list[SightingStore] = field(default_factory=list)
    opened: list[SightingStore] = field(default_factory=list)
    """Every store ``async_open_store`` opened that is not closed yet."""


DATA_BACKUPS: HassKey[_Backups] = HassKey(f"{DOMAIN}_backups")


def _backups(hass: HomeAssistant) -> _Backups:
    return hass.data.setdefault(DATA_BACKUPS, _Backups())


def backup_in_progress(hass: HomeAssistant) -> bool:
    """Return whether a backup started and has not ended."""
    return _backups(hass).cancel_limit is not None


async def _async_hold(
    hass: HomeAssistant, backups: _Backups, store: SightingStore
) -> None:
    try:
        await hass.async_add_executor_job(store.hold_main_file)
    except (sqlite3.Error, RuntimeError) as err:
        if not store.is_open:
            # Closed meanwhile (the hub reloading): it writes nothing more, so its
            # files stay as they are, and the store opened next is held from its
            # opening on. Nothing for the user to look into.
            _LOGGER.debug(
                "The sightings database %s closed as the backup began", store.path
            )
            return
        # Logged, not raised: the rest of the backup is still worth having.
        _LOGGER.error(  # noqa: TRY400 - the cause is in the message; a trace adds nothing
            "Could not hold the sightings database %s still for the backup (%s):"
            " the backup's copy of it may not open",
            store.path,
            err,
        )
    else:
        backups.held.append(store)


async def async_open_store(
    hass: HomeAssistant, opener: Callable[[bool], Awaitable[SightingStore]]
) -> SightingStore:
    """Open a store with ``opener(held)``, held from the start if a backup is in progress.

    Opening writes (a schema upgrade, statistics), and a checkpoint in its
    commits could write the main file under the backup: so the store is held
    before its first write, and no backup starts or ends meanwhile.
    """
    backups = _backups(hass)
    async with backups.lock:
        held = backups.cancel_limit is not None
        store = await opener(held)
        if held:
            backups.held.append(store)
        # An entry writes long before it is loaded (the spool's replay, a
        # Frigate source waiting for MQTT): a backup then must hold it too.
        backups.opened = [*(s for s in backups.opened if s.is_open), store]
    return store


async def _async_release(hass: HomeAssistant, backups: _Backups) -> None:
    """End the backup in progress: every store it held checkpoints again."""
    if backups.cancel_limit is not None:
        backups.cancel_limit()
        backups.cancel_limit = None
    while backups.held:
        store = backups.held.pop()
        try:
            await hass.async_add_executor_job(store.release_main_file)
        except sqlite3.Error as err:
            # Checkpoints are on again; the one on release waits for the next commit.
            _LOGGER.warning(
                "Checkpointing the sightings database %s after the backup failed"
                " (%s); the next write does it",
                store.path,
                err,
            )


async def async_pre_backup(hass: HomeAssistant) -> None:
    """Hold every open store's main file still until the backup ends."""
    backups = _backups(hass)

    async def limit_reached(_now: datetime) -> None:
        async with backups.lock:
            backups.cancel_limit = None
            if not backups.held:
                return
            _LOGGER.warning(
                "A backup started %s ago and has not ended: the sightings database"
                " is checkpointed again, and that backup's copy of it may not open",
                BACKUP_HOLD_LIMIT,
            )
            await _async_release(hass, backups)

    async with backups.lock:
        await _async_release(hass, backups)
        backups.cancel_limit = async_call_later(hass, BACKUP_HOLD_LIMIT, limit_reached)
        _LOGGER.debug("Backup starts: holding the sightings database's main file still")
        backups.opened = [store for store in backups.opened if store.is_open]
        for store in backups.opened:
            await _async_hold(hass, backups, store)


async def async_post_backup(hass: HomeAssistant) -> None:
    """Let the stores the backup held checkpoint again."""
    backups = _backups(hass)
    async with backups.lock:
        _LOGGER.debug("Backup ended: the sightings database is checkpointed again")
        await _async_release(hass, backups)
