"""The database layout and its ordered migrations.

``PRAGMA user_version`` holds the schema version. ``MIGRATIONS[n]`` upgrades a
database from version ``n`` to ``n + 1``; each runs in its own transaction, so an
upgrade interrupted by a power cut resumes at the last finished step. Never edit
a released migration: add a new one. A new file runs every step too: the
tables version 7 rebuilds are empty then, and rebuilt at once.

Layout (times are integer microseconds since the Unix epoch, UTC):

- ``cameras``: camera names, so that sightings and their indexes hold a small id.
- ``plates``: every distinct plate still referred to by a sighting, with its
  look-alike key. Search resolves plate text to ids here, then reads sightings.
- ``plate_variants``: the deletion neighbourhood of each plate's look-alike key
  (the key and every key with one character removed). Two keys are within one
  edit only if they share a variant, so a fuzzy lookup is a handful of index
  probes instead of a scan of a million plates.
- ``plate_trigrams``: an FTS5 trigram index over the look-alike keys; a ``*``/``?``
  pattern with three literal characters in a row is answered from it.
- ``sightings``: one row per sighting; ``(source, camera_id, event_id, seen_us)``
  is indexed so that one NVR event stays one sighting, while an event id an NVR
  hands out again (see ``SAME_EVENT_WITHIN_US``) is another car. The plate
  index also carries camera, direction, confidence and event id so a route is
  read from the index alone.
- ``sightings.reader``: 0 when Plate Tracker's engine read the plate, 1 when
  the NVR's own recognition did (see ``Reader``).
- ``images``: plate crops (kind 0) and snapshots (kind 1) as blobs, apart from
  the text so they can be purged earlier; ``seen_us`` is copied so that purge
  walks images by time without touching sightings.
- ``watchlist`` and ``watchlist_hits``: the watchlist and the sightings that
  matched it, with who acknowledged each hit and when.
- ``audit``: append-only; triggers refuse UPDATE and DELETE.
- The ids of sightings, watchlist entries, hits and audit lines
  (``STABLE_ID_TABLES``) leave the database: in search results, alerts,
  signed image links, legal holds, case files and the audit log. They are
  ``AUTOINCREMENT``, so an id is never handed out again, not even after the
  newest rows are purged; ``sqlite_sequence`` holds the highest id each table
  has used. The other ids stay inside the database.
- ``route_chunks``: per plate, the time, id, camera id and event key (see
  ``event_key``) of every sighting as packed little-endian arrays in chunks of ``ROUTE_CHUNK`` sightings, so a
  route of 100,000 sightings is read as a few dozen blobs instead of 100,000
  rows (issue 5). The store keeps them in step with ``sightings`` in the same
  transactions: a new sighting is appended (in arrival order; readers sort
  when needed), a purged one or one whose plate an upsert changed is taken
  out of its chunk. A plate with no chunks has no valid columns: the store
  rebuilds them from the route index on the next route read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
import hashlib
import sqlite3
import struct

from ..plate_text import deletion_variants

ROUTE_CHUNK = 1024
"""Sightings per ``route_chunks`` row: appending rewrites one chunk, so small
enough to keep ``record`` cheap, large enough that a 100,000-sighting route is
about a hundred rows."""

STABLE_ID_TABLES = ("sightings", "watchlist", "watchlist_hits", "audit")
"""Tables whose ids are cited outside the database, and so never reused."""

type Migration = Callable[[sqlite3.Connection], None]
type RouteEntry = tuple[int, int, int, str | None]
"""One sighting in ``route_chunks``: seen_us, id, camera id, NVR event id."""


def _create_sightings(conn: sqlite3.Connection) -> None:
    """Version 1: sightings, their plates, cameras and images (issue 2)."""
    conn.executescript(
        """
        CREATE TABLE cameras (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE
        );
        CREATE TABLE plates (
            id INTEGER PRIMARY KEY,
            plate TEXT NOT NULL UNIQUE,
            lookalike TEXT NOT NULL
        );
        CREATE INDEX plates_lookalike ON plates (lookalike);
        CREATE TABLE sightings (
            id INTEGER PRIMARY KEY,
            plate_id INTEGER NOT NULL REFERENCES plates (id),
            camera_id INTEGER NOT NULL REFERENCES cameras (id),
            seen_us INTEGER NOT NULL,
            raw TEXT NOT NULL,
            confidence REAL NOT NULL,
            source TEXT NOT NULL,
            event_id TEXT,
            region TEXT,
            box TEXT,
            direction INTEGER NOT NULL DEFAULT 0,
            alternatives TEXT
        );
        CREATE INDEX sightings_plate_route
            ON sightings (plate_id, seen_us, camera_id, direction, confidence);
        CREATE INDEX sightings_camera_time ON sightings (camera_id, seen_us);
        CREATE INDEX sightings_time ON sightings (seen_us);
        CREATE UNIQUE INDEX sightings_event
            ON sightings (source, camera_id, event_id) WHERE event_id IS NOT NULL;
        CREATE TABLE images (
            id INTEGER PRIMARY KEY,
            sighting_id INTEGER NOT NULL REFERENCES sightings (id) ON DELETE CASCADE,
            kind INTEGER NOT NULL,
            seen_us INTEGER NOT NULL,
            jpeg BLOB NOT NULL,
            UNIQUE (sighting_id, kind)
        );
        CREATE INDEX images_time ON images (seen_us);
        """
    )


def _create_watchlist(conn: sqlite3.Connection) -> None:
    """Version 2: the watchlist and its hits (issue 4)."""
    conn.executescript(
        """
        CREATE TABLE watchlist (
            id INTEGER PRIMARY KEY,
            plate TEXT NOT NULL UNIQUE,
            label TEXT NOT NULL DEFAULT '',
            reason TEXT NOT NULL DEFAULT '',
            priority TEXT NOT NULL,
            expires_us INTEGER,
            cameras TEXT NOT NULL DEFAULT '[]',
            active_from TEXT,
            active_until TEXT,
            enabled INTEGER NOT NULL DEFAULT 1
        );
        CREATE TABLE watchlist_hits (
            id INTEGER PRIMARY KEY,
            sighting_id INTEGER NOT NULL REFERENCES sightings (id) ON DELETE CASCADE,
            entry_id INTEGER REFERENCES watchlist (id) ON DELETE SET NULL,
            listed_plate TEXT NOT NULL,
            match_kind TEXT NOT NULL,
            plate_read TEXT NOT NULL,
            at_us INTEGER NOT NULL,
            acknowledged_by TEXT,
            acknowledged_us INTEGER
        );
        CREATE INDEX watchlist_hits_sighting ON watchlist_hits (sighting_id, at_us);
        CREATE INDEX watchlist_hits_entry ON watchlist_hits (entry_id, at_us);
        """
    )


def _add_search_retention_audit(conn: sqlite3.Connection) -> None:
    """Version 3: fuzzy and pattern indexes, legal hold, audit (issue 6).

    Backfills the new plate indexes from the plates already stored.
    """
    conn.executescript(
        """
        ALTER TABLE sightings ADD COLUMN legal_hold INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX sightings_legal_hold ON sightings (id) WHERE legal_hold = 1;
        CREATE TABLE plate_variants (
            variant TEXT NOT NULL,
            plate_id INTEGER NOT NULL REFERENCES plates (id) ON DELETE CASCADE,
            PRIMARY KEY (variant, plate_id)
        ) WITHOUT ROWID;
        CREATE INDEX plate_variants_plate ON plate_variants (plate_id);
        CREATE VIRTUAL TABLE plate_trigrams USING fts5 (
            lookalike, content = 'plates', content_rowid = 'id',
            tokenize = 'trigram case_sensitive 1', detail = 'none'
        );
        CREATE TRIGGER plates_trigrams_insert AFTER INSERT ON plates BEGIN
            INSERT INTO plate_trigrams (rowid, lookalike) VALUES (new.id, new.lookalike);
        END;
        CREATE TRIGGER plates_trigrams_delete AFTER DELETE ON plates BEGIN
            INSERT INTO plate_trigrams (plate_trigrams, rowid, lookalike)
                VALUES ('delete', old.id, old.lookalike);
        END;
        INSERT INTO plate_trigrams (plate_trigrams) VALUES ('rebuild');
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at_us INTEGER NOT NULL,
            user_id TEXT,
            action TEXT NOT NULL,
            details TEXT NOT NULL,
            reason TEXT
        );
        CREATE INDEX audit_time ON audit (at_us);
        CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN
            SELECT RAISE (ABORT, 'the audit log is append-only');
        END;
        CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN
            SELECT RAISE (ABORT, 'the audit log is append-only');
        END;
        """
    )
    plates = conn.execute("SELECT id, lookalike FROM plates").fetchall()
    conn.executemany(
        "INSERT INTO plate_variants (variant, plate_id) VALUES (?, ?)",
        (
            (variant, plate_id)
            for plate_id, lookalike in plates
            for variant in deletion_variants(lookalike)
        ),
    )


def _route_index_with_event_ids(conn: sqlite3.Connection) -> None:
    """Version 4: carry the NVR event id in the route index (issue 5).

    The journey logic joins misreads reported in the same NVR event; with the
    event id in the index a route of 100,000 sightings needs no table lookups.
    """
    conn.executescript(
        """
        DROP INDEX sightings_plate_route;
        CREATE INDEX sightings_plate_route ON sightings
            (plate_id, seen_us, camera_id, direction, confidence, event_id);
        """
    )


def _add_route_chunks(conn: sqlite3.Connection) -> None:
    """Version 5: packed per-plate route columns (issue 5).

    Building a route of 100,000 sightings from rows costs more than the
    50 ms budget in SQLite's row stepping and Python's tuples alone. Chunks
    are built here for every plate already stored, one plate at a time from
    the route index.
    """
    conn.executescript(
        """
        CREATE TABLE route_chunks (
            plate_id INTEGER NOT NULL REFERENCES plates (id) ON DELETE CASCADE,
            chunk INTEGER NOT NULL,
            count INTEGER NOT NULL,
            seen_us BLOB NOT NULL,
            ids BLOB NOT NULL,
            camera_ids BLOB NOT NULL,
            event_keys BLOB NOT NULL,
            PRIMARY KEY (plate_id, chunk)
        ) WITHOUT ROWID;
        """
    )
    rows = conn.execute(
        "SELECT plate_id, seen_us, id, camera_id, event_id FROM sightings"
        " INDEXED BY sightings_plate_route ORDER BY plate_id, seen_us, id"
    )
    plate_id: int | None = None
    pending: list[RouteEntry] = []
    for row in rows:
        if row[0] != plate_id:
            if plate_id is not None:
                write_route_chunks(conn, plate_id, pending)
            plate_id, pending = row[0], []
        pending.append((row[1], row[2], row[3], row[4]))
    if plate_id is not None:
        write_route_chunks(conn, plate_id, pending)


def event_key(event_id: str | None) -> int:
    """Return a 64-bit key of an NVR event id; 0 for none.

    Lets the journey logic rule out "same event" from the packed columns;
    equal keys are confirmed on the event ids themselves.
    """
    if event_id is None:
        return 0
    key = int.from_bytes(
        hashlib.blake2b(event_id.encode(), digest_size=8).digest(),
        "little",
        signed=True,
    )
    return key or 1


def pack_route_columns(entries: Sequence[RouteEntry]) -> tuple[bytes, ...]:
    """Pack ``(seen_us, id, camera_id, event_id)`` entries as the chunk blobs."""
    count = len(entries)
    return (
        struct.pack(f"<{count}q", *(entry[0] for entry in entries)),
        struct.pack(f"<{count}q", *(entry[1] for entry in entries)),
        struct.pack(f"<{count}i", *(entry[2] for entry in entries)),
        struct.pack(f"<{count}q", *(event_key(entry[3]) for entry in entries)),
    )


def write_route_chunks(
    conn: sqlite3.Connection,
    plate_id: int,
    entries: Sequence[RouteEntry],
    first_chunk: int = 0,
) -> None:
    """Store a plate's route entries as chunks numbered from ``first_chunk``."""
    conn.executemany(
        "INSERT INTO route_chunks"
        " (plate_id, chunk, count, seen_us, ids, camera_ids, event_keys)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            (
                plate_id,
                first_chunk + number,
                len(part),
                *pack_route_columns(part),
            )
            for number, start in enumerate(range(0, len(entries), ROUTE_CHUNK))
            for part in (entries[start : start + ROUTE_CHUNK],)
        ),
    )


