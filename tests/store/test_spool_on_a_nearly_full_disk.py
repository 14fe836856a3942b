"""The spool catches up on a disk with room for the lines it adds, not for a copy of itself.

A long outage spools gigabytes. Copying all of it to a temporary file to take
in the sightings a failed write left in memory needs as much free room again:
on a disk with room for the next sightings but not for that copy, every later
sighting waited in memory only, the oldest were dropped beyond the bound and a
restart lost all of them.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
import shutil
from typing import NamedTuple

import pytest

from custom_components.plate_tracker.store import spool as spool_module
from custom_components.plate_tracker.store.spool import (
    SightingSpool,
    SpoolWriteError,
    sighting_to_line,
)

from .test_spool import big_sighting, sighting, waiting

SPOOLED = 40
IMAGE_BYTES = 48 * 1024


class DiskUsage(NamedTuple):
    """What ``shutil.disk_usage`` returns."""

    total: int
    used: int
    free: int


class NearlyFullDisk:
    """A disk of ``capacity`` bytes holding only the files under ``root``.

    A flush to disk (``os.fsync``) fails as ENOSPC while those files are
    larger than the disk, as a write the disk has no room for does; the bytes
    written stay in the file, as the part of a write that fitted does.
    ``shutil.disk_usage`` reports the same free room.
    """

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Start with a disk exactly full."""
        self.root = root
        self.capacity = self.used()
        fsync = os.fsync
        disk_usage = shutil.disk_usage

        def fsync_if_room(fd: int) -> None:
            if self.used() > self.capacity:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            fsync(fd)

        def usage(path: str | os.PathLike[str]) -> DiskUsage:
            if not Path(path).is_relative_to(root):
                return DiskUsage(*disk_usage(path))
            return DiskUsage(self.capacity, self.used(), self.capacity - self.used())

        monkeypatch.setattr(spool_module.os, "fsync", fsync_if_room)
        monkeypatch.setattr(shutil, "disk_usage", usage)

    def used(self) -> int:
        """Return the bytes the files under the root take."""
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())

    def make_room(self, size: int) -> None:
        """Free ``size`` bytes beyond what the files take now (the database shrank)."""
        self.capacity = self.used() + size


def line_bytes(number: int) -> int:
    """Return the length of ``big_sighting(number)``'s spool line."""
    return len(sighting_to_line(big_sighting(number, IMAGE_BYTES))) + 1


def spool_of(path: Path, count: int) -> SightingSpool:
    """Return a spool holding ``count`` sightings with images, written while the disk had room."""
    spool = SightingSpool.open(path)
    for number in range(count):
        spool.append(big_sighting(number, IMAGE_BYTES))
    return spool


