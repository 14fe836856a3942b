"""The inbox folder: which files are ready, which camera, and that none is lost (plain Python)."""

from __future__ import annotations

from datetime import UTC, datetime
import os
from pathlib import Path

import pytest

from custom_components.plate_tracker.records import Direction
from custom_components.plate_tracker.sources.folder import (
    DEFAULT_CAMERA,
    MAX_FILES_PER_SCAN,
    SETTLE_SECONDS,
    FileTooLargeError,
    Inbox,
    compile_filename_pattern,
)

NOW = 1_800_000_000.0


def upload(path: Path, age: float = 10.0, data: bytes = b"jpeg") -> Path:
    """Write a file as a finished upload ``age`` seconds old."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (NOW - age, NOW - age))
    return path


def test_camera_from_subfolder_or_filename(tmp_path: Path) -> None:
    """Cameras upload into their own folder or prefix file names; both name the camera."""
    upload(tmp_path / "bridge" / "a.jpg")
    # Taken at 07:59:30 by the camera's clock, arrived at 07:59:40.
    upload(tmp_path / "gate_20270115-075930.jpg", age=20)
    upload(tmp_path / "noprefix.png", age=30)
    files = Inbox(tmp_path).scan(NOW)
    assert [(file.path.name, file.camera) for file in files] == [
        ("noprefix.png", DEFAULT_CAMERA),
        ("gate_20270115-075930.jpg", "gate"),
        ("a.jpg", "bridge"),
    ]
    assert files[1].seen_at == datetime(2027, 1, 15, 7, 59, 30, tzinfo=UTC)


def test_a_pattern_whose_camera_group_is_empty_names_the_default_camera(
    tmp_path: Path,
) -> None:
    """A pattern's camera group may be optional or match nothing: the file still has a camera."""
    upload(tmp_path / "_20261125-101500.jpg")
    upload(tmp_path / "20261125-101600.jpg", age=20)
    pattern = r"^(?P<camera>[a-z]*)_?\d{8}|^(?P<other>x)?"
    files = Inbox(tmp_path, filename_pattern=pattern).scan(NOW)
    assert [file.camera for file in files] == [DEFAULT_CAMERA, DEFAULT_CAMERA]


def test_unfinished_uploads_and_other_files_wait(tmp_path: Path) -> None:
    """A file still being written (recent mtime) or not an image is left alone."""
    upload(tmp_path / "bridge" / "writing.jpg", age=0.5)
    upload(tmp_path / "bridge" / "notes.txt")
    upload(tmp_path / ".processed" / "old.jpg")
    assert Inbox(tmp_path).scan(NOW) == []


def test_an_empty_file_waits_for_its_data_however_old(tmp_path: Path) -> None:
    """An FTP server creates the file before the data arrives: rejecting it would lose the upload."""
    upload(tmp_path / "bridge" / "opened.jpg", age=3600, data=b"")
    assert Inbox(tmp_path).scan(NOW) == []
    upload(tmp_path / "bridge" / "opened.jpg", age=10)
    assert [file.path.name for file in Inbox(tmp_path).scan(NOW)] == ["opened.jpg"]


def test_finish_and_reject(tmp_path: Path) -> None:
    """Read files go away (or to .processed); unreadable ones are kept in .rejected for a person."""
    upload(tmp_path / "bridge" / "ok.jpg")
    upload(tmp_path / "bridge" / "bad.jpg")
    inbox = Inbox(tmp_path, keep_files=True)
    ok, bad = sorted(inbox.scan(NOW), key=lambda file: file.path.name, reverse=True)
    inbox.finish(ok)
    rejected = inbox.reject(bad, "not an image")
    assert not ok.path.exists()
    assert list((tmp_path / ".processed").rglob("ok.jpg"))
    assert rejected.is_file()
    assert ".rejected" in rejected.parts
    assert Inbox(tmp_path).scan(NOW) == []


def test_scan_is_bounded_and_oldest_first(tmp_path: Path) -> None:
    """A backlog after an outage is worked off oldest first, a bounded batch at a time."""
    for index in range(MAX_FILES_PER_SCAN + 5):
        upload(tmp_path / "cam" / f"{index}.jpg", age=1000 - index)
    files = Inbox(tmp_path).scan(NOW)
    assert len(files) == MAX_FILES_PER_SCAN
    assert files[0].path.name == "0.jpg"


