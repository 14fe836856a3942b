"""Reads that ANPR cameras push: Hikvision ISAPI alarms, Dahua ITSAPI, JSON; what is refused."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
import io
import json
import random

from PIL import Image
import pytest

from custom_components.plate_tracker.records import Direction
from custom_components.plate_tracker.sources.anpr import (
    MAX_BODY_BYTES,
    MalformedAnprError,
    parse_anpr_request,
)

BOUNDARY = "boundary"


def jpeg(color: str = "gray", size: tuple[int, int] = (64, 32)) -> bytes:
    """Return a plain JPEG picture."""
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG")
    return out.getvalue()


def hikvision_alert(
    plate: str = "AE1234BK",
    *,
    event_type: str = "ANPR",
    confidence: str = "97",
    direction: str = "forward",
    date_time: str = "2026-11-25T22:42:07+02:00",
    uuid: str | None = "5f3c0e9a-1b2c-4d5e-8f90-0a1b2c3d4e5f",
) -> bytes:
    """Return an alarm as a Hikvision ANPR camera's alarm server sends it (ISAPI 2.0 namespace)."""
    uuid_line = f"<UUID>{uuid}</UUID>" if uuid is not None else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<EventNotificationAlert version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema">
<ipAddress>10.20.0.17</ipAddress>
<portNo>80</portNo>
<protocol>HTTP</protocol>
<macAddress>bc:ba:c2:00:11:22</macAddress>
<channelID>1</channelID>
<dateTime>{date_time}</dateTime>
<activePostCount>1</activePostCount>
<eventType>{event_type}</eventType>
<eventState>active</eventState>
<eventDescription>ANPR</eventDescription>
<channelName>Exit North</channelName>
{uuid_line}
<ANPR>
<country>UA</country>
<licensePlate>{plate}</licensePlate>
<line>1</line>
<direction>{direction}</direction>
<confidenceLevel>{confidence}</confidenceLevel>
<plateType>unknown</plateType>
<plateColor>white</plateColor>
<vehicleType>vehicle</vehicleType>
<pictureInfoList>
<pictureInfo><fileName>licensePlatePicture.jpg</fileName><type>licensePlatePicture</type></pictureInfo>
<pictureInfo><fileName>detectionPicture.jpg</fileName><type>detectionPicture</type></pictureInfo>
</pictureInfoList>
</ANPR>
</EventNotificationAlert>
""".encode()


def multipart(*parts: tuple[str, str, bytes], newline: bytes = b"\r\n") -> bytes:
    """Return a multipart/form-data body as the camera writes it: one part per file."""
    body = b""
    for name, content_type, content in parts:
        body += (
            b"--"
            + BOUNDARY.encode()
            + newline
            + f'Content-Disposition: form-data; name="{name}"; filename="{name}"'.encode()
            + newline
            + f"Content-Type: {content_type}".encode()
            + newline
            + f"Content-Length: {len(content)}".encode()
            + newline
            + newline
            + content
            + newline
        )
    return body + b"--" + BOUNDARY.encode() + b"--" + newline


MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def test_hikvision_multipart_read_with_pictures() -> None:
    """The alarm's XML gives plate, confidence, direction, time and id; the parts the pictures."""
    plate_picture, scene = jpeg("white"), jpeg("black", (320, 180))
    body = multipart(
        ("anpr.xml", "text/xml", hikvision_alert()),
        ("licensePlatePicture.jpg", "image/jpeg", plate_picture),
        ("detectionPicture.jpg", "image/jpeg", scene),
    )
    read = parse_anpr_request(MULTIPART, body)
    assert read is not None
    assert read.plate == "AE1234BK"
    assert read.confidence == pytest.approx(0.97)
    assert read.direction is Direction.APPROACHING
    assert read.seen_at == datetime(2026, 11, 25, 20, 42, 7, tzinfo=UTC)
    assert read.event_id == "5f3c0e9a-1b2c-4d5e-8f90-0a1b2c3d4e5f"
    assert read.picture == scene
    assert read.plate_picture == plate_picture
    assert read.camera is None
    assert read.pictures_dropped == 0


def test_hikvision_multipart_with_bare_newlines_and_vehicle_picture() -> None:
    """Some firmwares end lines with LF only and send a vehicle picture, no scene."""
    vehicle = jpeg("blue", (200, 150))
    body = multipart(
        ("anpr.xml", "application/xml", hikvision_alert(direction="reverse")),
        ("vehiclePicture.jpg", "image/jpeg", vehicle),
        newline=b"\n",
    )
    read = parse_anpr_request(MULTIPART, body)
    assert read is not None
    assert read.picture == vehicle
    assert read.plate_picture is None
    assert read.direction is Direction.RECEDING


