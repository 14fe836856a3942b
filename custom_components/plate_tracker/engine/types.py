"""What the recognition engine gives back: plain, picklable values.

The engine sits behind a narrow interface (image bytes and an optional vehicle
box in, ``PlateRead`` values out) so that it can later run in another process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

type Box = tuple[int, int, int, int]
"""x1, y1, x2, y2 in pixels of the frame that was read."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PlateRead:
    """One plate found in one image."""

    text: str
    """Canonical plate text (see ``plate_text.normalize_plate``), e.g. ``AE1234BK``."""
    raw: str
    """What the recogniser read before format rules and look-alike folding."""
    confidence: float
    """0..1, the engine's belief that ``text`` is exactly right."""
    box: Box
    region: str | None = None
    """Region whose format the text fits: ``ua``, ``eu``, ``us``, ``br`` ... or None."""
    plate_format: str | None = None
    """Name of the format rule that matched, e.g. ``ua_standard``."""
    alternatives: tuple[tuple[str, float], ...] = ()
    """Other plausible texts with their confidence, best first (for fuzzy matching)."""
    crop_jpeg: bytes | None = field(default=None, repr=False, compare=False)
    """The plate crop as JPEG, for evidence and the image entity."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameResult:
    """Everything read from one image."""

    width: int
    height: int
    plates: tuple[PlateRead, ...]
    seconds: float
    """Wall time the engine spent on this image."""
