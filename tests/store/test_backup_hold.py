"""The store holds its main file still while a backup copies it, sightings still coming.

A backup copies the database file and its WAL one after the other, taking
seconds to minutes, and sightings keep being stored meanwhile. These tests copy
real files the way a backup does, with the WAL cut anywhere, and open the copies.
"""

from __future__ import annotations

from dataclasses import replace
import hashlib
from pathlib import Path
import shutil
import sqlite3

import pytest

from custom_components.plate_tracker.store import SightingStore

from .conftest import T0, minutes, sighting

IMAGE = bytes(range(256)) * 120
"""A 30 kB stand-in for a snapshot: 200 of them overflow SQLite's automatic checkpoint."""


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _wal(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + "-wal")


def _record_many(store: SightingStore, count: int, start: int = 0) -> None:
    for number in range(start, start + count):
        store.record(
            sighting(
                seen_at=T0 + minutes(number),
                plate=f"AE{number:04d}BK",
                event_id=f"event-{number}",
                snapshot_jpeg=IMAGE,
            )
        )


def _copy_as_a_backup_does(db_path: Path, wal_bytes: bytes, dest: Path) -> Path:
    """Copy the main file, then the part of the WAL a backup read; return the copy."""
    dest.mkdir()
    copy = dest / db_path.name
    shutil.copyfile(db_path, copy)
    if wal_bytes:
        _wal(copy).write_bytes(wal_bytes)
    return copy


def _open_copy(copy: Path) -> tuple[str, int]:
    """Return the copy's integrity check and its number of sightings."""
    conn = sqlite3.connect(copy)
    try:
        (check,) = conn.execute("PRAGMA integrity_check").fetchone()
        (count,) = conn.execute("SELECT count(*) FROM sightings").fetchone()
    finally:
        conn.close()
    return check, count


def test_without_a_hold_checkpoints_rewrite_the_main_file(db_path: Path) -> None:
    """The reason for the hold: a busy store writes its main file within minutes."""
    with SightingStore.open(db_path) as store:
        _record_many(store, 10)
        before = _digest(db_path)
        _record_many(store, 200, start=10)
        assert _digest(db_path) != before


def test_held_main_file_stays_still_and_every_copy_opens(
    db_path: Path, tmp_path: Path
) -> None:
    """Sightings and a purge go on; any cut of the WAL gives a sound database."""
    with SightingStore.open(db_path) as store:
        _record_many(store, 10)
        store.hold_main_file()
        assert store.main_file_held
        held_digest = _digest(db_path)
        assert _wal(db_path).stat().st_size < 3 * 4096, "the hold starts the WAL afresh"

        _record_many(store, 200, start=10)
        assert store.purge(until=T0 + minutes(5)) == 5
        assert store.count() == 205
        assert _digest(db_path) == held_digest
        wal = _wal(db_path).read_bytes()
        assert len(wal) > 1000 * 4096, "past the point of an automatic checkpoint"

        counts = []
        cuts = [0, 32, 4096 + 17, *range(1, 12)]
        for number, cut in enumerate(cuts):
            length = cut if number < 3 else len(wal) * cut // 11
            copy = _copy_as_a_backup_does(
                db_path, wal[:length], tmp_path / f"copy-{number}"
            )
            check, count = _open_copy(copy)
            assert check == "ok", (length, check)
            counts.append(count)
        assert counts[:3] == [10, 10, 10]
        assert counts[3:] == sorted(counts[3:]), "a longer WAL never holds less"
        assert counts[-1] == 205, "the whole WAL holds every commit"
        assert len(set(counts)) > 5

        assert store.release_main_file()
        assert not store.main_file_held
        assert _digest(db_path) != held_digest, "the WAL is checkpointed on release"
        _record_many(store, 5, start=300)
        assert store.count() == 210


def test_hold_keeps_the_wal_from_starting_over(db_path: Path) -> None:
    """Writers must not start the WAL over while a backup may be reading it.

    A reader elsewhere keeps the first checkpoint from emptying the WAL (which
    it still copied whole), then finishes: a writer would then start the WAL
    over from its first frame, under a backup reading it, unless a frame no
    checkpoint copied is there.
    """
    with SightingStore.open(db_path, busy_timeout_s=0.2) as store:
        _record_many(store, 10)
        elsewhere = sqlite3.connect(db_path, autocommit=True)
        try:
            elsewhere.execute("BEGIN")
            elsewhere.execute("SELECT count(*) FROM sightings").fetchone()
            store.hold_main_file()
            elsewhere.execute("COMMIT")
        finally:
            elsewhere.close()
        wal = _wal(db_path)
        header, size = wal.read_bytes()[:32], wal.stat().st_size
        assert size > 0, "the reader kept the WAL from being emptied"
        _record_many(store, 20, start=10)
        assert wal.read_bytes()[:32] == header
        assert wal.stat().st_size > size
        store.release_main_file()


def test_close_while_held_leaves_the_main_file_and_keeps_everything(
    db_path: Path,
) -> None:
    """Unloading during a backup checkpoints nothing; the next open reads the WAL."""
    with SightingStore.open(db_path) as store:
        _record_many(store, 3)
        store.hold_main_file()
        held_digest = _digest(db_path)
        _record_many(store, 4, start=3)
    assert _digest(db_path) == held_digest
    assert _wal(db_path).stat().st_size > 0
    with SightingStore.open(db_path) as store:
        assert store.count() == 7
        assert not store.main_file_held


def test_hold_is_idempotent_and_release_without_hold_says_so(
    store: SightingStore,
) -> None:
    """A second hold is the same hold; a release that held nothing returns False."""
    assert not store.release_main_file()
    store.hold_main_file()
    store.hold_main_file()
    assert store.release_main_file()
    assert not store.release_main_file()
    assert store.record(replace(sighting(), plate="BC0001AA"))[1]


def test_hold_needs_an_open_store(db_path: Path) -> None:
    """A closed store cannot be held."""
    store = SightingStore.open(db_path)
    store.close()
    with pytest.raises(RuntimeError, match="not open"):
        store.hold_main_file()