def test_hikvision_unknown_plate_keeps_the_picture_for_the_engine() -> None:
    """A camera that read no plate writes ``unknown``: no plate, the picture stays."""
    scene = jpeg()
    body = multipart(
        ("anpr.xml", "text/xml", hikvision_alert("unknown")),
        ("detectionPicture.jpg", "image/jpeg", scene),
    )
    read = parse_anpr_request(MULTIPART, body)
    assert read is not None
    assert read.plate is None
    assert read.picture == scene


def test_hikvision_bare_xml_alert() -> None:
    """An alert without pictures; fields a camera got wrong are left unknown."""
    read = parse_anpr_request(
        "application/xml; charset=utf-8",
        hikvision_alert(
            "BC 0001 AA", confidence="abc", direction="sideways", uuid=None
        ),
    )
    assert read is not None
    assert read.plate == "BC 0001 AA"
    assert read.confidence is None
    assert read.direction is Direction.UNKNOWN
    assert read.event_id is None
    assert read.picture is None


def test_hikvision_heartbeat_is_ignored() -> None:
    """The camera's heartbeat is an alert without an ANPR element: nothing to read."""
    heartbeat = b"""<?xml version="1.0" encoding="UTF-8"?>
<EventNotificationAlert version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">
<ipAddress>10.20.0.17</ipAddress><dateTime>2026-11-25T22:42:07+02:00</dateTime>
<activePostCount>0</activePostCount><eventType>videoloss</eventType>
<eventState>inactive</eventState><eventDescription>videoloss alarm</eventDescription>
</EventNotificationAlert>"""
    assert parse_anpr_request("application/xml", heartbeat) is None


def test_hikvision_picture_that_is_not_an_image_is_dropped_and_counted() -> None:
    """A part that is not a JPEG or PNG is not kept as evidence; the read stays."""
    body = multipart(
        ("anpr.xml", "text/xml", hikvision_alert()),
        ("licensePlatePicture.jpg", "image/jpeg", b"<html>not a picture</html>"),
    )
    read = parse_anpr_request(MULTIPART, body)
    assert read is not None
    assert read.plate_picture is None
    assert read.pictures_dropped == 1
    assert read.plate == "AE1234BK"


def _png(size: tuple[int, int], mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "white").save(out, "PNG")
    return out.getvalue()


def test_png_pictures_are_kept_as_jpeg_and_bad_ones_dropped() -> None:
    """The store serves JPEG: a PNG is converted; a broken PNG or a PNG bomb is not kept."""
    png = _png((120, 30))
    bomb = _png(
        (8000, 8000), "1"
    )  # 64 MP: over the engine's 50 MP limit, yet a small file
    body = json.dumps(
        {
            "plate": "AE1234BK",
            "image": base64.b64encode(bomb).decode(),
            "plate_image": base64.b64encode(png).decode(),
        }
    ).encode()
    read = parse_anpr_request("application/json", body)
    assert read is not None
    assert read.plate_picture is not None
    assert read.plate_picture.startswith(b"\xff\xd8\xff")
    assert Image.open(io.BytesIO(read.plate_picture)).size == (120, 30)
    assert read.picture is None
    assert read.pictures_dropped == 1

    broken = multipart(
        ("anpr.xml", "text/xml", hikvision_alert()),
        ("licensePlatePicture.jpg", "image/png", png[:40]),
    )
    read = parse_anpr_request(MULTIPART, broken)
    assert read is not None
    assert (read.plate_picture, read.pictures_dropped) == (None, 1)


def test_json_read() -> None:
    """Every field of the JSON form, pictures as base64 and as a data URL."""
    scene, crop = jpeg("black"), jpeg("white")
    body = json.dumps(
        {
            "plate": "AE1234BK",
            "camera": "exit_north",
            "confidence": 0.91,
            "time": "2026-11-25T20:42:07Z",
            "direction": "Receding",
            "event_id": 4711,
            "image": base64.b64encode(scene).decode(),
            "plate_image": "data:image/jpeg;base64," + base64.b64encode(crop).decode(),
        }
    ).encode()
    read = parse_anpr_request("application/json", body)
    assert read is not None
    assert (read.plate, read.camera, read.event_id) == (
        "AE1234BK",
        "exit_north",
        "4711",
    )
    assert read.confidence == pytest.approx(0.91)
    assert read.direction is Direction.RECEDING
    assert read.seen_at == datetime(2026, 11, 25, 20, 42, 7, tzinfo=UTC)
    assert (read.picture, read.plate_picture) == (scene, crop)


