"""A damaged database file is set aside, kept whole, and a new one started.

Plain Python, no Home Assistant imports. SQLite says a file is damaged with
``SQLITE_CORRUPT`` ("database disk image is malformed") or ``SQLITE_NOTADB``
("file is not a database"): a failing SD card, a copy cut short, another
program writing over it. Retrying cannot mend that, and while the integration
waits no sighting at all is stored. So the file and its WAL are renamed (never
deleted: the sightings, hits and audit log in them are evidence) and a new
database is started.

Damage is usually a few pages; the rest of the file still reads. Every row
that can still be read is carried into the new database with its id: the
watchlist, so alerts go on, and the sightings with their pictures, the
watchlist hits and the audit log, so searches and routes go on too. A table
is read in rowid order; where the read meets a damaged page it seeks past it
(``_readable_rows``). The seek jumps ever farther and can leap over a short
good stretch, so the rows in the stretches it skipped are then read one by
one, their rowids taken from one of the table's indexes, whose pages are their
own (``_rows_by_id``): only the rows on damaged pages are lost. A camera
or plate row is also held whole by its table's unique index: those lost with a
table page are read back from there (``_rebuilt_rows``). Without that, one
damaged page of the cameras table, which usually fits in one, would leave
every sighting out. A lost watchlist entry cannot be rebuilt, but its plate is
named (``SetAside.watchlist_lost``). What else sat on the damaged pages stays
only in the kept file, where SQLite's ``.recover`` may find more of it.

Ids lost are not handed out again: a case file may cite them. The new
database's sequences start above the highest id the damaged file's
``sqlite_sequence`` records (``_ids_used``), the highest id lost on a damaged
page, and the highest id of a row read but left out.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
import itertools
import logging
from pathlib import Path
import sqlite3
from types import MappingProxyType
from typing import Any

from ..plate_text import lookalike_key
from .errors import DamagedDatabaseError, is_damaged
from .schema import STABLE_ID_TABLES
from .sighting_store import (
    _SQLITE_MIN_INTEGER,
    RECOVERED_TABLES,
    SQLITE_MAX_INTEGER,
    SightingStore,
)

_LOGGER = logging.getLogger(__name__)

_SIDE_FILES = ("-wal", "-shm", "-journal")
_BUILDING = ".new"
"""Added to the kept file's name for the new database while rows are carried into it."""
_REASON = ".reason"
"""Added to the kept file's name for a text file with what SQLite said of it."""
_UNKNOWN_REASON = "not recorded (set aside by an earlier version)"
AUDIT_ACTION = "database_set_aside"
"""The audit log's action for a damaged file set aside (details: the kept file,
SQLite's error, the rows carried over and the tables not carried whole)."""
_BATCH_ROWS = 500
_BATCH_BYTES = 8 * 1024 * 1024
"""Rows added at a time (``_carry_rows``): at most 500, and no more than about
8 MB of pictures, so a file of large snapshots is carried over in little memory."""
_UNIQUE_INDEX = {
    "cameras": ("name", "sqlite_autoindex_cameras_1"),
    "plates": ("plate", "sqlite_autoindex_plates_1"),
    "watchlist": ("plate", "sqlite_autoindex_watchlist_1"),
}
"""Tables with a UNIQUE column: the column and the index SQLite made for it,
whose entries hold the column and the rowid, on pages of their own."""
_WHOLE_IN_INDEX = ("cameras", "plates")
"""Tables whose rows their unique index holds whole (a plate's look-alike key is
made from the plate). A watchlist entry's label, priority and times are not in
its index: the plates of entries lost are only reported (``watchlist_lost``)."""


def check_store(store: SightingStore) -> list[str]:
    """Check the file after SQLite reported damage; mend what can be rebuilt. Blocking.

    An index out of step with its table, or a damaged FTS5 trigram index, is
    reported as damage on every use, but both are built from the tables: they
    are rebuilt in place and their names returned (``mend_indexes``). Raises
    ``DamagedDatabaseError`` when SQLite's ``integrity_check`` still finds
    problems after that: damaged pages. The checks read every page, seconds
    to minutes for a large file, so they run only after a call was refused as
    damaged.
    """
    try:
        mended, problems = store.mend_indexes()
    except sqlite3.DatabaseError as err:
        # The check itself can stop at a page too damaged to walk.
        if is_damaged(err):
            raise DamagedDatabaseError(str(err)) from err
        raise
    if problems:
        raise DamagedDatabaseError("; ".join(problems[:3]))
    if mended:
        _LOGGER.warning(
            "Rebuilt the damaged %s of the sightings database %s; no data was lost",
            " and ".join(mended),
            store.path,
        )
    return mended


