"""The inbox's folders coming, going and nesting while it is scanned (plain Python, real files)."""

from __future__ import annotations

from collections import Counter
import errno
import logging
import os
from pathlib import Path
import shutil

import pytest

from custom_components.plate_tracker.sources.folder import Inbox

NOW = 1_800_000_000.0


def _upload(path: Path, data: bytes = b"jpeg") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (NOW - 10, NOW - 10))
    return path


def _warnings(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(
        record.levelno >= logging.WARNING and text in record.getMessage()
        for record in caplog.records
    )


def test_uploads_in_folders_inside_a_camera_folder_are_named_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A camera set to upload into date folders (``gate/2026-11-25/``) must not lose its pictures unseen.

    Only a camera's folder itself is read: such uploads waited there forever
    with nothing in the log or the diagnostics. Each such folder is named once
    and counted (``inbox_nested_folders``); the camera's own files are read.
    """
    _upload(tmp_path / "gate" / "2026-11-25" / "101500.jpg")
    _upload(tmp_path / "gate" / "2026-11-26" / "08" / "101500.jpg")
    _upload(tmp_path / "gate" / ".partial" / "x.jpg")
    read = _upload(tmp_path / "gate" / "20261125T101500.jpg")
    counters: Counter[str] = Counter()
    inbox = Inbox(tmp_path, counters=counters)
    for _ in range(3):
        assert [file.path for file in inbox.scan(NOW)] == [read]
    assert counters["inbox_nested_folders"] == 2
    assert _warnings(caplog, "2026-11-25 is not read") == 1
    assert _warnings(caplog, "2026-11-26 is not read") == 1
    assert _warnings(caplog, ".partial") == 0


def test_a_camera_folder_removed_during_a_scan_is_no_warning(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A camera folder a clean-up script removes between two listings is gone, not unreadable.

    It was warned about as a folder that "cannot be listed" (a wrong owner, a
    broken mount), sending the user after a fault that was not there.
    """
    gone = tmp_path / "old_camera"
    _upload(gone / "a.jpg")
    kept = _upload(tmp_path / "gate" / "b.jpg")
    list_folder = Path.iterdir

    def removed_before_listing(self: Path) -> object:
        # Found as a folder, removed just before its own listing.
        if self == gone:
            shutil.rmtree(gone)
        return list_folder(self)

    monkeypatch.setattr(Path, "iterdir", removed_before_listing)
    assert [file.path for file in Inbox(tmp_path).scan(NOW)] == [kept]
    assert _warnings(caplog, "cannot be listed") == 0


def test_a_file_left_in_an_inbox_that_is_gone_for_a_moment_is_not_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only inbox whose share drops out for one scan must not read all it holds once more.

    The files read but left there (they cannot be removed) were forgotten as
    gone, and read again when the share came back: every one of them.
    """
    root = tmp_path / "inbox"
    image = _upload(root / "gate" / "a.jpg")
    inbox = Inbox(root)
    (file,) = inbox.scan(NOW)
    original = Path.unlink

    def read_only(self: Path, *args: object, **kwargs: object) -> None:
        if self.is_relative_to(root):
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "unlink", read_only)
    inbox.finish(file)
    assert image.exists()
    assert inbox.scan(NOW + 1) == []

    unmounted = root.rename(tmp_path / "unmounted")
    assert inbox.scan(NOW + 2) == []
    unmounted.rename(root)
    assert inbox.scan(NOW + 3) == []
