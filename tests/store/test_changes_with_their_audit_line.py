"""Store changes that carry their audit line: checked, applied and audited in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from custom_components.plate_tracker.records import WatchlistEntry
from custom_components.plate_tracker.store import (
    AuditLine,
    SightingStore,
    StoreValidationError,
)

from .conftest import T0, minutes, sighting


def _line(action: str) -> Callable[..., AuditLine]:
    """Return an ``audit`` callback that records what the store passed it as the details."""

    def make(*given: Any) -> AuditLine:
        return AuditLine(
            user_id="officer",
            action=action,
            details={"given": repr(given)},
            reason="case 9",
            at=T0,
        )

    return make


def test_a_hold_naming_a_missing_sighting_changes_nothing(store: SightingStore) -> None:
    """All or nothing, checked with the hold: no sighting is held and no line is written."""
    held, _ = store.record(sighting())
    gone, _ = store.record(sighting(plate="KA0001OO", seen_at=T0 + minutes(1)))
    store.purge(plate="KA0001OO")
    with pytest.raises(StoreValidationError) as err:
        store.set_legal_hold(
            [held.id, gone.id, gone.id, 999], True, audit=_line("set_legal_hold")
        )
    assert (err.value.translation_key, err.value.placeholders) == (
        "sighting_not_found",
        {"sighting_id": f"{gone.id}, 999"},
    )
    assert not store.get(held.id).legal_hold  # type: ignore[union-attr]
    assert store.audit_log() == []

    assert store.set_legal_hold([held.id], True, audit=_line("set_legal_hold")) == 1
    (line,) = store.audit_log()
    assert line.details == {"given": "(1,)"}


def test_a_removal_is_audited_with_the_entry_it_removed(store: SightingStore) -> None:
    """The audit line is made from the row deleted, not from what the caller believed was listed."""
    listed = store.watchlist_add(WatchlistEntry(id=None, plate="AE1234BK"))
    assert listed.id is not None
    removed: list[WatchlistEntry] = []

    def line(entry: WatchlistEntry) -> AuditLine:
        removed.append(entry)
        return _line("watchlist_remove")(entry.plate)

    assert store.watchlist_remove(listed.id, audit=line) == listed
    assert removed == [listed]
    assert store.watchlist_remove(listed.id, audit=line) is None
    assert [record.action for record in store.audit_log()] == ["watchlist_remove"]


def test_several_removals_and_additions_share_one_line(store: SightingStore) -> None:
    """The options flow removes, and a repair lists again, several plates in one transaction."""
    first, second, third = (
        store.watchlist_add(WatchlistEntry(id=None, plate=plate))
        for plate in ("AE1234BK", "KA0001OO", "BC7777HP")
    )
    assert first.id is not None
    assert third.id is not None
    removed = store.watchlist_remove_all(
        [first.id, third.id, 999], audit=_line("watchlist_remove")
    )
    assert removed == [first, third]
    assert store.watchlist() == [second]

    added, already = store.watchlist_add_unlisted(
        [
            WatchlistEntry(id=None, plate="AE1234BK", label="again"),
            WatchlistEntry(id=None, plate="KA0001OO", label="again"),
        ],
        audit=_line("watchlist_add"),
    )
    assert [entry.plate for entry in added] == ["AE1234BK"]
    assert already == ["KA0001OO"]
    assert [entry.label for entry in store.watchlist()] == ["", "again"]
    assert [line.action for line in store.audit_log()] == [
        "watchlist_add",
        "watchlist_remove",
    ]