def _add_reader(conn: sqlite3.Connection) -> None:
    """Version 6: who read the plate, the engine (0) or the NVR's own recognition (1).

    A sighting Frigate read while its snapshot could not be downloaded has no
    image to check it against; the column keeps that visible.
    """
    conn.execute("ALTER TABLE sightings ADD COLUMN reader INTEGER NOT NULL DEFAULT 0")


_AUTOINCREMENT_TABLES = {
    "sightings": """
        CREATE TABLE new_sightings (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            plate_id INTEGER NOT NULL REFERENCES plates (id),
            camera_id INTEGER NOT NULL REFERENCES cameras (id),
            seen_us INTEGER NOT NULL,
            raw TEXT NOT NULL,
            confidence REAL NOT NULL,
            source TEXT NOT NULL,
            event_id TEXT,
            region TEXT,
            box TEXT,
            direction INTEGER NOT NULL DEFAULT 0,
            alternatives TEXT,
            legal_hold INTEGER NOT NULL DEFAULT 0,
            reader INTEGER NOT NULL DEFAULT 0
        )
        """,
    "watchlist": """
        CREATE TABLE new_watchlist (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            plate TEXT NOT NULL UNIQUE,
            label TEXT NOT NULL DEFAULT '',
            reason TEXT NOT NULL DEFAULT '',
            priority TEXT NOT NULL,
            expires_us INTEGER,
            cameras TEXT NOT NULL DEFAULT '[]',
            active_from TEXT,
            active_until TEXT,
            enabled INTEGER NOT NULL DEFAULT 1
        )
        """,
    "watchlist_hits": """
        CREATE TABLE new_watchlist_hits (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            sighting_id INTEGER NOT NULL REFERENCES sightings (id) ON DELETE CASCADE,
            entry_id INTEGER REFERENCES watchlist (id) ON DELETE SET NULL,
            listed_plate TEXT NOT NULL,
            match_kind TEXT NOT NULL,
            plate_read TEXT NOT NULL,
            at_us INTEGER NOT NULL,
            acknowledged_by TEXT,
            acknowledged_us INTEGER
        )
        """,
    "audit": """
        CREATE TABLE new_audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at_us INTEGER NOT NULL,
            user_id TEXT,
            action TEXT NOT NULL,
            details TEXT NOT NULL,
            reason TEXT
        )
        """,
}
"""Version 7's layout of the tables it rebuilds, each under a new name."""


