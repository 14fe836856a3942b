"""Errors the store raises for input it refuses, and how it tells a damaged file.

The Home Assistant glue turns a ``StoreValidationError`` into a translated
``ServiceValidationError``: ``translation_key`` is stable and names an entry under
``exceptions`` in ``translations/*.json``; ``placeholders`` fill that message.

Keys and their placeholders:

- ``invalid_plate`` (plate), ``invalid_plate_pattern`` (pattern)
- ``time_range_reversed`` (since, until), ``naive_datetime`` (value),
  ``datetime_out_of_range`` (value)
- ``page_size_out_of_range`` (page_size, maximum), ``invalid_cursor``
- ``sighting_not_found`` (sighting_id), ``hit_not_found`` (hit_id),
  ``hit_already_acknowledged`` (hit_id, user_id, at)
- ``watchlist_entry_not_found`` (entry_id), ``watchlist_plate_exists`` (plate),
  ``watchlist_duplicate_plate`` (plate)
- ``purge_needs_criteria``, ``purge_plate_pattern`` (plate)
- ``export_exists`` (path), ``export_folder_missing`` (path)

A damaged file (``is_damaged``) is not the caller's doing: ``store/recovery.py``
checks it, mends its indexes or sets it aside.
"""

from __future__ import annotations

import sqlite3

_DAMAGED_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


class StoreValidationError(ValueError):
    """The caller asked for something the store cannot do with that input."""

    def __init__(self, translation_key: str, **placeholders: object) -> None:
        """Keep the key and the placeholders (as strings) for translation."""
        self.translation_key = translation_key
        self.placeholders: dict[str, str] = {
            name: str(value) for name, value in placeholders.items()
        }
        details = ", ".join(
            f"{name}={value}" for name, value in self.placeholders.items()
        )
        super().__init__(
            f"{translation_key}({details})" if details else translation_key
        )


class RouteChangedError(LookupError):
    """Sightings a route's columns list were erased before their rows were read.

    ``route_columns`` reads the columns in one transaction and ``load_rows``
    the rows later in another; a purge can commit in between.
    ``SightingStore.read_route_columns`` reads the route again.
    """

    def __init__(self, sighting_ids: list[int]) -> None:
        """Keep which sightings were gone."""
        self.sighting_ids = sighting_ids
        super().__init__(f"sightings erased while their route was read: {sighting_ids}")


class DamagedDatabaseError(Exception):
    """SQLite's own check of the database file found it damaged."""


def is_damaged(err: BaseException) -> bool:
    """Return whether SQLite refused a file as damaged, not as busy, locked or unreadable."""
    if isinstance(err, DamagedDatabaseError):
        return True
    code = getattr(err, "sqlite_errorcode", None)
    # Extended codes (SQLITE_CORRUPT_INDEX and the like) carry the primary one in the low byte.
    return (
        isinstance(err, sqlite3.DatabaseError)
        and isinstance(code, int)
        and code & 0xFF in _DAMAGED_CODES
    )
