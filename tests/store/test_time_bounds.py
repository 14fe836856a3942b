"""Times at the ends of what UTC holds: stored only if they can be read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from custom_components.plate_tracker.records import WatchlistEntry
from custom_components.plate_tracker.store import (
    SearchQuery,
    SightingStore,
    StoreValidationError,
)

from .conftest import T0, sighting

WEST = timezone(timedelta(hours=-5))
EAST = timezone(timedelta(hours=5))
PAST_UTC_END = datetime(9999, 12, 31, 23, 0, tzinfo=WEST)
BEFORE_UTC_START = datetime(1, 1, 1, 1, 0, tzinfo=EAST)


@pytest.mark.parametrize("moment", [PAST_UTC_END, BEFORE_UTC_START])
def test_a_watchlist_expiry_utc_cannot_hold_is_refused_not_stored(
    store: SightingStore, moment: datetime
) -> None:
    """An expiry past 9999 in UTC is refused with the translated error, not a bare OverflowError.

    The services turn times into UTC first and refuse these; the store is
    plain Python and is called with offsets too. It computed microseconds no
    datetime can hold and failed reading the entry back, with an error no
    caller turns into a message.
    """
    store.watchlist_add(WatchlistEntry(id=None, plate="KA0001AA"))
    with pytest.raises(StoreValidationError) as caught:
        store.watchlist_add(
            WatchlistEntry(id=None, plate="AE1234BK", expires_at=moment)
        )
    assert caught.value.translation_key == "datetime_out_of_range"
    assert caught.value.placeholders == {"value": moment.isoformat()}
    assert [entry.plate for entry in store.watchlist()] == ["KA0001AA"]


@pytest.mark.parametrize("bulk", [False, True], ids=["record", "record_many"])
def test_a_sighting_dated_before_utc_begins_is_refused_not_stored(
    store: SightingStore, bulk: bool
) -> None:
    """A sighting no search can return must not be stored: it broke every search that reached it.

    ``record_many`` (which does not read its sightings back) stored it, and
    from then on every search, export and route over its time failed with
    OverflowError.
    """
    store_it = store.record_many if bulk else lambda new: store.record(new[0])
    with pytest.raises(StoreValidationError) as caught:
        store_it([sighting(seen_at=BEFORE_UTC_START)])
    assert caught.value.translation_key == "datetime_out_of_range"
    store.record(sighting())
    assert [s.seen_at for s in store.search(SearchQuery()).sightings] == [T0]


def test_the_ends_of_utc_itself_are_stored_and_read_back(store: SightingStore) -> None:
    """The limit is UTC's own: its first and last microsecond are times like any other."""
    first = datetime.min.replace(tzinfo=UTC)
    last = datetime.max.replace(tzinfo=UTC)
    listed = store.watchlist_add(
        WatchlistEntry(id=None, plate="AE1234BK", expires_at=last)
    )
    assert listed.expires_at == last
    store.record(sighting(seen_at=first))
    assert [s.seen_at for s in store.search(SearchQuery(since=first)).sightings] == [
        first
    ]
    assert store.audit_log(since=first, until=last) == []
