"""Watchlist entries and hits kept by the store."""

from __future__ import annotations

from dataclasses import replace
from datetime import time

import pytest

from custom_components.plate_tracker.records import Priority, WatchlistEntry
from custom_components.plate_tracker.store import SightingStore, StoreValidationError

from .conftest import T0, minutes, sighting


def entry(plate: str = "AE1234BK", **fields: object) -> WatchlistEntry:
    """Return an unsaved watchlist entry."""
    return WatchlistEntry(id=None, plate=plate, **fields)  # type: ignore[arg-type]


def test_entries_round_trip_every_field(store: SightingStore) -> None:
    """Every field an officer sets is stored and read back unchanged."""
    wanted = WatchlistEntry(
        id=None,
        plate="ae 1234 bk",
        label="Stolen van",
        reason="case 12/345",
        priority=Priority.CRITICAL,
        expires_at=T0,
        cameras=("bridge", "exit_north"),
        active_from=time(22, 0),
        active_until=time(6, 0),
        enabled=False,
    )
    added = store.watchlist_add(wanted)
    assert added.id is not None
    assert added.plate == "AE1234BK"
    assert store.watchlist() == [added]
    assert added == replace(wanted, id=added.id, plate="AE1234BK")


def test_update_and_remove(store: SightingStore) -> None:
    """Entries change and go away without a restart, by id or by plate."""
    first = store.watchlist_add(entry())
    store.watchlist_add(entry("AE*BK"))
    assert first.id is not None
    changed = store.watchlist_update(
        replace(first, label="found", priority=Priority.INFO)
    )
    assert changed.label == "found"
    assert changed.priority is Priority.INFO
    assert store.watchlist_remove("AE*BK")
    assert store.watchlist_remove(first.id)
    assert not store.watchlist_remove(first.id)
    assert store.watchlist() == []


def test_duplicate_plate_and_missing_entry_are_refused(store: SightingStore) -> None:
    """One entry per plate keeps imports and hits unambiguous."""
    store.watchlist_add(entry())
    with pytest.raises(StoreValidationError) as caught:
        store.watchlist_add(entry("AE 1234 BK"))
    assert caught.value.translation_key == "watchlist_plate_exists"
    with pytest.raises(StoreValidationError) as caught:
        store.watchlist_update(WatchlistEntry(id=999, plate="KA0001AA"))
    assert caught.value.translation_key == "watchlist_entry_not_found"
    with pytest.raises(StoreValidationError) as caught:
        store.watchlist_add(entry("AE#1"))
    assert caught.value.translation_key == "invalid_plate_pattern"


def test_import_merges_by_plate_and_keeps_ids(store: SightingStore) -> None:
    """Re-importing a CSV updates entries in place, so their hit history stays."""
    kept = store.watchlist_add(entry(label="old"))
    result = store.watchlist_replace_or_merge([entry(label="new"), entry("KA0001AA")])
    assert [(e.plate, e.label) for e in result] == [
        ("AE1234BK", "new"),
        ("KA0001AA", ""),
    ]
    assert result[0].id == kept.id


def test_import_replace_removes_unlisted_entries(store: SightingStore) -> None:
    """A replacing import leaves exactly the imported list."""
    store.watchlist_add(entry("KA0001AA"))
    result = store.watchlist_replace_or_merge([entry()], replace=True)
    assert [e.plate for e in result] == ["AE1234BK"]


def test_import_is_all_or_nothing(store: SightingStore) -> None:
    """A bad row anywhere leaves the watchlist untouched: no half-applied import."""
    before = [store.watchlist_add(entry("KA0001AA"))]
    for bad in ([entry(), entry("AE 1234 BK")], [entry(), entry("AE#1")]):
        with pytest.raises(StoreValidationError):
            store.watchlist_replace_or_merge(bad, replace=True)
        assert store.watchlist() == before


def test_hits_are_recorded_acknowledged_once_and_outlive_their_entry(
    store: SightingStore,
) -> None:
    """Who acknowledged a hit and when is evidence; it cannot be overwritten."""
    listed = store.watchlist_add(entry())
    assert listed.id is not None
    first, _ = store.record(sighting())
    second, _ = store.record(sighting(plate="AEI234BK", seen_at=T0 + minutes(5)))
    hit_one = store.record_hit(first.id, listed.id, "exact", "AE1234BK", T0)
    hit_two = store.record_hit(
        second.id, listed.id, "lookalike", "AEI234BK", T0 + minutes(5)
    )

    acknowledged = store.acknowledge_hit(hit_one, "officer-7", T0 + minutes(1))
    assert acknowledged.acknowledged_by == "officer-7"
    assert acknowledged.acknowledged_at == T0 + minutes(1)
    with pytest.raises(StoreValidationError) as caught:
        store.acknowledge_hit(hit_one, "officer-8", T0 + minutes(2))
    assert caught.value.translation_key == "hit_already_acknowledged"
    assert caught.value.placeholders["user_id"] == "officer-7"

    assert [h.id for h in store.hits_for_entry(listed.id)] == [hit_two, hit_one]
    assert store.last_hit_per_entry()[listed.id].id == hit_two

    store.watchlist_remove(listed.id)
    assert store.last_hit_per_entry() == {}
    (kept,) = store.hits_for_sighting(second.id)
    assert (kept.entry_id, kept.listed_plate, kept.match_kind) == (
        None,
        "AE1234BK",
        "lookalike",
    )


def test_last_hit_is_of_the_latest_sighting_not_the_latest_recorded(
    store: SightingStore,
) -> None:
    """'Last seen' after a restart must not go back in time when a slow source delivered late.

    The hit of an older sighting recorded after a newer one's does not count as
    the last; a corrected read of the newest sighting (a second hit of it) does.
    """
    listed = store.watchlist_add(entry())
    assert listed.id is not None
    newer, _ = store.record(sighting(seen_at=T0 + minutes(10)))
    older, _ = store.record(sighting(camera="exit_north"))
    newer_hit = store.record_hit(
        newer.id, listed.id, "lookalike", "AEI234BK", T0 + minutes(10)
    )
    store.record_hit(older.id, listed.id, "exact", "AE1234BK", T0 + minutes(11))
    assert store.last_hit_per_entry()[listed.id].id == newer_hit

    corrected = store.record_hit(
        newer.id, listed.id, "exact", "AE1234BK", T0 + minutes(12)
    )
    assert store.last_hit_per_entry()[listed.id].id == corrected


def test_hit_for_unknown_sighting_or_entry_is_refused(store: SightingStore) -> None:
    """A hit must point at a real sighting and a real entry."""
    listed = store.watchlist_add(entry())
    stored, _ = store.record(sighting())
    assert listed.id is not None
    with pytest.raises(StoreValidationError) as caught:
        store.record_hit(stored.id + 1, listed.id, "exact", "AE1234BK", T0)
    assert caught.value.translation_key == "sighting_not_found"
    with pytest.raises(StoreValidationError) as caught:
        store.record_hit(stored.id, listed.id + 1, "exact", "AE1234BK", T0)
    assert caught.value.translation_key == "watchlist_entry_not_found"
    with pytest.raises(StoreValidationError) as caught:
        store.acknowledge_hit(1, "officer-7", T0)
    assert caught.value.translation_key == "hit_not_found"
