"""The spool keeps sightings the database refused, on disk, in order (plain Python)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from custom_components.plate_tracker.records import Direction, NewSighting, Reader
from custom_components.plate_tracker.store.spool import (
    SightingSpool,
    SpoolWriteError,
    sighting_to_line,
)

T0 = datetime(2026, 11, 25, 20, 42, 7, tzinfo=UTC)


def sighting(plate: str, *, at: int = 0) -> NewSighting:
    """Return a Frigate sighting with every field set, images included."""
    return NewSighting(
        camera="exit_kyiv_road",
        seen_at=T0 + timedelta(seconds=at),
        plate=plate,
        raw=plate[:2] + " " + plate[2:],
        confidence=0.87,
        source="frigate",
        event_id=f"1764103327.1-{plate}",
        region="ua",
        box=(10, 20, 110, 45),
        direction=Direction.RECEDING,
        alternatives=(("AEI234BK", 0.05),),
        reader=Reader.NVR,
        crop_jpeg=b"\xff\xd8crop\xff\xd9",
        snapshot_jpeg=b"\xff\xd8snapshot\x00\xff\xd9",
    )


def test_spooled_sightings_survive_a_restart_complete_and_in_order(
    tmp_path: Path,
) -> None:
    """What the spool took is what a later start replays: every field, the images, the order."""
    path = tmp_path / "plate_tracker.spool.jsonl"
    spool = SightingSpool.open(path)
    first, second = sighting("AE1234BK"), sighting("KA7777OO", at=5)
    spool.append(first)
    spool.append(second)

    reopened = SightingSpool.open(path)
    assert reopened.entries == [first, second]
    assert [e.snapshot_jpeg for e in reopened.entries] == [
        first.snapshot_jpeg,
        second.snapshot_jpeg,
    ], "images are not compared by equality: check them too"
    assert reopened.entries[0].crop_jpeg == first.crop_jpeg


def test_a_line_spooled_before_the_reader_was_kept_is_the_engines(
    tmp_path: Path,
) -> None:
    """A spool written by the previous version is replayed after an upgrade, not skipped."""
    path = tmp_path / "plate_tracker.spool.jsonl"
    line = sighting_to_line(sighting("AE1234BK")).replace(',"reader":"nvr"', "")
    path.write_text(line + "\n", encoding="utf-8")
    (entry,) = SightingSpool.open(path).entries
    assert entry.reader is Reader.ENGINE
    assert entry.plate == "AE1234BK"


def test_a_line_cut_off_by_a_power_cut_is_skipped_and_counted(tmp_path: Path) -> None:
    """A torn last line must not cost the sightings before it, and is not dropped silently."""
    path = tmp_path / "plate_tracker.spool.jsonl"
    spool = SightingSpool.open(path)
    spool.append(sighting("AE1234BK"))
    with path.open("a", encoding="utf-8") as file:
        file.write('{"v":1,"camera":"exit')

    reopened = SightingSpool.open(path)
    assert [e.plate for e in reopened.entries] == ["AE1234BK"]
    assert reopened.unreadable_lines == 1


def test_stored_sightings_leave_the_spool_and_an_empty_spool_leaves_no_file(
    tmp_path: Path,
) -> None:
    """The file shrinks only by what the store took; once empty it is gone, so a restart replays nothing."""
    path = tmp_path / "plate_tracker.spool.jsonl"
    spool = SightingSpool.open(path)
    for plate in ("AE1234BK", "KA7777OO", "BC0001AA"):
        spool.append(sighting(plate))
    spool.drop_first(2)
    assert [e.plate for e in SightingSpool.open(path).entries] == ["BC0001AA"]
    spool.drop_first(1)
    assert not path.exists()
    assert len(SightingSpool.open(path)) == 0


def test_an_unwritable_spool_keeps_the_sighting_in_memory_until_it_can_write(
    tmp_path: Path,
) -> None:
    """When the disk refuses the spool too, the sighting stays in memory and reaches the file later."""
    blocker = tmp_path / "plate_tracker"
    path = blocker / "plate_tracker.spool.jsonl"
    spool = SightingSpool.open(path)
    # Root ignores file permissions; a file where the folder should be stops it too.
    blocker.write_text("a file where the folder should be")
    with pytest.raises(SpoolWriteError):
        spool.append(sighting("AE1234BK"))
    assert [e.plate for e in spool.entries] == ["AE1234BK"]
    assert spool.write_errors == 1

    blocker.unlink()
    spool.append(sighting("KA7777OO"))
    assert [e.plate for e in SightingSpool.open(path).entries] == [
        "AE1234BK",
        "KA7777OO",
    ]


def test_memory_is_bounded_while_the_spool_cannot_be_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A disk full for days must not exhaust Home Assistant's memory.

    What only memory holds loses images first, oldest first, then the oldest
    sightings; sightings the file already holds keep everything. Drops are
    counted and logged once per outage, and once when the file works again.
    """
    blocker = tmp_path / "plate_tracker"
    path = blocker / "plate_tracker.spool.jsonl"
    image_bytes = len(sighting("AE1234BK").crop_jpeg or b"") + len(
        sighting("AE1234BK").snapshot_jpeg or b""
    )
    spool = SightingSpool.open(
        path, memory_only_sightings=3, memory_only_image_bytes=2 * image_bytes
    )
    spool.append(sighting("AA0000AA"))
    path.unlink()
    blocker.rmdir()
    blocker.write_text("a file where the folder should be")
    for number in range(1, 6):
        with pytest.raises(SpoolWriteError):
            spool.append(sighting(f"AA000{number}AA", at=number))

    plates = [entry.plate for entry in spool.entries]
    assert plates == ["AA0000AA", "AA0003AA", "AA0004AA", "AA0005AA"]
    assert spool.memory_only == 3
    assert spool.sightings_dropped == 2
    with_images = [entry.snapshot_jpeg is not None for entry in spool.entries]
    assert with_images == [True, False, True, True], "durable one kept, oldest lost"
    assert spool.images_dropped == 3
    assert sum("images of the oldest" in r.getMessage() for r in caplog.records) == 1
    assert sum("are dropped from now on" in r.getMessage() for r in caplog.records) == 1

    blocker.unlink()
    spool.append(sighting("AA0006AA", at=6))
    assert spool.memory_only == 0
    assert [e.plate for e in SightingSpool.open(path).entries] == [*plates, "AA0006AA"]
    assert sum("is written again" in r.getMessage() for r in caplog.records) == 1