def test_huge_files_are_refused(tmp_path: Path) -> None:
    """A file far larger than any snapshot is refused before it is read into memory."""
    path = upload(tmp_path / "cam" / "huge.jpg")
    with path.open("r+b") as handle:
        handle.truncate(40 * 1024 * 1024)
    inbox = Inbox(tmp_path)
    (file,) = inbox.scan(NOW + 100)
    with pytest.raises(FileTooLargeError, match="bytes is more than"):
        inbox.read(file)


def test_filename_pattern_needs_a_camera_group() -> None:
    """A pattern that cannot name a camera is refused when it is set, not when files arrive."""
    with pytest.raises(ValueError, match="camera"):
        compile_filename_pattern(r"^\w+_")


def test_direction_from_the_filename(tmp_path: Path) -> None:
    """A camera that measures direction writes it in the file name; the pattern's ``direction`` group passes it on.

    Only the four directions count: anything else a camera writes stays unknown, never guessed.
    """
    pattern = r"^(?P<camera>[^_]+)_\d{8}-\d{6}(?:_(?P<direction>[a-zA-Z]+))?"
    upload(tmp_path / "gate_20261125-101500_Receding.jpg", age=40)
    upload(tmp_path / "gate_20261125-101600_left.jpg", age=30)
    upload(tmp_path / "gate_20261125-101700_forward.jpg", age=20)
    upload(tmp_path / "bridge" / "bridge_20261125-101800_approaching.jpg", age=10)
    upload(tmp_path / "gate_20261125-101900.jpg", age=5)
    files = Inbox(tmp_path, filename_pattern=pattern).scan(NOW)
    assert [(file.camera, file.direction) for file in files] == [
        ("gate", Direction.RECEDING),
        ("gate", Direction.LEFT),
        ("gate", Direction.UNKNOWN),
        ("bridge", Direction.APPROACHING),
        ("gate", Direction.UNKNOWN),
    ]
    # Without a direction group every file is unknown.
    assert {file.direction for file in Inbox(tmp_path).scan(NOW)} == {Direction.UNKNOWN}


def test_impossible_time_in_the_name_falls_back_to_the_file_time(
    tmp_path: Path,
) -> None:
    """A camera with a wrong clock format must not lose the picture: the upload time stands in."""
    upload(tmp_path / "gate_20261399-256199.jpg")
    (file,) = Inbox(tmp_path).scan(NOW)
    assert file.camera == "gate"
    assert file.seen_at == datetime.fromtimestamp(NOW - 10.0, UTC)


