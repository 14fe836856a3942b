"""An inbox whose files cannot be deleted or moved (a read-only share), inside Home Assistant."""

from __future__ import annotations

import errno
import logging
from pathlib import Path

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)

from custom_components.plate_tracker.const import EVENT_SIGHTING
from custom_components.plate_tracker.sources.folder import Inbox, InboxFile

from .helpers import wait_until
from .synthetic import scene_jpeg
from .test_folder_source import _counting_scans, _failing_for, _upload

PLATES = ("AE1234BK", "BC5512HP", "KA7777OO")


def _read_only(monkeypatch: pytest.MonkeyPatch, inbox: Path) -> list[Path]:
    """Refuse every removal in ``inbox`` as a read-only mount does; return the files refused."""
    original = Path.unlink
    refused: list[Path] = []

    def unlink(self: Path, *args: object, **kwargs: object) -> None:
        if self.is_relative_to(inbox):
            refused.append(self)
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "unlink", unlink)
    return refused


def _counting_reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record each file the inbox reads."""
    original = Inbox.read
    reads: list[Path] = []

    def counting(self: Inbox, file: InboxFile) -> bytes:
        reads.append(file.path)
        return original(self, file)

    monkeypatch.setattr(Inbox, "read", counting)
    return reads


def _warnings(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(
        record.levelno >= logging.WARNING and text in record.getMessage()
        for record in caplog.records
    )


@pytest.mark.usefixtures("no_inbox_poll_wait")
async def test_a_read_only_inbox_is_counted_warned_once_and_read_once(
    hass: HomeAssistant,
    inbox: Path,
    init_folder: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Files that stay in a read-only inbox are read once each, counted, and the inbox is warned about once.

    A warning for every file filled the log of a busy gate while nothing
    counted them; diagnostics now show how many stayed (``inbox_not_removed``).
    """
    events = async_capture_events(hass, EVENT_SIGHTING)
    reads = _counting_reads(monkeypatch)
    scans = _counting_scans(monkeypatch)
    camera_dir = inbox / "bridge"
    await hass.async_add_executor_job(camera_dir.mkdir)
    files = [camera_dir / f"2026112510150{index}.jpg" for index in range(3)]
    with pytest.MonkeyPatch.context() as read_only:
        refused = _read_only(read_only, inbox)
        for seed, (path, plate) in enumerate(zip(files, PLATES, strict=True)):
            await hass.async_add_executor_job(
                _upload, path, scene_jpeg(plate, seed=seed)
            )
        await wait_until(lambda: len(refused) == 3)
        seen = len(scans)
        await wait_until(lambda: len(scans) >= seen + 20)

    assert sorted(event.data["plate"] for event in events) == sorted(PLATES)
    assert sorted(reads) == sorted(files)
    assert all(path.exists() for path in files)
    counters = init_folder.runtime_data.source_counters
    assert counters["inbox_not_removed"] == 3
    assert counters["inbox_files"] == 3
    assert _warnings(caplog, "cannot take") == 1

    # Writable again: the next upload leaves, and the log says so.
    later = camera_dir / "20261125T101600.jpg"
    await hass.async_add_executor_job(_upload, later, scene_jpeg(PLATES[0], seed=7))
    await wait_until(lambda: not later.exists())
    assert sorted(reads) == sorted([*files, later])
    assert "can be taken out of it again" in caplog.text


@pytest.mark.usefixtures("no_inbox_poll_wait")
async def test_a_camera_folder_unlisted_for_a_moment_is_not_read_again(
    hass: HomeAssistant,
    inbox: Path,
    init_folder: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One failed listing of a camera's folder (a share's hiccup) must not make a read-only inbox read it all again.

    The files read but left there were forgotten as if they had gone, and read
    (and with ``keep_files`` copied to ``.processed``) once more.
    """
    refused = _read_only(monkeypatch, inbox)
    reads = _counting_reads(monkeypatch)
    scans = _counting_scans(monkeypatch)
    camera_dir = inbox / "bridge"
    await hass.async_add_executor_job(camera_dir.mkdir)
    image = camera_dir / "20261125T101500.jpg"
    await hass.async_add_executor_job(_upload, image, scene_jpeg(PLATES[0], seed=3))
    await wait_until(lambda: bool(refused))

    with pytest.MonkeyPatch.context() as share:
        hiccup = _failing_for(
            share, "iterdir", camera_dir, OSError(errno.EIO, "I/O error")
        )
        await wait_until(lambda: bool(hiccup))
        seen = len(scans)
        await wait_until(lambda: len(scans) >= seen + 2)
    # The folder can be listed again.
    seen = len(scans)
    await wait_until(lambda: len(scans) >= seen + 20)

    assert reads == [image]
    assert init_folder.runtime_data.source_counters["inbox_files"] == 1
