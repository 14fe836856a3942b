"""Evidence export: the published file survives a power cut and any name the folder takes."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path
import stat
import zipfile

import pytest

from custom_components.plate_tracker.store import SearchQuery, SightingStore

from .conftest import sighting

NAME_MAX = 255
"""The longest file name (in bytes) of ext4, XFS, Btrfs, FAT and exFAT alike."""


@pytest.mark.parametrize("hard_links", [True, False], ids=["links", "no_links"])
def test_export_syncs_its_folder_once_the_file_has_its_name(
    store: SightingStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    hard_links: bool,
) -> None:
    """The audit log says the export was written: after a power cut it must still be there.

    A file's data reaches the disk with the file's own fsync, but its name is
    an entry of the folder: until the folder is synced, a power cut can leave
    the folder without the name (the export's blocks orphaned), while the
    audit record of the export, committed by SQLite, survives.
    """
    if not hard_links:

        def no_link(source: object, target: object) -> None:
            raise OSError(errno.EPERM, "Operation not permitted")

        monkeypatch.setattr(os, "link", no_link)
    store.record(sighting(crop_jpeg=b"crop-1"))
    exports = tmp_path / "exports"
    exports.mkdir()
    dest = exports / "case.zip"
    folder = exports.stat()
    synced_folder_with_export: list[bool] = []
    fsync = os.fsync

    def watched_fsync(descriptor: int) -> None:
        described = os.fstat(descriptor)
        if stat.S_ISDIR(described.st_mode) and (
            described.st_dev,
            described.st_ino,
        ) == (folder.st_dev, folder.st_ino):
            synced_folder_with_export.append(dest.exists())
        fsync(descriptor)

    monkeypatch.setattr(os, "fsync", watched_fsync)
    report = store.export_zip(SearchQuery(), dest)

    assert True in synced_folder_with_export, "the folder never synced after publish"
    assert report.sha256 == hashlib.sha256(dest.read_bytes()).hexdigest()
    assert [p.name for p in exports.iterdir()] == ["case.zip"]


def test_an_export_whose_folder_cannot_be_synced_is_withdrawn(
    store: SightingStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk that fails to sync the folder fails the export, and leaves no unaudited file.

    The service audits only an export that succeeded: a file left under its
    name would be evidence that the audit log does not know of.
    """
    store.record(sighting())
    exports = tmp_path / "exports"
    exports.mkdir()
    fsync = os.fsync

    def failing_folder_fsync(descriptor: int) -> None:
        if stat.S_ISDIR(os.fstat(descriptor).st_mode):
            raise OSError(errno.EIO, "Input/output error")
        fsync(descriptor)

    monkeypatch.setattr(os, "fsync", failing_folder_fsync)
    with pytest.raises(OSError, match="Input/output error") as caught:
        store.export_zip(SearchQuery(), exports / "case.zip")
    assert caught.value.errno == errno.EIO
    assert list(exports.iterdir()) == []


@pytest.mark.parametrize("unsupported", [errno.EINVAL, errno.EOPNOTSUPP])
def test_a_folder_that_cannot_be_synced_at_all_still_takes_exports(
    store: SightingStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    unsupported: int,
) -> None:
    """Some file systems (network shares, FUSE) refuse to sync a folder at all: exporting still works there."""
    store.record(sighting())
    exports = tmp_path / "exports"
    exports.mkdir()
    fsync = os.fsync

    def folder_fsync_unsupported(descriptor: int) -> None:
        if stat.S_ISDIR(os.fstat(descriptor).st_mode):
            raise OSError(unsupported, os.strerror(unsupported))
        fsync(descriptor)

    monkeypatch.setattr(os, "fsync", folder_fsync_unsupported)
    report = store.export_zip(SearchQuery(), exports / "case.zip")
    assert report.sightings == 1
    assert [p.name for p in exports.iterdir()] == ["case.zip"]


def test_export_to_the_longest_name_the_folder_takes(
    store: SightingStore, tmp_path: Path
) -> None:
    """Any name the file system allows is a name an export can be written to.

    The file is written under a hidden name of its own first; made from the
    final name plus a suffix, it passed the 255-byte limit for a long final
    name and the export failed with a bare OSError.
    """
    stored, _ = store.record(sighting(crop_jpeg=b"crop-1"))
    exports = tmp_path / "exports"
    exports.mkdir()
    dest = exports / ("é" * ((NAME_MAX - len(".zip")) // 2) + ".zip")
    assert len(os.fsencode(dest.name)) > NAME_MAX - 20

    report = store.export_zip(SearchQuery(), dest)

    assert report.sha256 == hashlib.sha256(dest.read_bytes()).hexdigest()
    with zipfile.ZipFile(dest) as archive:
        assert archive.read(f"crops/{stored.id}.jpg") == b"crop-1"
    assert [p.name for p in exports.iterdir()] == [dest.name]
