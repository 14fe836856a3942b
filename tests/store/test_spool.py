"""The spool keeps sightings the database refused, on disk, in order (plain Python)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
import errno
import gc
import json
import logging
import os
from pathlib import Path
import tracemalloc

import pytest

from custom_components.plate_tracker.records import Direction, NewSighting, Reader
from custom_components.plate_tracker.store import spool as spool_module
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


def waiting(spool: SightingSpool) -> list[NewSighting]:
    """Return every sighting waiting in the spool, oldest first."""
    return spool.read(0, len(spool))


def refuse_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every flush to disk fail like a full disk, while reading still works."""

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(spool_module.os, "fsync", disk_full)


def test_spooled_sightings_survive_a_restart_complete_and_in_order(
    tmp_path: Path,
) -> None:
    """What the spool took is what a later start replays: every field, the images, the order."""
    path = tmp_path / "plate_tracker.spool.jsonl"
    spool = SightingSpool.open(path)
    # The second is a pass's later write: replayed, it still replaces the pass's sighting.
    first, second = (
        sighting("AE1234BK"),
        replace(sighting("KA7777OO", at=5), revises=True),
    )
    spool.append(first)
    spool.append(second)

    reopened = SightingSpool.open(path)
    assert waiting(reopened) == [first, second]
    assert [e.revises for e in waiting(reopened)] == [False, True]
    assert [e.snapshot_jpeg for e in waiting(reopened)] == [
        first.snapshot_jpeg,
        second.snapshot_jpeg,
    ], "images are not compared by equality: check them too"
    assert waiting(reopened)[0].crop_jpeg == first.crop_jpeg


def test_a_line_spooled_before_the_reader_was_kept_is_the_engines(
    tmp_path: Path,
) -> None:
    """A spool written by the previous version is replayed after an upgrade, not skipped."""
    path = tmp_path / "plate_tracker.spool.jsonl"
    line = (
        sighting_to_line(sighting("AE1234BK"))
        .replace(',"reader":"nvr"', "")
        .replace(',"revises":false', "")
    )
    assert '"revises"' not in line
    path.write_text(line + "\n", encoding="utf-8")
    (entry,) = waiting(SightingSpool.open(path))
    assert entry.reader is Reader.ENGINE
    assert entry.revises is False
    assert entry.plate == "AE1234BK"


def test_a_line_cut_off_by_a_power_cut_is_skipped_and_counted(tmp_path: Path) -> None:
    """A torn last line must not cost the sightings before it, and is not dropped silently."""
    path = tmp_path / "plate_tracker.spool.jsonl"
    spool = SightingSpool.open(path)
    spool.append(sighting("AE1234BK"))
    with path.open("a", encoding="utf-8") as file:
        file.write('{"v":1,"camera":"exit')

    reopened = SightingSpool.open(path)
    assert [e.plate for e in waiting(reopened)] == ["AE1234BK"]
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
    assert [e.plate for e in waiting(SightingSpool.open(path))] == ["BC0001AA"]
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
    assert [e.plate for e in waiting(spool)] == ["AE1234BK"]
    assert spool.write_errors == 1

    blocker.unlink()
    spool.append(sighting("KA7777OO"))
    assert [e.plate for e in waiting(SightingSpool.open(path))] == [
        "AE1234BK",
        "KA7777OO",
    ]


