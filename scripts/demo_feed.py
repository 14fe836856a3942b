"""Feed the folder source with generated street scenes, so a newcomer sees sightings without an NVR.

Every few seconds one JPEG lands in ``<inbox>/<camera>/``: a street, a car, and on its bumper a
rendered licence plate (mostly Ukrainian, ``AE 1234 BK``; some European and US ones). Cars drive a
route, ``entrance_north`` -> ``bridge`` -> ``exit_kyiv_road``, so the same plate shows up on several
cameras in order, as a journey would; a few plates come back later.

    python scripts/demo_feed.py config/plate_inbox             # until interrupted
    python scripts/demo_feed.py config/plate_inbox --count 3 --interval 0

Files are written under a ``.part`` name and renamed, so a watcher never reads half a JPEG; only
the newest ``--keep`` demo files per camera are kept, so a long session does not fill the disk.
Only Pillow is needed; this module is also imported by the end-to-end test to draw its snapshot.
"""

from __future__ import annotations

import argparse
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
import io
from pathlib import Path
import random
import time

from PIL import Image, ImageDraw, ImageFilter, ImageFont

CAMERAS = ("entrance_north", "bridge", "exit_kyiv_road")
SCENE_SIZE = (1280, 720)
FILE_PREFIX = "demo-"

# Ukrainian plates use only the 12 Cyrillic letters that look like Latin ones; regions are real.
UA_LETTERS = "ABCEHIKMOPTX"
UA_REGIONS = ("AA", "AI", "AE", "AX", "BH", "BC", "KA", "KE", "BI", "CA", "AT", "BO")
LATIN = "ABCDEFGHJKLMNPRSTUVWXYZ"

type Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
type RGB = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Plate:
    """A plate to draw: what it says, how it is spaced, and the country strip it carries."""

    text: str  # the canonical reading, no spaces: what the engine should return
    display: str  # as printed on the plate, with its spacing
    strip: str | None  # country code on the blue EU strip; None for a US plate
    us_state: str | None = None


def ukrainian_plate(rng: random.Random) -> Plate:
    """Return a random plate in the Ukrainian ``LL DDDD LL`` format."""
    region = rng.choice(UA_REGIONS)
    digits = f"{rng.randrange(10000):04d}"
    series = "".join(rng.choice(UA_LETTERS) for _ in range(2))
    return Plate(f"{region}{digits}{series}", f"{region} {digits} {series}", "UA")


def foreign_plate(rng: random.Random) -> Plate:
    """Return a random Polish, German, Lithuanian or Californian plate."""
    kind = rng.choice(("PL", "D", "LT", "US"))
    if kind == "PL":
        letters = "W" + rng.choice(LATIN)
        digits = f"{rng.randrange(100000):05d}"
        return Plate(letters + digits, f"{letters} {digits}", "PL")
    if kind == "D":
        city = rng.choice(("B", "M", "HH", "K"))
        letters = "".join(rng.choice(LATIN) for _ in range(2))
        digits = str(rng.randrange(1, 10000))
        return Plate(city + letters + digits, f"{city} {letters} {digits}", "D")
    if kind == "LT":
        letters = "".join(rng.choice(LATIN) for _ in range(3))
        digits = f"{rng.randrange(1000):03d}"
        return Plate(letters + digits, f"{letters} {digits}", "LT")
    text = f"{rng.randrange(1, 10)}{''.join(rng.choice(LATIN) for _ in range(3))}{rng.randrange(1000):03d}"
    return Plate(text, text, None, us_state="California")


def random_plate(rng: random.Random) -> Plate:
    """Return a plate: Ukrainian four times in five, else European or US."""
    return ukrainian_plate(rng) if rng.random() < 0.8 else foreign_plate(rng)


def plate_from_text(text: str) -> Plate:
    """Return a Ukrainian-format plate for a known reading such as ``AE1234BK``."""
    compact = text.replace(" ", "").upper()
    if len(compact) == 8 and compact[2:6].isdigit():
        return Plate(compact, f"{compact[:2]} {compact[2:6]} {compact[6:]}", "UA")
    return Plate(compact, compact, None, us_state="California")


