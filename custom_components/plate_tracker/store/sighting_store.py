"""The durable sightings store: one SQLite file, plain Python.

Threading: the store holds two connections to the same WAL-mode file, each
guarded by its own lock. Every write goes through the writer connection in an
``IMMEDIATE`` transaction; reads go through the reader connection, which WAL
lets run while a write is in progress. So a slow search never delays storing a
sighting, and every method is safe to call from any thread (Home Assistant
calls them from its executor). Long jobs (purge, export) work in small batches
and release the locks between them.

Durability: ``synchronous=FULL`` makes every committed transaction reach the
disk before ``record`` returns, so an acknowledged sighting survives a power cut.
For a backup that copies the files while sightings keep coming,
``hold_main_file`` keeps the main file still (see there).

Images are blobs in their own table rather than files beside the database: a
sighting and its images commit in one transaction (no orphan or missing files
after a crash), one file is backed up, and SQLite reads small blobs faster than
the file system opens files. Being a separate table, images are purged on their
own schedule.

SQL text is only ever assembled from constant fragments in this module (hence
the ``noqa: S608``); every value goes through a parameter.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
import hashlib
import heapq
from itertools import islice
import json
import logging
from pathlib import Path
import re
import sqlite3
import threading
from typing import Any, Self, cast

import numpy as np
from numpy.typing import NDArray

from ..engine.types import Box, is_finite_number
from ..plate_text import (
    deletion_variants,
    fold_lookalikes,
    is_pattern,
    lookalike_key,
    within_one_edit,
)
from ..records import (
    Direction,
    MatchKind,
    NewSighting,
    Priority,
    Reader,
    Sighting,
    WatchlistEntry,
)
from . import export as evidence
from .errors import RouteChangedError, StoreValidationError, is_damaged
from .models import (
    ACTIVITY_COUNT_LIMIT,
    MAX_PAGE_SIZE,
    AuditLine,
    AuditRecord,
    CameraActivity,
    ExportReport,
    ImageKind,
    PurgeProgress,
    PurgeReport,
    RouteColumns,
    RouteRow,
    SearchPage,
    SearchQuery,
    SearchSort,
    WatchlistHit,
)
from .plate_patterns import canonical_plate, longest_literal_run, normalize_pattern
from .schema import (
    ROUTE_CHUNK,
    SAME_EVENT_WITHIN_US,
    STABLE_ID_TABLES,
    RouteEntry,
    keep_ids_above,
    migrate,
    pack_route_columns,
    write_route_chunks,
)

type _BatchParams = Callable[[tuple[int, int]], tuple[Any, ...]]
"""Gives a batch query its parameters for the keyset cursor ``(seen_us, id)``."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST_US, _LAST_US = (
    (moment - _EPOCH) // timedelta(microseconds=1)
    for moment in (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))
)
"""The stored times ``from_us`` can give a datetime for: UTC's first and last microsecond."""
SQLITE_MAX_INTEGER = 2**63 - 1
"""The largest integer SQLite stores: a larger id or offset fails to bind."""
_SQLITE_MIN_INTEGER = -(2**63)
RECOVERED_TABLES = (
    "cameras",
    "plates",
    "sightings",
    "images",
    "watchlist",
    "watchlist_hits",
    "audit",
)
"""What a damaged file's rows are carried over into a new database from, in order
(see ``insert_recovered``). The rest is built from these: the plates' fuzzy and
trigram indexes as plates are added, route chunks on the first route read."""
_DAY_US = 86_400_000_000
NAMED_MISSING_IDS = 10
"""Missing sighting ids an error names at most: enough to find the typo, short enough to read."""

# Stored codes; append only, never reorder.
_DIRECTION_CODES: dict[Direction, int] = {
    Direction.UNKNOWN: 0,
    Direction.APPROACHING: 1,
    Direction.RECEDING: 2,
    Direction.LEFT: 3,
    Direction.RIGHT: 4,
}
_READER_CODES: dict[Reader, int] = {Reader.ENGINE: 0, Reader.NVR: 1}
_READERS: dict[int, Reader] = {code: r for r, code in _READER_CODES.items()}
_DIRECTIONS: dict[int, Direction] = {code: d for d, code in _DIRECTION_CODES.items()}
_DIRECTION_TEXT = (
    "CASE s.direction "
    + " ".join(f"WHEN {code} THEN '{d.value}'" for d, code in _DIRECTION_CODES.items())
    + " END"
)
"""SQL giving a sighting's ``Direction`` value from its stored code."""
_IMAGE_KINDS: dict[str, int] = {"crop": 0, "snapshot": 1}

# Above this many candidate plates a search walks sightings in time order and
# checks the plate on the way, instead of reading every candidate's sightings.
_PLATE_DRIVEN_LIMIT = 5_000
# Up to this many candidate plates, a time-ordered page is merged from one
# index range per plate rather than sorted from all their sightings.
_MERGE_LIMIT = 32
_PURGE_BATCH = 500
_ROUTE_READS = 5
"""How often ``read_route_columns`` reads a route that purges keep changing."""
_CHUNK_DTYPES = ("<i8", "<i8", "<i4", "<i8")
"""Element types of the ``route_chunks`` blobs: seen_us, ids, camera_ids, event_keys."""
_LOGGER = logging.getLogger(__name__)

_WAL_AUTOCHECKPOINT_PAGES = 1000
"""SQLite's default, restored after a purge."""

_SIGHTING_SELECT = """
    SELECT s.id, c.name, s.seen_us, p.plate, s.raw, s.confidence, s.source,
           s.event_id, s.region, s.box, s.direction, s.alternatives,
           EXISTS (SELECT 1 FROM images i WHERE i.sighting_id = s.id AND i.kind = 0),
           EXISTS (SELECT 1 FROM images i WHERE i.sighting_id = s.id AND i.kind = 1),
           s.legal_hold, s.reader
    FROM sightings s
    JOIN plates p ON p.id = s.plate_id
    JOIN cameras c ON c.id = s.camera_id
"""
_HIT_SELECT = """
    SELECT id, sighting_id, entry_id, listed_plate, match_kind, plate_read, at_us,
           acknowledged_by, acknowledged_us
    FROM watchlist_hits
"""
_WATCHLIST_SELECT = """
    SELECT id, plate, label, reason, priority, expires_us, cameras, active_from,
           active_until, enabled
    FROM watchlist
"""
_WATCHLIST_RETURNING = """
    RETURNING id, plate, label, reason, priority, expires_us, cameras, active_from,
              active_until, enabled
"""
"""The columns of ``_WATCHLIST_SELECT``, for the entries a statement changed."""


def to_us(moment: datetime) -> int:
    """Return a timezone-aware datetime as integer microseconds since the epoch.

    A time UTC cannot hold (year 1 east of Greenwich, the end of 9999 west of
    it) is refused: stored, it could never be read back as a datetime.
    """
    if moment.utcoffset() is None:
        raise StoreValidationError("naive_datetime", value=moment.isoformat())
    delta = moment - _EPOCH
    microseconds = (
        delta.days * 86_400 + delta.seconds
    ) * 1_000_000 + delta.microseconds
    if not _FIRST_US <= microseconds <= _LAST_US:
        raise StoreValidationError("datetime_out_of_range", value=moment.isoformat())
    return microseconds


def from_us(microseconds: int) -> datetime:
    """Return stored microseconds as a UTC datetime."""
    return _EPOCH + timedelta(microseconds=microseconds)