@dataclass(frozen=True, slots=True)
class SetAside:
    """What ``set_damaged_aside`` did."""

    damaged: Path
    """Where the damaged file is now; its WAL, if any, beside it with ``-wal`` added."""
    reason: str
    """What SQLite said of the file (kept beside it, so a resumed set-aside says it too)."""
    carried: Mapping[str, int]
    """Rows carried into the new database, per table of ``RECOVERED_TABLES``."""
    watchlist_lost: tuple[str, ...] | None
    """The plates (or patterns) of the watchlist entries that could not be
    carried over, read from the watchlist's unique index; ``None`` when they
    are not known (that index is damaged too, or the file is no database)."""
    unreadable_ids: Mapping[str, tuple[tuple[int, int], ...] | None]
    """Per table not carried over whole (``unread``): the ids of the rows on damaged pages, as
    (first, last) runs, or ``None`` when they are not known. A sighting named
    in a case file and missing now can be told lost with a damaged page. (Rows
    that read but refer to lost ones, such as the pictures of lost sightings,
    are left out too; only ``carried`` counts them.)"""

    @property
    def unread(self) -> tuple[str, ...]:
        """Tables not carried over whole, in ``RECOVERED_TABLES`` order.

        Their rows sat on damaged pages, or refer to rows that did.
        """
        return tuple(self.unreadable_ids)

    @property
    def watchlist_complete(self) -> bool:
        """Whether the damaged file's watchlist was carried over whole."""
        return "watchlist" not in self.unread


def set_damaged_aside(
    path: Path, now: datetime, reason: str, *, held: bool = False
) -> tuple[SightingStore, SetAside]:
    """Rename the damaged database at ``path``, start a new one, carry its rows over.

    Blocking: carrying a large file over reads all of it and takes minutes.
    The damaged file becomes ``<name>.damaged-<UTC time>`` beside it, with its
    WAL and other side files renamed alike. The new database is built beside
    it as ``<that name>.new`` and moved to ``path`` only when every readable
    row is in it: a start after a power cut in between finds no database at
    ``path`` and carries the rows over again (``resume_set_aside``).
    ``reason``, SQLite's error, is kept beside the file as ``<that
    name>.reason`` and written to the new database's audit log with what was
    carried over (``AUDIT_ACTION``). Returns
    the new store, open (``held`` as ``SightingStore.open`` takes it), and
    what was done. Raises ``OSError`` when the files cannot be renamed
    (nothing is changed then) and whatever ``SightingStore.open`` raises for
    the new file. A failure while carrying rows over only stops it there
    (logged).
    """
    damaged = path.with_name(f"{path.name}.damaged-{now:%Y%m%dT%H%M%SZ}")
    suffix = 1
    while damaged.exists():
        suffix += 1
        damaged = damaged.with_name(
            f"{path.name}.damaged-{now:%Y%m%dT%H%M%SZ}-{suffix}"
        )
    # The new database's name is there before the damaged file moves: whatever
    # stops the set-aside from here on, the next start finds it and goes on.
    building = damaged.with_name(damaged.name + _BUILDING)
    why = damaged.with_name(damaged.name + _REASON)
    try:
        why.write_text(reason, encoding="utf-8")
    except OSError as err:
        # Only a resumed set-aside's wording is at stake; setting the file aside is not.
        _LOGGER.warning("Cannot keep why %s was set aside: %s", damaged, err)
    building.touch()
    try:
        _rename_with_side_files(path, damaged)
    except OSError:
        building.unlink()
        why.unlink(missing_ok=True)
        raise
    return _start_from(path, damaged, held=held)


def resume_set_aside(
    path: Path, *, held: bool = False
) -> tuple[SightingStore, SetAside] | None:
    """Finish a set-aside that a crash or power cut interrupted; ``None`` if none was. Blocking.

    Such a start finds no database at ``path`` but a ``<name>.damaged-<UTC
    time>.new`` beside the kept file: that half-built database is deleted
    and the rows are carried over again from the kept file.
    """
    if path.exists():
        return None
    for building in sorted(path.parent.glob(f"{path.name}.damaged-*{_BUILDING}")):
        damaged = building.with_name(building.name.removesuffix(_BUILDING))
        if damaged.exists():
            _LOGGER.warning(
                "Setting the damaged database %s aside was interrupted; carrying"
                " its rows over again",
                damaged,
            )
            return _start_from(path, damaged, held=held)
    return None


