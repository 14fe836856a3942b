"""Search: exact plates, wildcards, fuzzy look-alikes, filters, paging, bad input."""

from __future__ import annotations

import base64
from datetime import timedelta
import json

import pytest

from custom_components.plate_tracker.store import (
    MAX_PAGE_SIZE,
    MatchKind,
    SearchQuery,
    SearchSort,
    SightingStore,
    StoreValidationError,
    sighting_store,
)

from .conftest import T0, minutes, sighting

# Real misreads of AE1234BK, plus unrelated plates.
PLATES = {
    "AE1234BK": 0.95,
    "AEI234BK": 0.60,  # 1 read as I: look-alike
    "AE12348K": 0.70,  # B read as 8: look-alike
    "AE1234B": 0.50,  # last letter lost: one edit
    "AE1284BK": 0.55,  # 3 read as 8: one edit
    "BC7834BK": 0.80,
    "KA0034HH": 0.85,
}


@pytest.fixture
def city(store: SightingStore) -> SightingStore:
    """Return a store with one sighting of each plate, a minute apart."""
    for n, (plate, confidence) in enumerate(PLATES.items()):
        store.record(
            sighting(
                plate=plate,
                raw=plate,
                confidence=confidence,
                seen_at=T0 + minutes(n),
                camera="bridge" if n % 2 else "exit_north",
            )
        )
    return store


def plates(store: SightingStore, **query: object) -> list[str]:
    """Return the plates a search finds, in result order."""
    page = store.search(SearchQuery(**query))  # type: ignore[arg-type]
    return [found.plate for found in page.sightings]


def test_exact_plate_finds_only_that_plate(city: SightingStore) -> None:
    """An exact search must not drag in misreads: it is what a case file cites."""
    page = city.search(SearchQuery(plate="ae 1234 bk"))
    assert [s.plate for s in page.sightings] == ["AE1234BK"]
    assert page.match_kinds == {"AE1234BK": MatchKind.EXACT}


def test_cyrillic_input_is_folded_to_latin(city: SightingStore) -> None:
    """Officers type plates in Cyrillic; Ukrainian letters mean the Latin plate."""
    assert plates(city, plate="АЕ1234ВК") == ["AE1234BK"]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*34BK", ["BC7834BK", "AEI234BK", "AE1234BK"]),
        ("AE*BK", ["AE1284BK", "AEI234BK", "AE1234BK"]),
        ("AE12?4BK", ["AE1284BK", "AE1234BK"]),
        ("??00*", ["KA0034HH"]),
        ("*7*", ["BC7834BK"]),
    ],
)
def test_wildcards(city: SightingStore, pattern: str, expected: list[str]) -> None:
    """``*`` stands for any run and ``?`` for one character, newest first.

    Police start from partial descriptions ("ending in 34 BK").
    """
    page = city.search(SearchQuery(plate=pattern))
    assert [s.plate for s in page.sightings] == expected
    assert set(page.match_kinds.values()) == {MatchKind.PATTERN}


def test_fuzzy_finds_lookalikes_and_one_edit(city: SightingStore) -> None:
    """A fuzzy search finds the OCR misreads and says how each one matched."""
    page = city.search(
        SearchQuery(plate="AE1234BK", fuzzy=True, sort=SearchSort.OLDEST)
    )
    assert [s.plate for s in page.sightings] == [
        "AE1234BK",
        "AEI234BK",
        "AE12348K",
        "AE1234B",
        "AE1284BK",
    ]
    assert page.match_kinds == {
        "AE1234BK": MatchKind.EXACT,
        "AEI234BK": MatchKind.LOOKALIKE,
        "AE12348K": MatchKind.LOOKALIKE,
        "AE1234B": MatchKind.ONE_EDIT,
        "AE1284BK": MatchKind.ONE_EDIT,
    }


def test_fuzzy_from_a_misread_finds_the_real_plate(city: SightingStore) -> None:
    """Searching what a witness misread still finds the plate that was stored."""
    assert "AE1234BK" in plates(city, plate="AEI234B", fuzzy=True)


def test_fuzzy_pattern_folds_lookalikes(city: SightingStore) -> None:
    """A fuzzy pattern tolerates look-alikes in its literal characters."""
    assert plates(city, plate="AE*8K", fuzzy=True) == [
        "AE1284BK",
        "AE12348K",
        "AEI234BK",
        "AE1234BK",
    ]
    assert plates(city, plate="AE*8K") == ["AE12348K"]


