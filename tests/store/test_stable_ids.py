"""Ids that leave the database are never handed out again, in new and upgraded files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
import sqlite3

import pytest

from custom_components.plate_tracker.plate_text import deletion_variants, lookalike_key
from custom_components.plate_tracker.records import WatchlistEntry
from custom_components.plate_tracker.store import (
    SCHEMA_VERSION,
    SearchQuery,
    SightingStore,
    StoreValidationError,
)
from custom_components.plate_tracker.store.schema import STABLE_ID_TABLES, migrate
from custom_components.plate_tracker.store.sighting_store import to_us

from .conftest import T0, minutes, sighting

VERSION_6_IDS = {"sightings": 9, "watchlist": 3, "watchlist_hits": 5, "audit": 2}
"""The highest id of each table ``_write_version_6_file`` stores."""


def _write_version_6_file(path: Path) -> None:
    """Write a database as release 6 left it: every table that cites ids filled, ids with gaps.

    Built through every migration up to version 6, and written with foreign
    keys on, as the store writes.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, autocommit=True)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn, target=6)
        conn.execute("BEGIN")
        _insert(
            conn, "cameras", {"id": 1, "name": "bridge"}, {"id": 2, "name": "market"}
        )
        for plate_id, plate in ((1, "AE1234BK"), (3, "KA0001AA")):
            key = lookalike_key(plate)
            _insert(conn, "plates", {"id": plate_id, "plate": plate, "lookalike": key})
            _insert(
                conn,
                "plate_variants",
                *(
                    {"variant": variant, "plate_id": plate_id}
                    for variant in deletion_variants(key)
                ),
            )
        seen = {"source": "frigate", "confidence": 0.8}
        _insert(
            conn,
            "sightings",
            {
                "id": 1,
                "plate_id": 1,
                "camera_id": 1,
                "seen_us": to_us(T0),
                "raw": "AE 1234 BK",
                "source": "folder",
                "confidence": 0.9,
                "event_id": "e1",
                "box": "1,2,3,4",
                "alternatives": '[["AE1234BX", 0.4]]',
                "legal_hold": 1,
            },
            {
                "id": 4,
                "plate_id": 3,
                "camera_id": 2,
                "seen_us": to_us(T0 + minutes(1)),
                "raw": "KA 0001 AA",
                **seen,
                "direction": 1,
                "reader": 1,
            },
            {
                "id": 9,
                "plate_id": 1,
                "camera_id": 2,
                "seen_us": to_us(T0 + minutes(2)),
                "raw": "AE1234BK",
                **seen,
                "event_id": "e9",
                "direction": 2,
            },
        )
        _insert(
            conn,
            "images",
            {
                "id": 1,
                "sighting_id": 1,
                "kind": 0,
                "seen_us": to_us(T0),
                "jpeg": b"crop-1",
            },
            {
                "id": 2,
                "sighting_id": 1,
                "kind": 1,
                "seen_us": to_us(T0),
                "jpeg": b"snap-1",
            },
            {"id": 5, "sighting_id": 9, "kind": 0, "seen_us": 0, "jpeg": b"crop-9"},
        )
        _insert(
            conn,
            "watchlist",
            {"id": 1, "plate": "KA0001AA", "label": "Witness", "priority": "info"},
            {"id": 3, "plate": "AE1234BK", "label": "Stolen", "priority": "high"},
        )
        hit = {
            "entry_id": 3,
            "listed_plate": "AE1234BK",
            "match_kind": "exact",
            "plate_read": "AE1234BK",
            "at_us": to_us(T0),
        }
        _insert(
            conn,
            "watchlist_hits",
            {"id": 2, "sighting_id": 1, **hit},
            {
                "id": 5,
                "sighting_id": 9,
                **hit,
                "acknowledged_by": "officer",
                "acknowledged_us": to_us(T0 + minutes(3)),
            },
        )
        _insert(
            conn,
            "audit",
            {
                "id": 1,
                "at_us": to_us(T0),
                "user_id": "admin",
                "action": "set_legal_hold",
                "details": '{"sighting_ids": [1]}',
                "reason": "case 12/345",
            },
            {
                "id": 2,
                "at_us": to_us(T0),
                "user_id": "officer",
                "action": "acknowledge_hit",
                "details": '{"hit_id": 5}',
            },
        )
        conn.execute("COMMIT")
    finally:
        conn.close()


