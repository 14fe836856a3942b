"""Uploads that stall half way (a slow camera uplink) wait for the rest instead of being set aside."""

from __future__ import annotations

from collections import Counter
import io
import os
from pathlib import Path

from homeassistant.core import HomeAssistant
from PIL import Image
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)

from custom_components.plate_tracker.const import EVENT_SIGHTING
from custom_components.plate_tracker.sources.folder import (
    SETTLE_SECONDS,
    UPLOAD_STALL_SECONDS,
    Inbox,
    image_complete,
)

from .helpers import wait_until
from .synthetic import scene_jpeg
from .test_folder_source import _counting_scans, _upload

NOW = 1_800_000_000.0
SNAPSHOT = scene_jpeg("AE1234BK", seed=3)


def _encoded(image_format: str, **options: object) -> bytes:
    picture = Image.open(io.BytesIO(SNAPSHOT)).resize((64, 48))
    buffer = io.BytesIO()
    picture.save(buffer, image_format, **options)
    return buffer.getvalue()


def test_no_start_of_a_picture_passes_for_the_whole_of_it() -> None:
    """Every cut of a JPEG, PNG or WebP is seen as unfinished; the whole file is not.

    A JPEG's EXIF thumbnail has an end marker of its own, and some cameras
    append data after the end: neither may make a cut look whole, or a whole
    picture look cut. Data that is no such picture is left to the engine.
    """
    thumbnail = _encoded("JPEG")
    pictures = {
        "camera JPEG": SNAPSHOT,
        "progressive JPEG": _encoded("JPEG", progressive=True),
        "JPEG with restart markers": _encoded("JPEG", restart_marker_blocks=1),
        "JPEG with an EXIF thumbnail": _encoded(
            "JPEG", exif=b"Exif\x00\x00" + thumbnail
        ),
        "PNG": _encoded("PNG"),
        "WebP": _encoded("WEBP"),
    }
    for name, data in pictures.items():
        assert image_complete(data), name
        assert image_complete(data + b"camera data after the end\xff\xd8"), name
        whole_cuts = [cut for cut in range(1, len(data)) if image_complete(data[:cut])]
        assert whole_cuts == [], name
    assert image_complete(b"<html>503 Service Unavailable</html>")


def _write(path: Path, data: bytes, modified: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (modified, modified))
    return path


def test_an_unfinished_upload_waits_by_this_hosts_clock(tmp_path: Path) -> None:
    """A cut picture waits UPLOAD_STALL_SECONDS of this host's clock, however old the file says it is.

    The file's time comes from the file server's clock, which may be behind:
    by it, a stalled upload would look long finished and be set aside at once.
    Once the upload goes on, the file is a new version and is read when it settles.
    """
    # Dated an hour back by a file server whose clock is behind.
    path = _write(tmp_path / "gate" / "snapshot.jpg", SNAPSHOT[:20000], NOW - 3600)
    inbox = Inbox(tmp_path)
    (file,) = inbox.scan(NOW)
    assert inbox.still_arriving(file, inbox.read(file), NOW)
    assert inbox.scan(NOW + 1) == []
    assert inbox.scan(NOW + UPLOAD_STALL_SECONDS - 1) == []

    # Left as it is for the whole time: read as it is, and known as broken off.
    (late,) = inbox.scan(NOW + UPLOAD_STALL_SECONDS)
    assert late.version == file.version
    assert not inbox.still_arriving(late, inbox.read(late), NOW + UPLOAD_STALL_SECONDS)
    assert inbox.broke_off(late)

    # The upload going on makes a new version: waited for as any other upload.
    again = Inbox(tmp_path)
    (first,) = again.scan(NOW)
    assert again.still_arriving(first, again.read(first), NOW)
    _write(path, SNAPSHOT, NOW + 1)
    assert again.scan(NOW + 1) == []
    (whole,) = again.scan(NOW + 1 + SETTLE_SECONDS)
    assert not again.still_arriving(whole, again.read(whole), NOW + 1 + SETTLE_SECONDS)
    assert not again.broke_off(whole)


