"""A damaged database file is set aside, kept whole, and a new one started.

Plain Python, no Home Assistant imports. SQLite says a file is damaged with
``SQLITE_CORRUPT`` ("database disk image is malformed") or ``SQLITE_NOTADB``
("file is not a database"): a failing SD card, a copy cut short, another
program writing over it. Retrying cannot mend that, and while the integration
waits no sighting at all is stored. So the file and its WAL are renamed (never
deleted: the sightings, hits and audit log in them are evidence, and SQLite's
``.recover`` often gets most of them back) and a new database is started.

The watchlist is what the police rely on right away: every entry that can
still be read from the damaged file is carried into the new one, so alerts go
on. Everything else stays in the damaged file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
import logging
from pathlib import Path
import sqlite3

from .sighting_store import SightingStore

_LOGGER = logging.getLogger(__name__)

_DAMAGED_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
_SIDE_FILES = ("-wal", "-shm", "-journal")


class DamagedDatabaseError(Exception):
    """SQLite's own check of the database file found it damaged."""


def is_damaged(err: BaseException) -> bool:
    """Return whether SQLite refused a file as damaged, not as busy, locked or unreadable."""
    if isinstance(err, DamagedDatabaseError):
        return True
    code = getattr(err, "sqlite_errorcode", None)
    # Extended codes (SQLITE_CORRUPT_INDEX and the like) carry the primary one in the low byte.
    return (
        isinstance(err, sqlite3.DatabaseError)
        and isinstance(code, int)
        and code & 0xFF in _DAMAGED_CODES
    )


def check_store(store: SightingStore) -> None:
    """Raise ``DamagedDatabaseError`` when SQLite's quick check finds damage. Blocking.

    It reads every page of the file: seconds to minutes for a large one, so
    it runs only after a write was refused as damaged.
    """
    try:
        problems = store.quick_check()
    except sqlite3.DatabaseError as err:
        # The check itself can stop at a page too damaged to walk.
        if is_damaged(err):
            raise DamagedDatabaseError(str(err)) from err
        raise
    if problems != ["ok"]:
        raise DamagedDatabaseError("; ".join(problems[:3]))


@dataclass(frozen=True, slots=True)
class SetAside:
    """What ``set_damaged_aside`` did."""

    damaged: Path
    """Where the damaged file is now; its WAL, if any, beside it with ``-wal`` added."""
    watchlist_recovered: int
    """Watchlist entries carried into the new database."""
    watchlist_complete: bool
    """Whether the damaged file's watchlist could be read to its end."""


def set_damaged_aside(
    path: Path, now: datetime, *, held: bool = False
) -> tuple[SightingStore, SetAside]:
    """Rename the damaged database at ``path``, start a new one, carry its watchlist over.

    Blocking. The damaged file becomes ``<name>.damaged-<UTC time>`` beside
    it, with its WAL and other side files renamed alike. Returns the new
    store, open (``held`` as ``SightingStore.open`` takes it), and what was
    done. Raises ``OSError`` when the files cannot be renamed (nothing is
    changed then) and whatever ``SightingStore.open`` raises for the new file.
    """
    damaged = path.with_name(f"{path.name}.damaged-{now:%Y%m%dT%H%M%SZ}")
    suffix = 1
    while damaged.exists():
        suffix += 1
        damaged = damaged.with_name(
            f"{path.name}.damaged-{now:%Y%m%dT%H%M%SZ}-{suffix}"
        )
    # The WAL first: a main file moved without it would be opened with a stranger's WAL.
    moved: list[tuple[Path, Path]] = []
    try:
        for side in _SIDE_FILES:
            source = path.with_name(path.name + side)
            if source.exists():
                target = damaged.with_name(damaged.name + side)
                source.rename(target)
                moved.append((target, source))
        path.rename(damaged)
    except OSError:
        for target, source in reversed(moved):
            target.rename(source)
        raise
    entries, complete = _read_watchlist(damaged)
    store = SightingStore.open(path, held=held)
    try:
        recovered = store.insert_recovered_watchlist(entries)
    except BaseException:
        store.close()
        raise
    _LOGGER.error(
        "The sightings database %s is damaged: it is kept as %s and a new one is"
        " started; %s watchlist entries were carried over%s",
        path,
        damaged,
        recovered,
        "" if complete else " (the rest of the watchlist could not be read)",
    )
    return store, SetAside(damaged, recovered, complete)


def _read_watchlist(damaged: Path) -> tuple[list[dict[str, object]], bool]:
    """Return the watchlist rows the damaged file still gives, and whether that is all."""
    rows: list[dict[str, object]] = []
    try:
        conn = sqlite3.connect(f"{damaged.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return rows, False
    try:
        cursor = conn.execute("SELECT * FROM watchlist ORDER BY id")
        names = [column[0] for column in cursor.description]
        for row in cursor:
            # One by one: the rows read before the damage are kept.
            rows.append(dict(zip(names, row, strict=True)))  # noqa: PERF401
    except sqlite3.Error as err:
        _LOGGER.warning(
            "Reading the watchlist of the damaged database %s stopped after %s"
            " entries: %s",
            damaged,
            len(rows),
            err,
        )
        return rows, False
    finally:
        conn.close()
    return rows, True