def _insert(conn: sqlite3.Connection, table: str, *rows: dict[str, object]) -> None:
    """Insert rows given as column -> value, the other columns left to their defaults."""
    for row in rows:
        conn.execute(
            f"INSERT INTO {table} ({', '.join(row)})"  # noqa: S608
            f" VALUES ({', '.join('?' * len(row))})",
            tuple(row.values()),
        )


def _rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Return every row of every data table, in rowid (or key) order.

    SQLite's own tables are left out: ``sqlite_sequence``, and ``sqlite_stat1``,
    which newer SQLite versions fill when a connection closes (``PRAGMA optimize``).
    """
    conn = sqlite3.connect(path)
    try:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_schema WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite%' AND sql NOT LIKE 'CREATE VIRTUAL%'"
            )
        ]
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()  # noqa: S608
            for table in tables
        }
    finally:
        conn.close()


def _schema(path: Path) -> dict[tuple[str, str], str | None]:
    """Return the file's schema objects with their SQL, quotes and spacing left out.

    A rebuilt table is renamed into place, and SQLite then quotes its name.
    """
    conn = sqlite3.connect(path)
    try:
        return {
            (kind, name): None
            if sql is None
            else " ".join(sql.replace('"', "").split())
            for kind, name, sql in conn.execute(
                "SELECT type, name, sql FROM sqlite_schema"
            )
        }
    finally:
        conn.close()


def _sequences(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT name, seq FROM sqlite_sequence").fetchall())
    finally:
        conn.close()


@pytest.fixture(params=["new", "upgraded"])
def any_store(request: pytest.FixtureRequest, db_path: Path) -> Iterator[SightingStore]:
    """Return an open store on a new file, or on a file upgraded from version 6."""
    if request.param == "upgraded":
        _write_version_6_file(db_path)
    with SightingStore.open(db_path) as opened:
        yield opened


def test_ids_of_purged_rows_are_not_given_to_new_ones(any_store: SightingStore) -> None:
    """A legal hold, image link or acknowledgement citing a purged row must not reach another car.

    Search results, alerts, signed image links and the audit log carry these
    ids; after the newest sighting, its hit and its watchlist entry are gone,
    the next car must not take them over.
    """
    store = any_store
    suspect, _ = store.record(
        sighting(plate="AE7777XX", seen_at=T0 + minutes(5), crop_jpeg=b"suspect")
    )
    entry = store.watchlist_add(WatchlistEntry(id=None, plate="AE7777XX"))
    assert entry.id is not None
    hit = store.record_hit(suspect.id, entry.id, "exact", "AE7777XX", T0)
    assert store.purge(plate="AE7777XX") == 1
    assert store.watchlist_remove(entry.id)

    bystander, _ = store.record(
        sighting(plate="BC1111XX", seen_at=T0 + minutes(6), crop_jpeg=b"bystander")
    )
    other = store.watchlist_add(WatchlistEntry(id=None, plate="BC1111XX"))
    assert other.id is not None
    other_hit = store.record_hit(bystander.id, other.id, "exact", "BC1111XX", T0)

    assert (bystander.id, other.id, other_hit) == (
        suspect.id + 1,
        entry.id + 1,
        hit + 1,
    )
    with pytest.raises(StoreValidationError) as caught:
        store.set_legal_hold([suspect.id], True)
    assert caught.value.translation_key == "sighting_not_found"
    assert store.get(suspect.id) is None
    assert store.image(suspect.id, "crop") is None
    with pytest.raises(StoreValidationError) as caught:
        store.acknowledge_hit(hit, "officer", T0)
    assert caught.value.translation_key == "hit_not_found"
    assert store.get(bystander.id) == bystander


def test_purged_ids_stay_used_after_a_restart(db_path: Path) -> None:
    """The highest id used is kept in the file, not in memory: a restart hands out none again."""
    with SightingStore.open(db_path) as store:
        store.record(sighting())
        newest, _ = store.record(sighting(plate="AE7777XX", seen_at=T0 + minutes(1)))
        store.purge(plate="AE7777XX")
    with SightingStore.open(db_path) as store:
        assert store.record(sighting(plate="BC1111XX"))[0].id == newest.id + 1


def test_upgrade_keeps_every_row_and_id(db_path: Path) -> None:
    """Upgrading to version 7 rebuilds four tables; every row, id and reference must come through.

    They are evidence: a sighting on legal hold, its pictures, the hits on it
    and who acknowledged them, and the append-only audit log.
    """
    _write_version_6_file(db_path)
    before = _rows(db_path)

    with SightingStore.open(db_path) as store:
        assert store._writer is not None
        assert store._writer.execute("PRAGMA user_version").fetchone() == (
            SCHEMA_VERSION,
        )
        assert store._writer.execute("PRAGMA foreign_keys").fetchone() == (1,)
    assert _rows(db_path) == before
    assert _sequences(db_path) == VERSION_6_IDS

    with SightingStore.open(db_path) as store:
        held = store.get(1)
        assert held is not None
        assert (held.legal_hold, held.box, held.camera) == (
            True,
            (1, 2, 3, 4),
            "bridge",
        )
        assert store.image(1, "snapshot") == b"snap-1"
        assert [hit.id for hit in store.hits_for_sighting(9)] == [5]
        fuzzy = store.search(SearchQuery(plate="AE1234B", fuzzy=True))
        assert [found.id for found in fuzzy.sightings] == [9, 1]
        assert [row[0] for row in store.route_for("AE1234BK")] == [1, 9]
        # Foreign keys still hold: the newest sighting takes its picture and hit along.
        assert store.purge(plate="AE1234BK") == 1
        assert store.image(9, "crop") is None
        assert store.hits_for_sighting(9) == []
        assert store.record(sighting(plate="BC1111XX"))[0].id == 10
        assert store.record_hit(10, 3, "exact", "BC1111XX", T0) == 6
        assert store.audit_append(None, "search", {}, None, T0) == 3
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM audit WHERE id = 1")
    finally:
        conn.close()


def test_new_and_upgraded_files_have_the_same_schema(
    db_path: Path, tmp_path: Path
) -> None:
    """A file upgraded with rows in it ends with the layout of a new one.

    Tables, columns, AUTOINCREMENT, foreign keys, indexes (partial ones
    too) and triggers alike: the rebuild recreates what it dropped, or code
    tested on one kind of file misbehaves on the other.
    """
    _write_version_6_file(db_path)
    SightingStore.open(db_path).close()
    new = tmp_path / "new.db"
    SightingStore.open(new).close()

    assert _schema(new) == _schema(db_path)
    tables = _schema(new)
    for table in STABLE_ID_TABLES:
        assert "id INTEGER PRIMARY KEY AUTOINCREMENT," in (tables["table", table] or "")
    assert "AUTOINCREMENT" not in (tables["table", "images"] or "")


def test_an_upgrade_that_breaks_a_reference_changes_nothing(db_path: Path) -> None:
    """The rebuild runs in one transaction and checks foreign keys before it commits.

    Should a reference not hold, the file stays as version 6 had it, rather
    than half rebuilt or with pictures whose sighting is gone.
    """
    _write_version_6_file(db_path)
    conn = sqlite3.connect(db_path, autocommit=True)
    try:
        conn.execute(
            "INSERT INTO images (id, sighting_id, kind, seen_us, jpeg)"
            " VALUES (7, 99, 0, 0, x'00')"
        )
    finally:
        conn.close()
    before, schema = _rows(db_path), _schema(db_path)

    with pytest.raises(sqlite3.IntegrityError, match="images row 7"):
        SightingStore.open(db_path)

    assert (_rows(db_path), _schema(db_path)) == (before, schema)
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone() == (6,)
    finally:
        conn.close()