def kept_damaged_files(path: Path) -> list[dict[str, object]]:
    """Return the damaged files set aside beside ``path``: name, size and reason, oldest first. Blocking.

    They are never deleted by the integration; diagnostics list them so that
    support sees what is kept, and how much room it takes.
    """
    kept = []
    for candidate in sorted(path.parent.glob(f"{path.name}.damaged-*")):
        if candidate.name.endswith((*_SIDE_FILES, _BUILDING, _REASON)):
            continue
        size = sum(
            side.stat().st_size
            for side in (
                candidate,
                *(candidate.with_name(candidate.name + s) for s in _SIDE_FILES),
            )
            if side.exists()
        )
        kept.append(
            {"name": candidate.name, "bytes": size, "reason": _reason_for(candidate)}
        )
    return kept


def _reason_for(damaged: Path) -> str:
    """Return what SQLite said of the kept file ``damaged``, as ``set_damaged_aside`` kept it."""
    try:
        return damaged.with_name(damaged.name + _REASON).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return _UNKNOWN_REASON


def _start_from(
    path: Path, damaged: Path, *, held: bool
) -> tuple[SightingStore, SetAside]:
    """Build the new database from what ``damaged`` still gives, then move it to ``path``."""
    building = damaged.with_name(damaged.name + _BUILDING)
    # Emptied, not deleted: the name stays until the database takes its place.
    for side in _SIDE_FILES:
        building.with_name(building.name + side).unlink(missing_ok=True)
    building.write_bytes(b"")
    store = SightingStore.open(building, held=held)
    try:
        result = _carry_over(damaged, _reason_for(damaged), store)
        _audit(store, result)
    finally:
        store.close()
    _rename_with_side_files(building, path)
    store = SightingStore.open(path, held=held)
    _LOGGER.error(
        "The sightings database %s is damaged: it is kept as %s and a new one is"
        " started, with the rows that could still be read (%s)%s",
        path,
        damaged,
        ", ".join(f"{table} {count}" for table, count in result.carried.items()),
        f"; not all of {', '.join(result.unread)}" if result.unread else "",
    )
    return store, result


def _audit(store: SightingStore, result: SetAside) -> None:
    """Write the set-aside to the new database's audit log, in the database it is about."""
    try:
        store.audit_append(
            None,
            AUDIT_ACTION,
            {
                "kept": result.damaged.name,
                "error": result.reason,
                "carried": dict(result.carried),
                "not_whole": list(result.unread),
                "watchlist_lost": (
                    None
                    if result.watchlist_lost is None
                    else list(result.watchlist_lost)
                ),
                "unreadable_ids": {
                    table: None if runs is None else [list(run) for run in runs]
                    for table, runs in result.unreadable_ids.items()
                },
            },
            None,
            datetime.now(UTC),
        )
    except sqlite3.Error as err:
        # The rows are carried; the repair issue and the log still say what happened.
        _LOGGER.warning("The set-aside is not in the audit log: %s", err)


def _rename_with_side_files(source: Path, target: Path) -> None:
    """Rename a database file and its side files; all of them or, on failure, none."""
    # The WAL first: a main file moved without it would be opened with a stranger's WAL.
    moved: list[tuple[Path, Path]] = []
    try:
        for side in _SIDE_FILES:
            side_file = source.with_name(source.name + side)
            if side_file.exists():
                renamed = target.with_name(target.name + side)
                side_file.rename(renamed)
                moved.append((renamed, side_file))
        source.rename(target)
    except OSError:
        for renamed, side_file in reversed(moved):
            renamed.rename(side_file)
        raise


