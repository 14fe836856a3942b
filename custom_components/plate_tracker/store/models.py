"""Values the store takes and gives back, beyond the shared records.

Plain Python, no Home Assistant imports. Times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ..records import MatchKind, Sighting

type ImageKind = Literal["crop", "snapshot"]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


class SearchSort(StrEnum):
    """Order of search results."""

    NEWEST = "newest"
    OLDEST = "oldest"
    CONFIDENCE = "confidence"
    """Most confident read first; ties newest first."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchQuery:
    """What a search (or an evidence export) selects.

    ``plate`` is a canonical plate or a pattern where ``*`` stands for any run of
    characters and ``?`` for exactly one. With ``fuzzy`` a plain plate also finds
    look-alike misreads and reads within one edit; a fuzzy pattern folds
    look-alike characters but does not add edits (the wildcards already cover
    unknown characters). ``since`` is inclusive, ``until`` exclusive.
    """

    plate: str | None = None
    fuzzy: bool = False
    since: datetime | None = None
    until: datetime | None = None
    cameras: tuple[str, ...] = ()
    min_confidence: float | None = None
    sort: SearchSort = SearchSort.NEWEST
    page_size: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None
    """``SearchPage.next_cursor`` of the previous page; None for the first page."""

    def describe(self) -> dict[str, object]:
        """Return what the query selects as JSON-able values (an export's manifest, audit lines)."""
        return {
            "plate": self.plate,
            "fuzzy": self.fuzzy,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "cameras": list(self.cameras),
            "min_confidence": self.min_confidence,
            "sort": str(self.sort),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchPage:
    """One page of search results."""

    sightings: tuple[Sighting, ...]
    match_kinds: dict[str, MatchKind]
    """How each plate on this page matched the query, keyed by plate."""
    next_cursor: str | None
    """Pass as ``SearchQuery.cursor`` for the next page; None on the last page."""


type RouteRow = tuple[int, str, float, str, float, str, str | None]
"""One sighting of a route: id, camera, seen_at as POSIX seconds (UTC), plate,
confidence, ``Direction`` value, NVR event id. The same shape as
``matching.journeys.SightingRow``, so ``SightingColumns.from_rows`` takes it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteColumns:
    """Where a plate was seen, as whole columns in ``(seen_us, id)`` order.

    What ``SightingStore.route_columns`` returns: the same sightings as
    ``route_for`` without a Python object per sighting. Full ``RouteRow``
    tuples are loaded only for the few sightings a caller asks for.
    """

    seen_us: NDArray[np.int64]
    """Microseconds since the epoch (UTC)."""
    ids: NDArray[np.int64]
    camera_ids: NDArray[np.int64]
    event_keys: NDArray[np.int64]
    """A 64-bit key per NVR event id, 0 for none: equal ids have equal keys."""
    plate_ids: NDArray[np.int64]
    camera_names: Mapping[int, str]
    plates: Mapping[int, str]
    """Plate text by plate id, for every plate in ``plate_ids``."""
    load_rows: Callable[[Sequence[int]], list[RouteRow]]
    """Return the ``RouteRow`` of each sighting id, in the order given.

    Raises ``RouteChangedError`` for a sighting erased since the columns were
    read (see ``SightingStore.read_route_columns``).
    """

    def seen_since(self, since_us: int) -> RouteColumns:
        """Return the sightings from ``since_us`` on, as ``route_columns`` cuts them.

        Lets a caller that may need both a recent window and the whole route
        read the columns once.
        """
        first = int(np.searchsorted(self.seen_us, since_us, side="left"))
        return self._rows(slice(first, None))

    def without(self, ids: Sequence[int]) -> RouteColumns:
        """Return the sightings other than those with ``ids``, in the same order."""
        return self._rows(~np.isin(self.ids, ids))

    def _rows(self, which: slice | NDArray[np.bool_]) -> RouteColumns:
        return replace(
            self,
            seen_us=self.seen_us[which],
            ids=self.ids[which],
            camera_ids=self.camera_ids[which],
            event_keys=self.event_keys[which],
            plate_ids=self.plate_ids[which],
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchlistHit:
    """A sighting that matched a watchlist entry."""

    id: int
    sighting_id: int
    entry_id: int | None
    """None once the entry was removed; ``listed_plate`` still says what it was."""
    listed_plate: str
    match_kind: str
    plate_read: str
    at: datetime
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditLine:
    """A line for the append-only audit log: who did what, when and why."""

    user_id: str | None
    """The Home Assistant user; None for Home Assistant itself (automations)."""
    action: str
    details: dict[str, Any]
    """JSON-able; a value JSON cannot hold is written as its text."""
    reason: str | None
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRecord:
    """One line of the append-only audit log."""

    id: int
    at: datetime
    user_id: str | None
    action: str
    details: dict[str, Any]
    reason: str | None


ACTIVITY_COUNT_LIMIT = 1000
"""Sightings of a camera counted after a time, at most: enough to tell a silent camera."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraActivity:
    """What one camera recorded after a moment, which tells whether it still sees traffic."""

    sightings_since: int
    """Sightings of any plate after the moment, counted up to ACTIVITY_COUNT_LIMIT."""
    last_seen_at: datetime | None
    """Its latest sighting of any plate; None when it has none."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PurgeReport:
    """What a purge removed."""

    sightings: int = 0
    images: int = 0
    plates: int = 0
    """Distinct plates that no sighting refers to any more."""


@dataclass(slots=True)
class PurgeProgress:
    """What a purge has removed so far: counted as each batch commits.

    A purge commits batch by batch, so one that fails part-way has already
    erased what the earlier batches removed; the caller's audit line says so
    from here instead of saying nothing.
    """

    sightings: int = 0
    images: int = 0
    plates: int = 0

    def report(self) -> PurgeReport:
        """Return the counts as a ``PurgeReport``."""
        return PurgeReport(
            sightings=self.sightings, images=self.images, plates=self.plates
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportReport:
    """What an evidence export wrote."""

    path: Path
    sightings: int
    crops: int
    snapshots: int
    sha256: str
    """SHA-256 of the whole ZIP file, for the audit log (each file's is in its ``manifest.json``)."""
