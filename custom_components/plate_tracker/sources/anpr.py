"""Cameras that read plates themselves (camera-side ANPR) and push each read over HTTP.

Plain Python, no Home Assistant imports; ``parse_anpr_request`` is CPU work on
bodies of up to a few MB and is meant to run in an executor. Two payloads are
understood, told apart by their content type:

- **Hikvision ISAPI** ANPR alarms, as an ANPR camera's *alarm server* (HTTP
  listening) sends them: ``multipart/form-data`` with an
  ``EventNotificationAlert`` XML part (``anpr.xml``) and the pictures
  (``licensePlatePicture.jpg``, ``detectionPicture.jpg``, ``vehiclePicture.jpg``),
  or the XML alone. Heartbeats and other alarms of the same channel are
  recognised and ignored.
- **Dahua ITSAPI** (``TollgateInfo``), as a Dahua ITC camera's *platform server*
  push sends it: JSON with a ``Picture`` object (``Plate.PlateNumber``,
  ``Plate.Confidence``, ``SnapInfo.AccurateTime`` and ``Direction``, the scene in
  ``NormalPic.Content`` and the plate in ``CutoutPic.Content``, base64). Its
  heartbeat (``{"Active": "keepAlive", "DeviceID": ...}``) is ignored.
- **JSON** for any other camera, NVR or script (Node-RED, a camera's HTTP
  notification): ``{"plate", "camera", "confidence", "time", "direction",
  "event_id", "image", "plate_image"}``, pictures as base64.

Whatever arrives is checked: a plate longer than a plate can be or with a
character the store cannot write, a camera name no device may get, a picture
that is not a JPEG or PNG, a time that is not one.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
import hashlib
import json
import re
from typing import Any
from xml.etree import ElementTree as ET

from ..engine.imaging import ImageError, decode_image, encode_jpeg
from ..engine.types import is_finite_number
from ..plate_text import normalize_plate
from ..records import Direction
from . import CAMERA_NAME, storable_text

MAX_BODY_BYTES = 16 * 1024 * 1024
"""Home Assistant's own limit for a request body."""
MAX_RAW_PLATE_LENGTH = 40
"""What a camera may write as a plate (spaces, dashes, a country prefix); more is not a plate."""
MAX_MULTIPART_PARTS = 16
MAX_XML_BYTES = 256 * 1024

NO_PLATE = frozenset(
    {"", "unknown", "noplate", "no plate", "none", "null", "-", "无车牌"}
)
"""What cameras write when they saw a vehicle but read no plate (Hikvision: ``unknown``)."""

_EVENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

_DIRECTIONS = {
    "approaching": Direction.APPROACHING,
    "receding": Direction.RECEDING,
    "left": Direction.LEFT,
    "right": Direction.RIGHT,
    # Hikvision: "forward" is a vehicle driving towards the camera, "reverse" away from it;
    # Dahua calls the lane's own direction "Obverse".
    "forward": Direction.APPROACHING,
    "obverse": Direction.APPROACHING,
    "reverse": Direction.RECEDING,
}

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

_DAHUA_SCENE_PICTURES = ("NormalPic", "VehiclePic")
"""The whole scene first; the vehicle's picture when the camera sends no scene."""

_HIKVISION_PLATE_PICTURES = ("licenseplatepicture",)
_HIKVISION_SCENE_PICTURES = ("detectionpicture", "vehiclepicture", "featurepicture")
"""The whole scene first; a vehicle picture when the camera sends no scene."""


