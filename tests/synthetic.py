"""Generated camera snapshots for the Home Assistant tests, drawn by the engine's own renderer."""

from __future__ import annotations

from custom_components.plate_tracker.engine.synthetic import (
    jpeg,
    render_plate,
    scene_with,
)


def spaced(plate: str) -> str:
    """Write a Ukrainian plate the way it is printed: ``AE 1234 BK``."""
    return f"{plate[:2]} {plate[2:6]} {plate[6:]}" if len(plate) == 8 else plate


def scene_jpeg(plate: str, *, seed: int = 1, char_height: int = 40) -> bytes:
    """Return a 1280x720 JPEG street scene with a car carrying ``plate``."""
    return jpeg(
        scene_with(render_plate([spaced(plate)], char_height=char_height), seed=seed)
    )