def test_filters_combine(city: SightingStore) -> None:
    """Time range, cameras and minimum confidence narrow the same search."""
    assert plates(city, plate="*BK", cameras=("bridge",)) == ["BC7834BK", "AEI234BK"]
    assert plates(city, plate="*BK", min_confidence=0.75) == ["BC7834BK", "AE1234BK"]
    assert plates(city, since=T0 + minutes(1), until=T0 + minutes(3)) == [
        "AE12348K",
        "AEI234BK",
    ]
    assert plates(city, cameras=("nowhere",)) == []


def test_sorts(city: SightingStore) -> None:
    """Results come newest first by default, or oldest or most confident first."""
    assert plates(city, sort=SearchSort.OLDEST)[:2] == ["AE1234BK", "AEI234BK"]
    assert plates(city, sort=SearchSort.CONFIDENCE)[:3] == [
        "AE1234BK",
        "KA0034HH",
        "BC7834BK",
    ]


@pytest.mark.parametrize("sort", list(SearchSort))
def test_paging_visits_every_result_once(city: SightingStore, sort: SearchSort) -> None:
    """Following ``next_cursor`` returns every match exactly once, in order."""
    seen = []
    query = SearchQuery(sort=sort, page_size=2)
    while True:
        page = city.search(query)
        seen += [s.plate for s in page.sightings]
        if page.next_cursor is None:
            break
        query = SearchQuery(sort=sort, page_size=2, cursor=page.next_cursor)
    assert seen == plates(city, sort=sort)
    assert len(seen) == len(PLATES)


