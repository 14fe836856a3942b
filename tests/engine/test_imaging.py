"""Untrusted image bytes: refused with a clear ImageError, never a crash or a memory blow-up."""

from __future__ import annotations

import io
from pathlib import Path
import struct
import subprocess
import sys
import threading
import warnings

import numpy as np
from PIL import Image, ImageFile
import pytest

from custom_components.plate_tracker.engine import imaging
from custom_components.plate_tracker.engine.imaging import (
    CAMERA_FORMATS,
    ImageError,
    decode_image,
    local_contrast,
    model_input,
)

DAMAGED_QOI = b"qoif" + struct.pack(">IIBB", 8, 4, 3, 1)
"""A QOI header without its pixels: Pillow's QOI decoder raises IndexError on it."""


def _encoded(image: Image.Image, image_format: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **params)
    return buffer.getvalue()


def test_empty_bytes() -> None:
    """An empty upload says so instead of a generic decoder error."""
    with pytest.raises(ImageError, match="empty"):
        decode_image(b"")


def test_not_an_image() -> None:
    """Arbitrary bytes (an HTML error page from an NVR) are refused."""
    with pytest.raises(ImageError, match="not an image"):
        decode_image(b"<html>502 Bad Gateway</html>")


def test_truncated_jpeg() -> None:
    """A snapshot cut off mid-transfer is refused, not half-read."""
    data = _encoded(Image.new("RGB", (64, 48), (200, 10, 10)), "JPEG")
    with pytest.raises(ImageError, match="corrupt"):
        decode_image(data[: len(data) // 2])


@pytest.mark.parametrize("image_format", CAMERA_FORMATS)
def test_every_format_cameras_send_is_read(image_format: str) -> None:
    """Snapshots, uploads and phone photos come as one of these: all are read."""
    # A colour of the web palette, which GIF's conversion keeps exactly.
    image = Image.new("RGB", (40, 20), (0, 204, 51))
    decoded = decode_image(_encoded(image, image_format))
    assert decoded.size == (40, 20)
    assert decoded.getpixel((5, 5)) == pytest.approx((0, 204, 51), abs=4)


def test_a_phone_photo_with_its_depth_image_is_read() -> None:
    """A phone's MPO photo (a JPEG with more pictures after it) is read as the JPEG it starts with."""
    image = Image.new("RGB", (40, 20), (10, 200, 30))
    data = _encoded(image, "MPO", save_all=True, append_images=[image])
    assert decode_image(data).size == (40, 20)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (DAMAGED_QOI, "not an image format the engine reads"),
        (_encoded(Image.new("RGB", (8, 8)), "QOI"), "not an image format"),
        (_encoded(Image.new("RGBA", (8, 8)), "DDS"), "not an image format"),
        (_encoded(Image.new("P", (8, 8)), "BLP"), "not an image format"),
    ],
    ids=["damaged-qoi", "qoi", "dds", "blp"],
)
def test_formats_no_camera_sends_are_refused(data: bytes, message: str) -> None:
    """Pillow's decoders of rare formats raise anything on a damaged file (IndexError here).

    Escaping as anything but ImageError, such a file was an engine fault:
    a dead engine server to Home Assistant, an inbox file that blocked the ones after it.
    """
    with pytest.raises(ImageError, match=message):
        decode_image(data)


def test_any_decoder_failure_is_an_image_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whatever a decoder raises on a damaged file, the caller gets ImageError and the reason."""

    def trips(_: ImageFile.ImageFile) -> None:
        raise IndexError("index out of range")

    monkeypatch.setattr(ImageFile.ImageFile, "load", trips)
    data = _encoded(Image.new("RGB", (8, 8)), "PNG")
    with pytest.raises(ImageError, match="corrupt image: IndexError: index out of"):
        decode_image(data)


def test_decompression_bomb() -> None:
    """A tiny file declaring a huge canvas is refused before its pixels are allocated."""
    data = _encoded(Image.new("1", (12_000, 6_000)), "PNG")
    assert len(data) < 200_000
    with pytest.raises(ImageError, match="pixels"):
        decode_image(data)


def test_decoding_in_two_threads_leaves_the_warning_filters_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Engine threads decode at once (parallel reads, the server's workers).

    ``warnings.catch_warnings`` swaps the process's filter list and puts the
    one it saved back on exit: two decodes overlapping left one's "error"
    filter for DecompressionBombWarning in the whole Home Assistant process,
    and would drop any filter set meanwhile by another thread.
    """
    first_inside, second_inside = threading.Event(), threading.Event()
    refuse_oversized = imaging._refuse_oversized
    first = threading.Thread(
        target=decode_image, args=(_encoded(Image.new("RGB", (8, 8)), "PNG"),)
    )

    def overlapping(image: Image.Image, max_pixels: int) -> None:
        if threading.current_thread() is first:
            # The first decode waits until the second has begun...
            first_inside.set()
            second_inside.wait()
        else:
            # ...and the second finishes after the first.
            second_inside.set()
            first.join()
        refuse_oversized(image, max_pixels)

    monkeypatch.setattr(imaging, "_refuse_oversized", overlapping)
    filters_before = list(warnings.filters)
    first.start()
    first_inside.wait()
    decode_image(_encoded(Image.new("RGB", (8, 8)), "PNG"))

    assert warnings.filters == filters_before