def _carry_over(damaged: Path, reason: str, store: SightingStore) -> SetAside:
    """Copy every readable row of ``RECOVERED_TABLES`` from ``damaged`` into ``store``."""
    carried = dict.fromkeys(RECOVERED_TABLES, 0)
    try:
        conn = sqlite3.connect(f"{damaged.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return SetAside(
            damaged,
            reason,
            MappingProxyType(carried),
            None,
            MappingProxyType(dict.fromkeys(RECOVERED_TABLES)),
        )
    _LOGGER.warning(
        "Carrying what still reads over from the damaged database %s; a large"
        " file takes minutes",
        damaged,
    )
    unreadable_ids: dict[str, tuple[tuple[int, int], ...] | None] = {}
    watchlist_lost: tuple[str, ...] | None = ()
    try:
        # In order: what a row refers to is carried over before the row.
        for table in RECOVERED_TABLES:
            whole, lost = _carry_table(conn, table, store, damaged, carried)
            if whole:
                continue
            unreadable_ids[table] = lost
            if table == "watchlist":
                watchlist_lost = None if lost is None else _lost_keys(conn, table, lost)
        used = _ids_used(conn, damaged)
    finally:
        conn.close()
    for table, lost in unreadable_ids.items():
        if lost and table in STABLE_ID_TABLES:
            used[table] = max(used.get(table, 0), lost[-1][1])
    try:
        # A lost row's id may be cited in a case file: it must not name a new row.
        store.keep_ids_above(used)
    except sqlite3.Error as err:
        _LOGGER.warning(
            "Ids of rows lost with the damaged database may be given again: %s", err
        )
    try:
        store.drop_unseen_plates()
    except sqlite3.Error as err:
        # Only fuzzy lookups' exactness is at stake: a plate with no sighting finds nothing.
        _LOGGER.warning(
            "Plates without sightings are left in the new database: %s", err
        )
    return SetAside(
        damaged,
        reason,
        MappingProxyType(carried),
        watchlist_lost,
        MappingProxyType(unreadable_ids),
    )


def _ids_used(conn: sqlite3.Connection, damaged: Path) -> dict[str, int]:
    """Return the highest id the damaged file gave each table of ``STABLE_ID_TABLES``.

    Read from its ``sqlite_sequence``; rows of any age, carried over or not,
    had ids up to there. Empty for a file older than schema version 7, which
    has none, or when that table does not read.
    """
    try:
        return {
            table: highest
            for table, highest in conn.execute("SELECT name, seq FROM sqlite_sequence")
            if table in STABLE_ID_TABLES and isinstance(highest, int)
        }
    except sqlite3.DatabaseError as err:
        if is_damaged(err):
            _LOGGER.warning(
                "The ids used in the damaged database %s are known only from its"
                " rows: %s",
                damaged,
                err,
            )
        return {}


def _carry_table(
    conn: sqlite3.Connection,
    table: str,
    store: SightingStore,
    damaged: Path,
    carried: dict[str, int],
) -> tuple[bool, tuple[tuple[int, int], ...] | None]:
    """Carry ``table``'s readable rows over, counted in ``carried``.

    Returns whether all came, and the rowids of the rows that could not be
    read as (first, last) runs (``None`` when they are not known: no index of
    the table reads whole).
    """
    skipped: list[tuple[int, int | None]] = []
    read = 0
    lost: tuple[tuple[int, int], ...] | None = ()
    note = ""
    try:
        read, _ = _carry_rows(
            store, table, _readable_rows(conn, table, skipped), carried
        )
        if skipped:
            if table in _WHOLE_IN_INDEX:
                found, whole = _carry_rows(
                    store, table, _rebuilt_rows(conn, table, skipped), carried
                )
                lost = () if whole else None
                note = f"; {found} read back from its unique index"
            else:
                rowids = _rowids_in(conn, table, skipped)
                runs: list[tuple[int, int]] = []
                found, _ = (
                    (0, False)
                    if rowids is None
                    else _carry_rows(
                        store, table, _rows_by_id(conn, table, rowids, runs), carried
                    )
                )
                lost = None if rowids is None else tuple(runs)
                note = f"; {found} more on pages between them read one by one"
            read += found
            note += (
                "; which ids were lost is not known (its indexes are damaged too)"
                if lost is None
                else f"; {sum(last - first + 1 for first, last in lost)} lost"
            )
    except sqlite3.Error as err:
        _LOGGER.warning(
            "Carrying %s over from the damaged database %s stopped after %s rows: %s",
            table,
            damaged,
            carried[table],
            err,
        )
        return False, None
    finally:
        if skipped:
            _LOGGER.warning(
                "Rows of %s on damaged pages of %s could not be read (ids %s)%s",
                table,
                damaged,
                ", ".join(_stretch(*gap) for gap in skipped[:5]),
                note,
            )
    return lost == () and carried[table] == read, lost