def _font(size: int, *, bold: bool = True) -> Font:
    """Return DejaVu Sans when the system has it, else Pillow's own scalable default font."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    try:
        return ImageFont.truetype(name, size)
    except OSError:
        return ImageFont.load_default(size=size)


def render_plate(plate: Plate, height: int = 64) -> Image.Image:
    """Draw the plate alone: white with a black rim, a blue country strip, black characters."""
    width = round(height * 4.7)  # the 520 x 110 mm European plate
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    rim = max(2, height // 24)
    draw.rounded_rectangle(
        (0, 0, width - 1, height - 1), radius=height // 8, outline="black", width=rim
    )
    left = rim * 2
    if plate.strip is not None:
        strip_width = round(height * 0.42)
        draw.rectangle(
            (rim, rim, rim + strip_width, height - rim - 1), fill=(0, 61, 165)
        )
        if plate.strip == "UA":  # the flag above the country code
            flag_top, flag_h = height * 0.16, height * 0.13
            flag = (rim + strip_width * 0.2, flag_top, rim + strip_width * 0.8)
            draw.rectangle(
                (flag[0], flag_top, flag[2], flag_top + flag_h), fill=(0, 87, 183)
            )
            draw.rectangle(
                (flag[0], flag_top + flag_h, flag[2], flag_top + 2 * flag_h),
                fill=(255, 215, 0),
            )
        code_font = _font(round(height * 0.22))
        draw.text(
            (rim + strip_width / 2, height * 0.74),
            plate.strip,
            font=code_font,
            fill="white",
            anchor="mm",
        )
        left = rim + strip_width
    if plate.us_state is not None:
        draw.text(
            (width / 2, height * 0.16),
            plate.us_state,
            font=_font(round(height * 0.2), bold=False),
            fill=(178, 34, 34),
            anchor="mm",
        )
    # The largest font, up to 72 % of the plate's height, that fits between strip and rim.
    room = width - rim * 3 - left
    size = round(height * 0.72)
    text_font = _font(size)
    while size > 8 and draw.textlength(plate.display, font=text_font) > room:
        size -= 1
        text_font = _font(size)
    centre_y = height * (0.6 if plate.us_state else 0.52)
    draw.text(
        ((left + width - rim) / 2, centre_y),
        plate.display,
        font=text_font,
        fill="black",
        anchor="mm",
    )
    return image


def _shade(colour: RGB, factor: float) -> RGB:
    red, green, blue = colour
    return (
        min(255, int(red * factor)),
        min(255, int(green * factor)),
        min(255, int(blue * factor)),
    )


def _draw_street(draw: ImageDraw.ImageDraw, rng: random.Random) -> None:
    """Draw sky, buildings with lit windows, pavement, and a road with lane marks."""
    width, height = SCENE_SIZE
    horizon = int(height * 0.42)
    for y in range(horizon):  # evening sky gradient
        t = y / horizon
        draw.line(
            (0, y, width, y),
            fill=(int(70 + 90 * t), int(110 + 80 * t), int(170 + 50 * t)),
        )
    x = 0
    while x < width:
        building_w = rng.randint(90, 220)
        top = rng.randint(int(height * 0.08), horizon - 40)
        grey = rng.randint(70, 140)
        draw.rectangle(
            (x, top, x + building_w, horizon), fill=(grey, grey - 8, grey - 16)
        )
        for wy in range(top + 12, horizon - 16, 26):
            for wx in range(x + 10, x + building_w - 16, 24):
                lit = rng.random() < 0.35
                draw.rectangle(
                    (wx, wy, wx + 12, wy + 14),
                    fill=(240, 220, 140) if lit else (50, 55, 65),
                )
        x += building_w + rng.randint(0, 12)
    draw.rectangle((0, horizon, width, horizon + 30), fill=(150, 150, 145))  # pavement
    draw.rectangle((0, horizon + 30, width, height), fill=(112, 116, 104))  # verge
    draw.polygon(
        (
            (0, height),
            (width, height),
            (width * 0.62, horizon + 30),
            (width * 0.38, horizon + 30),
        ),
        fill=(62, 64, 68),
    )
    for i in range(6):  # dashed centre line, wider towards the camera
        y0 = horizon + 40 + i * 55
        half = 2 + i * 2
        draw.rectangle(
            (width / 2 - half, y0, width / 2 + half, y0 + 30), fill=(230, 230, 220)
        )


def _draw_car(
    image: Image.Image, plate: Plate, rng: random.Random, plate_height: int
) -> None:
    """Draw a car seen from the front or back, with ``plate`` on its bumper."""
    draw = ImageDraw.Draw(image)
    width, height = SCENE_SIZE
    car_w = rng.randint(500, 620)
    car_h = int(car_w * 0.55)
    cx = width // 2 + rng.randint(-160, 160)
    bottom = height - rng.randint(30, 70)
    left, top = cx - car_w // 2, bottom - car_h
    body: RGB = rng.choice(
        (
            (180, 30, 35),
            (30, 60, 140),
            (200, 200, 205),
            (25, 25, 28),
            (230, 230, 225),
            (60, 110, 70),
        )
    )
    shadow = (left - 20, bottom - 30, left + car_w + 20, bottom + 25)
    draw.ellipse(shadow, fill=(30, 30, 32))
    for wheel_x in (left + 40, left + car_w - 110):
        draw.rounded_rectangle(
            (wheel_x, bottom - 60, wheel_x + 70, bottom + 5),
            radius=14,
            fill=(18, 18, 18),
        )
    roof = (left + car_w * 0.18, top, left + car_w * 0.82, top + car_h * 0.45)
    draw.rounded_rectangle(roof, radius=30, fill=_shade(body, 0.85))
    draw.rounded_rectangle(
        (roof[0] + 18, roof[1] + 14, roof[2] - 18, roof[3] - 4),
        radius=18,
        fill=(40, 55, 70),
    )
    draw.rounded_rectangle(
        (left, top + car_h * 0.4, left + car_w, bottom - 20), radius=36, fill=body
    )
    # Head lamps when the car faces the camera, tail lamps when it drives away.
    lamp = rng.choice(((250, 245, 220), (200, 30, 30)))
    for lamp_x in (left + 25, left + car_w - 115):
        draw.rounded_rectangle(
            (lamp_x, top + car_h * 0.5, lamp_x + 90, top + car_h * 0.62),
            radius=10,
            fill=lamp,
        )
    plate_image = render_plate(plate, plate_height)
    # A slight tilt: plates are rarely square to the camera.
    plate_image = plate_image.rotate(rng.uniform(-3, 3), expand=True, fillcolor=body)
    px = cx - plate_image.width // 2
    py = int(bottom - 20 - car_h * 0.3)
    image.paste(plate_image, (px, py))


def _draw_overlay(draw: ImageDraw.ImageDraw, camera: str, when: datetime) -> None:
    """Burn in the on-screen display of an NVR: camera name and time, text that is no plate."""
    label = f"{camera.upper()}  {when:%Y-%m-%d %H:%M:%S}"
    draw.text(
        (24, 20),
        label,
        font=_font(26),
        fill="white",
        stroke_width=2,
        stroke_fill="black",
    )


def render_scene(
    plate: Plate,
    *,
    camera: str = "bridge",
    rng: random.Random | None = None,
    when: datetime | None = None,
    plate_height: int = 64,
) -> bytes:
    """Return a JPEG of a street with a car carrying ``plate``."""
    rng = rng or random.Random()
    image = Image.new("RGB", SCENE_SIZE)
    draw = ImageDraw.Draw(image)
    _draw_street(draw, rng)
    _draw_car(image, plate, rng, plate_height)
    _draw_overlay(draw, camera, when or datetime.now(UTC))
    # A real lens is never pixel-sharp.
    image = image.filter(ImageFilter.GaussianBlur(0.6))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=88)
    return buffer.getvalue()


class Traffic:
    """Cars driving the camera route: yields (camera, plate) pairs in the order they are seen."""

    def __init__(self, rng: random.Random) -> None:
        """Start with an empty road."""
        self._rng = rng
        # Cars on their way, each with the index of the next camera it passes.
        self._on_route: deque[tuple[Plate, int]] = deque()
        self._seen: list[Plate] = []

    def next_sighting(self) -> tuple[str, Plate]:
        """Return where the next car is seen: a car on its way, or a new (or returning) one."""
        if self._on_route and (len(self._on_route) >= 3 or self._rng.random() < 0.5):
            plate, index = self._on_route.popleft()
        else:
            returning = self._seen and self._rng.random() < 0.15
            plate = (
                self._rng.choice(self._seen) if returning else random_plate(self._rng)
            )
            self._seen = [*self._seen[-20:], plate]
            index = 0
        # Most cars drive on to the next camera; some turn off before the end.
        if index + 1 < len(CAMERAS) and self._rng.random() < 0.9:
            self._on_route.append((plate, index + 1))
        return CAMERAS[index], plate


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` so that ``path`` appears complete or not at all."""
    part = path.with_name(path.name + ".part")
    part.write_bytes(data)
    part.replace(path)


