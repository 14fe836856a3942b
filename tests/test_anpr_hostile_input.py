"""What hostile or broken ANPR cameras send, at the parser: refused cheaply or read as meant."""

from __future__ import annotations

import base64
import json
import tracemalloc

import pytest

from custom_components.plate_tracker.sources.anpr import (
    MAX_BODY_BYTES,
    MalformedAnprError,
    parse_anpr_request,
)

from .sources.test_anpr import (
    MULTIPART,
    dahua_tollgate,
    hikvision_alert,
    jpeg,
    multipart,
)


def test_a_body_of_tiny_parts_is_refused_without_copying_it_part_by_part() -> None:
    """16 MB of two-byte parts is refused at the parts limit, not after splitting all of it.

    Splitting the whole body first made millions of small bytes objects on the
    executor: about 170 MB and seconds of CPU for one request anyone on the
    network may send, again and again.
    """
    body = b"--xAB" * (MAX_BODY_BYTES // 5)
    tracemalloc.start()
    try:
        with pytest.raises(MalformedAnprError):
            parse_anpr_request("multipart/form-data; boundary=x", body)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024


def test_picture_file_names_with_a_folder_are_still_the_pictures() -> None:
    r"""A firmware that sends its pictures' paths (``C:\...\licensePlatePicture.jpg``) loses none.

    The name is matched, never used as a path: only its last component counts.
    """
    crop, scene = jpeg("white"), jpeg("black", (320, 180))
    body = multipart(
        ("anpr.xml", "text/xml", hikvision_alert()),
        ("C:\\pics\\licensePlatePicture.jpg", "image/jpeg", crop),
        ("/mnt/sd/detectionPicture.jpg", "image/jpeg", scene),
    )
    read = parse_anpr_request(MULTIPART, body)
    assert read is not None
    assert (read.plate_picture, read.picture) == (crop, scene)


@pytest.mark.parametrize("plate", ["---", "***", " - ", "??", "..."])
def test_a_plate_without_a_letter_or_digit_is_no_plate(plate: str) -> None:
    """A camera's placeholder (``---``, ``***``) is no read: the picture goes to the engine.

    Taken as the camera's read it normalised to nothing: no sighting, and the
    picture, the only evidence of the car, was never read.
    """
    body = json.dumps(
        {"plate": plate, "image": base64.b64encode(jpeg()).decode()}
    ).encode()
    read = parse_anpr_request("application/json", body)
    assert read is not None
    assert read.plate is None
    assert read.picture == jpeg()
    with pytest.raises(MalformedAnprError, match="neither a 'plate' nor an 'image'"):
        parse_anpr_request("application/json", json.dumps({"plate": plate}).encode())


def test_vendor_percentages_of_one_are_one_percent() -> None:
    """Hikvision and Dahua give confidence 0..100: their 1 is 1 %, not a certain read.

    Taken as 1.0 it passed every minimum confidence.
    """
    read = parse_anpr_request("application/xml", hikvision_alert(confidence="1"))
    assert read is not None
    assert read.confidence == pytest.approx(0.01)
    dahua = parse_anpr_request(
        "application/json", json.dumps(dahua_tollgate(Confidence=1)).encode()
    )
    assert dahua is not None
    assert dahua.confidence == pytest.approx(0.01)
    # The generic JSON form keeps its documented 0..1 reading of 1.
    generic = parse_anpr_request(
        "application/json", b'{"plate": "AE1234BK", "confidence": 1}'
    )
    assert generic is not None
    assert generic.confidence == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("declared", "channel"),
    [
        # Declares UTF-8, writes its channel name in the Windows code page.
        ("UTF-8", "Виїзд північ".encode("cp1251")),
        # A multi-byte encoding, which the XML parser itself does not read.
        ("GB2312", "北出口".encode("gb2312")),
    ],
)
def test_an_alert_in_an_encoding_the_parser_refuses_is_still_read(
    declared: str, channel: bytes
) -> None:
    """A wrong or multi-byte declared encoding costs a free-text field at most, not the read.

    Refused with 400, the camera never sends the read again: the car is lost.
    """
    alert = (
        hikvision_alert()
        .replace(b'encoding="UTF-8"', f'encoding="{declared}"'.encode())
        .replace(b"Exit North", channel)
    )
    read = parse_anpr_request("application/xml", alert)
    assert read is not None
    assert (read.plate, read.event_id) == (
        "AE1234BK",
        "5f3c0e9a-1b2c-4d5e-8f90-0a1b2c3d4e5f",
    )


def test_a_plate_garbled_by_a_wrong_encoding_is_not_taken_as_read() -> None:
    """A plate whose letters were lost to the wrong encoding is left to the engine.

    ``АЕ1234ВК`` in cp1251 under a UTF-8 declaration decodes to ``1234`` plus
    replacement characters: stored, it would be a wrong plate.
    """
    alert = hikvision_alert(plate="PLATE").replace(
        b"PLATE", "АЕ1234ВК".encode("cp1251")
    )
    body = multipart(
        ("anpr.xml", "text/xml", alert),
        ("detectionPicture.jpg", "image/jpeg", jpeg()),
    )
    read = parse_anpr_request(MULTIPART, body)
    assert read is not None
    assert read.plate is None
    assert read.picture == jpeg()