def test_broad_pattern_walks_sightings_by_time(
    city: SightingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pattern matching very many plates gives the same answer by the time walk."""
    expected = plates(city, plate="*BK")
    monkeypatch.setattr(sighting_store, "_PLATE_DRIVEN_LIMIT", 1)
    assert plates(city, plate="*BK") == expected
    assert plates(city, plate="*8K", fuzzy=True) == [
        "BC7834BK",
        "AE1284BK",
        "AE12348K",
        "AEI234BK",
        "AE1234BK",
    ]


@pytest.mark.parametrize("pattern", ["", "**", "?*?", "AE#12", "A" * 17])
def test_bad_patterns_are_refused(city: SightingStore, pattern: str) -> None:
    """A pattern that cannot select plates is an input error the user can fix."""
    with pytest.raises(StoreValidationError) as caught:
        city.search(SearchQuery(plate=pattern))
    assert caught.value.translation_key == "invalid_plate_pattern"


def test_reversed_time_range_is_refused(city: SightingStore) -> None:
    """``since`` after ``until`` is a mistake, not an empty result."""
    with pytest.raises(StoreValidationError) as caught:
        city.search(SearchQuery(since=T0, until=T0 - timedelta(seconds=1)))
    assert caught.value.translation_key == "time_range_reversed"
    assert set(caught.value.placeholders) == {"since", "until"}


@pytest.mark.parametrize("page_size", [0, MAX_PAGE_SIZE + 1])
def test_page_size_out_of_range_is_refused(city: SightingStore, page_size: int) -> None:
    """Unbounded pages would let one call read the whole city."""
    with pytest.raises(StoreValidationError) as caught:
        city.search(SearchQuery(page_size=page_size))
    assert caught.value.translation_key == "page_size_out_of_range"


@pytest.mark.parametrize("cursor", ["garbage!", "WyJvbGRlc3QiLCAxLCAxXQ"])
def test_foreign_cursor_is_refused(city: SightingStore, cursor: str) -> None:
    """A cursor from another sort (or none at all) cannot silently skip results."""
    with pytest.raises(StoreValidationError) as caught:
        city.search(SearchQuery(cursor=cursor))
    assert caught.value.translation_key == "invalid_cursor"


def _cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "text",
    [
        # Each raised OverflowError or RecursionError out of the search: an
        # untranslated unknown error for an edited cursor.
        pytest.param(
            '["newest", SELECTION, 1, ' + "9" * 400 + "]", id="id-beyond-64-bits"
        ),
        pytest.param(
            '["newest", SELECTION, ' + "9" * 400 + ", 1]", id="key-beyond-64-bits"
        ),
        pytest.param("[" * 100_000, id="nested-too-deep"),
        # JSON as Python reads it, which the store never writes.
        '["newest", SELECTION, NaN, 1]',
        '["newest", SELECTION, Infinity, 1]',
        '["confidence", SELECTION, 1e400, 1, 1]',
        '["newest", SELECTION, 1, 1.5]',
        '["newest", SELECTION, true, 1]',
        '["newest", SELECTION, 1]',
        '{"a": 1, "b": 2, "c": 3, "d": 4}',
    ],
)
def test_an_edited_cursor_is_refused_not_a_crash(
    city: SightingStore, text: str
) -> None:
    """A cursor comes back from the caller, who may have edited it; only the store's own pass.

    Each edit keeps the digest of the query's selection the store wrote, so
    it is the edited sort keys that are refused.
    """
    sort = SearchSort.CONFIDENCE if "confidence" in text else SearchSort.NEWEST
    issued = city.search(SearchQuery(sort=sort, page_size=1)).next_cursor
    assert issued is not None
    selection = json.loads(base64.urlsafe_b64decode(issued + "=" * (-len(issued) % 4)))[
        1
    ]
    text = text.replace("SELECTION", json.dumps(selection))
    with pytest.raises(StoreValidationError) as caught:
        city.search(SearchQuery(cursor=_cursor_of(text), sort=sort))
    assert caught.value.translation_key == "invalid_cursor"


def test_naive_datetime_is_refused(city: SightingStore) -> None:
    """Times without a zone are ambiguous; the store only takes aware UTC times."""
    with pytest.raises(StoreValidationError) as caught:
        city.search(SearchQuery(since=T0.replace(tzinfo=None)))
    assert caught.value.translation_key == "naive_datetime"


@pytest.mark.parametrize("merge_limit", [0, 32])
def test_fuzzy_paging_same_with_merge_or_sort(
    city: SightingStore, monkeypatch: pytest.MonkeyPatch, merge_limit: int
) -> None:
    """Few candidate plates are merged per plate, many are sorted: same pages."""
    monkeypatch.setattr(sighting_store, "_MERGE_LIMIT", merge_limit)
    seen = []
    query = SearchQuery(plate="AE1234BK", fuzzy=True, page_size=2)
    while True:
        page = city.search(query)
        seen += [s.plate for s in page.sightings]
        if page.next_cursor is None:
            break
        query = SearchQuery(
            plate="AE1234BK", fuzzy=True, page_size=2, cursor=page.next_cursor
        )
    assert seen == ["AE1284BK", "AE1234B", "AE12348K", "AEI234BK", "AE1234BK"]


def test_a_cursor_from_another_query_is_refused(city: SightingStore) -> None:
    """A cursor goes on with the search it came from, never with another one.

    Another query's cursor positioned the new search after that query's last
    row: its newer results were skipped without a word, and a case file built
    from the pages missed sightings.
    """
    first = city.search(SearchQuery(plate="AE*BK", page_size=1))
    assert first.next_cursor is not None
    for other in (
        SearchQuery(plate="*34BK", cursor=first.next_cursor),
        SearchQuery(plate="AE*BK", cameras=("bridge",), cursor=first.next_cursor),
        SearchQuery(plate="AE*BK", since=T0, cursor=first.next_cursor),
        SearchQuery(cursor=first.next_cursor),
    ):
        with pytest.raises(StoreValidationError) as caught:
            city.search(other)
        assert caught.value.translation_key == "invalid_cursor"
    # The same search, typed another way and with a bigger page, goes on.
    rest = city.search(
        SearchQuery(plate="ae*bk", page_size=5, cursor=first.next_cursor)
    )
    assert [s.plate for s in rest.sightings] == ["AEI234BK", "AE1234BK"]


def test_equal_confidence_lists_the_newest_sighting_first(
    store: SightingStore,
) -> None:
    """Of equally confident reads the one seen last comes first, as the sort promises.

    A slow source delivers an older sighting after a newer one: ordering ties
    by when a row was stored put that older sighting first.
    """
    store.record(sighting(plate="KA0001AA", seen_at=T0 + minutes(5), confidence=0.8))
    store.record(sighting(plate="KA0002AA", seen_at=T0, confidence=0.8))
    store.record(sighting(plate="KA0003AA", seen_at=T0 + minutes(9), confidence=0.7))
    expected = ["KA0001AA", "KA0002AA", "KA0003AA"]
    assert plates(store, sort=SearchSort.CONFIDENCE) == expected
    seen = []
    query = SearchQuery(sort=SearchSort.CONFIDENCE, page_size=1)
    while True:
        page = store.search(query)
        seen += [s.plate for s in page.sightings]
        if page.next_cursor is None:
            break
        query = SearchQuery(
            sort=SearchSort.CONFIDENCE, page_size=1, cursor=page.next_cursor
        )
    assert seen == expected