def prune(folder: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` demo images in ``folder``."""
    images = sorted(folder.glob(f"{FILE_PREFIX}*.jpg"))
    for old in images[: max(0, len(images) - keep)]:
        old.unlink(missing_ok=True)


def main() -> None:
    """Write demo images into the inbox until interrupted (or ``--count`` images are written)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "inbox", type=Path, help="the folder source's inbox, e.g. config/plate_inbox"
    )
    parser.add_argument(
        "--interval", type=float, default=4.0, help="seconds between images"
    )
    parser.add_argument(
        "--count", type=int, default=0, help="stop after this many (0: never)"
    )
    parser.add_argument(
        "--keep", type=int, default=50, help="demo images kept per camera"
    )
    parser.add_argument("--seed", type=int, default=None, help="repeatable traffic")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    traffic = Traffic(rng)
    for camera in CAMERAS:
        (args.inbox / camera).mkdir(parents=True, exist_ok=True)
    written = 0
    try:
        while not args.count or written < args.count:
            camera, plate = traffic.next_sighting()
            now = datetime.now(UTC)
            folder = args.inbox / camera
            path = folder / f"{FILE_PREFIX}{now:%Y%m%d-%H%M%S-%f}.jpg"
            write_atomically(
                path, render_scene(plate, camera=camera, rng=rng, when=now)
            )
            prune(folder, args.keep)
            written += 1
            print(
                f"{now:%H:%M:%S} {camera:<15} {plate.display:<12} -> {path}", flush=True
            )
            time.sleep(args.interval)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