def _ids_never_reused(conn: sqlite3.Connection) -> None:
    """Version 7: ids of sightings, hits, watchlist entries and audit lines are never reused.

    A plain ``INTEGER PRIMARY KEY`` takes the highest id stored plus one: after
    a purge of the newest sightings the next car got a purged one's id, and a
    legal hold, signed image link or acknowledgement citing it acted on that
    car. ``AUTOINCREMENT`` cannot be added to a table, so each table of
    ``STABLE_ID_TABLES`` is rebuilt as SQLite's documented procedure for other
    table changes has it (https://www.sqlite.org/lang_altertable.html#otheralter):
    ``migrate`` turns foreign keys off around the transaction (dropping the
    old sightings would otherwise delete their images and hits), the rows are
    copied with their ids, the old table dropped, the new one renamed, its
    indexes and triggers created again from their stored SQL, and foreign
    keys checked before the commit. Copying the ids starts each table's
    ``sqlite_sequence`` at its highest id stored. Rows purged from the top
    before this upgrade left no trace: their ids can be handed out once more.
    """
    for table, create in _AUTOINCREMENT_TABLES.items():
        attached = conn.execute(
            "SELECT sql FROM sqlite_schema WHERE tbl_name = ?"
            " AND type IN ('index', 'trigger') AND sql IS NOT NULL",
            (table,),
        ).fetchall()
        conn.execute(create)
        columns = ", ".join(
            row[1] for row in conn.execute(f"PRAGMA table_info(new_{table})")
        )
        conn.execute(
            f"INSERT INTO new_{table} ({columns}) SELECT {columns} FROM {table}"  # noqa: S608
        )
        conn.execute(f"DROP TABLE {table}")
        conn.execute(f"ALTER TABLE new_{table} RENAME TO {table}")
        for (sql,) in attached:
            conn.execute(sql)
    for table in ("sightings", "images", "watchlist_hits"):
        broken = conn.execute(f"PRAGMA foreign_key_check({table})").fetchone()
        if broken is not None:
            raise sqlite3.IntegrityError(
                f"{table} row {broken[1]} refers to a missing {broken[2]} row"
            )


