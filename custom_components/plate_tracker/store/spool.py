"""A durable spool for sightings the database could not take.

Plain Python, no Home Assistant imports. When a write to the sightings store
fails (disk full, a locked or read-only database), the sighting is appended as
one JSON line to a file next to the database and flushed to disk before the
caller goes on, so a restart or a power cut loses nothing that was spooled.
Entries are replayed in the order they were spooled. What the store took is
marked taken where it is in the file (one byte over the line's first, flushed
to disk), a batch at a time, so that a restart does not replay it; the rest is
not copied for that, or a spool of gigabytes would be written again for every
batch. The file goes once nothing waits in it, and is rewritten without the
taken lines once they are more than half of it, if the disk has room for that
copy (see ``_compact``).

A sighting the store refuses for what it holds, not for its state (a text it
cannot encode, a plate it does not accept), would be refused at every replay
and hold up all after it: it is set aside in a file of its own next to the
spool (``set_aside``), in the same format with the reason added, so that it is
not lost and can be given to the store again once that takes it.

What the file holds is not kept in memory: an outage of hours at a busy city
spools gigabytes of images, so replay reads the file again, a batch at a time
(``read``, blocking). Only a sighting the file could not take (the disk is full
for it too) waits in memory, so that nothing is lost while Home Assistant runs,
and goes to the file with the next write that works. That write starts after
the file's last line known good, cutting away what a failed write or a power
cut left after it: it needs room for the lines it adds only, never for a copy
of the file, which after a long outage the disk may not have. That memory is bounded:
the oldest of those sightings lose their images once they pass
``MEMORY_ONLY_IMAGE_BYTES``, and beyond ``MEMORY_ONLY_SIGHTINGS`` the oldest are
dropped; both are counted and logged.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
import contextlib
from dataclasses import replace
from datetime import datetime
import json
import logging
import os
from pathlib import Path
import shutil
from typing import Any

from ..records import Direction, NewSighting, Reader

_LOGGER = logging.getLogger(__name__)

SPOOL_FORMAT = 1
_TAKEN = b"#"
"""The first byte of a line the store took, written over the line's ``{``."""
MEMORY_ONLY_SIGHTINGS = 5000
"""Sightings kept while the spool file cannot be written; a text-only one is about 1 kB."""
MEMORY_ONLY_IMAGE_BYTES = 64 * 1024 * 1024
"""Images of those sightings kept in memory; a snapshot is typically 100-500 kB."""


class SpoolWriteError(OSError):
    """The spool file could not be written; the entry is kept in memory only."""


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _image_text(value: object) -> str | None:
    """Check a spooled image field: base64 text, or None for no image."""
    if value is not None and not isinstance(value, str):
        raise TypeError(f"an image is {type(value).__name__}, not base64 text")
    return value


def _unb64(value: object) -> bytes | None:
    """Decode a spooled image; one that does not decode is dropped, not its sighting."""
    text = _image_text(value)
    if text is None:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as err:
        # binascii.Error for a bad character or length, a plain ValueError for
        # one that is not ASCII (a damaged byte that is still valid UTF-8).
        _LOGGER.warning(
            "A spooled sighting's image cannot be decoded (%s): it is kept without it",
            err,
        )
        return None


def sighting_to_line(new: NewSighting, **extra: str) -> str:
    """Return one spool line (JSON, no newline inside) for a sighting.

    ``extra`` fields are written after the sighting's; reading ignores them.
    """
    return json.dumps(
        {
            "v": SPOOL_FORMAT,
            "camera": new.camera,
            "seen_at": new.seen_at.isoformat(),
            "plate": new.plate,
            "raw": new.raw,
            "confidence": new.confidence,
            "source": new.source,
            "event_id": new.event_id,
            "region": new.region,
            "box": list(new.box) if new.box is not None else None,
            "direction": new.direction.value,
            "alternatives": [list(pair) for pair in new.alternatives],
            "reader": new.reader.value,
            "revises": new.revises,
            "crop_jpeg": _b64(new.crop_jpeg),
            "snapshot_jpeg": _b64(new.snapshot_jpeg),
            **extra,
        },
        separators=(",", ":"),
    )


