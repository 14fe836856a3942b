"""Generated plate images: for tests, the benchmark without photos, and demo inputs.

Uses Pillow's built-in scalable font, so it works on a machine without system fonts.
"""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFilter, ImageFont


def render_plate(
    lines: list[str], *, char_height: int = 40, ua_strip: bool = True
) -> Image.Image:
    """Draw a plate: white with a black border, optionally the blue UA strip, black text lines."""
    font = ImageFont.load_default(size=round(char_height * 1.3))
    widths = [round(font.getlength(line)) for line in lines]
    strip = round(char_height * 0.6) if ua_strip else 0
    pad = char_height // 3
    width = strip + max(widths) + 2 * pad
    height = len(lines) * round(char_height * 1.25) + pad
    plate = Image.new("RGB", (width, height), (245, 245, 240))
    draw = ImageDraw.Draw(plate)
    if ua_strip:
        draw.rectangle((0, 0, strip, height), fill=(20, 60, 170))
    y = pad // 2
    for line, line_width in zip(lines, widths, strict=True):
        x = strip + (width - strip - line_width) // 2
        draw.text((x, y), line, fill=(15, 15, 15), font=font)
        y += round(char_height * 1.25)
    draw.rectangle((0, 0, width - 1, height - 1), outline=(10, 10, 10), width=3)
    return plate


def scene_with(
    plate: Image.Image,
    *,
    size: tuple[int, int] = (1280, 720),
    at: tuple[int, int] = (560, 470),
    seed: int = 1,
) -> Image.Image:
    """Place ``plate`` at ``at`` on a generated car rear in a cluttered frame."""
    rng = random.Random(seed)  # noqa: S311  # scenery, not secrets
    scene = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(scene)
    car = (
        at[0] - 220,
        at[1] - 260,
        at[0] + plate.width + 220,
        at[1] + plate.height + 90,
    )
    draw.rounded_rectangle(car, radius=40, fill=(120, 20, 25))
    for _ in range(40):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        shade = rng.randrange(40, 200)
        box = (x, y, x + rng.randrange(5, 60), y + rng.randrange(5, 60))
        draw.rectangle(box, fill=(shade, shade, shade))
    scene.paste(plate, at)
    return scene.filter(ImageFilter.GaussianBlur(0.6))


PLATE_WIDTH_MM = {"us": 305, "br": 400}
"""Plate widths by region (European and Ukrainian plates are 520 mm wide)."""
EU_PLATE_WIDTH_MM = 520
CAR_WIDTH_MM, CAR_ROOF_MM, PLATE_HEIGHT_MM = 1800, 1500, 500
"""A car as an NVR's detector boxes it, and how high its plate's centre sits."""


def vehicle_box_around(
    plate_box: tuple[int, int, int, int], size: tuple[int, int], region: str = "eu"
) -> tuple[int, int, int, int]:
    """Return the box an NVR would give for the car whose plate is at ``plate_box``.

    The car is sized from the plate's real width in ``region``: a US plate is
    a sixth of the car's width, a European one more than a quarter, so the
    plate is as small in the box as it is on a real car.
    """
    x1, y1, x2, y2 = plate_box
    per_mm = (x2 - x1) / PLATE_WIDTH_MM.get(region, EU_PLATE_WIDTH_MM)
    center_x, center_y = (x1 + x2) / 2, (y1 + y2) / 2
    return (
        max(0, round(center_x - per_mm * CAR_WIDTH_MM / 2)),
        max(0, round(center_y - per_mm * (CAR_ROOF_MM - PLATE_HEIGHT_MM))),
        min(size[0], round(center_x + per_mm * CAR_WIDTH_MM / 2)),
        min(size[1], round(center_y + per_mm * PLATE_HEIGHT_MM)),
    )


def jpeg(image: Image.Image, quality: int = 88) -> bytes:
    """JPEG bytes as a camera would send them."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