def test_what_is_known_of_an_unfinished_upload_goes_with_it(tmp_path: Path) -> None:
    """A cut file that is removed (or replaced) is forgotten: a new one under its name is not held back."""
    path = _write(tmp_path / "gate" / "snapshot.jpg", SNAPSHOT[:100], NOW - 10)
    inbox = Inbox(tmp_path, counters=Counter())
    (file,) = inbox.scan(NOW)
    assert inbox.still_arriving(file, inbox.read(file), NOW)
    path.unlink()
    assert inbox.scan(NOW + 1) == []
    _write(path, SNAPSHOT[:100], NOW - 10)
    (fresh,) = inbox.scan(NOW + 2)
    assert not inbox.broke_off(fresh)


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as handle:
        handle.write(data)


@pytest.mark.usefixtures("no_inbox_poll_wait")
@pytest.mark.parametrize(
    ("name", "image_format"),
    [
        ("20261125T101500.jpg", "JPEG"),
        # No end the inbox checks: the engine's decoder finds it cut short.
        ("20261125T101500.bmp", "BMP"),
    ],
)
async def test_a_stalled_upload_waits_and_is_read_when_the_rest_arrives(
    hass: HomeAssistant,
    inbox: Path,
    *,
    init_folder: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    image_format: str,
) -> None:
    """An FTP upload that stalls for longer than SETTLE_SECONDS is a car still to come, not a broken file.

    It was read half written and moved to .rejected: the rest of the upload
    then landed beside nothing, or as a second file, and the car was lost.
    """
    picture = SNAPSHOT
    if image_format != "JPEG":
        buffer = io.BytesIO()
        Image.open(io.BytesIO(SNAPSHOT)).save(buffer, image_format)
        picture = buffer.getvalue()
    events = async_capture_events(hass, EVENT_SIGHTING)
    scans = _counting_scans(monkeypatch)
    camera_dir = inbox / "bridge"
    await hass.async_add_executor_job(camera_dir.mkdir)
    image = camera_dir / name
    # The first half arrived, then the uplink stalled (the tests do not wait to settle).
    await hass.async_add_executor_job(image.write_bytes, picture[: len(picture) // 2])
    await wait_until(lambda: len(scans) >= 20)

    assert not (inbox / ".rejected").exists()
    assert image.exists()
    assert not events
    counters = init_folder.runtime_data.source_counters
    assert counters["inbox_rejected"] == 0

    # The uplink comes back: the rest arrives and the car is read.
    await hass.async_add_executor_job(_append, image, picture[len(picture) // 2 :])
    await wait_until(lambda: bool(events))
    assert [event.data["plate"] for event in events] == ["AE1234BK"]
    await wait_until(lambda: not image.exists())
    assert (counters["inbox_rejected"], counters["inbox_incomplete"]) == (0, 0)


@pytest.mark.usefixtures("no_inbox_poll_wait")
async def test_an_upload_that_never_goes_on_is_set_aside_and_counted(
    hass: HomeAssistant,
    inbox: Path,
    init_folder: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A cut picture that stays so past UPLOAD_STALL_SECONDS goes to .rejected whole, counted, with its reason.

    Waiting forever would hide a broken camera; deleting it would lose what a
    person could still see in its first half.
    """
    monkeypatch.setattr(
        "custom_components.plate_tracker.sources.folder.UPLOAD_STALL_SECONDS", 0.5
    )
    events = async_capture_events(hass, EVENT_SIGHTING)
    camera_dir = inbox / "bridge"
    await hass.async_add_executor_job(camera_dir.mkdir)
    cut = SNAPSHOT[: len(SNAPSHOT) // 2]
    broken = camera_dir / "20261125T101400.jpg"
    await hass.async_add_executor_job(_upload, broken, cut)
    rejected = inbox / ".rejected" / "2026-11-25" / "bridge" / broken.name
    await wait_until(rejected.is_file)

    assert await hass.async_add_executor_job(rejected.read_bytes) == cut
    counters = init_folder.runtime_data.source_counters
    assert (counters["inbox_rejected"], counters["inbox_incomplete"]) == (1, 1)
    assert "the upload ended before the image did" in caplog.text

    good = camera_dir / "20261125T101500.jpg"
    await hass.async_add_executor_job(_upload, good, SNAPSHOT)
    await wait_until(lambda: bool(events))
    assert [event.data["plate"] for event in events] == ["AE1234BK"]
