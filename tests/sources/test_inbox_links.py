"""The inbox against links out of it and files that always fail (plain Python)."""

from __future__ import annotations

from collections import Counter
import os
from pathlib import Path

import pytest

from custom_components.plate_tracker.sources.folder import Inbox

NOW = 1_800_000_000.0


def upload(path: Path, age: float = 10.0, data: bytes = b"jpeg") -> Path:
    """Write a file as a finished upload ``age`` seconds old."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (NOW - age, NOW - age))
    return path


def test_links_out_of_the_inbox_are_neither_read_nor_deleted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A camera folder or a file that is a link to elsewhere is skipped, warned once and counted.

    Read files are deleted: through ``inbox/photos -> /media/photos`` every
    picture there was read as a camera's upload and then deleted.
    """
    inbox, elsewhere = tmp_path / "inbox", tmp_path / "elsewhere"
    kept = upload(elsewhere / "family.jpg")
    secret = upload(elsewhere / "secret.jpg")
    upload(inbox / "bridge" / "car.jpg")
    (inbox / "photos").symlink_to(elsewhere, target_is_directory=True)
    (inbox / "bridge" / "link.jpg").symlink_to(secret)
    (inbox / "gate_link.jpg").symlink_to(secret)
    counters: Counter[str] = Counter()
    watched = Inbox(inbox, counters=counters)

    for _ in range(2):
        files = watched.scan(NOW)
        assert [file.path.name for file in files] == ["car.jpg"]
    for file in files:
        watched.finish(file)

    assert kept.is_file()
    assert secret.is_file()
    assert counters["inbox_links_outside"] == 3
    assert caplog.text.count("points out of the inbox") == 3


def test_a_link_within_the_inbox_is_read(tmp_path: Path) -> None:
    """A link whose target is inside the inbox deletes nothing outside it: it is read as before."""
    inbox = tmp_path / "inbox"
    upload(inbox / "store" / "car.jpg")
    (inbox / "bridge").symlink_to(inbox / "store", target_is_directory=True)
    names = sorted(file.camera for file in Inbox(inbox).scan(NOW))
    assert names == ["bridge", "store"]


def test_files_that_failed_do_not_starve_the_ones_behind_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full batch of oldest files that cannot be opened must not hold every newer upload back.

    The scan gives the oldest files first, a bounded batch at a time: files
    that fail at each poll (an FTP server writing them unreadable to Home
    Assistant) filled the batch forever, and no newer car was read.
    """
    monkeypatch.setattr(
        "custom_components.plate_tracker.sources.folder.MAX_FILES_PER_SCAN", 2
    )
    for index in range(3):
        upload(tmp_path / "cam" / f"{index}.jpg", age=100 - index)
    inbox = Inbox(tmp_path)
    for file in inbox.scan(NOW):
        assert inbox.first_failure(file)
    assert [file.path.name for file in inbox.scan(NOW)] == ["2.jpg", "0.jpg"]
