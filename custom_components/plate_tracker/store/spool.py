"""A durable spool for sightings the database could not take.

Plain Python, no Home Assistant imports. When a write to the sightings store
fails (disk full, a locked or read-only database), the sighting is appended as
one JSON line to a file next to the database and flushed to disk before the
caller goes on, so a restart or a power cut loses nothing that was spooled.
Entries are replayed in the order they were spooled; the file shrinks only
after the store took them.

What the file holds is not kept in memory: an outage of hours at a busy city
spools gigabytes of images, so replay reads the file again, a batch at a time
(``read``, blocking). Only a sighting the file could not take (the disk is full
for it too) waits in memory, so that nothing is lost while Home Assistant runs,
and the file is rewritten as soon as that works again. That memory is bounded:
the oldest of those sightings lose their images once they pass
``MEMORY_ONLY_IMAGE_BYTES``, and beyond ``MEMORY_ONLY_SIGHTINGS`` the oldest are
dropped; both are counted and logged.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
import json
import logging
import os
from pathlib import Path
from typing import Any

from ..records import Direction, NewSighting, Reader

_LOGGER = logging.getLogger(__name__)

SPOOL_FORMAT = 1
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
    except binascii.Error as err:
        _LOGGER.warning(
            "A spooled sighting's image cannot be decoded (%s): it is kept without it",
            err,
        )
        return None


def sighting_to_line(new: NewSighting) -> str:
    """Return one spool line (JSON, no newline inside) for a sighting."""
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
            "crop_jpeg": _b64(new.crop_jpeg),
            "snapshot_jpeg": _b64(new.snapshot_jpeg),
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
            crop_jpeg=decode(data["crop_jpeg"]),
            snapshot_jpeg=decode(data["snapshot_jpeg"]),
        )
    except (KeyError, TypeError, IndexError, AttributeError) as err:
        raise ValueError(f"not a spooled sighting: {err!r}") from err


def _skip_image(value: object) -> None:
    _image_text(value)


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

    def __init__(
        self,
        path: Path,
        *,
        memory_only_sightings: int = MEMORY_ONLY_SIGHTINGS,
        memory_only_image_bytes: int = MEMORY_ONLY_IMAGE_BYTES,
    ) -> None:
        """Use the spool file at ``path``; ``open`` reads what it holds."""
        self.path = path
        self._on_file = 0
        """Waiting sightings the file holds (readable lines after ``_taken_on_file``)."""
        self._taken_on_file = 0
        """Readable lines at the start of the file the store has already taken."""
        self._memory: list[NewSighting] = []
        """Waiting sightings the file could not take, after those it holds."""
        self._file_behind = False
        """The file is not exactly the waiting sightings: the next write rewrites it."""
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
        when the file is next rewritten.
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
        line = b""
        with file:
            for number, line in enumerate(file, start=1):
                if not line.strip():
                    continue
                try:
                    _parse(line, images=False)
                except ValueError as err:
                    spool.unreadable_lines += 1
                    _LOGGER.error(  # noqa: TRY400 - the cause is in the message; a trace adds nothing
                        "Spooled sighting on line %s of %s cannot be read and is skipped: %s",
                        number,
                        path,
                        err,
                    )
                else:
                    spool._on_file += 1
        # A line cut off at the end would swallow the next one appended to it.
        spool._file_behind = bool(spool.unreadable_lines) or (
            bool(line) and not line.endswith(b"\n")
        )
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
        self, start: int, count: int
    ) -> Iterator[tuple[bytes, NewSighting, int]]:
        """Yield up to ``count`` waiting sightings of the file from position ``start``.

        Each comes as its raw line, parsed, and with the byte offset after it.
        """
        if count <= 0:
            return
        if self._resume is not None and self._resume[0] == start:
            offset, skip = self._resume[1], 0
        else:
            offset, skip = 0, self._taken_on_file + start
        try:
            file = self.path.open("rb")
        except FileNotFoundError:
            return
        with file:
            file.seek(offset)
            for line in file:
                offset += len(line)
                if not line.strip():
                    continue
                try:
                    new = _parse(line)
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
        self._file_behind = True

    def append(self, new: NewSighting) -> None:
        """Keep a sighting; it is on disk when this returns without SpoolWriteError."""
        try:
            if self._file_behind:
                self._rewrite(new)
            else:
                created = not self.path.exists()
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as file:
                    file.write(sighting_to_line(new) + "\n")
                    file.flush()
                    os.fsync(file.fileno())
                if created:
                    _fsync_dir(self.path.parent)
                self._on_file += 1
        except OSError as err:
            self._memory.append(new)
            self._file_behind = True
            self.write_errors += 1
            self._bound_memory()
            raise SpoolWriteError(err.errno, f"spool {self.path}: {err}") from err

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
        """Forget the ``count`` oldest sightings (the store has them now); blocking."""
        from_file = min(count, self._on_file)
        self._taken_on_file += from_file
        self._on_file -= from_file
        del self._memory[: count - from_file]
        self._resume = None
        try:
            self._rewrite()
        except OSError as err:
            # The file still holds them, so a restart replays them again; that
            # is harmless, since the store merges sightings of one NVR event.
            self._file_behind = True
            self.write_errors += 1
            _LOGGER.warning("Could not shorten the spool %s: %s", self.path, err)

    def _rewrite(self, new: NewSighting | None = None) -> None:
        """Make the file hold exactly the waiting sightings and ``new``, atomically.

        Those the file holds are copied a line at a time, so that a long spool
        never has to fit in memory.
        """
        from_memory = [*self._memory, *([new] if new is not None else [])]
        held = 0
        if not self._on_file and not from_memory:
            self.path.unlink(missing_ok=True)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_name(self.path.name + ".tmp")
            with partial.open("wb") as file:
                for line, _, _ in self._file_lines(0, self._on_file):
                    file.write(line if line.endswith(b"\n") else line + b"\n")
                    held += 1
                file.writelines(
                    (sighting_to_line(waiting) + "\n").encode("utf-8")
                    for waiting in from_memory
                )
                file.flush()
                os.fsync(file.fileno())
            partial.replace(self.path)
        if self.path.parent.exists():
            _fsync_dir(self.path.parent)
        if held < self._on_file:
            self._lost_from_file(held)
        self._on_file = held + len(from_memory)
        self._taken_on_file = 0
        self._memory.clear()
        self._resume = None
        self._file_behind = False
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