def test_memory_is_bounded_while_the_spool_cannot_be_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk full for days must not exhaust Home Assistant's memory.

    What only memory holds loses images first, oldest first, then the oldest
    sightings; sightings the file already holds keep everything. Drops are
    counted and logged once per outage, and once when the file works again.
    """
    path = tmp_path / "plate_tracker" / "plate_tracker.spool.jsonl"
    image_bytes = len(sighting("AE1234BK").crop_jpeg or b"") + len(
        sighting("AE1234BK").snapshot_jpeg or b""
    )
    spool = SightingSpool.open(
        path, memory_only_sightings=3, memory_only_image_bytes=2 * image_bytes
    )
    spool.append(sighting("AA0000AA"))
    refuse_fsync(monkeypatch)
    for number in range(1, 6):
        with pytest.raises(SpoolWriteError):
            spool.append(sighting(f"AA000{number}AA", at=number))

    plates = [entry.plate for entry in waiting(spool)]
    assert plates == ["AA0000AA", "AA0003AA", "AA0004AA", "AA0005AA"]
    assert spool.memory_only == 3
    assert spool.sightings_dropped == 2
    with_images = [entry.snapshot_jpeg is not None for entry in waiting(spool)]
    assert with_images == [True, False, True, True], "durable one kept, oldest lost"
    assert spool.images_dropped == 3
    assert spool.memory_image_bytes == 2 * image_bytes
    assert sum("images of the oldest" in r.getMessage() for r in caplog.records) == 1
    assert sum("are dropped from now on" in r.getMessage() for r in caplog.records) == 1

    monkeypatch.undo()
    spool.append(sighting("AA0006AA", at=6))
    assert spool.memory_only == 0
    assert spool.memory_image_bytes == 0
    assert [e.plate for e in waiting(SightingSpool.open(path))] == [*plates, "AA0006AA"]
    assert sum("is written again" in r.getMessage() for r in caplog.records) == 1


def big_sighting(number: int, image_bytes: int) -> NewSighting:
    """Return sighting ``number`` with a crop and a snapshot of its own, together ``image_bytes`` long."""
    return replace(
        sighting(f"AA{number:04d}AA", at=number),
        event_id=f"event-{number}",
        crop_jpeg=bytes([number % 251]) * (image_bytes // 4),
        snapshot_jpeg=bytes([(number + 1) % 251]) * (image_bytes - image_bytes // 4),
    )


def test_sightings_the_file_holds_are_not_kept_in_memory(tmp_path: Path) -> None:
    """An outage of hours at a busy city must not fill Home Assistant's memory with images.

    Once the file holds a sighting, memory does not; replay reads it back, in
    order and complete, a batch at a time.
    """
    path = tmp_path / "plate_tracker.spool.jsonl"
    count, image_bytes = 40, 256 * 1024
    spool = SightingSpool.open(path)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for number in range(count):
            spool.append(big_sighting(number, image_bytes))
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()

    assert len(spool) == count
    assert spool.memory_only == 0
    assert spool.memory_image_bytes == 0
    assert kept < count * image_bytes // 20, f"{kept} bytes kept for {count} sightings"

    replayed: list[NewSighting] = []
    while batch := spool.read(len(replayed), 7):
        assert len(batch) <= 7
        replayed.extend(batch)
    expected = [big_sighting(number, image_bytes) for number in range(count)]
    assert replayed == expected
    assert [(e.crop_jpeg, e.snapshot_jpeg) for e in replayed] == [
        (e.crop_jpeg, e.snapshot_jpeg) for e in expected
    ], "images are read back from the file"
    assert spool.memory_image_bytes == 0, "reading keeps nothing either"


def test_replay_goes_from_the_file_to_memory_and_skips_what_the_store_took(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sightings reach the store in the order they happened, each once, even when the disk fills mid-outage.

    File-held sightings come before those only memory holds; a spool that
    cannot be shortened still does not hand out again what the store took.
    """
    path = tmp_path / "plate_tracker.spool.jsonl"
    spool = SightingSpool.open(path)
    spool.append(sighting("AA0001AA", at=1))
    spool.append(sighting("AA0002AA", at=2))
    refuse_fsync(monkeypatch)
    for number in (3, 4):
        with pytest.raises(SpoolWriteError):
            spool.append(sighting(f"AA000{number}AA", at=number))

    first = spool.read(0, 3)
    assert [e.plate for e in first] == ["AA0001AA", "AA0002AA", "AA0003AA"]
    assert first[0].snapshot_jpeg == sighting("AA0001AA").snapshot_jpeg
    assert [e.plate for e in spool.read(3, 3)] == ["AA0004AA"]
    assert spool.read(4, 3) == []

    spool.drop_first(3)
    assert spool.write_errors == 3, "the shorter file could not be written"
    assert (len(spool), spool.memory_only) == (1, 1)
    assert [e.plate for e in waiting(spool)] == ["AA0004AA"]

    monkeypatch.undo()
    spool.append(sighting("AA0005AA", at=5))
    assert spool.memory_only == 0
    assert [e.plate for e in waiting(SightingSpool.open(path))] == [
        "AA0004AA",
        "AA0005AA",
    ]
    spool.drop_first(1)
    assert [e.plate for e in waiting(spool)] == ["AA0005AA"]
    assert [e.plate for e in waiting(SightingSpool.open(path))] == ["AA0005AA"]