def _carry_rows(
    store: SightingStore,
    table: str,
    rows: Iterable[dict[str, object]],
    carried: dict[str, int],
) -> tuple[int, bool]:
    """Add ``rows`` to ``table`` in batches, counted in ``carried`` as they are added.

    Returns how many rows came, and whether ``rows`` ran to its end (``False``:
    a damaged page stopped it). A batch is at most ``_BATCH_ROWS`` rows and
    about ``_BATCH_BYTES`` of pictures, so a file of large snapshots is carried
    over in little memory.
    """
    found = size = 0
    batch: list[dict[str, object]] = []
    whole = True
    iterator = iter(rows)
    while True:
        try:
            row = next(iterator)
        except StopIteration:
            break
        except sqlite3.DatabaseError as err:
            if not is_damaged(err):
                raise
            whole = False
            break
        batch.append(row)
        size += sum(len(value) for value in row.values() if isinstance(value, bytes))
        if len(batch) >= _BATCH_ROWS or size >= _BATCH_BYTES:
            found += len(batch)
            carried[table] += store.insert_recovered(table, batch)
            batch, size = [], 0
    found += len(batch)
    carried[table] += store.insert_recovered(table, batch)
    return found, whole


def _rows_by_id(
    conn: sqlite3.Connection,
    table: str,
    rowids: Iterator[int],
    lost: list[tuple[int, int]],
) -> Iterator[dict[str, object]]:
    """Yield the rows of ``rowids`` that read, each read alone; add the others to ``lost`` as runs.

    Seeking past damage jumps ever farther, so it can leap over a good page
    shorter than the damage before it. Which rowids the table holds is known
    from one of its indexes (``_rowids_in``); reading each alone loses only
    the rows on damaged pages. ``rowids`` come in order, so ``lost`` is kept
    as (first, last) runs: memory stays small however many rows a stretch
    holds (a damaged root page skips the whole table).
    """
    one = f"SELECT rowid, * FROM {table} WHERE rowid = ?"  # noqa: S608
    for rowid in rowids:
        try:
            cursor = conn.execute(one, (rowid,))
            row = cursor.fetchone()
        except sqlite3.DatabaseError as err:
            if not is_damaged(err):
                raise
            row = None
        if row is not None:
            yield _as_dict(cursor, row)
        elif lost and lost[-1][1] == rowid - 1:
            lost[-1] = (lost[-1][0], rowid)
        else:
            lost.append((rowid, rowid))


def _as_dict(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, object]:
    """Return a ``SELECT rowid, *`` row as its columns by name, the rowid left out."""
    names = [column[0] for column in cursor.description][1:]
    return dict(zip(names, row[1:], strict=True))


def _rowids_in(
    conn: sqlite3.Connection, table: str, skipped: list[tuple[int, int | None]]
) -> Iterator[int] | None:
    """Return the rowids ``table`` holds in the ``skipped`` stretches, in order, from one of its indexes.

    Any index without a WHERE clause holds every row's rowid; the first that
    reads whole is used. Sorting by rowid reads the whole index before the
    first rowid comes out, so a damaged index fails here, not halfway through.
    ``None`` when none reads whole.
    """
    for _, index, _, _, partial in conn.execute(
        f"PRAGMA index_list({table})"
    ).fetchall():
        if partial:
            continue
        cursor = conn.execute(
            f"SELECT rowid FROM {table} INDEXED BY {index} ORDER BY rowid"  # noqa: S608
        )
        try:
            first = cursor.fetchone()
        except sqlite3.DatabaseError as err:
            if not is_damaged(err):
                raise
            continue
        rows = itertools.chain([] if first is None else [first], cursor)
        return (rowid for (rowid,) in rows if _in_stretches(rowid, skipped))
    return None


def _rebuilt_rows(
    conn: sqlite3.Connection, table: str, skipped: list[tuple[int, int | None]]
) -> Iterator[dict[str, object]]:
    """Yield the rows of ``table`` in the ``skipped`` stretches, rebuilt from its unique index.

    The scan reads only the index's pages (a covering index), never the
    table's; a damaged index page raises there.
    """
    column, _ = _UNIQUE_INDEX[table]
    for rowid, value in _index_entries(
        conn, table, lambda rowid: _in_stretches(rowid, skipped)
    ):
        row: dict[str, object] = {"id": rowid, column: value}
        if table == "plates":
            row["lookalike"] = lookalike_key(value)
        yield row


def _lost_keys(
    conn: sqlite3.Connection, table: str, lost: tuple[tuple[int, int], ...]
) -> tuple[str, ...] | None:
    """Return the unique column of ``table``'s rows in the ``lost`` runs of rowids, sorted.

    ``None`` when they cannot be told: the unique index is damaged too.
    """
    firsts = [first for first, _ in lost]

    def is_lost(rowid: int) -> bool:
        at = bisect.bisect_right(firsts, rowid) - 1
        return at >= 0 and rowid <= lost[at][1]

    try:
        return tuple(sorted(value for _, value in _index_entries(conn, table, is_lost)))
    except sqlite3.Error as err:
        _LOGGER.warning(
            "The %s index cannot be read either, so the rows lost are not known: %s",
            table,
            err,
        )
        return None


