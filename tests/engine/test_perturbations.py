"""`eval --perturb`: the named changes to a photo, and how they are parsed."""

from __future__ import annotations

import io

from PIL import Image, ImageChops
import pytest

from custom_components.plate_tracker.engine.imaging import ImageError
from custom_components.plate_tracker.engine.perturbations import parse_perturbation
from custom_components.plate_tracker.engine.synthetic import (
    jpeg,
    render_plate,
    scene_with,
)


@pytest.fixture(scope="module")
def photo() -> bytes:
    """Return a 1280x720 street scene with a plate, as a camera sends it."""
    return jpeg(scene_with(render_plate(["AE 1455 KH"], char_height=40), at=(560, 470)))


def _image(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def _differs(a: Image.Image, b: Image.Image) -> bool:
    return (
        ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox() is not None
    )


@pytest.mark.parametrize(
    ("spec", "size", "moves_pixels"),
    [
        ("rotate:8", (1280, 720), True),
        ("scale:0.5", (640, 360), True),
        ("scale:0.5,jpeg:30", (640, 360), True),
        ("jpeg:20", (1280, 720), False),
        ("blur:1.5", (1280, 720), False),
        ("brightness:0.4", (1280, 720), False),
        ("contrast:0.5", (1280, 720), False),
        ("gray", (1280, 720), False),
    ],
)
def test_each_change_alters_the_photo_losslessly_after(
    photo: bytes, spec: str, size: tuple[int, int], moves_pixels: bool
) -> None:
    """The named steps change the pixels; the result is PNG, so nothing else does."""
    change = parse_perturbation(spec)

    changed = _image(change(photo))

    assert changed.format == "PNG"
    assert changed.size == size
    original = _image(photo).convert("RGB").resize(size)
    assert _differs(changed, original)
    assert change.moves_pixels is moves_pixels


def test_gray_leaves_no_colour(photo: bytes) -> None:
    """A night camera's IR image has one channel's worth of information."""
    red, green, blue = _image(parse_perturbation("gray")(photo)).convert("RGB").split()

    assert not _differs(red, green)
    assert not _differs(green, blue)


def test_steps_apply_in_order(photo: bytes) -> None:
    """``scale:0.5,scale:2`` comes back to the frame's size, blurred, not to a quarter of it."""
    assert _image(parse_perturbation("scale:0.5,scale:2")(photo)).size == (1280, 720)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("spin:3", "unknown change 'spin'"),
        ("rotate", "rotate needs a number"),
        ("rotate:eight", "rotate needs a number"),
        ("rotate:90", "rotate:90 is outside -45..45"),
        ("jpeg:0", "jpeg:0 is outside 1..95"),
        ("gray:1", "gray takes no value"),
        ("gray,scale:9", "scale:9 is outside 0.1..4"),
    ],
)
def test_a_bad_spec_names_what_is_wrong(spec: str, message: str) -> None:
    """The CLI shows this message, so it must say which step and why."""
    with pytest.raises(ValueError, match=message):
        parse_perturbation(spec)


def test_bytes_that_are_no_image_raise_image_error() -> None:
    """An image that is none is counted unreadable by eval, as without a change."""
    with pytest.raises(ImageError):
        parse_perturbation("gray")(b"not an image")
