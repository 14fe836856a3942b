"""Decode untrusted image bytes into an RGB image, refusing what could hurt the host."""

from __future__ import annotations

import io
import logging

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageChops, ImageFilter, ImageOps, UnidentifiedImageError

_LOGGER = logging.getLogger(__name__)

MAX_PIXELS = 50_000_000
"""Largest image accepted (50 MP): a 12 MP phone photo fits, a decompression bomb does not.
Below Pillow's own limit (``Image.MAX_IMAGE_PIXELS``, 89 MP), which only warns."""
CAMERA_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
"""Pillow formats the engine decodes: what cameras, NVRs and phones send (a phone's
MPO photo is read by the JPEG decoder). Pillow's decoders of rarer formats (QOI,
DDS, BLP and others) fail on damaged files with any exception, IndexError to
ZeroDivisionError, and no camera needs them."""
LOCAL_CONTRAST_GAIN = 40.0
"""Grey levels per mean absolute deviation in ``local_contrast``."""
LOCAL_CONTRAST_FLOOR = 6.0
"""Added to the deviation so flat areas (sky, a painted wall) are not made noisy."""


class ImageError(ValueError):
    """The bytes are not an image the engine will read; the message says why."""


def decode_image(data: bytes, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode JPEG/PNG/... bytes to RGB, upright as the camera meant (EXIF orientation).

    Raises ImageError, and nothing else, for bytes that are not such an image:
    a damaged file must cost its own frame, never pass for a fault of the engine.
    """
    if not data:
        raise ImageError("empty image data")
    try:
        return _decode(data, max_pixels)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageError(f"image refused as a decompression bomb: {err}") from err
    except UnidentifiedImageError as err:
        raise ImageError(
            "data is not an image format the engine reads "
            f"({', '.join(CAMERA_FORMATS)})"
        ) from err
    except Exception as err:
        # Truncated files surface as OSError ("image file is truncated"), damaged
        # ones as whatever the decoder tripped over (SyntaxError, ValueError,
        # IndexError and others).
        raise ImageError(f"corrupt image: {type(err).__name__}: {err}") from err


def _decode(data: bytes, max_pixels: int) -> Image.Image:
    """Decode ``data`` as ``decode_image`` says, raising whatever Pillow raises."""
    # Pillow only warns between its limit and twice its limit: our own cap,
    # below both, refuses such images. Not through warnings.catch_warnings,
    # which swaps the whole process's filters and is not thread-safe.
    opened = Image.open(io.BytesIO(data), formats=CAMERA_FORMATS)
    _refuse_oversized(opened, max_pixels)
    opened.load()
    _upright(opened)
    image: Image.Image = opened
    if image.mode in _WIDE_GREY_MODES:
        image = _grey_to_8_bits(image)
    if image.mode != "RGB":
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            image = _on_white(image)
        else:
            image = image.convert("RGB")
    return image


def _on_white(image: Image.Image) -> Image.Image:
    """Return ``image`` in RGB with its transparent areas white, as a viewer shows them.

    White is pasted through the inverted alpha onto the RGB copy, which costs
    5 bytes a pixel; an opaque canvas composited with an RGBA copy cost 16.
    """
    if image.mode not in ("RGBA", "LA", "PA"):
        # A palette or grey image with a transparent colour.
        image = image.convert("RGBA")
    transparent = ImageChops.invert(image.getchannel("A"))
    rgb = image.convert("RGB")
    rgb.paste((255, 255, 255), mask=transparent)
    return rgb


def _upright(image: Image.Image) -> None:
    """Turn ``image`` as its EXIF orientation says; leave it as it is when the EXIF is broken.

    The pixels decoded fine, so a damaged EXIF block (Pillow raises SyntaxError,
    TypeError and others from deep in its TIFF parser for those) costs only the
    orientation, not the frame: most cameras never turn their frames anyway.
    """
    try:
        # In place: without an orientation tag a copy would be made of every frame.
        ImageOps.exif_transpose(image, in_place=True)
    except Exception:  # noqa: BLE001 - any error of Pillow's EXIF parser
        _LOGGER.debug("Ignored the unreadable EXIF block of a %s image", image.format)


_WIDE_GREY_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})
"""Grey of more than 8 bits (16-bit PNG and TIFF, from infrared and thermal cameras)."""


def _grey_to_8_bits(image: Image.Image) -> Image.Image:
    """Scale wide grey into 0..255, as Pillow's own conversion does not.

    Pillow clips such values to 255, so a 16-bit frame became a white page. The
    frame's own brightest value maps to 255: a 12-bit sensor written as 16 bits
    uses only the low part of the range.
    """
    # In place: each float copy of a 50 MP frame is 200 MB.
    values = np.asarray(image, dtype=np.float32)
    top = float(values.max(initial=0.0))
    if top > 255:
        values *= 255 / top
    np.clip(values, 0, 255, out=values)
    np.rint(values, out=values)
    return Image.fromarray(values.astype(np.uint8), "L")


def _refuse_oversized(image: Image.Image, max_pixels: int) -> None:
    """Check the declared size before any pixel is decoded."""
    width, height = image.size
    if width * height > max_pixels:
        raise ImageError(
            f"image is {width}x{height} = {width * height} pixels, "
            f"more than the {max_pixels} allowed"
        )


def encode_jpeg(image: Image.Image, *, quality: int = 90) -> bytes:
    """JPEG bytes of an image (plate crops for evidence and the image entity)."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def model_input(
    image: Image.Image, out: npt.NDArray[np.float32] | None = None
) -> npt.NDArray[np.float32]:
    """Return the image as PP-OCR's networks take it: channels first, ``pixel / 127.5 - 1``.

    Written in one pass from the 8-bit pixels into ``out`` (a float32 array of
    shape (3, height, width), e.g. a slot of a batch) or a new array: three
    separate float passes over a 640x352 frame took 2.6 ms, this takes 0.7.
    """
    pixels = np.asarray(image).transpose(2, 0, 1)
    if out is None:
        out = np.empty(pixels.shape, dtype=np.float32)
    np.divide(pixels, np.float32(127.5), out=out, dtype=np.float32)
    out -= np.float32(1.0)
    return out