def test_cap_is_configurable() -> None:
    """The pixel cap is a parameter, so the limit the message names is the one applied."""
    data = _encoded(Image.new("RGB", (200, 100)), "PNG")
    with pytest.raises(ImageError, match="20000 pixels, more than the 10000 allowed"):
        decode_image(data, max_pixels=10_000)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "I;16"])
def test_modes_become_rgb(mode: str) -> None:
    """Grey, transparent and palette images are read like colour ones."""
    image = Image.new("RGB", (40, 20), (255, 255, 255)).convert(mode)
    decoded = decode_image(_encoded(image, "PNG"))
    assert decoded.mode == "RGB"
    assert decoded.size == (40, 20)


@pytest.mark.parametrize("top", [65535, 4095])
def test_sixteen_bit_grey_keeps_its_picture(top: int) -> None:
    """A 16-bit grey frame (an infrared camera's) keeps its shades, scaled to its own brightest.

    Pillow's own conversion clips every value above 255: the frame became white.
    A 12-bit sensor's frame (brightest 4095) is stretched the same way.
    """
    ramp = np.linspace(0, top, 64, dtype=np.float64).round().astype(np.uint16)
    image = Image.fromarray(np.tile(ramp, (8, 1)))
    assert image.mode == "I;16"
    decoded = np.asarray(decode_image(_encoded(image, "PNG")))
    assert decoded.shape == (8, 64, 3)
    row = decoded[0, :, 0].astype(int)
    assert row[0] == 0
    assert row[-1] == 255
    assert 120 <= row[32] <= 135
    assert np.all(np.diff(row) >= 0)


PEAK_GROWTH = """
import sys, types
from pathlib import Path
for name in ("custom_components", "custom_components.plate_tracker"):
    # Bare packages, as scripts/engine makes them: Home Assistant stays unloaded.
    sys.modules[name] = package = types.ModuleType(name)
    package.__path__ = [name.replace(".", "/")]
from custom_components.plate_tracker.engine.imaging import decode_image

def peak():
    status = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))

data = Path(sys.argv[1]).read_bytes()
before = peak()
decode_image(data)
print((peak() - before) * 1024)
"""
"""Prints how far decoding the file raised the process's peak memory, in bytes.

VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's peak (pytest's).
"""


