"""What the recognition engine gives back: plain, picklable values.

The engine sits behind a narrow interface (image bytes and an optional vehicle
box in, ``PlateRead`` values out), so it also runs in another process: the
engine server (``server.py``) sends ``FrameResult.to_dict(with_crops=True)`` and
the integration's client (``remote.py``) reads it back with ``from_dict``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
import math
from typing import Any

type Box = tuple[int, int, int, int]
"""x1, y1, x2, y2 in pixels of the frame that was read."""


def is_finite_number(value: Any) -> bool:
    """Whether ``value`` is a JSON number a float can hold: not NaN, infinite, a bool, or too large.

    JSON has no limit on digits: an integer of 400 digits is valid JSON, and
    ``math.isfinite`` raises OverflowError for it instead of answering.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


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
    read_at_hint: bool = False
    """The plates were found around the plate hint: the vehicle box was not searched."""

    def to_dict(self, *, with_crops: bool = False) -> dict[str, Any]:
        """Return the JSON-able form the CLI prints and the read_plates service returns.

        ``with_crops`` adds each plate's crop as base64 JPEG (``crop_jpeg``):
        the engine server sends it, because sightings keep it as evidence.
        """
        plates: list[dict[str, Any]] = []
        for read in self.plates:
            plate: dict[str, Any] = {
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
            if with_crops and read.crop_jpeg is not None:
                plate["crop_jpeg"] = base64.b64encode(read.crop_jpeg).decode("ascii")
            plates.append(plate)
        result: dict[str, Any] = {
            "width": self.width,
            "height": self.height,
            "seconds": round(self.seconds, 4),
            "plates": plates,
        }
        if self.read_at_hint:
            # Only a read given a plate hint (an engine server's) can say so.
            result["read_at_hint"] = True
        return result

    @classmethod
    def from_dict(cls, data: Any) -> FrameResult:
        """Return the result ``to_dict`` described; ValueError names what is malformed."""
        try:
            return cls(
                width=_integer(data["width"]),
                height=_integer(data["height"]),
                seconds=_number(data["seconds"]),
                plates=tuple(_plate_from_dict(plate) for plate in data["plates"]),
                # A server older than plate hints does not say.
                read_at_hint=data.get("read_at_hint", False) is True,
            )
        except (KeyError, TypeError, ValueError) as err:
            # binascii.Error (bad base64) is a ValueError too.
            raise ValueError(f"malformed engine result: {err!r}") from err


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{value!r} is not an integer")
    return value


def _number(value: Any) -> float:
    if not is_finite_number(value):
        raise TypeError(f"{value!r} is not a finite number")
    return float(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not text")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _plate_from_dict(data: Mapping[str, Any]) -> PlateRead:
    box = tuple(_integer(value) for value in data["box"])
    if len(box) != 4:
        raise TypeError(f"box {box!r} is not 4 numbers")
    crop = data.get("crop_jpeg")
    loose = data.get("loose", False)
    if not isinstance(loose, bool):
        raise TypeError(f"loose {loose!r} is not true or false")
    return PlateRead(
        text=_text(data["plate"]),
        raw=_text(data["raw"]),
        confidence=_number(data["confidence"]),
        box=(box[0], box[1], box[2], box[3]),
        region=_optional_text(data.get("region")),
        plate_format=_optional_text(data.get("format")),
        loose=loose,
        alternatives=tuple(
            (_text(item["plate"]), _number(item["confidence"]))
            for item in data.get("alternatives", ())
        ),
        crop_jpeg=base64.b64decode(_text(crop), validate=True) if crop else None,
    )