class SightingStore:
    """Sightings, watchlist, hits and audit log in one SQLite file.

    ``SightingStore.open(path)`` returns an open store; ``close()`` it when done
    (or use it as a context manager).
    """

    def __init__(
        self, path: Path, *, cache_mib: int = 64, busy_timeout_s: float = 10.0
    ) -> None:
        """Remember where the database lives; ``open`` connects."""
        self.path = path
        self._cache_mib = cache_mib
        self._busy_timeout_s = busy_timeout_s
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._checkpointer: sqlite3.Connection | None = None
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._snapshot = threading.local()
        """``conn``: this thread's snapshot connection inside ``snapshot()``."""
        self._checkpoint_lock = threading.Lock()
        self._main_file_held = False
        self._purges_running = 0

    # -- lifecycle ---------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        cache_mib: int = 64,
        busy_timeout_s: float = 10.0,
        held: bool = False,
    ) -> Self:
        """Open (creating or upgrading) the database file and return the store.

        ``cache_mib`` is the page cache of each of the two connections. With
        ``held`` the store is opened while a backup copies the files: it is
        held as ``hold_main_file`` holds, from before its first write on, and
        without the checkpoint a hold starts with.
        """
        store = cls(path, cache_mib=cache_mib, busy_timeout_s=busy_timeout_s)
        path.parent.mkdir(parents=True, exist_ok=True)
        opened: list[sqlite3.Connection] = []
        try:
            opened.append(writer := store._connect())
            if held:
                writer.execute("PRAGMA wal_autocheckpoint = 0")
            writer.execute("PRAGMA journal_mode = WAL")
            migrate(writer)
            # Plan queries from statistics; the limit keeps that quick on big files.
            writer.execute("PRAGMA analysis_limit = 1000")
            writer.execute("PRAGMA optimize = 0x10002")
            opened.append(reader := store._connect())
            reader.execute("PRAGMA query_only = ON")
            opened.append(checkpointer := store._connect())
        except BaseException:
            # A damaged file fails here; each retry must not leave a connection open.
            for conn in reversed(opened):
                conn.close()
            raise
        store._writer, store._reader = writer, reader
        store._checkpointer = checkpointer
        if held:
            store._hold(checkpoint_first=False)
        return store

    def close(self) -> None:
        """Checkpoint the WAL into the main file and close the connections.

        While ``hold_main_file`` holds, nothing is checkpointed, not even by
        SQLite on the last close: the WAL stays and is read on the next open.
        """
        with self._write_lock, self._read_lock, self._checkpoint_lock:
            held = self._main_file_held
            for name in ("_checkpointer", "_reader", "_writer"):
                conn: sqlite3.Connection | None = getattr(self, name)
                if conn is None:
                    continue
                if held:
                    conn.setconfig(sqlite3.SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, True)
                elif conn is self._writer:
                    try:
                        conn.execute("PRAGMA optimize")
                        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    except sqlite3.Error as err:
                        # A damaged or full disk: the WAL stays for the next open.
                        _LOGGER.warning(
                            "Closing the sightings database %s without a checkpoint: %s",
                            self.path,
                            err,
                        )
                conn.close()
                setattr(self, name, None)

    @property
    def is_open(self) -> bool:
        """Whether the store is open (``close`` not called yet)."""
        return self._writer is not None

    # -- backups -------------------------------------------------------------

    @property
    def main_file_held(self) -> bool:
        """Whether ``hold_main_file`` holds the main file still."""
        return self._main_file_held

    def hold_main_file(self) -> None:
        """Leave the main database file untouched until ``release_main_file``.

        For a backup that copies the files one after the other while sightings
        keep coming (Home Assistant's own backups do). In WAL mode only a
        checkpoint writes the main file; while held none runs (none after a
        commit, none between a purge's batches, none on close). Nor is the WAL
        started over from its first frame, which a writer does only once a
        checkpoint has copied all of it: a commit here, before the backup
        starts, leaves a frame no checkpoint will copy. So commits only add to
        the WAL's end. A copy of the main file with whatever part of the WAL the
        backup read opens as the database was at one moment of the backup:
        SQLite replays the WAL's frames up to its last complete commit and, by
        their checksums, ignores the rest. Nothing waits for the backup.

        First the WAL is checkpointed and emptied, with every connection of
        this store idle, so the copy holds little of it. Blocking; holding
        twice is one hold.
        """
        self._hold(checkpoint_first=True)

    def _hold(self, *, checkpoint_first: bool) -> None:
        with self._write_lock, self._read_lock, self._checkpoint_lock:
            writer, checkpointer = self._writer, self._checkpointer
            if writer is None or checkpointer is None:
                raise RuntimeError("the sighting store is not open")
            if self._main_file_held:
                return
            if checkpoint_first:
                checkpointer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._main_file_held = True
            self._apply_autocheckpoint()
            writer.execute("BEGIN IMMEDIATE")
            try:
                (version,) = writer.execute("PRAGMA user_version").fetchone()
                writer.execute(f"PRAGMA user_version = {int(version)}")
            except BaseException:
                writer.execute("ROLLBACK")
                self._main_file_held = False
                self._apply_autocheckpoint()
                raise
            writer.execute("COMMIT")

    def _apply_autocheckpoint(self) -> None:
        """Turn the writer's automatic checkpoints off while a hold or a purge wants them off.

        The caller holds the write lock.
        """
        if self._writer is not None:
            held = self._main_file_held or self._purges_running
            pages = 0 if held else _WAL_AUTOCHECKPOINT_PAGES
            self._writer.execute(f"PRAGMA wal_autocheckpoint = {pages}")

    def release_main_file(self) -> bool:
        """End ``hold_main_file``: checkpoints run again. Return whether it held.

        Blocking: what the WAL gathered meanwhile is checkpointed now, without
        waiting for readers, instead of inside the next sighting's commit.
        """
        with self._write_lock:
            held, self._main_file_held = self._main_file_held, False
            self._apply_autocheckpoint()
        if held:
            self._checkpoint_passive()
        return held

    def _checkpoint_passive(self) -> None:
        """Checkpoint what readers allow, on a connection of its own; none while held."""
        with self._checkpoint_lock:
            if self._checkpointer is not None and not self._main_file_held:
                self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def __enter__(self) -> Self:
        """Use an open store in a ``with`` block that closes it."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the store at the end of a ``with`` block."""
        self.close()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            autocommit=True,
            check_same_thread=False,
            timeout=self._busy_timeout_s,
        )
        try:
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_s * 1000)}")
            conn.execute(f"PRAGMA cache_size = {-self._cache_mib * 1024}")
            conn.execute("PRAGMA temp_store = MEMORY")
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """Run a block in one write transaction on the writer connection."""
        with self._write_lock:
            if self._writer is None:
                raise RuntimeError("the sighting store is not open")
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                # A full disk or an I/O error rolls back the whole transaction
                # already; the error that did it must reach the caller.
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """Run a block in one read transaction, so it sees a single snapshot.

        Inside ``snapshot()`` the block reads that snapshot instead.
        """
        if (held := getattr(self._snapshot, "conn", None)) is not None:
            yield held
            return
        with self._read_lock:
            if self._reader is None:
                raise RuntimeError("the sighting store is not open")
            conn = self._reader
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Let this thread's reads in the block see the database as it was at its start.

        Something read in many steps (an export, page after page) then holds
        every sighting its query selects exactly once, with its own images,
        whatever is stored or purged meanwhile. The snapshot has a connection
        of its own: other threads' reads are not held up, however long the
        block runs. Nested blocks share the outer snapshot.
        """
        if getattr(self._snapshot, "conn", None) is not None:
            yield
            return
        conn = self._connect()
        try:
            conn.execute("BEGIN")
            # A read transaction takes its snapshot at its first read, not at BEGIN.
            conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
            self._snapshot.conn = conn
            try:
                yield
            finally:
                self._snapshot.conn = None
                conn.execute("COMMIT")
        finally:
            conn.close()

    # -- sightings -----------------------------------------------------------

    def record(self, new: NewSighting) -> tuple[Sighting, bool]:
        """Store a sighting; return it and whether it was created.

        A second read of the same NVR event (same source, camera and event id,
        dated within ``SAME_EVENT_WITHIN_US`` of it: an id an NVR hands out
        again after a restart is another car) updates the stored sighting when
        its confidence is higher; either way ``created`` is False. The sighting keeps the time it was first seen;
        images the better read lacks are kept. A known direction is taken
        whatever the confidence (the NVR often learns it late in the pass, at
        the latest when the event ends), and an unknown one never replaces a
        known one.

        A sighting without an event id that is already stored (same source,
        camera, time to the microsecond and plate) is that one again, not a
        second car: a spool replayed after a crash, or an inbox picture read
        again after the store refused its next plate, would store it twice.
        """
        with self._write() as conn:
            sighting_id, created = self._record(conn, new, {})
            sighting = self._load_sightings(conn, [sighting_id])[0]
        return sighting, created

    def record_many(self, sightings: Iterable[NewSighting]) -> int:
        """Store many sightings in one transaction (imports, benchmarks).

        Same rules as ``record``; returns how many sightings were created.
        """
        camera_ids: dict[str, int] = {}
        created_count = 0
        with self._write() as conn:
            for new in sightings:
                created_count += self._record(conn, new, camera_ids)[1]
        return created_count

    def _record(
        self, conn: sqlite3.Connection, new: NewSighting, camera_ids: dict[str, int]
    ) -> tuple[int, bool]:
        plate = canonical_plate(new.plate)
        camera_id = camera_ids.get(new.camera)
        if camera_id is None:
            camera_id = camera_ids[new.camera] = self._camera_id(conn, new.camera)
        box = None if new.box is None else ",".join(map(str, new.box))
        alternatives = json.dumps(new.alternatives) if new.alternatives else None
        direction = _DIRECTION_CODES[new.direction]
        seen_us = to_us(new.seen_at)
        if new.event_id is not None:
            existing = conn.execute(
                "SELECT id, confidence, plate_id, seen_us, direction FROM sightings"
                " INDEXED BY sightings_event"
                " WHERE source = ? AND camera_id = ? AND event_id = ?"
                " AND seen_us BETWEEN ? AND ? ORDER BY abs(seen_us - ?), id LIMIT 1",
                (
                    new.source,
                    camera_id,
                    new.event_id,
                    max(seen_us - SAME_EVENT_WITHIN_US, _SQLITE_MIN_INTEGER),
                    min(seen_us + SAME_EVENT_WITHIN_US, SQLITE_MAX_INTEGER),
                    seen_us,
                ),
            ).fetchone()
            if existing is not None:
                sighting_id, confidence, old_plate_id, seen_us, old_direction = existing
                direction = direction or old_direction
                if new.revises or new.confidence > confidence:
                    plate_id = self._plate_id(conn, plate)
                    conn.execute(
                        "UPDATE sightings SET plate_id = ?, raw = ?, confidence = ?,"
                        " region = ?, box = ?, direction = ?, alternatives = ?,"
                        " reader = ? WHERE id = ?",
                        (
                            plate_id,
                            new.raw,
                            new.confidence,
                            new.region,
                            box,
                            direction,
                            alternatives,
                            _READER_CODES[new.reader],
                            sighting_id,
                        ),
                    )
                    self._store_images(conn, sighting_id, seen_us, new)
                    if plate_id != old_plate_id:
                        self._remove_from_route_chunks(
                            conn, {old_plate_id: [sighting_id]}
                        )
                        self._append_route_chunk(
                            conn,
                            plate_id,
                            (seen_us, sighting_id, camera_id, new.event_id),
                        )
                        self._drop_orphan_plates(conn, [old_plate_id])
                elif direction != old_direction:
                    # The route columns hold no direction: they stay as they are.
                    conn.execute(
                        "UPDATE sightings SET direction = ? WHERE id = ?",
                        (direction, sighting_id),
                    )
                return sighting_id, False
        if new.event_id is None:
            again = conn.execute(
                "SELECT s.id FROM sightings s INDEXED BY sightings_camera_time"
                " JOIN plates p ON p.id = s.plate_id"
                " WHERE s.camera_id = ? AND s.seen_us = ? AND p.plate = ?"
                " AND s.source = ? AND s.event_id IS NULL",
                (camera_id, seen_us, plate, new.source),
            ).fetchone()
            if again is not None:
                return again[0], False
        plate_id = self._plate_id(conn, plate)
        (sighting_id,) = conn.execute(
            "INSERT INTO sightings (plate_id, camera_id, seen_us, raw, confidence,"
            " region, box, direction, alternatives, source, event_id, reader)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                plate_id,
                camera_id,
                seen_us,
                new.raw,
                new.confidence,
                new.region,
                box,
                direction,
                alternatives,
                new.source,
                new.event_id,
                _READER_CODES[new.reader],
            ),
        ).fetchone()
        self._append_route_chunk(
            conn, plate_id, (seen_us, sighting_id, camera_id, new.event_id)
        )
        self._store_images(conn, sighting_id, seen_us, new)
        return sighting_id, True

    @staticmethod
    def _append_route_chunk(
        conn: sqlite3.Connection, plate_id: int, entry: RouteEntry
    ) -> None:
        """Add a sighting to its plate's route chunks (see ``schema``).

        A plate seen for the first time gets its first chunk. Any other plate
        without chunks is left so: its columns are built from the route index
        on the next route read.
        """
        last = conn.execute(
            "SELECT chunk, count, seen_us, ids, camera_ids, event_keys"
            " FROM route_chunks WHERE plate_id = ? ORDER BY chunk DESC LIMIT 1",
            (plate_id,),
        ).fetchone()
        if last is None:
            if conn.execute(
                "SELECT count(*) FROM (SELECT 1 FROM sightings"
                " INDEXED BY sightings_plate_route WHERE plate_id = ? LIMIT 2)",
                (plate_id,),
            ).fetchone() == (1,):
                write_route_chunks(conn, plate_id, [entry])
            return
        chunk, count, *packed = last
        if count >= ROUTE_CHUNK:
            write_route_chunks(conn, plate_id, [entry], first_chunk=chunk + 1)
            return
        conn.execute(
            "UPDATE route_chunks SET count = ?, seen_us = ?, ids = ?, camera_ids = ?,"
            " event_keys = ? WHERE plate_id = ? AND chunk = ?",
            (
                count + 1,
                *(
                    old + new
                    for old, new in zip(
                        packed, pack_route_columns([entry]), strict=True
                    )
                ),
                plate_id,
                chunk,
            ),
        )

    @staticmethod
    def _remove_from_route_chunks(
        conn: sqlite3.Connection, removed: dict[int, list[int]]
    ) -> None:
        """Take sightings out of their plates' route chunks (``{plate_id: ids}``)."""
        for plate_id, sighting_ids in removed.items():
            gone = np.array(sighting_ids, dtype=np.int64)
            for chunk, *packed in conn.execute(
                "SELECT chunk, seen_us, ids, camera_ids, event_keys FROM route_chunks"
                " WHERE plate_id = ?",
                (plate_id,),
            ).fetchall():
                columns = [
                    np.frombuffer(blob, dtype=dtype)
                    for blob, dtype in zip(packed, _CHUNK_DTYPES, strict=True)
                ]
                kept = ~np.isin(columns[1], gone)
                if kept.all():
                    continue
                if not kept.any():
                    conn.execute(
                        "DELETE FROM route_chunks WHERE plate_id = ? AND chunk = ?",
                        (plate_id, chunk),
                    )
                    continue
                conn.execute(
                    "UPDATE route_chunks SET count = ?, seen_us = ?, ids = ?,"
                    " camera_ids = ?, event_keys = ? WHERE plate_id = ? AND chunk = ?",
                    (
                        int(kept.sum()),
                        *(column[kept].tobytes() for column in columns),
                        plate_id,
                        chunk,
                    ),
                )

    @staticmethod
    def _camera_id(conn: sqlite3.Connection, camera: str) -> int:
        row = conn.execute(
            "SELECT id FROM cameras WHERE name = ?", (camera,)
        ).fetchone()
        if row is not None:
            return cast("int", row[0])
        return cast(
            "int",
            conn.execute(
                "INSERT INTO cameras (name) VALUES (?) RETURNING id", (camera,)
            ).fetchone()[0],
        )

    @staticmethod
    def _plate_id(conn: sqlite3.Connection, plate: str) -> int:
        """Return the id of a plate, adding it and its fuzzy-index rows if new."""
        row = conn.execute("SELECT id FROM plates WHERE plate = ?", (plate,)).fetchone()
        if row is not None:
            return cast("int", row[0])
        key = lookalike_key(plate)
        plate_id = cast(
            "int",
            conn.execute(
                "INSERT INTO plates (plate, lookalike) VALUES (?, ?) RETURNING id",
                (plate, key),
            ).fetchone()[0],
        )
        SightingStore._add_plate_variants(conn, plate_id, key)
        return plate_id

    @staticmethod
    def _add_plate_variants(conn: sqlite3.Connection, plate_id: int, key: str) -> None:
        """Add a new plate's rows to the fuzzy index (see ``schema``)."""
        conn.executemany(
            "INSERT INTO plate_variants (variant, plate_id) VALUES (?, ?)",
            ((variant, plate_id) for variant in deletion_variants(key)),
        )

    @staticmethod
    def _drop_orphan_plates(conn: sqlite3.Connection, plate_ids: Iterable[int]) -> int:
        """Remove plates no sighting refers to, so fuzzy lookups stay exact."""
        removed = 0
        for plate_id in set(plate_ids):
            removed += conn.execute(
                "DELETE FROM plates WHERE id = ? AND NOT EXISTS"
                " (SELECT 1 FROM sightings WHERE plate_id = ?)",
                (plate_id, plate_id),
            ).rowcount
        return removed

    @staticmethod
    def _store_images(
        conn: sqlite3.Connection, sighting_id: int, seen_us: int, new: NewSighting
    ) -> None:
        for kind, jpeg in (("crop", new.crop_jpeg), ("snapshot", new.snapshot_jpeg)):
            if jpeg is not None:
                conn.execute(
                    "INSERT INTO images (sighting_id, kind, seen_us, jpeg)"
                    " VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (sighting_id, kind) DO UPDATE SET jpeg = excluded.jpeg",
                    (sighting_id, _IMAGE_KINDS[kind], seen_us, jpeg),
                )

    def image(self, sighting_id: int, kind: ImageKind) -> bytes | None:
        """Return a sighting's plate crop or snapshot JPEG, if still kept."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT jpeg FROM images WHERE sighting_id = ? AND kind = ?",
                (sighting_id, _IMAGE_KINDS[kind]),
            ).fetchone()
        return None if row is None else cast("bytes", row[0])

    def get(self, sighting_id: int) -> Sighting | None:
        """Return one sighting by id."""
        with self._read() as conn:
            found = self._load_sightings(conn, [sighting_id])
        return found[0] if found else None

    def latest_per_camera(self) -> dict[str, Sighting]:
        """Return the most recent sighting of every camera that has one."""
        with self._read() as conn:
            ids = [
                row[0]
                for row in conn.execute(
                    "SELECT (SELECT s.id FROM sightings s WHERE s.camera_id = c.id"
                    " ORDER BY s.seen_us DESC, s.id DESC LIMIT 1) AS latest"
                    " FROM cameras c WHERE latest IS NOT NULL"
                )
            ]
            return {s.camera: s for s in self._load_sightings(conn, ids)}

    def camera_activity(
        self, cameras: Iterable[str], since: datetime
    ) -> dict[str, CameraActivity]:
        """Return what each camera recorded after ``since`` and when it last recorded anything.

        A camera without any sighting counts 0 with no last time. Both come from
        the (camera, time) index: a busy exit costs a bounded range scan.
        """
        since_us = to_us(since)
        activity: dict[str, CameraActivity] = {}
        with self._read() as conn:
            for camera in cameras:
                row = conn.execute(
                    "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM sightings"
                    "   WHERE camera_id = c.id AND seen_us > ? LIMIT ?)),"
                    " (SELECT MAX(seen_us) FROM sightings WHERE camera_id = c.id)"
                    " FROM cameras c WHERE c.name = ?",
                    (since_us, ACTIVITY_COUNT_LIMIT, camera),
                ).fetchone()
                count, last_us = row if row is not None else (0, None)
                activity[camera] = CameraActivity(
                    sightings_since=count,
                    last_seen_at=from_us(last_us) if last_us is not None else None,
                )
        return activity

    def recent(self, limit: int = 50, before_id: int | None = None) -> list[Sighting]:
        """Return the most recently stored sightings, newest first.

        Pass the last id of a page as ``before_id`` to get the next page.
        """
        with self._read() as conn:
            ids = [
                row[0]
                for row in conn.execute(
                    "SELECT id FROM sightings WHERE id < ? ORDER BY id DESC LIMIT ?",
                    (before_id if before_id is not None else SQLITE_MAX_INTEGER, limit),
                )
            ]
            return self._load_sightings(conn, ids)

    def sightings_for_plate(
        self,
        plate: str,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1_000,
    ) -> list[Sighting]:
        """Return the sightings of one plate in time order (oldest first).

        ``since`` is inclusive, ``until`` exclusive; at most ``limit`` sightings,
        the earliest in the window.
        """
        since_us, until_us = _time_range(since, until)
        with self._read() as conn:
            ids = [
                row[0]
                for row in conn.execute(
                    "SELECT id FROM sightings INDEXED BY sightings_plate_route"
                    " WHERE plate_id = (SELECT id FROM plates WHERE plate = ?)"
                    " AND seen_us >= ? AND seen_us < ? ORDER BY seen_us, id LIMIT ?",
                    (canonical_plate(plate), since_us, until_us, limit),
                )
            ]
            return self._load_sightings(conn, ids)

    def route_for(
        self,
        plate: str,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        include_lookalikes: bool = False,
    ) -> list[RouteRow]:
        """Return where a plate was seen, in ``(seen_us, id)`` order, as ``RouteRow``s.

        Built for routes of 100,000 sightings: every column comes from the
        plate's covering index (no table lookups) and the rows come straight
        from the cursor, already in the shape the journey logic transposes
        into columns (no Python work per sighting).

        With ``include_lookalikes`` the route also holds the sightings of plates
        that differ from it only by look-alike characters (each row says which
        plate was read), so the journey logic can join misreads.
        """
        since_us, until_us = _time_range(since, until)
        canonical = canonical_plate(plate)
        with self._read() as conn:
            if include_lookalikes:
                plate_filter = (
                    "s.plate_id IN (SELECT id FROM plates WHERE lookalike = ?)"
                )
                plate_param = lookalike_key(canonical)
            else:
                # ``=`` lets the index deliver the rows in time order, unsorted.
                plate_filter = "s.plate_id = (SELECT id FROM plates WHERE plate = ?)"
                plate_param = canonical
            return conn.execute(
                "SELECT s.id, c.name, s.seen_us / 1000000.0, p.plate, s.confidence,"  # noqa: S608
                f" {_DIRECTION_TEXT}, s.event_id"
                " FROM sightings s INDEXED BY sightings_plate_route"
                " CROSS JOIN cameras c ON c.id = s.camera_id"
                " CROSS JOIN plates p ON p.id = s.plate_id"
                f" WHERE {plate_filter} AND s.seen_us >= ? AND s.seen_us < ?"
                " ORDER BY s.seen_us, s.id",
                (plate_param, since_us, until_us),
            ).fetchall()

    def route_columns(
        self,
        plate: str,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        include_lookalikes: bool = False,
    ) -> RouteColumns:
        """Return the sightings ``route_for`` would, as columns (see ``RouteColumns``).

        Read from the packed ``route_chunks`` in a few milliseconds for 100,000
        sightings; a plate whose chunks are missing gets them rebuilt first.
        """
        since_us, until_us = _time_range(since, until)
        canonical = canonical_plate(plate)
        for attempt in range(2):
            with self._read() as conn:
                if include_lookalikes:
                    plates = conn.execute(
                        "SELECT id, plate FROM plates WHERE lookalike = ?",
                        (lookalike_key(canonical),),
                    ).fetchall()
                else:
                    plates = conn.execute(
                        "SELECT id, plate FROM plates WHERE plate = ?", (canonical,)
                    ).fetchall()
                plate_ids = json.dumps([plate_id for plate_id, _ in plates])
                chunks = conn.execute(
                    "SELECT plate_id, count, seen_us, ids, camera_ids, event_keys"
                    " FROM route_chunks"
                    " WHERE plate_id IN (SELECT value FROM json_each(?))"
                    " ORDER BY plate_id, chunk",
                    (plate_ids,),
                ).fetchall()
                missing = {plate_id for plate_id, _ in plates} - {
                    chunk[0] for chunk in chunks
                }
                if not missing:
                    camera_names = dict(
                        conn.execute("SELECT id, name FROM cameras").fetchall()
                    )
                    break
            if attempt:
                raise RuntimeError("route columns vanished while being rebuilt")
            self._rebuild_route_chunks(missing)
        columns = _unpack_route_chunks(chunks)
        first, last = np.searchsorted(columns[0], [since_us, until_us], side="left")
        seen_us, ids, camera_ids, event_keys, plate_ids_column = (
            column[first:last] for column in columns
        )
        return RouteColumns(
            seen_us=seen_us,
            ids=ids,
            camera_ids=camera_ids,
            event_keys=event_keys,
            plate_ids=plate_ids_column,
            camera_names=camera_names,
            plates=dict(plates),
            load_rows=self._route_rows,
        )

    def read_route_columns[T](
        self,
        plate: str,
        use: Callable[[RouteColumns], T],
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        include_lookalikes: bool = False,
    ) -> T:
        """Return ``use`` applied to ``route_columns``, read again if a purge erased part of it meanwhile.

        The columns and the rows they load are two reads: a purge committing
        in between (retention runs in its own thread) erases rows the columns
        still list, and ``load_rows`` raises ``RouteChangedError``. Read
        again, the route is the one without them; ``use`` must have no other
        effect than its result. After ``_ROUTE_READS`` such reads the error
        is raised.
        """
        attempt = 1
        while True:
            columns = self.route_columns(
                plate, since, until, include_lookalikes=include_lookalikes
            )
            try:
                return use(columns)
            except RouteChangedError:
                if attempt == _ROUTE_READS:
                    raise
                _LOGGER.debug("Route of %s changed while read; reading again", plate)
            attempt += 1

    def _rebuild_route_chunks(self, plate_ids: Iterable[int]) -> None:
        """Build the route chunks of plates that have none, from the route index."""
        with self._write() as conn:
            for plate_id in plate_ids:
                if conn.execute(
                    "SELECT 1 FROM route_chunks WHERE plate_id = ?", (plate_id,)
                ).fetchone():
                    continue
                write_route_chunks(
                    conn,
                    plate_id,
                    conn.execute(
                        "SELECT seen_us, id, camera_id, event_id FROM sightings"
                        " INDEXED BY sightings_plate_route"
                        " WHERE plate_id = ? ORDER BY seen_us, id",
                        (plate_id,),
                    ).fetchall(),
                )

    def _route_rows(self, ids: Sequence[int]) -> list[RouteRow]:
        """Return the ``RouteRow`` of each sighting id, in the order of ``ids``."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT s.id, c.name, s.seen_us / 1000000.0, p.plate, s.confidence,"  # noqa: S608
                f" {_DIRECTION_TEXT}, s.event_id"
                " FROM sightings s"
                " CROSS JOIN cameras c ON c.id = s.camera_id"
                " CROSS JOIN plates p ON p.id = s.plate_id"
                " WHERE s.id IN (SELECT value FROM json_each(?))",
                (json.dumps([int(sighting_id) for sighting_id in ids]),),
            ).fetchall()
        by_id = {row[0]: row for row in rows}
        if erased := [int(i) for i in ids if int(i) not in by_id]:
            raise RouteChangedError(erased)
        return [by_id[int(sighting_id)] for sighting_id in ids]

    def count(self) -> int:
        """Return how many sightings are stored."""
        with self._read() as conn:
            return cast(
                "int", conn.execute("SELECT count(*) FROM sightings").fetchone()[0]
            )

    def stored_events(self, source: str, events: Iterable[tuple[str, str]]) -> set[str]:
        """Return the event ids of ``events`` ((camera, event id) pairs) with a sighting from ``source``."""
        with self._read() as conn:
            return {
                event_id
                for camera, event_id in events
                if conn.execute(
                    "SELECT 1 FROM sightings WHERE source = ? AND event_id = ?"
                    " AND camera_id = (SELECT id FROM cameras WHERE name = ?)",
                    (source, event_id, camera),
                ).fetchone()
                is not None
            }

    def cameras(self) -> list[str]:
        """Return every camera that has ever reported a sighting, by name."""
        with self._read() as conn:
            return [
                row[0] for row in conn.execute("SELECT name FROM cameras ORDER BY name")
            ]

    @staticmethod
    def _load_sightings(conn: sqlite3.Connection, ids: Sequence[int]) -> list[Sighting]:
        """Return full sightings for ids, in the order of ``ids``."""
        if not ids:
            return []
        rows = conn.execute(
            _SIGHTING_SELECT + " WHERE s.id IN (SELECT value FROM json_each(?))",  # noqa: S608
            (json.dumps(list(ids)),),
        ).fetchall()
        by_id = {row[0]: _sighting(row) for row in rows}
        return [by_id[sighting_id] for sighting_id in ids if sighting_id in by_id]

    # -- search --------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchPage:
        """Return one page of sightings matching a query.

        Raises ``StoreValidationError`` for a bad pattern, a reversed time range,
        a page size out of range or a cursor from another query.
        """
        if not 1 <= query.page_size <= MAX_PAGE_SIZE:
            raise StoreValidationError(
                "page_size_out_of_range",
                page_size=query.page_size,
                maximum=MAX_PAGE_SIZE,
            )
        since_us, until_us = _time_range(query.since, query.until)
        pattern = normalize_pattern(query.plate) if query.plate is not None else None
        selection = _selection_digest(query, pattern, since_us, until_us)
        after = (
            _decode_cursor(query.cursor, query.sort, selection)
            if query.cursor
            else None
        )
        with self._read() as conn:
            filters = ["s.seen_us >= ?", "s.seen_us < ?"]
            params: list[Any] = [since_us, until_us]
            if query.cameras:
                camera_ids = [
                    row[0]
                    for row in conn.execute(
                        "SELECT id FROM cameras WHERE name IN (SELECT value FROM json_each(?))",
                        (json.dumps(list(query.cameras)),),
                    )
                ]
                if not camera_ids:
                    return SearchPage(sightings=(), match_kinds={}, next_cursor=None)
                # With one camera, ``=`` lets the index deliver rows in time order.
                filters.append(
                    "s.camera_id = ?"
                    if len(camera_ids) == 1
                    else "s.camera_id IN (SELECT value FROM json_each(?))"
                )
                params.append(
                    camera_ids[0] if len(camera_ids) == 1 else json.dumps(camera_ids)
                )
            if query.min_confidence is not None:
                filters.append("s.confidence >= ?")
                params.append(query.min_confidence)
            if after is not None:
                filters.append(_SORTS[query.sort][2])
                params.extend(after)
            match_kinds: dict[str, MatchKind] = {}
            candidates = (
                None
                if pattern is None
                else _candidate_plates(conn, pattern, fuzzy=query.fuzzy)
            )
            if pattern is None:
                rows = _page_keys(conn, "sightings s", filters, params, query)
            elif candidates is None:
                # Too many plates match: walk sightings in time order and test
                # each one's plate, stopping once the page is full.
                filters.append("p.lookalike GLOB ?")
                params.append(fold_lookalikes(pattern))
                if not query.fuzzy:
                    filters.append("p.plate GLOB ?")
                    params.append(pattern)
                source = (
                    "sightings s"
                    + (
                        ""
                        if query.sort is SearchSort.CONFIDENCE
                        else " INDEXED BY sightings_time"
                    )
                    + " CROSS JOIN plates p ON p.id = s.plate_id"
                )
                rows = _page_keys(conn, source, filters, params, query)
            elif not candidates:
                return SearchPage(sightings=(), match_kinds={}, next_cursor=None)
            else:
                match_kinds = {plate: kind for _, plate, kind in candidates}
                plate_ids = [plate_id for plate_id, _, _ in candidates]
                source = "sightings s INDEXED BY sightings_plate_route"
                if (
                    query.sort is not SearchSort.CONFIDENCE
                    and len(plate_ids) <= _MERGE_LIMIT
                ):
                    # The index gives each plate's sightings in time order; merging
                    # a page from each avoids sorting every sighting of a busy plate.
                    per_plate = [
                        _page_keys(
                            conn,
                            source,
                            [*filters, "s.plate_id = ?"],
                            [*params, plate_id],
                            query,
                        )
                        for plate_id in plate_ids
                    ]
                    merged = heapq.merge(
                        *per_plate, reverse=query.sort is SearchSort.NEWEST
                    )
                    rows = list(islice(merged, query.page_size + 1))
                else:
                    rows = _page_keys(
                        conn,
                        source,
                        [*filters, "s.plate_id IN (SELECT value FROM json_each(?))"],
                        [*params, json.dumps(plate_ids)],
                        query,
                    )
            page = rows[: query.page_size]
            sightings = self._load_sightings(conn, [int(row[-1]) for row in page])
        if pattern is not None:
            match_kinds = {
                s.plate: match_kinds.get(s.plate)
                or _pattern_match_kind(pattern, s.plate)
                for s in sightings
            }
        next_cursor = (
            _encode_cursor(query.sort, selection, page[-1])
            if len(rows) > query.page_size
            else None
        )
        return SearchPage(
            sightings=tuple(sightings), match_kinds=match_kinds, next_cursor=next_cursor
        )

    # -- watchlist -------------------------------------------------------------

    def watchlist(self) -> list[WatchlistEntry]:
        """Return every watchlist entry, oldest first."""
        with self._read() as conn:
            return [
                _watchlist_entry(row)
                for row in conn.execute(_WATCHLIST_SELECT + " ORDER BY id")
            ]

    def watchlist_add(
        self,
        entry: WatchlistEntry,
        *,
        audit: Callable[[WatchlistEntry], AuditLine] | None = None,
    ) -> WatchlistEntry:
        """Add an entry; return it with its id.

        Raises ``StoreValidationError("watchlist_plate_exists")`` when the plate
        or pattern is already listed. ``audit`` makes the audit line from the
        stored entry; it commits with the entry or neither does, so a failed
        line leaves nothing listed that a retry would be refused for.
        """
        values = _watchlist_values(entry)
        with self._write() as conn:
            entry_id = self._insert_watchlist(conn, values)
            stored = _watchlist_entry(
                conn.execute(
                    _WATCHLIST_SELECT + " WHERE id = ?", (entry_id,)
                ).fetchone()
            )
            if audit is not None:
                self._insert_audit(conn, audit(stored))
            return stored

    def watchlist_update(self, entry: WatchlistEntry) -> WatchlistEntry:
        """Replace an entry's fields (matched by ``entry.id``); return it as stored."""
        if entry.id is None:
            raise StoreValidationError("watchlist_entry_not_found", entry_id=None)
        values = _watchlist_values(entry)
        with self._write() as conn:
            try:
                updated = conn.execute(
                    "UPDATE watchlist SET plate = ?, label = ?, reason = ?, priority = ?,"
                    " expires_us = ?, cameras = ?, active_from = ?, active_until = ?,"
                    " enabled = ? WHERE id = ?",
                    (*values, entry.id),
                ).rowcount
            except sqlite3.IntegrityError as err:
                raise StoreValidationError(
                    "watchlist_plate_exists", plate=values[0]
                ) from err
            if not updated:
                raise StoreValidationError(
                    "watchlist_entry_not_found", entry_id=entry.id
                )
            return _watchlist_entry(
                conn.execute(
                    _WATCHLIST_SELECT + " WHERE id = ?", (entry.id,)
                ).fetchone()
            )

    def watchlist_add_unlisted(
        self,
        entries: Sequence[WatchlistEntry],
        *,
        audit: Callable[[list[WatchlistEntry], list[str]], AuditLine] | None = None,
    ) -> tuple[list[WatchlistEntry], list[str]]:
        """Add the entries whose plate is not listed yet; leave listed ones as they are.

        Returns the entries added (with their ids) and the plates that were
        listed already. ``audit`` makes the audit line from both; it commits
        with the entries or none of them is added.
        """
        added: list[WatchlistEntry] = []
        already: list[str] = []
        with self._write() as conn:
            for entry in entries:
                values = _watchlist_values(entry)
                try:
                    entry_id = self._insert_watchlist(conn, values)
                except StoreValidationError:
                    already.append(values[0])
                    continue
                added.append(
                    _watchlist_entry(
                        conn.execute(
                            _WATCHLIST_SELECT + " WHERE id = ?", (entry_id,)
                        ).fetchone()
                    )
                )
            if audit is not None:
                self._insert_audit(conn, audit(added, already))
        return added, already

    def watchlist_remove(
        self,
        entry: int | str,
        *,
        audit: Callable[[WatchlistEntry], AuditLine] | None = None,
    ) -> WatchlistEntry | None:
        """Remove an entry by id or by its plate; return it, or None when none was listed.

        Its hits stay (they are evidence) and keep the plate as it was listed.
        ``audit`` makes the audit line from the removed entry; it commits with
        the removal or neither does, so no plate stops being watched without
        a line saying who stopped it.
        """
        which, value = (
            ("id", entry)
            if isinstance(entry, int)
            else ("plate", normalize_pattern(entry))
        )
        with self._write() as conn:
            row = conn.execute(
                f"DELETE FROM watchlist WHERE {which} = ?"  # noqa: S608
                + _WATCHLIST_RETURNING,
                (value,),
            ).fetchone()
            if row is None:
                return None
            removed = _watchlist_entry(row)
            if audit is not None:
                self._insert_audit(conn, audit(removed))
            return removed

    def watchlist_remove_all(
        self,
        entry_ids: Iterable[int],
        *,
        audit: Callable[[list[WatchlistEntry]], AuditLine] | None = None,
    ) -> list[WatchlistEntry]:
        """Remove the entries with ``entry_ids`` that are listed; return them.

        ``audit`` makes one audit line from the removed entries; it commits
        with the removals or none is made.
        """
        with self._write() as conn:
            removed = [
                _watchlist_entry(row)
                for row in conn.execute(
                    "DELETE FROM watchlist"  # noqa: S608
                    " WHERE id IN (SELECT value FROM json_each(?))"
                    + _WATCHLIST_RETURNING,
                    (json.dumps(list(entry_ids)),),
                ).fetchall()
            ]
            if audit is not None:
                self._insert_audit(conn, audit(removed))
            return removed

    def watchlist_replace_or_merge(
        self,
        entries: Sequence[WatchlistEntry],
        *,
        replace: bool = False,
        audit: Callable[[list[WatchlistEntry]], AuditLine] | None = None,
    ) -> list[WatchlistEntry]:
        """Apply an imported list all-or-nothing; return the resulting watchlist.

        Entries are matched to stored ones by plate (ids in ``entries`` are
        ignored), so a re-import keeps ids and hit history. With ``replace``
        stored entries missing from ``entries`` are removed. Raises
        ``StoreValidationError("watchlist_duplicate_plate")`` when the import
        lists a plate twice; nothing is changed then. ``audit`` makes the
        audit line from the resulting watchlist; it commits with the import
        or neither does.
        """
        rows = [_watchlist_values(entry) for entry in entries]
        seen: set[str] = set()
        for row in rows:
            if row[0] in seen:
                raise StoreValidationError("watchlist_duplicate_plate", plate=row[0])
            seen.add(row[0])
        with self._write() as conn:
            if replace:
                conn.execute(
                    "DELETE FROM watchlist WHERE plate NOT IN (SELECT value FROM json_each(?))",
                    (json.dumps(sorted(seen)),),
                )
            conn.executemany(
                "INSERT INTO watchlist (plate, label, reason, priority, expires_us, cameras,"
                " active_from, active_until, enabled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (plate) DO UPDATE SET label = excluded.label,"
                " reason = excluded.reason, priority = excluded.priority,"
                " expires_us = excluded.expires_us, cameras = excluded.cameras,"
                " active_from = excluded.active_from, active_until = excluded.active_until,"
                " enabled = excluded.enabled",
                rows,
            )
            result = [
                _watchlist_entry(row)
                for row in conn.execute(_WATCHLIST_SELECT + " ORDER BY id")
            ]
            if audit is not None:
                self._insert_audit(conn, audit(result))
            return result

    def mend_indexes(self, limit: int = 10) -> tuple[list[str], list[str]]:
        """Rebuild indexes that no longer match their tables. Blocking, reads every page.

        An index out of step with its table, or damage inside the FTS5 trigram
        index, makes SQLite report damage (``SQLITE_CORRUPT_INDEX``,
        ``SQLITE_CORRUPT_VTAB``) on every use, while the pages are sound:
        SQLite 3.40 passes such a file in ``quick_check``, and the trigram
        index even in ``integrity_check`` (3.53 finds both). Both are built
        from the tables, so they are rebuilt in place and nothing is lost.
        Returns what was rebuilt (``plate_trigrams``, ``indexes``) and what
        ``integrity_check`` still finds afterwards (empty when the file is
        sound; damaged pages otherwise).
        """
        mended: list[str] = []
        with self._write() as conn:
            try:
                conn.execute(
                    "INSERT INTO plate_trigrams (plate_trigrams) VALUES ('integrity-check')"
                )
            except sqlite3.DatabaseError as err:
                if not is_damaged(err):
                    raise
                conn.execute(
                    "INSERT INTO plate_trigrams (plate_trigrams) VALUES ('rebuild')"
                )
                mended.append("plate_trigrams")
        problems = self._integrity_problems(limit)
        if problems:
            with self._write() as conn:
                conn.execute("REINDEX")
            mended.append("indexes")
            problems = self._integrity_problems(limit)
        return mended, problems

    def _integrity_problems(self, limit: int) -> list[str]:
        # On the writer, which did any rebuild: SQLite 3.53's FTS5 keeps
        # reporting the damage a connection met before until that
        # connection searches the index again.
        with self._write() as conn:
            rows = [
                str(row[0])
                for row in conn.execute(f"PRAGMA integrity_check({int(limit)})")
            ]
        return [] if rows == ["ok"] else rows

    def insert_recovered(self, table: str, rows: Iterable[dict[str, Any]]) -> int:
        """Add rows read from a damaged copy of this database, ids kept; return how many.

        ``table`` is one of ``RECOVERED_TABLES``, taken in that order so that
        what a row refers to is there before it. Each row maps column names to
        values as that file had them; the columns this schema has are kept. A
        row this schema refuses (its sighting or plate was lost, a value
        missing) is left out and counted in one log line. A plate gets its
        fuzzy-index rows; a hit whose watchlist entry was lost keeps no entry,
        as when an entry is removed. Route chunks are built on the first
        route read (see ``route_columns``). The ids of refused rows are not
        handed out again either (``STABLE_ID_TABLES``). Other errors (a full
        disk) raise, and the batch is not added.
        """
        if table not in RECOVERED_TABLES:
            raise ValueError(f"not a table carried over from a damaged file: {table}")
        with self._write() as conn:
            columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            added = 0
            refused: list[tuple[object, str]] = []
            used: int | None = None
            for row in rows:
                if isinstance(row_id := row.get("id"), int):
                    used = row_id if used is None else max(used, row_id)
                values = {name: value for name, value in row.items() if name in columns}
                if table == "watchlist_hits" and (
                    conn.execute(
                        "SELECT 1 FROM watchlist WHERE id = ?",
                        (values.get("entry_id"),),
                    ).fetchone()
                    is None
                ):
                    values["entry_id"] = None
                try:
                    # One statement: refused alone, the transaction goes on.
                    conn.execute(
                        f"INSERT INTO {table} ({', '.join(values)})"  # noqa: S608
                        f" VALUES ({', '.join('?' * len(values))})",
                        list(values.values()),
                    )
                except sqlite3.IntegrityError as err:
                    refused.append((row.get("id"), str(err)))
                    continue
                if table == "plates":
                    self._add_plate_variants(conn, values["id"], values["lookalike"])
                added += 1
            if used is not None and table in STABLE_ID_TABLES:
                keep_ids_above(conn, {table: used})
        if refused:
            _LOGGER.warning(
                "%s rows of %s recovered from a damaged database are left out"
                " (the first, id %s: %s)",
                len(refused),
                table,
                *refused[0],
            )
        return added

    def keep_ids_above(self, used: Mapping[str, int]) -> None:
        """Never hand out an id up to ``used[table]`` for the tables of ``STABLE_ID_TABLES`` named.

        For the ids a damaged copy of this database gave rows that could not
        be carried over: a case file may cite them.
        """
        with self._write() as conn:
            keep_ids_above(conn, used)

    def drop_unseen_plates(self) -> int:
        """Remove plates no sighting refers to (after a recovery lost theirs); return how many."""
        with self._write() as conn:
            return conn.execute(
                "DELETE FROM plates WHERE NOT EXISTS"
                " (SELECT 1 FROM sightings WHERE sightings.plate_id = plates.id)"
            ).rowcount

    @staticmethod
    def _insert_watchlist(conn: sqlite3.Connection, values: tuple[Any, ...]) -> int:
        try:
            return cast(
                "int",
                conn.execute(
                    "INSERT INTO watchlist (plate, label, reason, priority, expires_us,"
                    " cameras, active_from, active_until, enabled)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    values,
                ).fetchone()[0],
            )
        except sqlite3.IntegrityError as err:
            raise StoreValidationError(
                "watchlist_plate_exists", plate=values[0]
            ) from err

    def record_hit(
        self,
        sighting_id: int,
        entry_id: int,
        match_kind: str,
        plate_read: str,
        at: datetime,
    ) -> int:
        """Record that a sighting matched a watchlist entry; return the hit id.

        A sighting announced again with the same plate (a correction that only
        brought its direction) matches the same way: that is the hit already
        recorded, and its id (and any acknowledgement) is kept.
        """
        at_us = to_us(at)
        with self._write() as conn:
            entry = conn.execute(
                "SELECT plate FROM watchlist WHERE id = ?", (entry_id,)
            ).fetchone()
            if entry is None:
                raise StoreValidationError(
                    "watchlist_entry_not_found", entry_id=entry_id
                )
            if (
                conn.execute(
                    "SELECT 1 FROM sightings WHERE id = ?", (sighting_id,)
                ).fetchone()
                is None
            ):
                raise StoreValidationError(
                    "sighting_not_found", sighting_id=sighting_id
                )
            if recorded := conn.execute(
                "SELECT id FROM watchlist_hits WHERE sighting_id = ? AND entry_id = ?"
                " AND match_kind = ? AND plate_read = ?",
                (sighting_id, entry_id, match_kind, plate_read),
            ).fetchone():
                return cast("int", recorded[0])
            return cast(
                "int",
                conn.execute(
                    "INSERT INTO watchlist_hits (sighting_id, entry_id, listed_plate,"
                    " match_kind, plate_read, at_us) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                    (sighting_id, entry_id, entry[0], match_kind, plate_read, at_us),
                ).fetchone()[0],
            )

    def acknowledge_hit(
        self,
        hit_id: int,
        user_id: str,
        at: datetime,
        *,
        audit: Callable[[WatchlistHit], AuditLine] | None = None,
    ) -> WatchlistHit:
        """Record who acknowledged a hit and when; return the hit.

        The first acknowledgement stands: a second one raises
        ``StoreValidationError("hit_already_acknowledged")``. ``audit`` makes
        the audit line from the acknowledged hit; it commits with the
        acknowledgement or neither does, so an alert is never taken without a
        line saying by whom, nor left untakeable by a failed line.
        """
        at_us = to_us(at)
        with self._write() as conn:
            row = conn.execute(_HIT_SELECT + " WHERE id = ?", (hit_id,)).fetchone()
            if row is None:
                raise StoreValidationError("hit_not_found", hit_id=hit_id)
            if row[7] is not None:
                raise StoreValidationError(
                    "hit_already_acknowledged",
                    hit_id=hit_id,
                    user_id=row[7],
                    at=from_us(row[8]).isoformat(),
                )
            conn.execute(
                "UPDATE watchlist_hits SET acknowledged_by = ?, acknowledged_us = ?"
                " WHERE id = ?",
                (user_id, at_us, hit_id),
            )
            hit = _hit(
                conn.execute(_HIT_SELECT + " WHERE id = ?", (hit_id,)).fetchone()
            )
            if audit is not None:
                self._insert_audit(conn, audit(hit))
            return hit

    def hits_for_entry(self, entry_id: int, limit: int = 100) -> list[WatchlistHit]:
        """Return an entry's hits, newest first."""
        with self._read() as conn:
            return [
                _hit(row)
                for row in conn.execute(
                    _HIT_SELECT
                    + " WHERE entry_id = ? ORDER BY at_us DESC, id DESC LIMIT ?",
                    (entry_id, limit),
                )
            ]

    def hits_for_sighting(self, sighting_id: int) -> list[WatchlistHit]:
        """Return the hits of one sighting, oldest first (kept after entry removal)."""
        with self._read() as conn:
            return [
                _hit(row)
                for row in conn.execute(
                    _HIT_SELECT + " WHERE sighting_id = ? ORDER BY at_us, id",
                    (sighting_id,),
                )
            ]

    def last_hit_per_entry(self) -> dict[int, WatchlistHit]:
        """Return the hit of the latest sighting of every watchlist entry that has one.

        Latest by when the vehicle was seen, not when the hit was recorded: a
        slow source may deliver an older sighting after a newer one. Of two
        hits of one sighting (a corrected read) the one recorded last counts.
        """
        with self._read() as conn:
            return {
                hit.entry_id: hit
                for hit in (
                    _hit(row)
                    for row in conn.execute(
                        _HIT_SELECT  # noqa: S608
                        + " WHERE id IN (SELECT (SELECT h.id FROM watchlist_hits h"
                        " JOIN sightings s ON s.id = h.sighting_id"
                        " WHERE h.entry_id = w.id ORDER BY s.seen_us DESC, h.id DESC"
                        " LIMIT 1) FROM watchlist w)"
                    )
                )
                if hit.entry_id is not None
            }

    # -- retention -------------------------------------------------------------

    def set_legal_hold(
        self,
        sighting_ids: Iterable[int],
        held: bool,
        *,
        audit: Callable[[int], AuditLine] | None = None,
    ) -> int:
        """Put sightings on legal hold (or release them); return how many changed.

        Held sightings and their images are never purged, neither by retention
        nor by an explicit purge. ``audit`` makes the audit line from how many
        changed; it commits with the hold or neither does: no hold, and no
        release, exists that the audit log does not name.

        Raises ``StoreValidationError("sighting_not_found")``, naming the
        first ``NAMED_MISSING_IDS`` missing ids, when any id is no stored
        sighting, and changes nothing then: a mistyped id must not answer as a
        hold already there does, and a purge must not slip in between the
        check and the hold.
        """
        ids = json.dumps(list(sighting_ids))
        with self._write() as conn:
            if missing := [
                row[0]
                for row in conn.execute(
                    "SELECT j.value FROM json_each(?) j"
                    " WHERE NOT EXISTS (SELECT 1 FROM sightings s WHERE s.id = j.value)"
                    " GROUP BY j.value ORDER BY MIN(j.key) LIMIT ?",
                    (ids, NAMED_MISSING_IDS + 1),
                )
            ]:
                raise StoreValidationError(
                    "sighting_not_found",
                    sighting_id=", ".join(map(str, missing[:NAMED_MISSING_IDS]))
                    + (", …" if len(missing) > NAMED_MISSING_IDS else ""),
                )
            changed = conn.execute(
                "UPDATE sightings SET legal_hold = ? WHERE legal_hold != ?"
                " AND id IN (SELECT value FROM json_each(?))",
                (int(held), int(held), ids),
            ).rowcount
            if audit is not None:
                self._insert_audit(conn, audit(changed))
            return changed

    def purge_expired(
        self,
        now: datetime,
        keep_days: int = 30,
        keep_hit_days: int = 365,
        keep_image_days: int | None = None,
        *,
        batch_size: int = _PURGE_BATCH,
        progress: PurgeProgress | None = None,
    ) -> PurgeReport:
        """Remove what the retention settings no longer allow to keep.

        A sighting older than ``keep_days`` is removed unless it is on legal
        hold, or has a watchlist hit, or is a sighting of a plate listed on the
        watchlist (exact entries, compared by look-alike key), and is younger
        than ``keep_hit_days``. Images older than ``keep_image_days`` go by the
        same exceptions; without it images live as long as their sighting.
        Works in batches of ``batch_size`` rows, each its own short transaction,
        so sightings keep being stored while it runs; ``progress`` counts what
        the committed batches removed, for the audit of a purge that fails.
        """
        progress = progress if progress is not None else PurgeProgress()
        now_us = to_us(now)
        hit_cutoff = now_us - keep_hit_days * _DAY_US
        with self._read() as conn:
            watched_keys = [
                lookalike_key(row[0])
                for row in conn.execute("SELECT plate FROM watchlist")
                if not is_pattern(row[0])
            ]
            watched_plate_ids = [
                row[0]
                for row in conn.execute(
                    "SELECT id FROM plates WHERE lookalike IN (SELECT value FROM json_each(?))",
                    (json.dumps(watched_keys),),
                )
            ]
        deletable = (
            "s.legal_hold = 0"
            " AND NOT (s.seen_us >= ? AND s.plate_id IN (SELECT value FROM json_each(?)))"
            " AND NOT EXISTS (SELECT 1 FROM watchlist_hits h"
            " WHERE h.sighting_id = s.id AND h.at_us >= ?)"
        )
        protect = (hit_cutoff, json.dumps(watched_plate_ids), hit_cutoff)
        self._purge_sightings(
            f"SELECT s.id, s.seen_us, {deletable} FROM sightings s INDEXED BY sightings_time"  # noqa: S608
            " WHERE s.seen_us < ? AND (s.seen_us, s.id) > (?, ?)"
            " ORDER BY s.seen_us, s.id LIMIT ?",
            lambda cursor: (
                *protect,
                now_us - keep_days * _DAY_US,
                *cursor,
                batch_size,
            ),
            progress,
        )
        if keep_image_days is not None:
            self._purge_images(
                f"SELECT i.id, i.seen_us, {deletable} FROM images i INDEXED BY images_time"  # noqa: S608
                " JOIN sightings s ON s.id = i.sighting_id"
                " WHERE i.seen_us < ? AND (i.seen_us, i.id) > (?, ?)"
                " ORDER BY i.seen_us, i.id LIMIT ?",
                lambda cursor: (
                    *protect,
                    now_us - keep_image_days * _DAY_US,
                    *cursor,
                    batch_size,
                ),
                progress,
            )
        return progress.report()

    def purge(
        self,
        plate: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        batch_size: int = _PURGE_BATCH,
        progress: PurgeProgress | None = None,
    ) -> int:
        """Remove the sightings of a plate and/or a time range; return how many.

        An administrator's explicit erasure: watchlist hits do not protect a
        sighting here (its hits go with it), legal hold does, because a hold
        is the one promise the store makes to a court. Raises
        ``StoreValidationError("purge_needs_criteria")`` without any criterion,
        ``"purge_plate_pattern"`` for a pattern instead of a plate. ``progress``
        counts what the committed batches removed, as in ``purge_expired``.
        """
        progress = progress if progress is not None else PurgeProgress()
        if plate is None and since is None and until is None:
            raise StoreValidationError("purge_needs_criteria")
        since_us, until_us = _time_range(since, until)
        if plate is None:
            self._purge_sightings(
                "SELECT s.id, s.seen_us, s.legal_hold = 0 FROM sightings s"
                " INDEXED BY sightings_time WHERE s.seen_us >= ? AND s.seen_us < ?"
                " AND (s.seen_us, s.id) > (?, ?) ORDER BY s.seen_us, s.id LIMIT ?",
                lambda cursor: (since_us, until_us, *cursor, batch_size),
                progress,
            )
            return progress.sightings
        if is_pattern(plate):
            # An erasure names one plate: a pattern's wildcards stripped would
            # name another car, and a pattern erases cars nobody looked at.
            raise StoreValidationError("purge_plate_pattern", plate=plate)
        canonical = canonical_plate(plate)
        self._purge_sightings(
            "SELECT s.id, s.seen_us, s.legal_hold = 0 FROM sightings s"
            " INDEXED BY sightings_plate_route"
            " WHERE s.plate_id = (SELECT id FROM plates WHERE plate = ?)"
            " AND s.seen_us >= ? AND s.seen_us < ? AND (s.seen_us, s.id) > (?, ?)"
            " ORDER BY s.seen_us, s.id LIMIT ?",
            lambda cursor: (canonical, since_us, until_us, *cursor, batch_size),
            progress,
        )
        return progress.sightings

    def _purge_sightings(
        self, select_batch: str, batch_params: _BatchParams, progress: PurgeProgress
    ) -> None:
        """Delete, batch by batch, the rows a keyset query marks deletable.

        ``select_batch`` returns ``(id, seen_us, deletable)`` in ``(seen_us, id)``
        order after the cursor it is given. Each committed batch's sightings,
        images and plates are added to ``progress``.
        """
        cursor: tuple[int, int] = (_SQLITE_MIN_INTEGER, _SQLITE_MIN_INTEGER)
        with self._checkpoints_between_batches() as checkpoint:
            while True:
                with self._write() as conn:
                    rows = conn.execute(select_batch, batch_params(cursor)).fetchall()
                    if not rows:
                        break
                    cursor = (rows[-1][1], rows[-1][0])
                    doomed = json.dumps([row[0] for row in rows if row[2]])
                    images = conn.execute(
                        "SELECT count(*) FROM images"
                        " WHERE sighting_id IN (SELECT value FROM json_each(?))",
                        (doomed,),
                    ).fetchone()[0]
                    removed: dict[int, list[int]] = {}
                    for sighting_id, plate_id in conn.execute(
                        "DELETE FROM sightings WHERE id IN (SELECT value FROM json_each(?))"
                        " RETURNING id, plate_id",
                        (doomed,),
                    ).fetchall():
                        removed.setdefault(plate_id, []).append(sighting_id)
                    self._remove_from_route_chunks(conn, removed)
                    plates = self._drop_orphan_plates(conn, removed)
                # Committed: only now are these rows gone.
                progress.sightings += sum(map(len, removed.values()))
                progress.images += images
                progress.plates += plates
                checkpoint()

    def _purge_images(
        self, select_batch: str, batch_params: _BatchParams, progress: PurgeProgress
    ) -> None:
        """Delete images batch by batch, as ``_purge_sightings`` does sightings."""
        cursor: tuple[int, int] = (_SQLITE_MIN_INTEGER, _SQLITE_MIN_INTEGER)
        with self._checkpoints_between_batches() as checkpoint:
            while True:
                with self._write() as conn:
                    rows = conn.execute(select_batch, batch_params(cursor)).fetchall()
                    if not rows:
                        break
                    cursor = (rows[-1][1], rows[-1][0])
                    removed = conn.execute(
                        "DELETE FROM images WHERE id IN (SELECT value FROM json_each(?))",
                        (json.dumps([row[0] for row in rows if row[2]]),),
                    ).rowcount
                progress.images += removed
                checkpoint()

    @contextmanager
    def _checkpoints_between_batches(self) -> Iterator[Callable[[], None]]:
        """Move WAL checkpoints out of the write lock while a purge runs.

        An automatic checkpoint runs inside a commit, holding the write lock
        (and any sighting waiting for it) through the fsync of every page the
        purge touched. During a purge the writer's automatic checkpoints are
        off; the purge calls the yielded function between batches instead,
        which checkpoints on a connection of its own while writers go on
        (unless ``hold_main_file`` holds).
        """

        def purges_running(change: int) -> None:
            with self._write_lock:
                self._purges_running += change
                self._apply_autocheckpoint()

        purges_running(1)
        try:
            yield self._checkpoint_passive
        finally:
            purges_running(-1)

    # -- evidence export -------------------------------------------------------

    def export_zip(self, query: SearchQuery, dest: Path) -> ExportReport:
        """Write the sightings a query selects, with images, into a ZIP file.

        See ``export.py`` for the layout. The file appears under ``dest`` only
        when complete. Raises ``StoreValidationError("export_exists")`` rather
        than overwrite a file, ``("export_folder_missing")`` without a folder.
        Its pages and images are read from one snapshot: a sighting stored
        better or purged meanwhile is neither left out, written twice, nor
        paired with another image.
        """
        with self.snapshot():
            return evidence.write_zip(self, query, dest)

    # -- audit -----------------------------------------------------------------

    def audit_append(
        self,
        user_id: str | None,
        action: str,
        details: dict[str, Any],
        reason: str | None,
        at: datetime,
    ) -> int:
        """Append a line to the audit log; return its id."""
        line = AuditLine(
            user_id=user_id, action=action, details=details, reason=reason, at=at
        )
        with self._write() as conn:
            return self._insert_audit(conn, line)

    @staticmethod
    def _insert_audit(conn: sqlite3.Connection, line: AuditLine) -> int:
        """Append ``line`` in the caller's write transaction; return its id."""
        return cast(
            "int",
            conn.execute(
                "INSERT INTO audit (at_us, user_id, action, details, reason)"
                " VALUES (?, ?, ?, ?, ?) RETURNING id",
                (
                    to_us(line.at),
                    line.user_id,
                    line.action,
                    json.dumps(line.details, default=str),
                    line.reason,
                ),
            ).fetchone()[0],
        )

    def audit_log(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        user_id: str | None = None,
        action: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditRecord]:
        """Return audit lines, newest first, filtered by time, user and action."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise StoreValidationError(
                "page_size_out_of_range", page_size=limit, maximum=MAX_PAGE_SIZE
            )
        since_us, until_us = _time_range(since, until)
        with self._read() as conn:
            rows = conn.execute(
                "SELECT id, at_us, user_id, action, details, reason FROM audit"
                " WHERE at_us >= ? AND at_us < ? AND (? IS NULL OR user_id = ?)"
                " AND (? IS NULL OR action = ?)"
                " ORDER BY at_us DESC, id DESC LIMIT ? OFFSET ?",
                (since_us, until_us, user_id, user_id, action, action, limit, offset),
            ).fetchall()
        return [
            AuditRecord(
                id=row[0],
                at=from_us(row[1]),
                user_id=row[2],
                action=row[3],
                details=json.loads(row[4]),
                reason=row[5],
            )
            for row in rows
        ]


# -- helpers -------------------------------------------------------------------

# sort -> (ORDER BY, key columns kept in the cursor (the id last), keyset
# condition after the cursor)
_SORTS: dict[SearchSort, tuple[str, str, str]] = {
    SearchSort.NEWEST: (
        "s.seen_us DESC, s.id DESC",
        "s.seen_us, s.id",
        "(s.seen_us, s.id) < (?, ?)",
    ),
    SearchSort.OLDEST: (
        "s.seen_us, s.id",
        "s.seen_us, s.id",
        "(s.seen_us, s.id) > (?, ?)",
    ),
    # Ties newest first, as ``SearchSort.CONFIDENCE`` says: by when the car was
    # seen, not by when a slow source delivered it.
    SearchSort.CONFIDENCE: (
        "s.confidence DESC, s.seen_us DESC, s.id DESC",
        "s.confidence, s.seen_us, s.id",
        "(s.confidence, s.seen_us, s.id) < (?, ?, ?)",
    ),
}


def _page_keys(
    conn: sqlite3.Connection,
    source: str,
    filters: list[str],
    params: list[Any],
    query: SearchQuery,
) -> list[tuple[float, ...]]:
    """Return the sort keys (the id last) of one page plus one row, in the query's order.

    Only indexed columns are read here; full rows are loaded for the page alone.
    """
    order, key_columns, _ = _SORTS[query.sort]
    return conn.execute(
        f"SELECT {key_columns} FROM {source}"  # noqa: S608
        f" WHERE {' AND '.join(filters)} ORDER BY {order} LIMIT ?",
        (*params, query.page_size + 1),
    ).fetchall()


def _unpack_route_chunks(
    chunks: Sequence[tuple[int, int, bytes, bytes, bytes, bytes]],
) -> tuple[NDArray[np.int64], ...]:
    """Return seen_us, id, camera id, event key and plate id columns in route order.

    Route order is ``(seen_us, id)``, as ``route_for`` sorts.
    """
    blobs = [chunk[2:] for chunk in chunks]
    seen_us, ids, camera_ids, event_keys = (
        np.frombuffer(b"".join(blob[field] for blob in blobs), dtype=dtype)
        for field, dtype in enumerate(_CHUNK_DTYPES)
    )
    camera_ids = camera_ids.astype(np.int64)
    plate_ids = np.repeat(
        np.array([chunk[0] for chunk in chunks], dtype=np.int64),
        [chunk[1] for chunk in chunks],
    )
    columns = (seen_us, ids, camera_ids, event_keys, plate_ids)
    if _in_route_order(seen_us, ids):
        return columns
    # Several plates, or a sighting that arrived after later ones. A stable
    # sort by time merges the (mostly sorted) runs cheaply; only equal times
    # from different runs need the full sort by id.
    order = np.argsort(seen_us, kind="stable")
    if not _in_route_order(seen_us[order], ids[order]):
        order = np.lexsort((ids, seen_us))
    return tuple(column[order] for column in columns)


def _in_route_order(seen_us: NDArray[np.int64], ids: NDArray[np.int64]) -> bool:
    """Return whether sightings are in ``(seen_us, id)`` order."""
    time_steps = np.diff(seen_us)
    return bool(np.all((time_steps > 0) | ((time_steps == 0) & (np.diff(ids) > 0))))


def _time_range(since: datetime | None, until: datetime | None) -> tuple[int, int]:
    since_us = to_us(since) if since is not None else _SQLITE_MIN_INTEGER
    until_us = to_us(until) if until is not None else SQLITE_MAX_INTEGER
    if since_us > until_us:
        raise StoreValidationError(
            "time_range_reversed",
            since=cast("datetime", since).isoformat(),
            until=cast("datetime", until).isoformat(),
        )
    return since_us, until_us


def _selection_digest(
    query: SearchQuery, pattern: str | None, since_us: int, until_us: int
) -> str:
    """Return a short digest of what a query selects and how it sorts; a cursor carries it.

    A cursor positions the search it came from; in another one it would skip
    that search's results before the position without a word. The page size
    is left out: a caller may ask for bigger pages as it goes on.
    """
    selection = [
        str(query.sort),
        pattern,
        query.fuzzy,
        since_us,
        until_us,
        sorted(set(query.cameras)),
        None if query.min_confidence is None else float(query.min_confidence),
    ]
    return hashlib.blake2b(json.dumps(selection).encode(), digest_size=8).hexdigest()


def _encode_cursor(sort: SearchSort, selection: str, keys: Sequence[float]) -> str:
    raw = json.dumps([str(sort), selection, *keys]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: SearchSort, selection: str) -> tuple[float, ...]:
    """Return the sort keys a page ends at; StoreValidationError for anything else.

    The cursor comes back from the caller, who may have edited it or kept it
    from another search: only what ``_encode_cursor`` wrote for this query's
    sort and selection passes, so nothing reaches SQLite that it cannot bind
    (an integer beyond 64 bits raised OverflowError).
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw)
    except (binascii.Error, ValueError, TypeError, RecursionError) as err:
        raise StoreValidationError("invalid_cursor") from err
    key_count = _SORTS[sort][1].count(",") + 1
    if (
        not isinstance(decoded, list)
        or len(decoded) != 2 + key_count
        or decoded[0] != sort
        or decoded[1] != selection
        or not all(_bindable_number(key) for key in decoded[2:])
        or not isinstance(decoded[-1], int)
    ):
        raise StoreValidationError("invalid_cursor")
    return tuple(decoded[2:])