def _decoding_peak_growth(data: bytes, tmp_path: Path) -> int:
    image_file = tmp_path / "image"
    image_file.write_bytes(data)
    result = subprocess.run(  # noqa: S603  # this interpreter, our own script
        [sys.executable, "-c", PEAK_GROWTH, str(image_file)],
        capture_output=True,
        check=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    return int(result.stdout)


@pytest.mark.parametrize(
    ("mode", "fill"),
    [
        ("RGB", (10, 20, 30)),
        ("RGBA", (10, 20, 30, 128)),
        ("LA", (90, 128)),
        ("I;16", 4000),
    ],
)
def test_decoding_costs_a_few_bytes_a_pixel_whatever_the_mode(
    mode: str, fill: object, tmp_path: Path
) -> None:
    """A flat 16 MP PNG is a file of some 100 kB, as an NVR may send one.

    The RGB frame the engine keeps takes 3 bytes a pixel; transparent and
    16-bit frames took 13 to 19 more on the way (0.9 GB for a 50 MP one, more
    than a small Home Assistant host has), so two such files at once could get
    the process killed.
    """
    side = 4000
    data = _encoded(Image.new(mode, (side, side), fill), "PNG")
    assert len(data) < 1_000_000
    growth = _decoding_peak_growth(data, tmp_path)
    assert growth < 10 * side * side, f"{growth / side / side:.1f} bytes a pixel"


def test_transparency_becomes_white() -> None:
    """Transparent pixels show as white, as in a viewer, not as black."""
    decoded = decode_image(_encoded(Image.new("RGBA", (4, 4), (0, 0, 0, 0)), "PNG"))
    assert decoded.getpixel((0, 0)) == (255, 255, 255)


def test_exif_orientation_is_applied() -> None:
    """A phone photo stored sideways is read upright (EXIF orientation 6: rotate 90)."""
    image = Image.new("RGB", (60, 20), (0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6
    decoded = decode_image(_encoded(image, "JPEG", exif=exif.tobytes()))
    assert decoded.size == (20, 60)


@pytest.mark.parametrize("image_format", ["PNG", "WEBP", "JPEG"])
def test_a_broken_exif_block_costs_the_orientation_not_the_frame(
    image_format: str,
) -> None:
    """Pillow's EXIF parser raises SyntaxError on a block that is no TIFF structure.

    The pixels decoded fine, so the frame is read as it is, unturned: losing a
    camera's frames to its metadata would lose its sightings.
    """
    image = Image.new("RGB", (60, 20), (10, 200, 30))
    data = _encoded(image, image_format, exif=b"Exif\x00\x00MM\xfe\x00garbage")
    decoded = decode_image(data)
    assert decoded.mode == "RGB"
    assert decoded.size == (60, 20)
    assert decoded.getpixel((5, 5)) == pytest.approx((10, 200, 30), abs=3)


def test_local_contrast_lifts_a_faint_mark_and_leaves_flat_areas_grey() -> None:
    """A mark ten levels above a dark background comes out four times as far apart."""
    image = Image.new("RGB", (200, 120), (30, 30, 30))
    image.paste((40, 40, 40), (90, 50, 110, 70))
    evened = local_contrast(image).convert("L")
    mark, around, flat = (
        evened.getpixel((100, 60)),
        evened.getpixel((85, 60)),
        evened.getpixel((10, 10)),
    )
    assert isinstance(mark, int)
    assert isinstance(around, int)
    assert mark - around > 40
    assert flat == 128


def test_local_contrast_of_a_large_image_is_a_smaller_copy_evened_alike() -> None:
    """Above ``max_side`` the image is evened out at that size, the radius shrunk with it."""
    image = Image.new("RGB", (800, 480), (30, 30, 30))
    image.paste((40, 40, 40), (360, 200, 440, 280))
    evened = local_contrast(image, radius=96, max_side=200).convert("L")
    assert evened.size == (200, 120)
    assert evened.getpixel((100, 60)) - evened.getpixel((85, 60)) > 40
    assert evened.getpixel((10, 10)) == 128
    small = Image.new("RGB", (150, 90), (30, 30, 30))
    assert local_contrast(small, max_side=200).size == (150, 90)


def test_model_input_is_channels_first_and_scaled_to_minus_one_one() -> None:
    """Black, mid grey and white land on -1, 0 and 1; each channel keeps its plane."""
    image = Image.new("RGB", (3, 2))
    image.putdata([(0, 127, 255), (255, 0, 127), (51, 102, 204)] * 2)
    pixels = np.asarray(image, dtype=np.float32)
    expected = (pixels / 127.5 - 1.0).transpose(2, 0, 1)

    result = model_input(image)

    assert result.dtype == np.float32
    assert result.shape == (3, 2, 3)
    np.testing.assert_array_equal(result, expected)
    assert result[0, 0, 0] == -1.0
    assert result[2, 0, 0] == 1.0


def test_model_input_fills_a_slot_of_a_padded_batch() -> None:
    """Written into part of a batch, it leaves the padding (0: mid grey) alone."""
    image = Image.new("RGB", (4, 2), (255, 255, 255))
    batch = np.zeros((2, 3, 2, 6), dtype=np.float32)

    model_input(image, batch[1, :, :, :4])

    assert np.all(batch[1, :, :, :4] == 1.0)
    assert np.all(batch[1, :, :, 4:] == 0.0)
    assert np.all(batch[0] == 0.0)
