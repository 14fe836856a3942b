"""How ``record`` treats reads of NVR events, and what a failed write reports."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
import sqlite3

import pytest

from custom_components.plate_tracker.store import SightingStore
from custom_components.plate_tracker.store.schema import migrate

from .conftest import T0, minutes, sighting


def test_an_event_id_an_nvr_hands_out_again_is_another_car(
    store: SightingStore,
) -> None:
    """A camera that counts its events from 1 again after a restart reuses their ids.

    The read of event 17 two days later is another car: taken as a better read
    of the old sighting it would overwrite the first car's plate, and as a
    worse one it would be dropped without a trace. Both cars are evidence.
    """
    first, created = store.record(
        sighting(source="anpr", event_id="17", confidence=0.6, snapshot_jpeg=b"one")
    )
    assert created
    later = T0 + timedelta(days=2)
    for plate, confidence in (("KA0001AA", 0.9), ("BC7777CB", 0.4)):
        other, created = store.record(
            sighting(
                source="anpr",
                event_id="17",
                seen_at=later,
                plate=plate,
                raw=plate,
                confidence=confidence,
            )
        )
        assert created, f"{plate} was merged into the sighting of another car"
        assert other.id != first.id
        assert (other.plate, other.seen_at) == (plate, later)
        later += timedelta(days=1)
    assert store.get(first.id) == first
    assert store.image(first.id, "snapshot") == b"one"
    assert store.count() == 3


def test_reads_of_one_event_stay_one_sighting_whatever_their_times(
    store: SightingStore,
) -> None:
    """Reads of one event dated by their own frames are still one sighting.

    After a restart the pipeline dates a pass's next read by its frame, minutes
    after the first one; the event it belongs to is still the stored one.
    """
    first, _ = store.record(sighting(event_id="ev1", confidence=0.6))
    better, created = store.record(
        sighting(event_id="ev1", seen_at=T0 + minutes(20), confidence=0.9)
    )
    assert not created
    assert (better.id, better.seen_at, better.confidence) == (first.id, T0, 0.9)
    earlier, created = store.record(
        sighting(event_id="ev1", seen_at=T0 - minutes(5), confidence=0.95)
    )
    assert not created
    assert earlier.id == first.id
    assert store.count() == 1


def test_an_upgraded_file_takes_a_reused_event_id(db_path: Path) -> None:
    """A database of an older release learns that event ids may come again."""
    db_path.parent.mkdir(parents=True)
    old = sqlite3.connect(db_path, autocommit=True)
    try:
        migrate(old, target=7)
    finally:
        old.close()
    with SightingStore.open(db_path) as store:
        store.record(sighting(source="anpr", event_id="1"))
        _, created = store.record(
            sighting(source="anpr", event_id="1", seen_at=T0 + timedelta(days=3))
        )
        assert created
        assert store.count() == 2


def test_a_full_disk_is_reported_as_a_full_disk(store: SightingStore) -> None:
    """A write refused for a full disk must say so, not that there was nothing to roll back.

    SQLite rolls the whole transaction back itself when the disk fills up; the
    user is shown the error (in the log and the setup's wait message) and must
    learn that the disk needs room.
    """
    store.record(sighting())
    writer = store._writer
    assert writer is not None
    (pages,) = writer.execute("PRAGMA page_count").fetchone()
    writer.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(sqlite3.OperationalError, match="full") as refused:
        store.record(sighting(seen_at=T0 + minutes(1), snapshot_jpeg=b"x" * 3_000_000))
    assert refused.value.sqlite_errorcode == sqlite3.SQLITE_FULL
    writer.execute("PRAGMA max_page_count = 4294967294")
    _, created = store.record(sighting(seen_at=T0 + minutes(2)))
    assert created
    assert store.count() == 2