def _bindable_number(value: object) -> bool:
    """Whether SQLite can bind ``value`` as a number: a finite float or a 64-bit integer."""
    if isinstance(value, int) and not isinstance(value, bool):
        return -SQLITE_MAX_INTEGER - 1 <= value <= SQLITE_MAX_INTEGER
    return is_finite_number(value)


def _candidate_plates(
    conn: sqlite3.Connection, pattern: str, *, fuzzy: bool
) -> list[tuple[int, str, MatchKind]] | None:
    """Return id, text and match kind of the stored plates a plate or pattern selects.

    None when a pattern selects more than ``_PLATE_DRIVEN_LIMIT`` plates; the
    search then filters sightings by pattern instead.
    """
    if not is_pattern(pattern):
        if not fuzzy:
            found = conn.execute(
                "SELECT id FROM plates WHERE plate = ?", (pattern,)
            ).fetchone()
            return [(found[0], pattern, MatchKind.EXACT)] if found else []
        key = lookalike_key(pattern)
        candidates = []
        for plate_id, plate, plate_key in conn.execute(
            "SELECT DISTINCT p.id, p.plate, p.lookalike FROM plate_variants v"
            " JOIN plates p ON p.id = v.plate_id"
            " WHERE v.variant IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(deletion_variants(key))),),
        ):
            if plate == pattern:
                candidates.append((plate_id, plate, MatchKind.EXACT))
            elif plate_key == key:
                candidates.append((plate_id, plate, MatchKind.LOOKALIKE))
            elif within_one_edit(plate_key, key):
                candidates.append((plate_id, plate, MatchKind.ONE_EDIT))
        return candidates
    folded = fold_lookalikes(pattern)
    if longest_literal_run(folded) >= 3:
        sql = (
            "SELECT p.id, p.plate FROM plate_trigrams t JOIN plates p ON p.id = t.rowid"
            " WHERE t.lookalike GLOB ?"
        )
    else:
        sql = "SELECT p.id, p.plate FROM plates p WHERE p.lookalike GLOB ?"
    params: tuple[Any, ...] = (folded,)
    if not fuzzy:
        sql += " AND p.plate GLOB ?"
        params += (pattern,)
    plates = conn.execute(
        sql + " LIMIT ?", (*params, _PLATE_DRIVEN_LIMIT + 1)
    ).fetchall()
    if len(plates) > _PLATE_DRIVEN_LIMIT:
        return None
    return [
        (plate_id, plate, _pattern_match_kind(pattern, plate))
        for plate_id, plate in plates
    ]


