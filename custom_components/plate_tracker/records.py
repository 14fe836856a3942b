"""The records that the store keeps and the matcher reasons about.

Plain Python, no Home Assistant imports. Times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum

from .engine.types import Box


class Direction(StrEnum):
    """Which way a vehicle moved past a camera.

    As the source knew it (zones, the tracked object's movement, a camera's own
    field), else as the plate moved between frames of the pass; unknown unless
    one of them shows it clearly.
    """

    UNKNOWN = "unknown"
    APPROACHING = "approaching"
    RECEDING = "receding"
    LEFT = "left"
    RIGHT = "right"


class Reader(StrEnum):
    """Who read the plate of a sighting.

    Plate Tracker's own engine, or the camera's or NVR's recognition (Frigate's
    ``recognized_license_plate``), taken when the engine read nothing or when
    the snapshot could not be downloaded. An NVR's read is the NVR's word: no
    crop or box of the plate backs it.
    """

    ENGINE = "engine"
    NVR = "nvr"


@dataclass(frozen=True, slots=True, kw_only=True)
class NewSighting:
    """A plate read that a source wants stored."""

    camera: str
    """Camera id as the source names it (Frigate camera name, inbox subfolder, entity id)."""
    seen_at: datetime
    plate: str
    """Canonical plate text (``plate_text.normalize_plate``)."""
    raw: str
    confidence: float
    source: str
    """``frigate``, ``folder``, ``camera``, ``anpr`` ..."""
    event_id: str | None = None
    """The NVR's event id; one NVR event makes at most one sighting per source."""
    region: str | None = None
    box: Box | None = None
    direction: Direction = Direction.UNKNOWN
    alternatives: tuple[tuple[str, float], ...] = ()
    reader: Reader = Reader.ENGINE
    revises: bool = False
    """A later write of the pass that stored this event's sighting: it replaces the
    stored read whatever its confidence (the pass's vote over more frames is the
    better read, though a single confident frame may have scored higher). Other
    writes of a stored event (a replay, a second read of it after a restart)
    replace it only when more confident."""
    crop_jpeg: bytes | None = field(default=None, repr=False, compare=False)
    snapshot_jpeg: bytes | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sighting:
    """A stored sighting. Images are fetched separately by id."""

    id: int
    camera: str
    seen_at: datetime
    plate: str
    raw: str
    confidence: float
    source: str
    event_id: str | None
    region: str | None
    box: Box | None
    direction: Direction
    alternatives: tuple[tuple[str, float], ...]
    has_crop: bool
    has_snapshot: bool
    legal_hold: bool = False
    reader: Reader = Reader.ENGINE


class MatchKind(StrEnum):
    """How a read (or a stored plate) matched a plate or pattern, strongest first."""

    EXACT = "exact"
    PATTERN = "pattern"
    """Fits a ``*``/``?`` pattern character for character."""
    LOOKALIKE = "lookalike"
    """Differs only by look-alike characters (0/O, 8/B, ...)."""
    ONE_EDIT = "one_edit"
    """One character inserted, deleted or replaced (after look-alike folding)."""


class Priority(StrEnum):
    """How urgent a watchlist hit is."""

    INFO = "info"
    HIGH = "high"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchlistEntry:
    """A plate (or ``*``/``?`` pattern) the police want to hear about."""

    id: int | None
    """None until stored."""
    plate: str
    """Canonical plate, or a pattern such as ``AE*BK``."""
    label: str = ""
    reason: str = ""
    """Reason or case number."""
    priority: Priority = Priority.HIGH
    expires_at: datetime | None = None
    cameras: tuple[str, ...] = ()
    """Cameras (or areas) the entry applies to; empty means every camera."""
    active_from: time | None = None
    active_until: time | None = None
    """Local active hours; ``active_from`` after ``active_until`` spans midnight."""
    enabled: bool = True