def sighting_from_line(line: str, *, images: bool = True) -> NewSighting:
    """Parse a spool line; raise ValueError for a line that is not one.

    Without ``images`` the image fields are only checked, not decoded, and
    left out: that is how ``SightingSpool.open`` checks a file of gigabytes.
    Whether a line is a sighting does not depend on them (an image that does
    not decode is dropped from its sighting), so both ways agree on that.
    """
    decode = _unb64 if images else _skip_image
    try:
        data: dict[str, Any] = json.loads(line)
        if data.get("v") != SPOOL_FORMAT:
            raise ValueError(f"unknown spool format {data.get('v')!r}")
        box = data["box"]
        return NewSighting(
            camera=data["camera"],
            seen_at=datetime.fromisoformat(data["seen_at"]),
            plate=data["plate"],
            raw=data["raw"],
            confidence=float(data["confidence"]),
            source=data["source"],
            event_id=data["event_id"],
            region=data["region"],
            box=(box[0], box[1], box[2], box[3]) if box is not None else None,
            direction=Direction(data["direction"]),
            alternatives=tuple(
                (str(text), float(score)) for text, score in data["alternatives"]
            ),
            # Lines spooled before the reader was kept were all the engine's.
            reader=Reader(data.get("reader", Reader.ENGINE)),
            # A pass's later write replaces its sighting when replayed too.
            revises=data.get("revises") is True,
            crop_jpeg=decode(data["crop_jpeg"]),
            snapshot_jpeg=decode(data["snapshot_jpeg"]),
        )
    except (KeyError, TypeError, IndexError, AttributeError) as err:
        raise ValueError(f"not a spooled sighting: {err!r}") from err


def _skip_image(value: object) -> None:
    _image_text(value)


def _passed_over(line: bytes) -> bool:
    """Return whether a line of the file is no waiting sighting by its look: blank or taken."""
    return not line.strip() or line.startswith(_TAKEN)


def _parse(line: bytes, *, images: bool = True) -> NewSighting:
    """Parse a raw spool line; raise ValueError for one that is not a sighting."""
    return sighting_from_line(line.decode("utf-8"), images=images)


def _image_bytes(new: NewSighting) -> int:
    return len(new.crop_jpeg or b"") + len(new.snapshot_jpeg or b"")