def local_contrast(
    image: Image.Image, *, radius: int = 24, max_side: int | None = None
) -> Image.Image:
    """Return the image's brightness with its local contrast evened out (grey, as RGB).

    Each pixel is set against the mean and the mean absolute deviation of its
    surroundings (a box ``radius`` pixels wide each way), so a dim plate in a
    dark rear or a hazy one under glare stands out as well as a sunlit one.

    An image longer than ``max_side`` is evened out at that size (the radius
    shrunk with it) and the smaller copy returned: its float arrays cost 16
    bytes a pixel, about 130 MB for a 4K frame and 800 MB for a 50 MP photo.
    """
    grey = image.convert("L") if max_side is None else _grey_within(image, max_side)
    radius = max(1, round(radius * grey.width / image.width))
    mean = grey.filter(ImageFilter.BoxBlur(radius))
    deviation = ImageChops.difference(grey, mean).filter(ImageFilter.BoxBlur(radius))
    values = np.asarray(grey, dtype=np.float32) - np.asarray(mean, dtype=np.float32)
    values /= np.asarray(deviation, dtype=np.float32) + LOCAL_CONTRAST_FLOOR
    evened = np.clip(128.0 + LOCAL_CONTRAST_GAIN * values, 0, 255).astype(np.uint8)
    return Image.fromarray(evened).convert("RGB")


def _grey_within(image: Image.Image, max_side: int) -> Image.Image:
    """Return the image in grey, scaled down so its longer side is at most ``max_side``."""
    grey = image.convert("L")
    scale = max_side / max(image.size)
    if scale >= 1:
        return grey
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return grey.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