def test_after_a_failed_write_the_spool_needs_room_for_new_lines_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk with room for the next sightings takes them, even though it has none for a copy of the spool.

    The sighting the failed write left in memory goes to the file with the
    next one, after the last line known good, and the order holds.
    """
    path = tmp_path / "plate_tracker" / "plate_tracker.spool.jsonl"
    spool = spool_of(path, SPOOLED)
    disk = NearlyFullDisk(tmp_path, monkeypatch)
    with pytest.raises(SpoolWriteError):
        spool.append(big_sighting(SPOOLED, IMAGE_BYTES))
    assert spool.memory_only == 1

    later = range(SPOOLED + 1, SPOOLED + 4)
    room = sum(line_bytes(number) for number in (SPOOLED, *later))
    assert room < path.stat().st_size // 5, "the disk has no room for a copy"
    disk.make_room(room)
    for number in later:
        spool.append(big_sighting(number, IMAGE_BYTES))

    assert (spool.memory_only, spool.write_errors) == (0, 1)
    expected = [big_sighting(number, IMAGE_BYTES) for number in range(SPOOLED + 4)]
    reopened = SightingSpool.open(path)
    assert reopened.unreadable_lines == 0
    assert waiting(reopened) == expected
    assert [e.snapshot_jpeg for e in waiting(reopened)] == [
        e.snapshot_jpeg for e in expected
    ]


def test_a_write_the_disk_refuses_leaves_no_part_of_it_in_the_spool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The part of a line a full disk took would keep the disk full, and take the room the next sightings need."""
    path = tmp_path / "plate_tracker" / "plate_tracker.spool.jsonl"
    spool = spool_of(path, 3)
    size = path.stat().st_size
    NearlyFullDisk(tmp_path, monkeypatch)
    for number in (3, 4):
        with pytest.raises(SpoolWriteError):
            spool.append(big_sighting(number, IMAGE_BYTES))
        assert path.stat().st_size == size
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_a_line_torn_by_a_power_cut_is_cut_away_without_a_copy_of_the_spool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a power cut mid-write, the next sighting needs room for itself only.

    The torn line is counted once, and no good line before it is lost.
    """
    path = tmp_path / "plate_tracker" / "plate_tracker.spool.jsonl"
    spool_of(path, SPOOLED)
    with path.open("a", encoding="utf-8") as file:
        file.write(sighting_to_line(big_sighting(SPOOLED, IMAGE_BYTES))[:5000])

    after_power_cut = SightingSpool.open(path)
    assert (len(after_power_cut), after_power_cut.unreadable_lines) == (SPOOLED, 1)
    disk = NearlyFullDisk(tmp_path, monkeypatch)
    disk.make_room(line_bytes(SPOOLED + 1))
    after_power_cut.append(big_sighting(SPOOLED + 1, IMAGE_BYTES))

    assert after_power_cut.memory_only == 0
    reopened = SightingSpool.open(path)
    assert reopened.unreadable_lines == 0
    assert waiting(reopened) == [
        *(big_sighting(number, IMAGE_BYTES) for number in range(SPOOLED)),
        big_sighting(SPOOLED + 1, IMAGE_BYTES),
    ]


def test_a_last_line_cut_off_before_its_newline_only_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A power cut can take just the newline: the sighting is whole and must not be cut away with it."""
    path = tmp_path / "plate_tracker" / "plate_tracker.spool.jsonl"
    spool_of(path, 2)
    with path.open("rb+") as file:
        file.truncate(path.stat().st_size - 1)

    after_power_cut = SightingSpool.open(path)
    assert (len(after_power_cut), after_power_cut.unreadable_lines) == (2, 0)
    disk = NearlyFullDisk(tmp_path, monkeypatch)
    disk.make_room(1 + line_bytes(2))
    after_power_cut.append(big_sighting(2, IMAGE_BYTES))

    reopened = SightingSpool.open(path)
    assert reopened.unreadable_lines == 0
    assert waiting(reopened) == [big_sighting(n, IMAGE_BYTES) for n in range(3)]


def test_an_unreadable_line_waits_for_room_to_be_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A damaged line is left out by a copy of the spool only once the disk has room for it; sightings come first."""
    path = tmp_path / "plate_tracker" / "plate_tracker.spool.jsonl"
    spool_of(path, SPOOLED)
    with path.open("a", encoding="utf-8") as file:
        file.write("not a sighting\n")
    damaged = SightingSpool.open(path)
    assert damaged.unreadable_lines == 1

    disk = NearlyFullDisk(tmp_path, monkeypatch)
    disk.make_room(line_bytes(SPOOLED))
    damaged.append(big_sighting(SPOOLED, IMAGE_BYTES))
    assert (damaged.memory_only, damaged.write_errors) == (0, 0)
    assert "not a sighting" in path.read_text(encoding="utf-8"), "no room to copy"
    assert len(SightingSpool.open(path)) == SPOOLED + 1

    disk.make_room(4 * path.stat().st_size)
    damaged.append(sighting("BC0001AA", at=SPOOLED + 1))
    assert "not a sighting" not in path.read_text(encoding="utf-8")
    reopened = SightingSpool.open(path)
    assert reopened.unreadable_lines == 0
    assert waiting(reopened) == [
        *(big_sighting(number, IMAGE_BYTES) for number in range(SPOOLED + 1)),
        sighting("BC0001AA", at=SPOOLED + 1),
    ]


def test_replay_moves_sightings_from_memory_to_the_file_without_a_copy_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replay takes in a failed write's sightings as the store takes a batch, on a disk with room for them only.

    What the store took is marked taken and never handed out again; the rest
    keeps its order, in the file.
    """
    path = tmp_path / "plate_tracker" / "plate_tracker.spool.jsonl"
    spool = spool_of(path, SPOOLED)
    disk = NearlyFullDisk(tmp_path, monkeypatch)
    with pytest.raises(SpoolWriteError):
        spool.append(big_sighting(SPOOLED, IMAGE_BYTES))

    disk.make_room(line_bytes(SPOOLED))
    assert [e.plate for e in spool.read(0, 3)] == [
        big_sighting(number, IMAGE_BYTES).plate for number in range(3)
    ]
    spool.drop_first(3)

    assert (spool.memory_only, spool.write_errors) == (0, 1)
    expected = [big_sighting(n, IMAGE_BYTES) for n in range(3, SPOOLED + 1)]
    assert waiting(spool) == expected
    assert waiting(SightingSpool.open(path)) == expected
