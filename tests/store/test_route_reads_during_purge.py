"""A route read while a purge erases part of it: read again, never a crash, never a loop."""

from __future__ import annotations

import pytest

from custom_components.plate_tracker.store import (
    RouteChangedError,
    RouteColumns,
    SightingStore,
)

from .conftest import T0, minutes, sighting


def test_a_route_whose_rows_a_purge_erased_is_read_again(store: SightingStore) -> None:
    """The rows a route's columns list are read later: a purge in between erases some.

    Looked up by id, an erased row raised KeyError out of the tracker and the
    ``get_route`` service; read again, the route is the one without them.
    """
    first, _ = store.record(sighting(camera="centre"))
    last, _ = store.record(sighting(camera="gate", seen_at=T0 + minutes(20)))
    reads: list[list[int]] = []

    def rows_after_a_purge(columns: RouteColumns) -> list[str]:
        reads.append(columns.ids.tolist())
        if len(reads) == 1:
            store.purge("AE1234BK", until=T0 + minutes(1))
        return [row[1] for row in columns.load_rows(columns.ids.tolist())]

    assert store.read_route_columns("AE1234BK", rows_after_a_purge) == ["gate"]
    assert reads == [[first.id, last.id], [last.id]]


def test_a_route_that_never_reads_whole_raises_instead_of_looping(
    store: SightingStore,
) -> None:
    """Rows that stay missing (a route index out of step with its table) end the reading with the error."""
    store.record(sighting())
    calls = 0

    def always_gone(columns: RouteColumns) -> None:
        nonlocal calls
        calls += 1
        raise RouteChangedError(columns.ids.tolist())

    with pytest.raises(RouteChangedError):
        store.read_route_columns("AE1234BK", always_gone)
    assert calls == 5