def _index_entries(
    conn: sqlite3.Connection, table: str, wanted: Callable[[int], bool]
) -> Iterator[tuple[int, str]]:
    """Yield (rowid, unique value) of the ``wanted`` rowids of ``table``.

    Read from the table's unique index alone (a covering index scan), never
    from the table's pages. Raises what SQLite raises at a damaged index page.
    """
    column, index = _UNIQUE_INDEX[table]
    for rowid, value in conn.execute(
        f"SELECT rowid, {column} FROM {table} INDEXED BY {index}"  # noqa: S608
    ):
        if wanted(rowid):
            yield rowid, value


def _in_stretches(rowid: int, skipped: list[tuple[int, int | None]]) -> bool:
    """Whether ``rowid`` lies in one of the stretches a table read skipped (in rowid order)."""
    # The last stretch that starts before it; found by bisection, as a damaged
    # file can have many stretches and a table millions of rowids.
    at = bisect.bisect_left(skipped, (rowid,)) - 1
    if at < 0:
        return False
    resume = skipped[at][1]
    return resume is None or rowid < resume


def _stretch(after: int, resume: int | None) -> str:
    """Describe the ids between two read rows, for the log."""
    first = "the first" if after == _SQLITE_MIN_INTEGER else str(after + 1)
    return f"{first} to {'the last' if resume is None else resume - 1}"


def _readable_rows(
    conn: sqlite3.Connection, table: str, skipped: list[tuple[int, int | None]]
) -> Iterator[dict[str, object]]:
    """Yield ``table``'s rows in rowid order, seeking past damaged pages.

    Each damaged stretch met is added to ``skipped`` as (the last rowid read
    before it, the first read after it or ``None`` at the end).
    """
    scan = f"SELECT rowid, * FROM {table} WHERE rowid > ? ORDER BY rowid"  # noqa: S608
    one = f"SELECT rowid, * FROM {table} WHERE rowid = ?"  # noqa: S608
    after = _SQLITE_MIN_INTEGER
    while True:
        try:
            cursor = conn.execute(scan, (after,))
            for row in cursor:
                after = row[0]
                yield _as_dict(cursor, row)
        except sqlite3.DatabaseError as err:
            if not is_damaged(err):
                raise
            # Python's cursor reads one row ahead and drops the row it holds
            # when that fails: the row before the damage comes back below,
            # read alone.
            resume, lost = _next_readable(conn, table, after)
            if lost:
                skipped.append((after, resume))
            if resume is None:
                break
            cursor = conn.execute(one, (resume,))
            yield _as_dict(cursor, cursor.fetchone())
            after = resume
            continue
        break


def _next_readable(
    conn: sqlite3.Connection, table: str, after: int
) -> tuple[int | None, bool]:
    """Return the first readable rowid past ``after`` (``None`` if none), and whether rows were lost.

    Seeks to ever farther rowids (1, 2, 4, ... past ``after``) until one lands
    on a page that reads, then halves the gap back to the first such rowid:
    the rows lost are those on the damaged pages, found in about 2 x 64 seeks
    at most.
    """
    # The whole row, as the scan reads it: a picture's overflow pages can be
    # the damaged ones. LIMIT 1 stops before the row after it is read.
    query = f"SELECT rowid, * FROM {table} WHERE rowid >= ? ORDER BY rowid LIMIT 1"  # noqa: S608

    def first_from(start: int) -> tuple[bool, int | None]:
        """Return whether the seek to ``start`` read, and the rowid it found (``None``: past the last)."""
        try:
            row = conn.execute(query, (start,)).fetchone()
        except sqlite3.DatabaseError as err:
            if not is_damaged(err):
                raise
            return False, None
        return True, None if row is None else int(row[0])

    failing, step = after, 1
    while True:
        reads = after + step
        if reads > SQLITE_MAX_INTEGER:
            return None, True
        readable, found = first_from(reads)
        if readable:
            break
        failing, step = reads, step * 2
    if step == 1:
        return found, False
    while reads - failing > 1:
        middle = (failing + reads) // 2
        readable, found_there = first_from(middle)
        if readable:
            reads, found = middle, found_there
        else:
            failing = middle
    return found, True
