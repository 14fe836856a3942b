"""What the recognition engine gives back: plain, picklable values.

The engine sits behind a narrow interface (image bytes and an optional vehicle
box in, ``PlateRead`` values out) so that it can later run in another process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
    loose: bool = False
    """The text fits only a format that allows any character in some place: a
    vanity plate, or a state or country without a rule here, but as often a
    dealer's name, a sticker's year or a phone number on the car."""
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
    """Likeliest plate first: ranked by format and evidence, not by raw confidence."""
    seconds: float
    """Wall time the engine spent on this image."""

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-able form the CLI prints and the read_plates service returns."""
        return {
            "width": self.width,
            "height": self.height,
            "seconds": round(self.seconds, 4),
            "plates": [
                {
                    "plate": read.text,
                    "raw": read.raw,
                    "confidence": round(read.confidence, 4),
                    "box": list(read.box),
                    "region": read.region,
                    "format": read.plate_format,
                    "loose": read.loose,
                    "alternatives": [
                        {"plate": text, "confidence": round(score, 4)}
                        for text, score in read.alternatives
                    ],
                }
                for read in self.plates
            ],
        }
