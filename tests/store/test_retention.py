"""Retention: the daily purge, legal hold, explicit purges."""

from __future__ import annotations

import asyncio
from datetime import timedelta
import sqlite3
import threading
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.plate_tracker.records import NewSighting, WatchlistEntry
from custom_components.plate_tracker.retention import async_purge_expired
from custom_components.plate_tracker.store import (
    PurgeProgress,
    PurgeReport,
    SearchQuery,
    SightingStore,
    StoreValidationError,
)

from .conftest import T0, sighting

NOW = T0 + timedelta(days=400)


def add(store: SightingStore, plate: str, age_days: float, **changes: object) -> int:
    """Store a sighting ``age_days`` before ``NOW`` with a crop; return its id."""
    stored, _ = store.record(
        sighting(
            plate=plate,
            seen_at=NOW - timedelta(days=age_days),
            crop_jpeg=b"crop",
            **changes,
        )
    )
    return stored.id


def test_purge_keeps_recent_held_and_hit_sightings(store: SightingStore) -> None:
    """Old sightings go; held ones, young hits and watched plates stay.

    Personal data may only be kept as long as allowed, but a purge must never
    destroy evidence a court or an open case still needs.
    """
    recent = add(store, "KA0001AA", 10)
    old = add(store, "KA0002AA", 40)
    held = add(store, "KA0003AA", 500)
    hit_young = add(store, "KA0004AA", 100)
    hit_old = add(store, "KA0005AA", 400)
    watched = add(store, "AE1234BK", 100)
    watched_misread = add(store, "AEI234BK", 100)
    watched_too_old = add(store, "AE1234BK", 380)
    store.set_legal_hold([held], held=True)
    entry = store.watchlist_add(WatchlistEntry(id=None, plate="KA0004AA"))
    store.watchlist_add(WatchlistEntry(id=None, plate="AE1234BK"))
    assert entry.id is not None
    store.record_hit(
        hit_young, entry.id, "exact", "KA0004AA", NOW - timedelta(days=100)
    )
    store.record_hit(hit_old, entry.id, "exact", "KA0005AA", NOW - timedelta(days=400))

    report = store.purge_expired(NOW, keep_days=30, keep_hit_days=365, batch_size=2)

    assert report == PurgeReport(sightings=3, images=3, plates=2)
    remaining = {s.id for s in store.search(SearchQuery(page_size=100)).sightings}
    assert remaining == {recent, held, hit_young, watched, watched_misread}
    assert old not in remaining
    assert hit_old not in remaining
    assert watched_too_old not in remaining


def test_purge_forgets_plates_for_fuzzy_search(store: SightingStore) -> None:
    """A purged plate must not be found again through the fuzzy or pattern index."""
    add(store, "KA0002AA", 40)
    store.purge_expired(NOW)
    assert store.search(SearchQuery(plate="KA0002AB", fuzzy=True)).sightings == ()
    assert store.search(SearchQuery(plate="*0002*")).sightings == ()
    assert store._writer is not None
    assert store._writer.execute("SELECT count(*) FROM plate_variants").fetchone() == (
        0,
    )


def test_images_can_expire_before_the_text(store: SightingStore) -> None:
    """Pictures are the most personal part; they may be kept for less time."""
    recent = add(store, "KA0001AA", 1)
    older = add(store, "KA0002AA", 10)
    held = add(store, "KA0003AA", 10)
    store.set_legal_hold([held], held=True)

    report = store.purge_expired(NOW, keep_days=30, keep_image_days=7)

    assert report == PurgeReport(sightings=0, images=1, plates=0)
    assert store.image(recent, "crop") == b"crop"
    assert store.image(older, "crop") is None
    assert store.image(held, "crop") == b"crop"
    stored = store.get(older)
    assert stored is not None
    assert not stored.has_crop


def test_legal_hold_release_lets_purge_proceed(store: SightingStore) -> None:
    """A hold lasts until released, then normal retention applies."""
    held = add(store, "KA0003AA", 500)
    assert store.set_legal_hold([held], held=True) == 1
    assert store.purge_expired(NOW).sightings == 0
    assert store.set_legal_hold([held], held=False) == 1
    assert store.purge_expired(NOW).sightings == 1
    assert store.get(held) is None


def test_explicit_purge_by_plate_and_by_time(store: SightingStore) -> None:
    """An administrator erases a plate or a period; held sightings stay."""
    first = add(store, "AE1234BK", 5)
    add(store, "AE1234BK", 6)
    held = add(store, "AE1234BK", 7)
    other = add(store, "KA0001AA", 5)
    store.set_legal_hold([held], held=True)

    assert store.purge(plate="ae 1234 bk", batch_size=1) == 2
    assert store.get(first) is None
    assert store.get(held) is not None

    assert store.purge(since=NOW - timedelta(days=6), until=NOW) == 1
    assert store.get(other) is None
    assert store.count() == 1