def dahua_tollgate(**plate: object) -> dict[str, object]:
    """Return a Dahua ITC camera's ITSAPI ``TollgateInfo`` push, as its platform server gets it."""
    return {
        "Picture": {
            "Plate": {
                "PlateNumber": "AE1234BK",
                "PlateColor": "White",
                "PlateType": "Normal",
                "Confidence": 87,
                "IsExist": True,
                "BoundingBox": [3520, 4480, 4352, 4736],
                "Channel": 0,
                **plate,
            },
            "Vehicle": {"VehicleColor": "Black", "VehicleType": "PassengerCar"},
            "SnapInfo": {
                "DeviceID": "ITC-EXIT-N",
                "AccurateTime": "2026-11-25 22:42:07.312",
                "SnapTime": "2026-11-25 22:42:07",
                "TimeZone": 2,
                "Direction": "Obverse",
                "LanNo": 1,
            },
            "NormalPic": {
                "Content": base64.b64encode(jpeg("black")).decode(),
                "PicName": "AE1234BK-20261125224207.jpg",
            },
            "CutoutPic": {
                "Content": base64.b64encode(jpeg("white")).decode(),
                "PicName": "AE1234BK-plate.jpg",
            },
        }
    }


def test_dahua_itsapi_read() -> None:
    """A Dahua push: plate, confidence, direction, both pictures; its local time left to arrival."""
    body = json.dumps(dahua_tollgate()).encode()
    read = parse_anpr_request("application/json;charset=UTF-8", body)
    assert read is not None
    assert (read.plate, read.camera) == ("AE1234BK", None)
    assert read.confidence == pytest.approx(0.87)
    assert read.direction is Direction.APPROACHING
    # "2026-11-25 22:42:07.312" is the camera's clock without an offset.
    assert read.seen_at is None
    assert (read.picture, read.plate_picture) == (jpeg("black"), jpeg("white"))
    assert read.event_id is not None
    assert read.event_id.startswith("dahua-")
    # The camera sends the same read again until it is acknowledged: the same id.
    again = parse_anpr_request("application/json", body)
    assert again is not None
    assert again.event_id == read.event_id
    # Another read of the same camera is another sighting.
    other = dahua_tollgate()
    other["Picture"]["SnapInfo"]["AccurateTime"] = "2026-11-25 22:42:09.020"  # type: ignore[index]
    later = parse_anpr_request("application/json", json.dumps(other).encode())
    assert later is not None
    assert later.event_id != read.event_id


def test_dahua_without_a_plate_or_a_scene() -> None:
    """No plate found (IsExist false): the engine reads the pictures; the vehicle picture stands in."""
    push = dahua_tollgate(IsExist=False, PlateNumber="")
    picture = push["Picture"]
    assert isinstance(picture, dict)
    picture["VehiclePic"] = picture.pop("NormalPic")
    picture["SnapInfo"]["Direction"] = "Reverse"
    read = parse_anpr_request("application/json", json.dumps(push).encode())
    assert read is not None
    assert read.plate is None
    assert read.picture == jpeg("black")
    assert read.direction is Direction.RECEDING
    # The picture's name moved with it; the time still tells this read apart.
    assert read.event_id is not None


def test_dahua_heartbeat_is_ignored() -> None:
    """The ITSAPI keep-alive is a sign of life, not a read."""
    body = b'{"Active": "keepAlive", "DeviceID": "ITC-EXIT-N"}'
    assert parse_anpr_request("application/json", body) is None