def test_an_unreadable_line_is_logged_once_and_left_out_when_rewritten(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A damaged line must not cost its neighbours, nor flood the log at every replay."""
    path = tmp_path / "plate_tracker.spool.jsonl"
    lines = [sighting_to_line(sighting(p)) for p in ("AE1234BK", "KA7777OO")]
    path.write_text(f"{lines[0]}\nnot a sighting\n{lines[1]}\n", encoding="utf-8")

    spool = SightingSpool.open(path)
    assert spool.unreadable_lines == 1
    for _ in range(3):
        assert [e.plate for e in waiting(spool)] == ["AE1234BK", "KA7777OO"]
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1
    assert "line 2" in errors[0].getMessage()

    spool.append(sighting("BC0001AA"))
    assert spool.unreadable_lines == 1, "the count says what was lost"
    assert "not a sighting" not in path.read_text(encoding="utf-8")
    reopened = SightingSpool.open(path)
    assert reopened.unreadable_lines == 0
    assert [e.plate for e in waiting(reopened)] == ["AE1234BK", "KA7777OO", "BC0001AA"]


def test_an_image_that_does_not_decode_costs_the_image_not_the_sighting(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The plate, camera and time police rely on outlive a damaged picture."""
    path = tmp_path / "plate_tracker.spool.jsonl"
    kept = sighting("AE1234BK")
    damaged = sighting_to_line(sighting("KA7777OO", at=5)).replace(
        '"snapshot_jpeg":"', '"snapshot_jpeg":"#not base64#'
    )
    path.write_text(f"{sighting_to_line(kept)}\n{damaged}\n", encoding="utf-8")

    spool = SightingSpool.open(path)
    assert spool.unreadable_lines == 0
    first, second = waiting(spool)
    assert first == kept
    assert first.snapshot_jpeg == kept.snapshot_jpeg
    assert second.plate == "KA7777OO"
    assert second.snapshot_jpeg is None
    assert second.crop_jpeg == kept.crop_jpeg
    assert "kept without it" in caplog.text


def test_an_image_that_is_not_text_makes_the_line_unreadable(tmp_path: Path) -> None:
    """Open, which does not decode images, and replay agree on which lines are sightings."""
    path = tmp_path / "plate_tracker.spool.jsonl"
    lines = [
        sighting_to_line(sighting("AE1234BK")),
        sighting_to_line(sighting("KA7777OO")).replace(
            '"crop_jpeg":"', '"crop_jpeg":5,"was":"'
        ),
        sighting_to_line(sighting("BC0001AA")),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    spool = SightingSpool.open(path)
    assert spool.unreadable_lines == 1
    assert len(spool) == 2
    assert [e.plate for e in waiting(spool)] == ["AE1234BK", "BC0001AA"]
    assert [e.plate for e in spool.read(1, 1)] == ["BC0001AA"]


def test_open_checks_lines_without_decoding_their_images(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Decoding took most of the time open spent on a spool of gigabytes; replay decodes."""
    path = tmp_path / "plate_tracker.spool.jsonl"
    SightingSpool.open(path).append(sighting("AE1234BK"))
    decoded: list[str] = []
    b64decode = spool_module.base64.b64decode

    def counting(text: str, *, validate: bool = False) -> bytes:
        decoded.append(text)
        return b64decode(text, validate=validate)

    monkeypatch.setattr(spool_module.base64, "b64decode", counting)
    spool = SightingSpool.open(path)
    assert decoded == []
    assert waiting(spool)[0].snapshot_jpeg == sighting("AE1234BK").snapshot_jpeg
    assert len(decoded) == 2


def test_a_sighting_spooled_after_a_power_cut_is_not_swallowed_by_the_torn_line(
    tmp_path: Path,
) -> None:
    """Appending to a line cut off mid-write would make the new sighting unreadable too."""
    path = tmp_path / "plate_tracker.spool.jsonl"
    spool = SightingSpool.open(path)
    spool.append(sighting("AE1234BK"))
    with path.open("a", encoding="utf-8") as file:
        file.write('{"v":1,"camera":"exit')

    after_power_cut = SightingSpool.open(path)
    after_power_cut.append(sighting("KA7777OO", at=5))
    reopened = SightingSpool.open(path)
    assert reopened.unreadable_lines == 0
    assert [e.plate for e in waiting(reopened)] == ["AE1234BK", "KA7777OO"]


def test_a_spool_file_that_lost_lines_is_replayed_for_what_it_still_has(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file removed behind the spool's back must not stall replay nor hide the sightings only memory holds."""
    path = tmp_path / "plate_tracker.spool.jsonl"
    spool = SightingSpool.open(path)
    spool.append(sighting("AE1234BK"))
    spool.append(sighting("KA7777OO", at=5))
    refuse_fsync(monkeypatch)
    with pytest.raises(SpoolWriteError):
        spool.append(sighting("BC0001AA", at=9))
    path.unlink()

    assert [e.plate for e in spool.read(0, 5)] == ["BC0001AA"]
    assert (len(spool), spool.memory_only) == (1, 1)
    assert sum("lost 2 sightings" in r.getMessage() for r in caplog.records) == 1


def test_an_image_with_a_character_that_is_not_ascii_costs_the_image_not_the_sighting(
    tmp_path: Path,
) -> None:
    """A damaged byte that is still valid UTF-8 must not cost the plate, camera and time either.

    base64 refuses such a character with a plain ValueError, not binascii.Error:
    open counted the line as a sighting, and replay skipped it as lost.
    """
    path = tmp_path / "plate_tracker.spool.jsonl"
    damaged = sighting_to_line(sighting("AE1234BK")).replace(
        '"snapshot_jpeg":"', '"snapshot_jpeg":"\\u00e9'
    )
    path.write_text(
        f"{damaged}\n{sighting_to_line(sighting('KA7777OO', at=5))}\n",
        encoding="utf-8",
    )

    spool = SightingSpool.open(path)
    first, second = waiting(spool)
    assert (first.plate, first.snapshot_jpeg) == ("AE1234BK", None)
    assert first.crop_jpeg == sighting("AE1234BK").crop_jpeg
    assert second.plate == "KA7777OO"
    assert len(spool) == 2


def test_taken_sightings_are_marked_where_they_are_not_copied(tmp_path: Path) -> None:
    """Replay drops a batch at a time: copying the rest of a spool of gigabytes for each batch would write it over and over.

    What the store took is marked taken in place and never replayed after a
    restart; the file is rewritten only once the taken lines are most of it,
    and goes once nothing waits.
    """
    path = tmp_path / "plate_tracker.spool.jsonl"
    spool = SightingSpool.open(path)
    plates = [f"AA{number:04d}AA" for number in range(10)]
    for number, plate in enumerate(plates):
        spool.append(sighting(plate, at=number))
    size, inode = path.stat().st_size, path.stat().st_ino

    spool.drop_first(3)
    assert (path.stat().st_size, path.stat().st_ino) == (size, inode), "not copied"
    assert [e.plate for e in waiting(spool)] == plates[3:]
    reopened = SightingSpool.open(path)
    assert reopened.unreadable_lines == 0, "taken lines are no damage"
    assert [e.plate for e in waiting(reopened)] == plates[3:]

    reopened.drop_first(1)
    reopened.append(sighting("BC0001AA", at=20))
    assert path.stat().st_ino == inode, "appended, not rewritten"
    reopened.drop_first(2)
    assert path.stat().st_ino != inode, "rewritten once most of it was taken"
    assert path.stat().st_size < size
    assert [e.plate for e in waiting(SightingSpool.open(path))] == [
        *plates[6:],
        "BC0001AA",
    ]
    reopened.drop_first(5)
    assert not path.exists()


def test_a_sighting_set_aside_is_kept_with_why_in_a_file_of_its_own(
    tmp_path: Path,
) -> None:
    """A sighting the store refuses for good is not lost: it can be given to the store again once that takes it."""
    path = tmp_path / "plate_tracker.spool.jsonl"
    spool = SightingSpool.open(path)
    refused = replace(sighting("AE1234BK"), raw="AE\ud8001234BK")
    spool.set_aside(refused, "UnicodeEncodeError: surrogates not allowed")
    spool.set_aside(sighting("KA7777OO"), "StoreValidationError: invalid_plate")

    assert spool.set_aside_path == tmp_path / "plate_tracker.spool.refused.jsonl"
    assert not path.exists(), "the spool itself is not touched"
    lines = spool.set_aside_path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["refused"] for line in lines] == [
        "UnicodeEncodeError: surrogates not allowed",
        "StoreValidationError: invalid_plate",
    ]
    # Moved back into the spool file, the lines are replayed as they were.
    spool.set_aside_path.replace(path)
    kept = waiting(SightingSpool.open(path))
    assert kept == [refused, sighting("KA7777OO")]
    assert kept[0].snapshot_jpeg == refused.snapshot_jpeg


def test_a_sighting_set_aside_after_a_torn_line_is_not_swallowed_by_it(
    tmp_path: Path,
) -> None:
    """A set-aside cut off by a power cut or a full disk must not cost the next sighting set aside.

    Appended to a line without its newline, the next sighting would join it in
    one line that is no sighting: moved back into the spool, it would be
    skipped as damage, and the sighting lost for good.
    """
    path = tmp_path / "plate_tracker.spool.jsonl"
    spool = SightingSpool.open(path)
    spool.set_aside(sighting("AE1234BK"), "StoreValidationError: invalid_plate")
    with spool.set_aside_path.open("a", encoding="utf-8") as file:
        file.write('{"v":1,"camera":"exit')

    spool.set_aside(sighting("KA7777OO", at=5), "StoreValidationError: invalid_plate")
    spool.set_aside_path.replace(path)
    reopened = SightingSpool.open(path)
    assert [e.plate for e in waiting(reopened)] == ["AE1234BK", "KA7777OO"]


def test_a_rewrite_the_disk_refuses_leaves_no_copy_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spool is written when the disk is full; a half-written copy of it would keep it full.

    That copy can be as large as the spool (gigabytes after an outage) and
    takes the room the database needs to take the sightings again.
    """
    path = tmp_path / "plate_tracker.spool.jsonl"
    spool = SightingSpool.open(path)
    spool.append(sighting("AE1234BK"))
    refuse_fsync(monkeypatch)
    with pytest.raises(SpoolWriteError):
        spool.append(sighting("KA7777OO", at=5))
    with pytest.raises(SpoolWriteError):
        spool.append(sighting("BC0001AA", at=9))  # rewrites the file: refused too

    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    monkeypatch.undo()
    spool.append(sighting("AA0006AA", at=6))
    assert [e.plate for e in waiting(SightingSpool.open(path))] == [
        "AE1234BK",
        "KA7777OO",
        "BC0001AA",
        "AA0006AA",
    ]