def test_explicit_purge_needs_a_criterion(store: SightingStore) -> None:
    """A purge without plate or time would erase everything: refused."""
    with pytest.raises(StoreValidationError) as caught:
        store.purge()
    assert caught.value.translation_key == "purge_needs_criteria"
    with pytest.raises(StoreValidationError) as caught:
        store.purge(since=NOW, until=NOW - timedelta(days=1))
    assert caught.value.translation_key == "time_range_reversed"


def test_explicit_purge_refuses_a_pattern(store: SightingStore) -> None:
    """A pattern is no plate to erase: stripped of ``?`` it would name another car."""
    kept = [
        store.record(sighting(plate=plate, seen_at=NOW - timedelta(days=1)))[0].id
        for plate in ("AE1234BK", "AE234BK")
    ]
    for pattern in ("AE?234BK", "AE*BK"):
        with pytest.raises(StoreValidationError) as caught:
            store.purge(plate=pattern)
        assert caught.value.translation_key == "purge_plate_pattern"
    with pytest.raises(StoreValidationError) as caught:
        store.route_for("AE?234BK")
    assert caught.value.translation_key == "invalid_plate"
    assert [store.get(sighting_id) is not None for sighting_id in kept] == [True, True]


def test_purge_progress_counts_only_committed_batches(
    store: SightingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A purge failing in its second batch reports the first batch, which is gone."""
    ids = [
        store.record(sighting(seen_at=NOW - timedelta(days=40, hours=hour)))[0].id
        for hour in range(3)
    ]
    drop = store._drop_orphan_plates
    calls = 0

    def fail_second(*args: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise sqlite3.OperationalError("database or disk is full")
        return drop(*args)

    monkeypatch.setattr(store, "_drop_orphan_plates", fail_second)
    progress = PurgeProgress()
    with pytest.raises(sqlite3.OperationalError):
        store.purge_expired(NOW, keep_days=30, batch_size=1, progress=progress)
    assert progress.report() == PurgeReport(sightings=1)
    assert sum(store.get(sighting_id) is None for sighting_id in ids) == 1


def test_purge_restores_automatic_checkpoints(store: SightingStore) -> None:
    """Checkpoints move out of the write lock only while a purge runs.

    Left off, the WAL of a busy installation would grow without bound.
    """
    add(store, "KA0002AA", 40)
    store.purge_expired(NOW, batch_size=1)
    assert store._writer is not None
    assert store._writer.execute("PRAGMA wal_autocheckpoint").fetchone() == (1000,)


async def test_a_retention_purge_cancelled_by_shutdown_is_audited(
    hass: HomeAssistant, init_folder: MockConfigEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Home Assistant cancels a purge still running when it stops; its thread erases on.

    Cancelling the task does not stop the purge's thread: what it erased must
    be in the audit log all the same, or evidence goes without a trace.
    """
    hass.config_entries.async_update_entry(
        init_folder, options={**init_folder.options, "keep_days": 1}
    )
    await hass.async_block_till_done()
    store = init_folder.runtime_data.store
    old, _ = await hass.async_add_executor_job(
        store.record,
        NewSighting(
            camera="bridge",
            seen_at=dt_util.utcnow() - timedelta(days=3),
            plate="AA0000AA",
            raw="AA0000AA",
            confidence=0.9,
            source="folder",
        ),
    )
    erase = store._purge_sightings
    cancelled = threading.Event()

    def erase_after_the_cancel(*args: Any) -> None:
        assert cancelled.wait(5)
        erase(*args)

    monkeypatch.setattr(store, "_purge_sightings", erase_after_the_cancel)
    purge = hass.async_create_task(async_purge_expired(hass, init_folder))
    await asyncio.sleep(0.05)
    purge.cancel()
    with pytest.raises(asyncio.CancelledError):
        await purge
    cancelled.set()
    await hass.async_add_executor_job(lambda: None)
    await hass.async_block_till_done()

    def purged_and_audited() -> bool:
        return store.get(old.id) is None and any(
            line.action == "retention_purge" for line in store.audit_log()
        )

    for _ in range(100):
        if await hass.async_add_executor_job(purged_and_audited):
            break
        await asyncio.sleep(0.05)
    assert await hass.async_add_executor_job(store.get, old.id) is None
    (line,) = await hass.async_add_executor_job(store.audit_log)
    assert line.action == "retention_purge"
    assert line.details["sightings"] == 1