def test_axis_license_plate_verifier_json() -> None:
    """JSON as an Axis LPV publisher sends it: "timestamp" in ms; its device name is not read."""
    body = json.dumps(
        {
            "topic": "lpv",
            "device": "ACCC8E000000",
            "name": "North exit",
            "plate": "AE1234BK",
            "image": None,
            "localTime": "2026-11-25 22:42:07",
            "clock": 81727,
            "timestamp": 1764103327000,
        }
    ).encode()
    read = parse_anpr_request("application/json", body)
    assert read is not None
    assert (read.plate, read.camera, read.picture) == ("AE1234BK", None, None)
    assert read.seen_at == datetime(2025, 11, 25, 20, 42, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        (1764103327, datetime(2025, 11, 25, 20, 42, 7, tzinfo=UTC)),
        (1764103327000, datetime(2025, 11, 25, 20, 42, 7, tzinfo=UTC)),
        (
            "2026-11-25T20:42:07",
            None,
        ),  # local time of an unknown zone: arrival dates it
        ("yesterday", None),
        (float("inf"), None),
        (-5, None),
        (True, None),
        (10**30, None),
        (10**400, None),  # valid JSON, but no float holds it
        # Valid ISO 8601 whose offset takes it past the calendar's edge in UTC.
        ("9999-12-31T23:59:59-05:00", None),
        ("0001-01-01T00:00:00+01:00", None),
    ],
)
def test_json_times(time: object, expected: datetime | None) -> None:
    """Times with an offset and epoch numbers count; anything else leaves arrival time."""
    body = json.dumps({"plate": "AA0000AA", "time": time}).encode()
    read = parse_anpr_request("application/json", body)
    assert read is not None
    assert read.seen_at == expected


@pytest.mark.parametrize(
    ("confidence", "expected"),
    [
        (0.5, 0.5),
        (85, 0.85),
        ("92.5", 0.925),
        (150, None),
        (-1, None),
        ("x", None),
        (None, None),
        ("nan", None),
        (10**400, None),
    ],
)
def test_json_confidence(confidence: object, expected: float | None) -> None:
    """Confidence as 0..1 or 0..100, number or text; out of range is none."""
    read = parse_anpr_request(
        "application/json",
        json.dumps({"plate": "AA0000AA", "confidence": confidence}).encode(),
    )
    assert read is not None
    assert read.confidence == (
        pytest.approx(expected) if expected is not None else None
    )


@pytest.mark.parametrize(
    ("content_type", "body", "reason"),
    [
        ("application/json", b"{not json", "not JSON"),
        ("application/json", b"[1, 2]", "not a JSON object"),
        ("application/json", b'{"plate": 12}', "not a string"),
        ("application/json", b'{"plate": "' + b"A" * 41 + b'"}', "longer than"),
        ("application/json", b'{"plate": "AA1", "camera": "../etc"}', "'camera'"),
        ("application/json", b'{"plate": "AA1", "camera": 7}', "'camera'"),
        ("application/json", b'{"camera": "gate"}', "neither a 'plate' nor an 'image'"),
        ("application/json", b'{"plate": "unknown", "image": "@@@"}', "neither"),
        ("application/json", b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        ("application/json", b'{"Picture": []}', "'Picture' that is not an object"),
        ("application/json", b'{"Picture": {"Plate": 5}}', "'Plate' or 'SnapInfo'"),
        (
            "application/json",
            b'{"Picture": {"Plate": {"IsExist": false}, "NormalPic": {"Content": "@"}}}',
            "Dahua read with neither a plate nor a picture",
        ),
        (
            "application/json",
            b'{"Picture": {"Plate": {"PlateNumber": ["AE1234BK"]}}}',
            "not a string",
        ),
        ("text/plain", b"hello", "unsupported content type"),
        ("application/xml", b"<EventNotificationAlert><ANPR>", "not XML"),
        ("application/xml", b"<html/>", "not an alert"),
        (
            "application/xml",
            (
                b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]>'
                b"<EventNotificationAlert>&lol;</EventNotificationAlert>"
            ),
            "document type",
        ),
        (
            "application/xml",
            b"<EventNotificationAlert><eventType>ANPR</eventType></EventNotificationAlert>",
            "without its ANPR element",
        ),
        (
            "application/xml",
            (
                b"<EventNotificationAlert><ANPR><licensePlate>unknown</licensePlate></ANPR>"
                b"</EventNotificationAlert>"
            ),
            "neither a plate nor a picture",
        ),
        ("multipart/form-data", b"--x\r\n", "without a boundary"),
        (MULTIPART, b"--boundary--\r\n", "no complete part"),
        (MULTIPART, b"--boundary\r\nno headers here--boundary--", "without headers"),
        (
            MULTIPART,
            multipart(("detectionPicture.jpg", "image/jpeg", jpeg())),
            "without an XML alert part",
        ),
        (
            MULTIPART,
            multipart(*[(f"p{i}.jpg", "image/jpeg", b"x") for i in range(17)]),
            "more than 16 parts",
        ),
    ],
)
def test_refused_with_a_reason(content_type: str, body: bytes, reason: str) -> None:
    """Each kind of bad request is refused with a reason the sender can act on."""
    with pytest.raises(MalformedAnprError, match=reason):
        parse_anpr_request(content_type, body)


