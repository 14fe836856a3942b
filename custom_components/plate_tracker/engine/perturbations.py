"""Named changes to a photo (turned, darker, blurred, coarser JPEG) for ``eval --perturb``.

The engine's accuracy on photos it was never tuned on cannot be measured here,
but its accuracy on the same photos seen otherwise can: a camera turned a few
degrees, a dim street, a cheap encoder. A read that flips under a small change
was on a knife's edge, and unseen photos will find such edges.

A spec is ``NAME:VALUE`` steps joined by commas, applied in order, e.g.
``rotate:8`` or ``scale:0.75,jpeg:40``. The result is PNG (lossless), so only
the named steps change the pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import io

from PIL import Image, ImageEnhance, ImageFilter

from .imaging import decode_image

FILL = (128, 128, 128)
"""Grey for the corners a rotation uncovers: neither dark text nor a white plate."""


@dataclass(frozen=True, slots=True)
class _Step:
    apply: Callable[[Image.Image, float], Image.Image]
    low: float
    high: float
    meaning: str
    moves_pixels: bool = False
    """Whether a labelled box no longer covers its plate afterwards."""


def _rotate(image: Image.Image, degrees: float) -> Image.Image:
    return image.rotate(degrees, resample=Image.Resampling.BILINEAR, fillcolor=FILL)


def _scale(image: Image.Image, factor: float) -> Image.Image:
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, Image.Resampling.BILINEAR)


def _jpeg(image: Image.Image, quality: float) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=round(quality))
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _gray(image: Image.Image, _: float) -> Image.Image:
    return image.convert("L").convert("RGB")


STEPS: dict[str, _Step] = {
    "rotate": _Step(_rotate, -45, 45, "degrees, counter-clockwise", moves_pixels=True),
    "scale": _Step(_scale, 0.1, 4, "times the width and height", moves_pixels=True),
    "blur": _Step(
        lambda image, radius: image.filter(ImageFilter.GaussianBlur(radius)),
        0,
        20,
        "Gaussian radius in pixels",
    ),
    "brightness": _Step(
        lambda image, factor: ImageEnhance.Brightness(image).enhance(factor),
        0,
        4,
        "times the brightness",
    ),
    "contrast": _Step(
        lambda image, factor: ImageEnhance.Contrast(image).enhance(factor),
        0,
        4,
        "times the contrast",
    ),
    "jpeg": _Step(_jpeg, 1, 95, "JPEG quality"),
    "gray": _Step(_gray, 0, 0, "the colour dropped, as in a night camera's IR image"),
}


def describe_steps() -> str:
    """Return one line per step, for ``--help``."""
    return "; ".join(
        f"{name}:{step.low:g}..{step.high:g} ({step.meaning})"
        if step.high > step.low
        else f"{name} ({step.meaning})"
        for name, step in STEPS.items()
    )


@dataclass(frozen=True, slots=True)
class Perturbation:
    """Steps applied in order to an image's bytes; the result is PNG."""

    steps: tuple[tuple[_Step, float], ...]

    @property
    def moves_pixels(self) -> bool:
        """Whether the photos' plate boxes no longer hold (rotated, scaled)."""
        return any(step.moves_pixels for step, _ in self.steps)

    def __call__(self, data: bytes) -> bytes:
        """Return ``data`` changed; raises ``ImageError`` when it is no image."""
        image = decode_image(data)
        for step, value in self.steps:
            image = step.apply(image, value)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=1)
        return buffer.getvalue()


def parse_perturbation(spec: str) -> Perturbation:
    """Return the change ``spec`` names.

    Raises ``ValueError`` naming the step that is not known or out of range.
    """
    steps: list[tuple[_Step, float]] = []
    for part in spec.split(","):
        name, _, value_text = part.strip().partition(":")
        step = STEPS.get(name)
        if step is None:
            raise ValueError(f"unknown change {name!r}; known: {', '.join(STEPS)}")
        if step.high == step.low:
            if value_text:
                raise ValueError(f"{name} takes no value")
            steps.append((step, step.low))
            continue
        try:
            value = float(value_text)
        except ValueError:
            raise ValueError(f"{name} needs a number: {name}:VALUE") from None
        if not step.low <= value <= step.high:
            raise ValueError(f"{name}:{value:g} is outside {step.low:g}..{step.high:g}")
        steps.append((step, value))
    return Perturbation(tuple(steps))