def test_a_camera_clock_far_from_the_arrival_is_overruled_and_named_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A clock reset to 2000 by a power cut, or set to local time east of UTC, must not date sightings.

    Dated 2000, a sighting would be purged by the next nightly retention run;
    dated ahead, it would stay its camera's latest. The arrival time stands in,
    and the log names the camera once. A camera that uploads a backlog a few
    days late keeps its own times.
    """
    arrived = datetime.fromtimestamp(NOW - 10.0, UTC)
    assert arrived == datetime(2027, 1, 15, 7, 59, 50, tzinfo=UTC)
    upload(tmp_path / "gate" / "gate_20000101-000512.jpg", age=10)
    upload(tmp_path / "gate" / "gate_20270115-100000.jpg", age=10)
    upload(tmp_path / "west" / "west_20270115-081600.jpg", age=10)
    upload(tmp_path / "late" / "late_20270112-093000.jpg", age=10)
    upload(tmp_path / "ahead" / "ahead_20270115-081400.jpg", age=10)
    files = {file.path.name: file.seen_at for file in Inbox(tmp_path).scan(NOW)}
    assert files == {
        "gate_20000101-000512.jpg": arrived,
        "gate_20270115-100000.jpg": arrived,
        "west_20270115-081600.jpg": arrived,
        "late_20270112-093000.jpg": datetime(2027, 1, 12, 9, 30, tzinfo=UTC),
        "ahead_20270115-081400.jpg": datetime(2027, 1, 15, 8, 14, tzinfo=UTC),
    }
    warnings = [
        record.getMessage()
        for record in caplog.records
        if record.levelname == "WARNING"
    ]
    assert len(warnings) == 2
    assert sorted(warning.split()[1] for warning in warnings) == ["gate", "west"]


def test_missing_inbox_scans_empty(tmp_path: Path) -> None:
    """Before the first upload (or while a share is remounted) a scan finds nothing rather than failing."""
    assert Inbox(tmp_path / "not_yet").scan(NOW) == []


def test_rejecting_the_same_name_twice_keeps_both(tmp_path: Path) -> None:
    """Cameras reuse file names; a second bad upload of the same name must not overwrite the first one set aside."""
    inbox = Inbox(tmp_path)
    upload(tmp_path / "bridge" / "snap.jpg", data=b"first")
    first = inbox.reject(inbox.scan(NOW)[0], "not an image")
    upload(tmp_path / "bridge" / "snap.jpg", data=b"second")
    second = inbox.reject(inbox.scan(NOW)[0], "not an image")
    assert first != second
    assert first.parent == second.parent
    assert (first.read_bytes(), second.read_bytes()) == (b"first", b"second")


def test_a_camera_name_that_is_not_utf8_is_written_with_underscores(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A folder named in Latin-1 names its camera with '_' for each byte UTF-8 cannot read.

    Such a name held a surrogate escape that the store cannot write: the
    sighting was refused and the good picture set aside as unreadable. Other
    names stay as they were, so no camera's history changes name. Each
    renaming is warned about once.
    """
    latin1 = Path(os.fsdecode(os.fsencode(tmp_path) + b"/Einfahrt_S\xfcd"))
    upload(latin1 / "a.jpg", age=40)
    upload(latin1 / "b.jpg", age=30)
    upload(tmp_path / "Front Gate" / "c.jpg", age=20)
    upload(tmp_path / "Південь" / "d.jpg", age=15)
    upload(tmp_path / "gate.cam_20261125-101500.jpg", age=10)
    files = Inbox(tmp_path).scan(NOW)
    assert [file.camera for file in files] == [
        "Einfahrt_S_d",
        "Einfahrt_S_d",
        "Front Gate",
        "Південь",
        "gate.cam",
    ]
    assert caplog.text.count("its sightings are recorded as camera") == 1


def test_a_new_upload_under_the_same_name_is_not_removed_unread(
    tmp_path: Path,
) -> None:
    """A camera that writes 'snapshot.jpg' anew while the last one is read keeps its new upload.

    Removing (or moving aside) whatever is at the path once the old version
    was read lost the next car without reading it.
    """
    path = upload(tmp_path / "gate" / "snapshot.jpg", data=b"first car")
    for keep_files in (False, True):
        inbox = Inbox(tmp_path, keep_files=keep_files)
        (read,) = inbox.scan(NOW)
        upload(path, age=5, data=b"second car")
        inbox.finish(read)
        assert path.read_bytes() == b"second car"
        (again,) = inbox.scan(NOW)
        assert again.version != read.version
        upload(path, age=4, data=b"third car")
        assert inbox.reject(again, "not an image") is None
        assert path.read_bytes() == b"third car"
        assert [file.path for file in inbox.scan(NOW)] == [path]
        upload(path, age=10, data=b"first car")
    assert not (tmp_path / ".processed").exists()
    assert not (tmp_path / ".rejected").exists()


def test_a_file_dated_ahead_of_the_host_clock_is_read_once_it_stops_changing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A camera or file server whose clock runs ahead does not hold its uploads back until that time.

    Its file is settled once it has not changed between scans SETTLE_SECONDS
    apart, and dated by its arrival; the camera is named once in the log.
    """
    year = 365 * 86400.0
    upload(tmp_path / "gate" / "a.jpg", age=-year)
    upload(tmp_path / "gate" / "b.jpg", age=-year)
    growing = upload(tmp_path / "gate" / "c.jpg", age=-year)
    inbox = Inbox(tmp_path)
    assert inbox.scan(NOW) == []
    # Still being written: its size changes, so it is not settled yet.
    upload(growing, age=-year, data=b"jpeg, more of it")
    later = NOW + SETTLE_SECONDS
    files = inbox.scan(later)
    assert [file.path.name for file in files] == ["a.jpg", "b.jpg"]
    assert {file.seen_at for file in files} == {datetime.fromtimestamp(later, UTC)}
    assert [file.path.name for file in inbox.scan(later + SETTLE_SECONDS)] == [
        "a.jpg",
        "b.jpg",
        "c.jpg",
    ]
    assert caplog.text.count("uploads files dated ahead of this host's clock") == 1