def test_an_alert_time_past_the_calendar_dates_the_read_on_arrival() -> None:
    """A camera's time at the calendar's edge is no time, as an unparsable one: the read is kept.

    Converted to UTC it would raise OverflowError out of the webhook, which
    answers the camera with an empty 200: the read would be lost unstored.
    """
    read = parse_anpr_request(
        "application/xml", hikvision_alert(date_time="9999-12-31T23:00:00-08:00")
    )
    assert read is not None
    assert (read.plate, read.seen_at) == ("AE1234BK", None)


@pytest.mark.parametrize(
    "body",
    [
        b'{"plate": "AE1234BK\\ud800"}',
        b'{"Picture": {"Plate": {"PlateNumber": "\\udc00AE1234BK"}}}',
    ],
)
def test_a_plate_the_store_cannot_write_is_refused(body: bytes) -> None:
    """Valid JSON can hold a lone surrogate, which SQLite refuses: the read is refused on arrival.

    Let through, it would be spooled when the store refused it, and every later
    read of every push source would queue behind it for good.
    """
    with pytest.raises(MalformedAnprError, match="UTF-8 cannot write"):
        parse_anpr_request("application/json", body)


def test_body_over_the_limit_is_refused_before_parsing() -> None:
    """A body over Home Assistant's limit is not parsed at all."""
    with pytest.raises(MalformedAnprError, match="larger than"):
        parse_anpr_request("application/json", b" " * (MAX_BODY_BYTES + 1))


def test_mutated_requests_never_raise_anything_else() -> None:
    """Bytes flipped, cut and repeated in real requests: a read, None, or MalformedAnprError."""
    rng = random.Random(20261127)
    samples = [
        (
            MULTIPART,
            multipart(
                ("anpr.xml", "text/xml", hikvision_alert()),
                ("licensePlatePicture.jpg", "image/jpeg", jpeg()),
            ),
        ),
        ("application/xml", hikvision_alert()),
        (
            "application/json",
            json.dumps(
                {
                    "plate": "AE1234BK",
                    "time": 1764103327,
                    "image": base64.b64encode(jpeg()).decode(),
                }
            ).encode(),
        ),
        ("application/json", json.dumps(dahua_tollgate()).encode()),
    ]
    outcomes = {"read": 0, "ignored": 0, "refused": 0}
    for _ in range(1500):
        content_type, body = rng.choice(samples)
        data = bytearray(body)
        for _ in range(rng.randint(1, 6)):
            action = rng.random()
            at = rng.randrange(len(data))
            if action < 0.5:
                data[at] = rng.randrange(256)
            elif action < 0.8:
                del data[at : at + rng.randint(1, 40)]
            else:
                data[at:at] = data[at : at + rng.randint(1, 40)]
        try:
            read = parse_anpr_request(content_type, bytes(data))
        except MalformedAnprError:
            outcomes["refused"] += 1
        else:
            outcomes["read" if read is not None else "ignored"] += 1
            if read is not None:
                assert read.plate is None or 0 < len(read.plate) <= 40
                assert read.confidence is None or 0 <= read.confidence <= 1
    # The mutations exercise both sides: many still read, many are refused.
    assert outcomes["read"] > 100
    assert outcomes["refused"] > 100


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_document_type_is_refused_in_any_encoding(encoding: str) -> None:
    """An XML bomb spelled in UTF-16 is refused as one in UTF-8 is.

    Anyone who learns the webhook's address may post XML. The parser reads
    UTF-16 too, where ``<!DOCTYPE`` is not those bytes: a byte search lets the
    entities through, to be declared and expanded on the executor.
    """
    alert = (
        '<?xml version="1.0" encoding="UTF-16"?>'
        '<!DOCTYPE lolz [<!ENTITY lol "AE1234BK">]>'
        "<EventNotificationAlert><eventType>ANPR</eventType>"
        "<ANPR><licensePlate>&lol;</licensePlate></ANPR></EventNotificationAlert>"
    )
    body = alert.encode(encoding)
    if encoding != "utf-16":
        body = "\ufeff".encode(encoding) + body
    with pytest.raises(MalformedAnprError, match="document type"):
        parse_anpr_request("application/xml", body)
