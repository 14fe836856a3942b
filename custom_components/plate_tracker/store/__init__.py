"""The durable sightings store: plain Python over one SQLite file.

No Home Assistant imports; the integration calls it from executor threads.
"""

from ..records import MatchKind
from .errors import RouteChangedError, StoreValidationError
from .export import CSV_COLUMNS
from .models import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    AuditLine,
    AuditRecord,
    CameraActivity,
    ExportReport,
    ImageKind,
    PurgeProgress,
    PurgeReport,
    RouteColumns,
    RouteRow,
    SearchPage,
    SearchQuery,
    SearchSort,
    WatchlistHit,
)
from .schema import SCHEMA_VERSION
from .sighting_store import SQLITE_MAX_INTEGER, SightingStore

__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "SCHEMA_VERSION",
    "SQLITE_MAX_INTEGER",
    "AuditLine",
    "AuditRecord",
    "CameraActivity",
    "ExportReport",
    "ImageKind",
    "MatchKind",
    "PurgeProgress",
    "PurgeReport",
    "RouteChangedError",
    "RouteColumns",
    "RouteRow",
    "SearchPage",
    "SearchQuery",
    "SearchSort",
    "SightingStore",
    "StoreValidationError",
    "WatchlistHit",
]