def _fsync_dir(path: Path) -> None:
    """Make a file's creation, rename or removal itself durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SightingSpool:
    """Sightings waiting for the store, oldest first, kept in a JSON-lines file.

    Positions count the waiting sightings, oldest first: those the file holds,
    then those only memory holds. Not thread-safe: one caller at a time (the
    pipeline's worker).
    """

    SET_ASIDE_SUFFIX = ".refused"
    """Put before the spool file's suffix to name the file of sightings set aside."""

    def __init__(
        self,
        path: Path,
        *,
        memory_only_sightings: int = MEMORY_ONLY_SIGHTINGS,
        memory_only_image_bytes: int = MEMORY_ONLY_IMAGE_BYTES,
    ) -> None:
        """Use the spool file at ``path``; ``open`` reads what it holds."""
        self.path = path
        self.set_aside_path = path.with_suffix(self.SET_ASIDE_SUFFIX + path.suffix)
        """Where sightings the store refuses for good are kept (``set_aside``)."""
        self._on_file = 0
        """Waiting sightings the file holds (readable lines from ``_start`` on)."""
        self._start = 0
        """Byte offset of the file's first waiting line: before it, only lines the
        store took (marked taken, or about to be left out by a rewrite), lines
        that are no sightings and blank ones."""
        self._good_end = 0
        """Byte offset after the file's last line known good (whole and on disk):
        what follows it is a write that failed or was cut off, and goes."""
        self._memory: list[NewSighting] = []
        """Waiting sightings the file could not take, after those it holds."""
        self._file_lost_lines = False
        """The file lost lines it held (changed or removed behind the spool's
        back): offsets into it are not to be trusted, the next write rewrites it."""
        self._compact_wanted = False
        """The file holds lines that are no waiting sightings beyond those
        before ``_start`` (damaged ones, taken ones whose mark may not be on
        disk): they are left out once the disk has room for a copy."""
        self._resume: tuple[int, int] | None = None
        """Where the last ``read`` stopped in the file: position and byte offset."""
        self._memory_only_sightings = memory_only_sightings
        self._memory_only_image_bytes = memory_only_image_bytes
        self.unreadable_lines = 0
        """Lines of the file that were not sightings (a write cut off by a power cut)."""
        self.write_errors = 0
        self.images_dropped = 0
        """Sightings that lost their images because only memory held them."""
        self.sightings_dropped = 0
        """Sightings lost because only memory held them and it was full."""
        self._dropped_since_file_written = (0, 0)

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        memory_only_sightings: int = MEMORY_ONLY_SIGHTINGS,
        memory_only_image_bytes: int = MEMORY_ONLY_IMAGE_BYTES,
    ) -> SightingSpool:
        """Return the spool at ``path`` with the sightings it holds from an earlier run.

        Blocking. Every line is checked once here, one at a time (its images
        only for being text: decoding them took most of the time); an unreadable
        one is counted and logged now, skipped by every later read and left out
        when the file is next rewritten. Lines marked taken are passed over.
        """
        spool = cls(
            path,
            memory_only_sightings=memory_only_sightings,
            memory_only_image_bytes=memory_only_image_bytes,
        )
        try:
            file = path.open("rb")
        except FileNotFoundError:
            return spool
        offset = 0
        with file:
            for number, line in enumerate(file, start=1):
                at, offset = offset, offset + len(line)
                # Only the last line can lack its newline: a write cut off by a
                # power cut, which the next write cuts away. One cut off just
                # before its newline is a whole sighting and kept.
                whole = line.endswith(b"\n")
                if _passed_over(line):
                    if whole:
                        spool._good_end = offset
                    continue
                try:
                    _parse(line, images=False)
                except ValueError as err:
                    spool.unreadable_lines += 1
                    if whole:
                        spool._good_end = offset
                        spool._compact_wanted = True
                    _LOGGER.error(  # noqa: TRY400 - the cause is in the message; a trace adds nothing
                        "Spooled sighting on line %s of %s cannot be read and is skipped: %s",
                        number,
                        path,
                        err,
                    )
                else:
                    if not spool._on_file:
                        spool._start = at
                    spool._on_file += 1
                    spool._good_end = offset
        return spool

    def __len__(self) -> int:
        """Sightings waiting."""
        return self._on_file + len(self._memory)

    @property
    def memory_only_limit(self) -> int:
        """Sightings kept at most while only memory holds them."""
        return self._memory_only_sightings

    @property
    def memory_only(self) -> int:
        """Sightings only memory holds: a restart now would lose them."""
        return len(self._memory)

    @property
    def memory_image_bytes(self) -> int:
        """Image bytes held in memory: only those of sightings the file could not take."""
        return sum(_image_bytes(new) for new in self._memory)

    def read(self, start: int, limit: int) -> list[NewSighting]:
        """Return up to ``limit`` waiting sightings from position ``start``, oldest first.

        Blocking: those the file holds are read from it, images included, and
        not kept. Reading on from where the last read stopped does not read the
        file from its start again.
        """
        batch: list[NewSighting] = []
        if start < self._on_file:
            wanted = min(limit, self._on_file - start)
            for _, new, end in self._file_lines(start, wanted):
                batch.append(new)
                self._resume = (start + len(batch), end)
            if len(batch) < wanted:
                self._lost_from_file(start + len(batch))
        if start + len(batch) >= self._on_file:
            first = start + len(batch) - self._on_file
            batch.extend(self._memory[first : first + limit - len(batch)])
        return batch

    def _file_lines(
        self, start: int, count: int, *, images: bool = True
    ) -> Iterator[tuple[bytes, NewSighting, int]]:
        """Yield up to ``count`` waiting sightings of the file from position ``start``.

        Each comes as its raw line, parsed (``images`` as ``sighting_from_line``),
        and with the byte offset after it.
        """
        if count <= 0:
            return
        if self._resume is not None and self._resume[0] == start:
            offset, skip = self._resume[1], 0
        else:
            offset, skip = self._start, start
        try:
            file = self.path.open("rb")
        except FileNotFoundError:
            return
        with file:
            file.seek(offset)
            for line in file:
                offset += len(line)
                if _passed_over(line):
                    continue
                try:
                    new = _parse(line, images=images)
                except ValueError:
                    # Counted and logged by open(), or a write that failed and is retried.
                    continue
                if skip:
                    skip -= 1
                    continue
                yield line, new, offset
                count -= 1
                if not count:
                    return

    def _lost_from_file(self, held: int) -> None:
        """Go on with the ``held`` sightings the file still has, saying that it lost the rest."""
        _LOGGER.error(
            "The spool %s lost %s sightings it held (was it changed or removed?)",
            self.path,
            self._on_file - held,
        )
        self._on_file = held
        self._resume = None
        self._file_lost_lines = True

    def append(self, new: NewSighting) -> None:
        """Keep a sighting; it is on disk when this returns without SpoolWriteError.

        Sightings only memory holds go to the file first, in the same write.
        """
        try:
            self._write_memory_and(new)
        except OSError as err:
            self._memory.append(new)
            self.write_errors += 1
            self._bound_memory()
            raise SpoolWriteError(err.errno, f"spool {self.path}: {err}") from err
        if self._compact_wanted:
            try:
                self._compact()
            except OSError as err:
                # The sighting is on disk: the copy is tried again later.
                self.write_errors += 1
                _LOGGER.warning("Could not shorten the spool %s: %s", self.path, err)

    def _write_memory_and(self, new: NewSighting | None = None) -> None:
        """Put the sightings only memory holds, then ``new``, into the file; on disk when this returns.

        They are appended after the file's last line known good; only a file
        that lost lines behind the spool's back is rewritten from what it
        still has (it is small or gone then).
        """
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = 0
        if self._file_lost_lines or size < self._good_end:
            self._rewrite(new)
            return
        waiting = [*self._memory, *([new] if new is not None else [])]
        if not waiting:
            return
        data = b"".join(
            (sighting_to_line(one) + "\n").encode("utf-8") for one in waiting
        )
        created = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Unbuffered, so that nothing is left to flush once a failed write is
        # cut away; appending, so that writes go after the cut.
        with self.path.open("a+b", buffering=0) as file:
            # A failed write's line (its sighting is in memory, so among
            # ``waiting``) or a line cut off by a power cut would swallow the
            # next one appended to it, or be replayed twice.
            file.truncate(self._good_end)
            if self._good_end:
                file.seek(self._good_end - 1)
                if file.read(1) != b"\n":
                    data = b"\n" + data
            try:
                view = memoryview(data)
                while view:
                    view = view[file.write(view) :]
                os.fsync(file.fileno())
            except BaseException:
                # The part a full disk took would hold the room the next write needs.
                with contextlib.suppress(OSError):
                    file.truncate(self._good_end)
                raise
        if created:
            _fsync_dir(self.path.parent)
        self._good_end += len(data)
        self._on_file += len(waiting)
        self._memory.clear()
        self._memory_written()

    def _bound_memory(self) -> None:
        """Keep what only memory holds within bounds: images go first, then the oldest."""
        images = self.memory_image_bytes
        index = 0
        images_dropped = 0
        while images > self._memory_only_image_bytes and index < len(self._memory):
            new = self._memory[index]
            if new.crop_jpeg is not None or new.snapshot_jpeg is not None:
                images -= _image_bytes(new)
                self._memory[index] = replace(new, crop_jpeg=None, snapshot_jpeg=None)
                images_dropped += 1
            index += 1
        excess = len(self._memory) - self._memory_only_sightings
        if excess > 0:
            del self._memory[:excess]
            self.sightings_dropped += excess
            if self._dropped_since_file_written[1] == 0:
                _LOGGER.error(
                    "The spool %s cannot be written and %s sightings wait in memory:"
                    " the oldest of them are dropped from now on",
                    self.path,
                    self._memory_only_sightings,
                )
        if images_dropped:
            self.images_dropped += images_dropped
            if self._dropped_since_file_written[0] == 0:
                _LOGGER.warning(
                    "The spool %s cannot be written: images of the oldest sightings"
                    " waiting in memory are dropped to keep them within %s MB;"
                    " plate, time and camera are kept",
                    self.path,
                    self._memory_only_image_bytes // (1024 * 1024),
                )
        self._dropped_since_file_written = (
            self._dropped_since_file_written[0] + images_dropped,
            self._dropped_since_file_written[1] + max(excess, 0),
        )

    def drop_first(self, count: int) -> None:
        """Forget the ``count`` oldest sightings (the store has them now); blocking.

        Their lines are marked taken in the file and flushed to disk before
        this returns. The file is removed once nothing waits; sightings only
        memory holds are appended to it (see ``append``); it is rewritten
        without the taken lines once they are more than half of it, if the
        disk has room for that copy (``_compact``).
        """
        from_file = min(count, self._on_file)
        taken = [
            (end - len(line), end)
            for line, _, end in self._file_lines(0, from_file, images=False)
        ]
        if taken:
            self._start = taken[-1][1]
        if len(taken) < from_file:
            self._file_lost_lines = True
        self._on_file -= from_file
        del self._memory[: count - from_file]
        if self._resume is not None and self._resume[0] >= from_file:
            self._resume = (self._resume[0] - from_file, self._resume[1])
        else:
            self._resume = None
        try:
            if taken:
                self._mark_taken(start for start, _ in taken)
            if not len(self):
                self._rewrite()
                return
            self._write_memory_and()
            if self._compact_wanted or 2 * self._start > self._good_end:
                self._compact()
        except OSError as err:
            # The file may still hold them unmarked: a restart then replays them
            # again (the pipeline's replay says what that costs), unless a copy
            # leaves them out first.
            self._compact_wanted = True
            self.write_errors += 1
            _LOGGER.warning("Could not shorten the spool %s: %s", self.path, err)

    def _mark_taken(self, starts: Iterable[int]) -> None:
        """Mark the lines that begin at ``starts`` taken, on disk when this returns."""
        with self.path.open("r+b") as file:
            for start in starts:
                file.seek(start)
                file.write(_TAKEN)
            file.flush()
            os.fsync(file.fileno())

    def set_aside(self, new: NewSighting, reason: str) -> None:
        """Keep a sighting the store refuses for good in the set-aside file; blocking.

        It is on disk when this returns without OSError; ``drop_first`` then
        takes it from the spool like a stored one. The line is the spool's, with
        ``refused`` saying why: moved back into the spool file, it is replayed.
        """
        created = not self.set_aside_path.exists()
        self.set_aside_path.parent.mkdir(parents=True, exist_ok=True)
        line = (sighting_to_line(new, refused=reason) + "\n").encode("utf-8")
        with self.set_aside_path.open("a+b") as file:
            # A line cut off at the end (a power cut, a full disk) would swallow this one.
            if file.seek(0, os.SEEK_END):
                file.seek(-1, os.SEEK_END)
                if file.read(1) != b"\n":
                    line = b"\n" + line
            file.write(line)
            file.flush()
            os.fsync(file.fileno())
        if created:
            _fsync_dir(self.set_aside_path.parent)

    def _compact(self) -> None:
        """Rewrite the file without the lines that no longer wait, if the disk has room.

        The copy may take half of the free room at most: the rest is left to
        the database, and a copy the disk cut short would have cost the time
        and the room for nothing. Until then those lines are passed over.
        """
        copy = self._good_end - self._start
        try:
            free = shutil.disk_usage(self.path.parent).free
        except OSError:
            return
        if 2 * copy <= free:
            self._rewrite()

    def _rewrite(self, new: NewSighting | None = None) -> None:
        """Make the file hold exactly the waiting sightings and ``new``, atomically.

        Those the file holds are copied a line at a time, so that a long spool
        never has to fit in memory. The copy needs as much free room as they
        take: only ``_compact``, when there is room, and a file that lost lines
        (small or gone then) come here.
        """
        from_memory = [*self._memory, *([new] if new is not None else [])]
        held = 0
        written = 0
        if not self._on_file and not from_memory:
            self.path.unlink(missing_ok=True)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_name(self.path.name + ".tmp")
            try:
                with partial.open("wb") as file:
                    for line, _, _ in self._file_lines(0, self._on_file, images=False):
                        written += file.write(
                            line if line.endswith(b"\n") else line + b"\n"
                        )
                        held += 1
                    for waiting in from_memory:
                        written += file.write(
                            (sighting_to_line(waiting) + "\n").encode("utf-8")
                        )
                    file.flush()
                    os.fsync(file.fileno())
                partial.replace(self.path)
            except BaseException:
                # A copy cut short by a full disk would keep the disk full.
                partial.unlink(missing_ok=True)
                raise
        if self.path.parent.exists():
            _fsync_dir(self.path.parent)
        if held < self._on_file:
            self._lost_from_file(held)
        self._on_file = held + len(from_memory)
        self._start = 0
        self._good_end = written
        self._memory.clear()
        self._resume = None
        self._file_lost_lines = False
        self._compact_wanted = False
        self._memory_written()

    def _memory_written(self) -> None:
        """Say once what only memory held was lost while the file could not be written."""
        images, sightings = self._dropped_since_file_written
        if images or sightings:
            _LOGGER.warning(
                "The spool %s is written again; while it could not be, %s sightings"
                " lost their images and %s sightings were lost",
                self.path,
                images,
                sightings,
            )
            self._dropped_since_file_written = (0, 0)