SAME_EVENT_WITHIN_US = 3_600_000_000
"""Microseconds apart that two reads with one NVR event id may be dated and be that event.

An NVR or camera that counts its events from 1 again after a restart hands out
the ids it gave earlier cars. Reads of one pass carry the time of its first
read, or (after Home Assistant restarted) of their own frame; the Frigate
source takes an event to last up to an hour too (``MISSED_EVENTS_LONGEST``).
"""


def _event_ids_may_be_reused(conn: sqlite3.Connection) -> None:
    """Version 8: an event id an NVR hands out again makes a sighting of its own.

    The unique index merged the read of another car, days later, into the
    sighting its event id had named first.
    """
    conn.executescript(
        """
        DROP INDEX sightings_event;
        CREATE INDEX sightings_event ON sightings (source, camera_id, event_id, seen_us)
            WHERE event_id IS NOT NULL;
        """
    )


MIGRATIONS: tuple[Migration, ...] = (
    _create_sightings,
    _create_watchlist,
    _add_search_retention_audit,
    _route_index_with_event_ids,
    _add_route_chunks,
    _add_reader,
    _ids_never_reused,
    _event_ids_may_be_reused,
)
SCHEMA_VERSION = len(MIGRATIONS)


def keep_ids_above(conn: sqlite3.Connection, used: Mapping[str, int]) -> None:
    """Make each table of ``STABLE_ID_TABLES`` in ``used`` hand out ids above ``used[table]`` only.

    For ids known to be used elsewhere, such as by rows of a damaged copy of
    the database that could not be carried over. Never lowers a sequence.
    """
    for table, highest in used.items():
        if table not in STABLE_ID_TABLES:
            raise ValueError(f"ids of {table} may be reused")
        if not conn.execute(
            "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?",
            (highest, table),
        ).rowcount:
            # A table gets its row at its first insert.
            conn.execute(
                "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)",
                (table, highest),
            )


def schema_version(conn: sqlite3.Connection) -> int:
    """Return the version recorded in the database file."""
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> None:
    """Upgrade the database step by step up to ``target`` (a new file from version 0).

    The connection must be opened with ``autocommit=True`` (no implicit
    transactions, so ``executescript`` does not commit halfway); every
    step and its version bump commit together. Foreign keys are off while
    the steps run, as SQLite's table rebuild needs (the pragma does nothing
    inside a transaction), and back as they were afterwards.
    """
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"database schema {version} is newer than this code ({SCHEMA_VERSION})"
        )
    (foreign_keys,) = conn.execute("PRAGMA foreign_keys").fetchone()
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        for step in range(version, target):
            conn.execute("BEGIN IMMEDIATE")
            try:
                MIGRATIONS[step](conn)
                conn.execute(f"PRAGMA user_version = {step + 1}")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
    finally:
        conn.execute(f"PRAGMA foreign_keys = {int(foreign_keys)}")