class MalformedAnprError(ValueError):
    """A request that is not an ANPR read this source understands (the reason says why)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AnprRead:
    """One vehicle a camera saw, with the plate it read (if any) and its pictures."""

    plate: str | None
    """The plate as the camera wrote it; None when it read none (the engine may)."""
    confidence: float | None
    """0..1 (a camera's 0..100 is scaled); None when the camera gives none."""
    camera: str | None
    """The camera named in the request (JSON only); None: the source's own camera."""
    seen_at: datetime | None
    """When the camera saw it, from a time with a UTC offset; None: on arrival."""
    direction: Direction
    event_id: str | None
    """The camera's id of this read (a resent read has the same one)."""
    picture: bytes | None
    """The scene or vehicle picture."""
    plate_picture: bytes | None
    """The camera's crop of the plate."""
    pictures_dropped: int = 0
    """Pictures in the request that were not JPEG or PNG, or not base64."""


def parse_anpr_request(content_type: str, body: bytes) -> AnprRead | None:
    """Return the read in an ANPR camera's request; None for a heartbeat or another alarm.

    Raises MalformedAnprError for anything else.
    """
    if len(body) > MAX_BODY_BYTES:
        raise MalformedAnprError(f"the request is larger than {MAX_BODY_BYTES} bytes")
    media_type, params = _media_type(content_type)
    if media_type.startswith("multipart/"):
        return _hikvision_multipart(body, params.get("boundary", ""))
    if media_type in ("application/xml", "text/xml"):
        return _hikvision_alert(body, {})
    if media_type == "application/json" or body.lstrip()[:1] == b"{":
        return _json_read(body)
    if body.lstrip()[:1] == b"<":
        return _hikvision_alert(body, {})
    raise MalformedAnprError(f"unsupported content type {media_type or 'none'!r}")


def _media_type(content_type: str) -> tuple[str, dict[str, str]]:
    kind, _, rest = content_type.partition(";")
    params: dict[str, str] = {}
    for item in rest.split(";"):
        key, sep, value = item.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    return kind.strip().lower(), params


# ---------------------------------------------------------------- JSON


def _json_read(body: bytes) -> AnprRead | None:
    try:
        message = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise MalformedAnprError(f"not JSON: {err}") from err
    if not isinstance(message, dict):
        raise MalformedAnprError("not a JSON object")
    if "Picture" in message:
        return _dahua_read(message["Picture"], message.get("PicName"))
    if "Active" in message and "plate" not in message:
        return None  # a Dahua ITSAPI heartbeat
    plate = _plate(message.get("plate"))
    camera = message.get("camera")
    if camera is not None and (
        not isinstance(camera, str) or not CAMERA_NAME.fullmatch(camera)
    ):
        raise MalformedAnprError(
            "'camera' must be letters, digits, '_' or '-' (at most 128)"
        )
    dropped = 0
    pictures: list[bytes | None] = []
    for field in ("image", "plate_image"):
        picture, bad = _base64_picture(message.get(field))
        pictures.append(picture)
        dropped += bad
    if plate is None and pictures[0] is None and pictures[1] is None:
        raise MalformedAnprError("neither a 'plate' nor an 'image' to read one in")
    return AnprRead(
        plate=plate,
        confidence=_confidence(message.get("confidence")),
        camera=camera,
        # "timestamp": what publishers for Axis License Plate Verifier call it (ms).
        seen_at=_time(message.get("time", message.get("timestamp"))),
        direction=_direction(message.get("direction")),
        event_id=_event_id(message.get("event_id")),
        picture=pictures[0],
        plate_picture=pictures[1],
        pictures_dropped=dropped,
    )


def _base64_picture(value: Any) -> tuple[bytes | None, int]:
    """Return (picture, 1 if one was given but is unusable else 0)."""
    if value is None or value == "":
        return None, 0
    if not isinstance(value, str):
        return None, 1
    if value.startswith("data:"):
        # A data URL: "data:image/jpeg;base64,...".
        value = value.partition(",")[2]
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None, 1
    picture = _as_jpeg(data)
    return (picture, 0) if picture is not None else (None, 1)


# ---------------------------------------------------------------- Dahua


def _dahua_read(picture: Any, pic_name: Any) -> AnprRead:
    """Return the read of a Dahua ITSAPI ``TollgateInfo`` push (its ``Picture`` object)."""
    if not isinstance(picture, dict):
        raise MalformedAnprError("a Dahua 'Picture' that is not an object")
    plate_info, snap = picture.get("Plate") or {}, picture.get("SnapInfo") or {}
    if not isinstance(plate_info, dict) or not isinstance(snap, dict):
        raise MalformedAnprError("a Dahua 'Plate' or 'SnapInfo' that is not an object")
    # IsExist false: a vehicle without a plate the camera could find.
    plate = (
        None
        if plate_info.get("IsExist") is False
        else _plate(plate_info.get("PlateNumber"))
    )
    dropped = 0
    found: dict[str, bytes] = {}
    for name in ("CutoutPic", *_DAHUA_SCENE_PICTURES):
        part = picture.get(name)
        if part is None:
            continue
        content = part.get("Content") if isinstance(part, dict) else part
        image, bad = _base64_picture(content)
        dropped += bad
        if image is not None:
            found[name] = image
    scene = next((found[n] for n in _DAHUA_SCENE_PICTURES if n in found), None)
    if plate is None and scene is None and "CutoutPic" not in found:
        raise MalformedAnprError("a Dahua read with neither a plate nor a picture")
    accurate = snap.get("AccurateTime") or snap.get("SnapTime")
    if not isinstance(pic_name, str) and isinstance(picture.get("NormalPic"), dict):
        pic_name = picture["NormalPic"].get("PicName")
    return AnprRead(
        plate=plate,
        confidence=_confidence(plate_info.get("Confidence"), percent=True),
        camera=None,
        # Dahua writes the camera's local time without an offset: dated on arrival.
        seen_at=_time(accurate),
        direction=_direction(snap.get("Direction")),
        event_id=_dahua_event_id(snap.get("DeviceID"), pic_name, accurate, plate),
        picture=scene,
        plate_picture=found.get("CutoutPic"),
        pictures_dropped=dropped,
    )


def _dahua_event_id(
    device: Any, pic_name: Any, accurate: Any, plate: str | None
) -> str | None:
    """Return one id for every resend of a Dahua read (it sends again until answered).

    Dahua gives no event id: the camera, the picture's name and the time of the read
    stand for one. None when it gives neither a picture name nor a time.
    """
    if not isinstance(pic_name, str) and not isinstance(accurate, str):
        return None
    key = json.dumps([str(device), str(pic_name), str(accurate), plate or ""])
    return "dahua-" + hashlib.sha256(key.encode()).hexdigest()[:32]


# ---------------------------------------------------------------- Hikvision


def _hikvision_multipart(body: bytes, boundary: str) -> AnprRead | None:
    if not boundary or len(boundary) > 200:
        raise MalformedAnprError("a multipart request without a boundary")
    parts = _multipart_parts(body, boundary.encode("latin-1", "replace"))
    alert: bytes | None = None
    pictures: dict[str, bytes] = {}
    for headers, content in parts:
        name = _part_name(headers)
        kind = headers.get("content-type", "")
        if name.endswith(".xml") or "xml" in kind or content.lstrip()[:5] == b"<?xml":
            alert = alert or content
        elif name:
            pictures[name.rsplit(".", 1)[0]] = content  # "detectionpicture"
    if alert is None:
        raise MalformedAnprError("a multipart request without an XML alert part")
    return _hikvision_alert(alert, pictures)


def _multipart_parts(
    body: bytes, boundary: bytes
) -> list[tuple[dict[str, str], bytes]]:
    """Split a multipart body into (headers, content) parts, tolerating LF line ends.

    Found one delimiter after another, never split all at once: a body of
    millions of tiny parts would be millions of objects before the limit on
    parts refused it.
    """
    delimiter = b"--" + boundary
    start = body.find(delimiter)
    if start < 0 or body.find(delimiter, start + len(delimiter)) < 0:
        raise MalformedAnprError("a multipart request with no complete part")
    parts: list[tuple[dict[str, str], bytes]] = []
    while start >= 0:
        start += len(delimiter)
        end = body.find(delimiter, start)
        if body.startswith(b"--", start):
            break  # the closing delimiter
        if len(parts) >= MAX_MULTIPART_PARTS:
            raise MalformedAnprError(f"more than {MAX_MULTIPART_PARTS} parts")
        chunk = body[start : end if end >= 0 else len(body)]
        start = end
        chunk = chunk.removeprefix(b"\r\n").removeprefix(b"\n")
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            head, sep, content = chunk.partition(b"\n\n")
        if not sep:
            raise MalformedAnprError("a multipart part without headers")
        headers: dict[str, str] = {}
        for line in head.decode("latin-1").splitlines():
            key, colon, value = line.partition(":")
            if colon:
                headers[key.strip().lower()] = value.strip()
        parts.append((headers, content.removesuffix(b"\r\n").removesuffix(b"\n")))
    return parts


def _part_name(headers: dict[str, str]) -> str:
    r"""Return the part's file name, else its form field name, lower-cased.

    Only the last component of a path (``C:\pics\licensePlatePicture.jpg``)
    counts: the name picks the picture's role, it is never used as a path.
    """
    _, params = _media_type("x;" + headers.get("content-disposition", ""))
    name = params.get("filename") or params.get("name") or ""
    return re.split(r"[/\\]", name)[-1].lower()


def _hikvision_alert(xml: bytes, pictures: dict[str, bytes]) -> AnprRead | None:
    if len(xml) > MAX_XML_BYTES:
        raise MalformedAnprError(f"an XML alert larger than {MAX_XML_BYTES} bytes")
    try:
        root = _parse_xml(xml)
    except _DocumentTypeError as err:
        raise MalformedAnprError(
            "an XML alert with a document type declaration"
        ) from err
    except (ET.ParseError, LookupError, ValueError) as err:
        # LookupError: an encoding Python does not know in the XML declaration.
        raise MalformedAnprError(f"not XML: {err}") from err
    fields = {_local(element.tag): element for element in root.iter()}
    if _local(root.tag) != "EventNotificationAlert":
        raise MalformedAnprError(
            f"an XML document that is not an alert: {_local(root.tag)[:40]!r}"
        )
    event_type = _text(fields.get("eventType")).lower()
    anpr = fields.get("ANPR")
    if anpr is None:
        if event_type == "anpr":
            raise MalformedAnprError("an ANPR alert without its ANPR element")
        # A heartbeat (videoloss, inactive) or another alarm of the camera.
        return None
    values = {_local(element.tag): _text(element) for element in anpr.iter()}
    usable = {
        name: picture
        for name, content in pictures.items()
        if (picture := _as_jpeg(content)) is not None
    }
    dropped = len(pictures) - len(usable)
    plate_picture = next(
        (usable[n] for n in _HIKVISION_PLATE_PICTURES if n in usable), None
    )
    scene = next((usable[n] for n in _HIKVISION_SCENE_PICTURES if n in usable), None)
    plate = _plate(values.get("licensePlate"))
    if plate is None and scene is None and plate_picture is None:
        raise MalformedAnprError("an ANPR alert with neither a plate nor a picture")
    return AnprRead(
        plate=plate,
        confidence=_confidence(values.get("confidenceLevel"), percent=True),
        camera=None,
        seen_at=_time(_text(fields.get("dateTime"))),
        direction=_direction(values.get("direction")),
        event_id=_event_id(_text(fields.get("UUID"))),
        picture=scene,
        plate_picture=plate_picture,
        pictures_dropped=dropped,
    )


def _parse_xml(xml: bytes) -> ET.Element:
    """Parse an alert; raise _DocumentTypeError for a document type.

    A declared encoding the parser cannot read (multi-byte, unknown) or bytes
    that are not the one declared are decoded here and parsed again: the read
    survives with a free-text field garbled at most (a garbled plate is no
    plate). Refused, the camera would never send it again.
    """
    try:
        return _parse_xml_text(xml)
    except (ET.ParseError, LookupError, ValueError) as err:
        try:
            return _parse_xml_text(_decoded(xml))
        except (ET.ParseError, LookupError, ValueError):
            raise err from None


def _parse_xml_text(xml: bytes | str) -> ET.Element:
    """Parse bytes in their declared encoding, or text; no document type."""
    # Size-limited by the caller; the target refuses a document type, so no entities.
    parser = ET.XMLParser(target=_NoDocumentType())  # noqa: S314
    parser.feed(xml)
    return parser.close()


_XML_ENCODING = re.compile(
    rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']"""
)


def _decoded(xml: bytes) -> str:
    """Return an alert's text in its declared encoding (else UTF-8), bad bytes replaced."""
    declared = _XML_ENCODING.match(xml)
    encoding = declared.group(1).decode("ascii") if declared else "utf-8"
    try:
        return xml.decode(encoding, "replace")
    except LookupError:
        return xml.decode("utf-8", "replace")


class _DocumentTypeError(Exception):
    """The alert declares a document type (see ``_NoDocumentType``)."""


class _NoDocumentType(ET.TreeBuilder):
    """Builds the alert's tree, stopping at a document type declaration.

    No camera sends one; its entities are how XML bombs explode. The parser
    calls this before it reads any declaration, in whatever encoding the
    document is (a search for ``<!DOCTYPE`` in the bytes misses UTF-16).
    """

    def doctype(
        self,
        name: str,
        pubid: str | None,  # noqa: ARG002 - the parser's signature
        system: str | None,  # noqa: ARG002 - the parser's signature
    ) -> None:
        """Refuse the document type declaration."""
        raise _DocumentTypeError(name)


def _local(tag: str) -> str:
    """Return a tag without its namespace (Hikvision uses hikvision.com's or isapi.org's)."""
    return tag.rpartition("}")[2]


def _text(element: ET.Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


# ---------------------------------------------------------------- fields


def _plate(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedAnprError("'plate' is not a string")
    plate = value.strip()
    # A placeholder ("---", "***") or a plate whose letters a wrong encoding
    # turned into replacement characters: no read to trust, the engine reads
    # the picture (a plate of no letter or digit would be stored as nothing).
    if plate.lower() in NO_PLATE or "\ufffd" in plate or not normalize_plate(plate):
        return None
    if len(plate) > MAX_RAW_PLATE_LENGTH:
        raise MalformedAnprError(
            f"a plate longer than {MAX_RAW_PLATE_LENGTH} characters"
        )
    if not storable_text(plate):
        raise MalformedAnprError(
            f"a plate with a character UTF-8 cannot write: {plate!a}"
        )
    return plate


def _confidence(value: Any, *, percent: bool = False) -> float | None:
    """Return 0..1; ``percent``: the vendor gives 0..100 only, so its 1 is 1 %."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not is_finite_number(value) or value < 0 or value > 100:
        return None
    # Cameras give 0..100; scripts often 0..1. A script's 1 is a certain read.
    return value / 100 if value > 1 or (percent and value == 1) else float(value)


def _time(value: Any) -> datetime | None:
    """Return a time with a UTC offset, or seconds (milliseconds) since 1970; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        # A JSON integer of hundreds of digits is no float: math.isfinite would raise.
        if not is_finite_number(value) or value <= 0:
            return None
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        return None
    try:
        told = datetime.fromisoformat(value.strip())
        # A time without an offset is the camera's local time, which is not known here.
        return told.astimezone(UTC) if told.tzinfo is not None else None
    except (ValueError, OverflowError):
        # OverflowError: a time at the calendar's edge that its offset takes past
        # it ("9999-12-31T23:59:59-05:00"). Either way the read is dated on arrival.
        return None


def _direction(value: Any) -> Direction:
    if not isinstance(value, str):
        return Direction.UNKNOWN
    return _DIRECTIONS.get(value.strip().lower(), Direction.UNKNOWN)


def _event_id(value: Any) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _EVENT_ID.fullmatch(value.strip()):
        return None
    return value.strip()


def _as_jpeg(data: bytes) -> bytes | None:
    """Return a camera's picture as the JPEG the store keeps; None if it is neither JPEG nor PNG.

    A JPEG is kept byte for byte (it is evidence); a PNG is decoded, within the
    engine's limits against decompression bombs, and written as JPEG, since
    the image entity and signed links serve JPEG.
    """
    if data.startswith(_JPEG_MAGIC):
        return data
    if not data.startswith(_PNG_MAGIC):
        return None
    try:
        return encode_jpeg(decode_image(data))
    except ImageError:
        return None