def _pattern_match_kind(pattern: str, plate: str) -> MatchKind:
    if _glob_regex(pattern).fullmatch(plate):
        return MatchKind.EXACT if not is_pattern(pattern) else MatchKind.PATTERN
    return MatchKind.LOOKALIKE


def _glob_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(
        "".join(".*" if ch == "*" else "." if ch == "?" else ch for ch in pattern)
    )


def _sighting(row: Sequence[Any]) -> Sighting:
    box: Box | None = None
    if row[9]:
        x1, y1, x2, y2 = (int(part) for part in row[9].split(","))
        box = (x1, y1, x2, y2)
    return Sighting(
        id=row[0],
        camera=row[1],
        seen_at=from_us(row[2]),
        plate=row[3],
        raw=row[4],
        confidence=row[5],
        source=row[6],
        event_id=row[7],
        region=row[8],
        box=box,
        direction=_DIRECTIONS[row[10]],
        alternatives=tuple((text, conf) for text, conf in json.loads(row[11]))
        if row[11]
        else (),
        has_crop=bool(row[12]),
        has_snapshot=bool(row[13]),
        legal_hold=bool(row[14]),
        reader=_READERS[row[15]],
    )


def _watchlist_values(entry: WatchlistEntry) -> tuple[Any, ...]:
    return (
        normalize_pattern(entry.plate),
        entry.label,
        entry.reason,
        str(entry.priority),
        to_us(entry.expires_at) if entry.expires_at is not None else None,
        json.dumps(list(entry.cameras)),
        entry.active_from.isoformat() if entry.active_from is not None else None,
        entry.active_until.isoformat() if entry.active_until is not None else None,
        int(entry.enabled),
    )


def _watchlist_entry(row: Sequence[Any]) -> WatchlistEntry:
    return WatchlistEntry(
        id=row[0],
        plate=row[1],
        label=row[2],
        reason=row[3],
        priority=Priority(row[4]),
        expires_at=from_us(row[5]) if row[5] is not None else None,
        cameras=tuple(json.loads(row[6])),
        active_from=time.fromisoformat(row[7]) if row[7] is not None else None,
        active_until=time.fromisoformat(row[8]) if row[8] is not None else None,
        enabled=bool(row[9]),
    )


def _hit(row: Sequence[Any]) -> WatchlistHit:
    return WatchlistHit(
        id=row[0],
        sighting_id=row[1],
        entry_id=row[2],
        listed_plate=row[3],
        match_kind=row[4],
        plate_read=row[5],
        at=from_us(row[6]),
        acknowledged_by=row[7],
        acknowledged_at=from_us(row[8]) if row[8] is not None else None,
    )
