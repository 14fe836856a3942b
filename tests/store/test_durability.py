"""Durability, schema upgrades and thread safety of the sightings store."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
import sqlite3

import pytest

from custom_components.plate_tracker.plate_text import lookalike_key
from custom_components.plate_tracker.records import Reader
from custom_components.plate_tracker.store import (
    SCHEMA_VERSION,
    SearchQuery,
    SightingStore,
)
from custom_components.plate_tracker.store.schema import migrate

from .conftest import T0, minutes, sighting


def test_acknowledged_sighting_survives_reopen(db_path: Path) -> None:
    """A sighting ``record`` returned must still be there after a restart."""
    with SightingStore.open(db_path) as store:
        stored, created = store.record(
            sighting(crop_jpeg=b"crop", snapshot_jpeg=b"snap")
        )
    assert created
    with SightingStore.open(db_path) as store:
        assert store.get(stored.id) == stored
        assert store.image(stored.id, "crop") == b"crop"
        assert store.image(stored.id, "snapshot") == b"snap"
        assert store.count() == 1


def test_commit_reaches_the_file_before_record_returns(db_path: Path) -> None:
    """Another connection sees a sighting as soon as ``record`` returns.

    Nothing is held back in memory: with ``synchronous=FULL`` in WAL mode the
    commit is on disk when the call ends, so a power cut cannot lose it.
    """
    with SightingStore.open(db_path) as store:
        writer = store._writer
        assert writer is not None
        assert writer.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert writer.execute("PRAGMA synchronous").fetchone() == (2,)
        assert writer.execute("PRAGMA foreign_keys").fetchone() == (1,)
        stored, _ = store.record(sighting())
        outside = sqlite3.connect(db_path)
        try:
            assert outside.execute("SELECT count(*) FROM sightings").fetchone() == (1,)
        finally:
            outside.close()
        assert stored.id == 1


def test_close_checkpoints_the_wal(db_path: Path) -> None:
    """After ``close`` the main file alone holds everything (easy backups)."""
    with SightingStore.open(db_path) as store:
        store.record(sighting())
    wal = Path(f"{db_path}-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def test_upgrade_from_version_one_keeps_and_indexes_old_sightings(
    db_path: Path,
) -> None:
    """A file written by the first release opens, upgrades and is searchable.

    Users upgrade the integration in place; their sightings must come along and
    the later fuzzy index must cover plates stored before it existed.
    """
    db_path.parent.mkdir(parents=True, exist_ok=True)
    old = sqlite3.connect(db_path, autocommit=True)
    migrate(old, target=1)
    old.executescript(
        """
        INSERT INTO cameras (id, name) VALUES (1, 'bridge');
        INSERT INTO plates (id, plate, lookalike) VALUES (1, 'AE1234BK', '4E12348K');
        INSERT INTO sightings (plate_id, camera_id, seen_us, raw, confidence, source)
            VALUES (1, 1, 1772366400000000, 'AE 1234 BK', 0.9, 'folder');
        """
    )
    assert old.execute("PRAGMA user_version").fetchone() == (1,)
    assert lookalike_key("AE1234BK") == "4E12348K"  # as version 1 stored it
    old.close()

    with SightingStore.open(db_path) as store:
        assert store._writer is not None
        assert store._writer.execute("PRAGMA user_version").fetchone() == (
            SCHEMA_VERSION,
        )
        page = store.search(SearchQuery(plate="AE1234B", fuzzy=True))
        assert [s.plate for s in page.sightings] == ["AE1234BK"]
        assert page.sightings[0].seen_at == T0
        assert not page.sightings[0].legal_hold
        assert store.search(SearchQuery(plate="*34B?")).sightings


def test_concurrent_writers_and_readers(store: SightingStore) -> None:
    """Executor threads record and search at once without errors or lost rows."""

    def write(worker: int) -> None:
        for n in range(40):
            store.record(
                sighting(
                    plate=f"AE{worker}{n:03d}BK",
                    seen_at=T0 + minutes(n),
                    event_id=f"{worker}-{n}",
                )
            )

    def read(_: int) -> None:
        for _ in range(40):
            store.search(SearchQuery(plate="AE*BK"))
            store.latest_per_camera()

    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(write, w) for w in range(4)]
        futures += [pool.submit(read, r) for r in range(2)]
        for future in futures:
            future.result()
    assert store.count() == 160


def test_newer_schema_is_refused(db_path: Path) -> None:
    """A file from a newer release is not opened (and not damaged) by older code."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    newer = sqlite3.connect(db_path)
    newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    newer.close()
    with pytest.raises(RuntimeError, match="newer"):
        SightingStore.open(db_path)
    check = sqlite3.connect(db_path)
    try:
        assert check.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION + 1,)
    finally:
        check.close()


def test_reader_is_kept_and_older_databases_read_as_the_engine(db_path: Path) -> None:
    """Whether the NVR or the engine read a plate must survive storage and upgrades.

    An NVR's read has no crop to check it against; a sighting stored before
    the reader was kept was the engine's.
    """
    with SightingStore.open(db_path) as store:
        engine_read, _ = store.record(sighting(event_id="a"))
    old = sqlite3.connect(db_path)
    old.executescript(
        "ALTER TABLE sightings DROP COLUMN reader; PRAGMA user_version = 5;"
    )
    old.close()
    with SightingStore.open(db_path) as store:
        assert store.get(engine_read.id) == engine_read
        nvr_read, _ = store.record(sighting(event_id="b", reader=Reader.NVR))
        assert nvr_read.reader is Reader.NVR
        assert store.get(nvr_read.id) == nvr_read


def test_a_sighting_without_an_event_id_stored_again_is_the_same_one(
    store: SightingStore,
) -> None:
    """A replay after a crash, or an inbox picture read again, stores no second row.

    Same source, camera, plate and time to the microsecond is the same read;
    a microsecond apart, another camera or another plate is another sighting.
    """
    first, created = store.record(sighting(seen_at=T0))
    assert created
    again, created = store.record(sighting(seen_at=T0, confidence=0.95))
    assert (again.id, created) == (first.id, False)
    others = [
        sighting(seen_at=T0 + timedelta(microseconds=1)),
        sighting(seen_at=T0, camera="market"),
        sighting(seen_at=T0, plate="KA0001AA"),
        sighting(seen_at=T0, source="anpr"),
    ]
    assert [store.record(new)[1] for new in others] == [True] * 4
    assert store.count() == 5
