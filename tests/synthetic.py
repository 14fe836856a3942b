"""Generated plate pictures for tests and the demo feed: no real photo is needed.

A plate is rendered with Pillow (Pillow's built-in scalable font, so it works on a
machine without system fonts) and pasted into a plain street-like scene.
"""

from __future__ import annotations

from io import BytesIO
import random

from PIL import Image, ImageDraw, ImageFilter, ImageFont

UA_BLUE = (0, 87, 183)
UA_YELLOW = (255, 215, 0)


def spaced(plate: str) -> str:
    """Write a Ukrainian plate the way it is printed: ``AE 1234 BK``."""
    if len(plate) == 8:
        return f"{plate[:2]} {plate[2:6]} {plate[6:]}"
    return plate


def render_plate(plate: str, *, height: int = 60) -> Image.Image:
    """Render a European-style plate: white, black border and text, a blue strip with a flag."""
    font = ImageFont.load_default(size=int(height * 0.78))
    text = spaced(plate)
    left, top, right, bottom = font.getbbox(text)
    strip = int(height * 0.42)
    width = strip + (right - left) + int(height * 0.5)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, strip, height - 1), fill=UA_BLUE)
    draw.rectangle(
        (strip // 4, height // 6, strip - strip // 4, height // 3), fill=UA_BLUE
    )
    draw.rectangle(
        (strip // 4, height // 6, strip - strip // 4, height // 4), fill=UA_YELLOW
    )
    draw.rectangle(
        (0, 0, width - 1, height - 1), outline="black", width=max(2, height // 20)
    )
    text_x = strip + int(height * 0.25) - left
    text_y = (height - (bottom - top)) // 2 - top
    draw.text((text_x, text_y), text, fill="black", font=font)
    return image


def render_scene(
    plate: str,
    *,
    size: tuple[int, int] = (1280, 720),
    plate_height: int = 60,
    position: tuple[int, int] | None = None,
    seed: int = 0,
) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """Return a street-like scene with a car carrying ``plate``, and the plate's box."""
    rng = random.Random(seed)
    width, height = size
    scene = Image.new("RGB", size, (118, 122, 128))
    draw = ImageDraw.Draw(scene)
    draw.rectangle((0, 0, width, height // 3), fill=(170, 190, 210))
    for _ in range(12):
        x = rng.randrange(width)
        draw.line(
            (x, height // 3, x + rng.randrange(-200, 200), height),
            fill=(200, 200, 200),
            width=3,
        )
    plate_image = render_plate(plate, height=plate_height)
    if position is None:
        position = (
            (width - plate_image.width) // 2 + rng.randrange(-width // 6, width // 6),
            int(height * 0.6) + rng.randrange(-height // 12, height // 12),
        )
    x, y = position
    car = (
        x - plate_image.width,
        y - plate_height * 3,
        x + plate_image.width * 2,
        y + plate_height * 2,
    )
    draw.rounded_rectangle(
        car, radius=plate_height, fill=(rng.randrange(20, 90), 40, 50)
    )
    scene.paste(plate_image, position)
    scene = scene.filter(ImageFilter.GaussianBlur(0.6))
    return scene, (x, y, x + plate_image.width, y + plate_image.height)


def scene_jpeg(plate: str, **kwargs: object) -> bytes:
    """Return ``render_scene`` as JPEG bytes."""
    scene, _ = render_scene(plate, **kwargs)  # type: ignore[arg-type]
    buffer = BytesIO()
    scene.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()
