"""A watched folder (an inbox) as a source.

Plain Python, no Home Assistant imports; every method here does blocking file I/O
and is meant to run in an executor. Cameras and NVRs commonly upload snapshots by
FTP into such a folder. The camera is the first-level subfolder
(``inbox/bridge/123.jpg``) or, for files directly in the inbox, the ``camera``
group of a filename pattern (default: everything before the first ``_``).
A pattern may also have a ``direction`` group, for cameras that write the
direction they measured into the file name (``gate_20261125-204207_receding.jpg``);
it applies to every file, in a subfolder or not.

A file leaves the inbox only after the caller has stored what was read from it
(``finish``), so a restart in between reads it again instead of losing it.
A folder or file name that is not UTF-8 names its camera with ``_`` for each
byte that is not (see ``Inbox._camera_name``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
import logging
import os
from pathlib import Path
import re
import shutil

from ..records import Direction
from . import MAX_CLOCK_AHEAD, SourceClock, storable_text

_LOGGER = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp"})
DEFAULT_FILENAME_PATTERN = r"^(?P<camera>[^_]+)_"
DEFAULT_CAMERA = "inbox"
PROCESSED_DIR = ".processed"
REJECTED_DIR = ".rejected"
MAX_FILES_PER_SCAN = 200
MAX_FILE_BYTES = 30 * 1024 * 1024
POISON_ATTEMPTS = 3
"""Reads of one upload that may fail for the file's own sake before it is set aside."""
# An upload is complete when the file has not changed for this long.
SETTLE_SECONDS = 2.0
_TIMESTAMP = re.compile(r"(?<!\d)(\d{8})[T_-]?(\d{6})(?!\d)")


class FileTooLargeError(ValueError):
    """A file far larger than any snapshot: set aside unread."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InboxFile:
    """An image that finished arriving in the inbox."""

    path: Path
    camera: str
    seen_at: datetime
    direction: Direction = Direction.UNKNOWN
    """What the camera wrote in the name (the pattern's ``direction`` group), if anything."""
    version: tuple[int, int] = (0, 0)
    """The file's modification time (ns) and size when found: a new upload under the
    same name is another version."""


def compile_filename_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a filename pattern; raise ValueError unless it has a ``camera`` group.

    An optional ``direction`` group takes the camera's own direction from the
    name: ``approaching``, ``receding``, ``left`` or ``right`` (any case).
    """
    compiled = re.compile(pattern)
    if "camera" not in compiled.groupindex:
        raise ValueError("the pattern needs a named group 'camera'")
    return compiled


def _direction(text: str | None) -> Direction:
    """Return the direction a camera wrote, if it is one; anything else is unknown, never guessed."""
    try:
        return Direction((text or "").strip().lower())
    except ValueError:
        return Direction.UNKNOWN


def _named_time(path: Path) -> datetime | None:
    """Return the ``YYYYMMDD[T_-]HHMMSS`` in the name (camera clock, UTC), if it is a real time."""
    if match := _TIMESTAMP.search(path.stem):
        try:
            return datetime.strptime("".join(match.groups()), "%Y%m%d%H%M%S").replace(
                tzinfo=UTC
            )
        except ValueError:
            pass
    return None


def holds(inbox: Path, folder: Path) -> bool:
    """Return whether ``inbox`` is ``folder`` or a folder above it.

    Files found in an inbox are read and then deleted: an inbox that holds
    Home Assistant's configuration folder would take its images with them
    (``www/``, the first level below the inbox counting as cameras).
    """
    inbox, folder = inbox.resolve(), folder.resolve()
    return folder == inbox or folder.is_relative_to(inbox)


def inboxes_overlap(first: Path, second: Path) -> bool:
    """Return whether two inboxes are one folder or one holds the other.

    Each upload in the inner one would then be read by both sources.
    """
    return holds(first, second) or holds(second, first)


class Inbox:
    """Finds finished uploads and clears them once read."""

    def __init__(
        self,
        root: Path,
        *,
        filename_pattern: str = DEFAULT_FILENAME_PATTERN,
        keep_files: bool = False,
        counters: Counter[str] | None = None,
    ) -> None:
        """Watch ``root``; keep read files in ``.processed/`` when ``keep_files``.

        ``counters`` counts the links out of the inbox that are skipped
        (``inbox_links_outside``, once for each).
        """
        self.root = root
        self._counters: Counter[str] = Counter() if counters is None else counters
        self._pattern = compile_filename_pattern(filename_pattern)
        self._keep_files = keep_files
        self._clock = SourceClock("Set the camera's clock (NTP, UTC)")
        self._stuck: set[tuple[Path, tuple[int, int]]] = set()
        """Versions of files read to the end that could not be moved out: not read again."""
        self._unlistable: set[Path] = set()
        """Camera folders that could not be listed at the last scan (warned once)."""
        self._failed: set[tuple[Path, tuple[int, int]]] = set()
        """Versions of files that failed to open (warned once; tried again each poll)."""
        self._attempts: dict[tuple[Path, tuple[int, int]], int] = {}
        """Versions of files whose reading failed for their own sake, and how often."""
        self._links_outside: set[Path] = set()
        """Links found in the inbox that point out of it (warned once)."""
        self._ahead: dict[Path, tuple[tuple[int, int], float]] = {}
        """Files dated ahead of this host's clock: the version seen, and when it was first."""
        self._ahead_cameras: set[str] = set()
        """Cameras whose files were dated ahead of this host's clock (warned once)."""
        self._renamed: set[str] = set()
        """Camera names that are not UTF-8 (warned once)."""

    def ensure_exists(self) -> None:
        """Create the inbox folder if needed (raises OSError when it cannot)."""
        self.root.mkdir(parents=True, exist_ok=True)

    def check_readable(self) -> None:
        """Raise OSError unless the inbox is a folder whose entries can be listed.

        A folder that went away (an unmounted share, a deleted path) is not
        created again here: uploads would land beside the real share unseen.
        """
        with os.scandir(self.root) as entries:
            next(entries, None)

    def _camera_for(self, path: Path, match: re.Match[str] | None) -> str:
        relative = path.relative_to(self.root)
        if len(relative.parts) > 1:
            return self._camera_name(relative.parts[0])
        # An optional or empty group names no camera.
        return self._camera_name(
            (match.group("camera") if match is not None else None) or DEFAULT_CAMERA
        )

    def _camera_name(self, name: str) -> str:
        """Return ``name`` with every byte that is not UTF-8 written as ``_``.

        A folder name that is not UTF-8 (an FTP server writing Latin-1 or
        cp1251) decodes to surrogate escapes, which the sightings store cannot
        write: the sighting was refused and the picture set aside. Which legacy
        encoding it was cannot be told, so those bytes become ``_``; every
        other name is kept as it is, so no camera's history changes name.
        """
        if storable_text(name):
            return name
        camera = os.fsencode(name).decode("utf-8", "replace").replace("\ufffd", "_")
        if name not in self._renamed:
            self._renamed.add(name)
            _LOGGER.warning(
                "Inbox camera name %r is not UTF-8: its sightings are recorded as "
                "camera %s. Rename its folder (or its file names) to choose the name",
                name,
                camera,
            )
        return camera

    def _file(self, path: Path, stat: os.stat_result, now: float) -> InboxFile:
        match = self._pattern.search(path.name)
        camera = self._camera_for(path, match)
        arrived = stat.st_mtime
        if arrived > now:
            # Written by a clock ahead of this host's: it arrived by now at the latest.
            arrived = now
            if (
                stat.st_mtime - now > MAX_CLOCK_AHEAD.total_seconds()
                and camera not in self._ahead_cameras
            ):
                self._ahead_cameras.add(camera)
                _LOGGER.warning(
                    "Inbox camera %s uploads files dated ahead of this host's clock "
                    "(%s): each is read once it stops changing and dated by its "
                    "arrival. Set the clock of the camera or of the file server (NTP)",
                    camera,
                    path.name,
                )
        return InboxFile(
            path=path,
            camera=camera,
            # The name's time, unless the camera's clock is far off its upload.
            seen_at=self._clock.date(
                camera,
                _named_time(path),
                datetime.fromtimestamp(arrived, UTC),
                what=path.name,
            ),
            direction=_direction(match.groupdict().get("direction"))
            if match is not None
            else Direction.UNKNOWN,
            version=(stat.st_mtime_ns, stat.st_size),
        )

    def scan(self, now: float) -> list[InboxFile]:
        """Return settled image files, oldest first, at most MAX_FILES_PER_SCAN.

        An empty file is an upload whose data has not arrived yet (an FTP
        server creates the file first): it waits, however old, rather than
        being set aside as unreadable while the upload goes on. A file dated
        ahead of ``now`` (a camera's or file server's clock ahead, ``cp -p``)
        is settled once it has not changed for SETTLE_SECONDS of this host's
        clock: by its own date it would wait until that time came.
        """
        found: list[tuple[float, Path, os.stat_result]] = []
        present: set[tuple[Path, tuple[int, int]]] = set()
        for path in self._candidates():
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            version = (path, (stat.st_mtime_ns, stat.st_size))
            present.add(version)
            if version in self._stuck or not stat.st_size:
                continue
            if now - self._unchanged_since(path, stat, now) >= SETTLE_SECONDS:
                found.append((stat.st_mtime, path, stat))
        # A stuck or failing file that went (or was uploaded again) is forgotten.
        self._stuck &= present
        self._failed &= present
        self._attempts = {
            version: tries
            for version, tries in self._attempts.items()
            if version in present
        }
        self._ahead = {
            path: seen
            for path, seen in self._ahead.items()
            if (path, seen[0]) in present
        }
        # Files that failed to open go after the others: a batch of them would
        # otherwise hold every newer upload back at each poll.
        found.sort(
            key=lambda item: (
                (item[1], (item[2].st_mtime_ns, item[2].st_size)) in self._failed,
                item[0],
                item[1],
            )
        )
        return [
            self._file(path, stat, now) for _, path, stat in found[:MAX_FILES_PER_SCAN]
        ]

    def _unchanged_since(self, path: Path, stat: os.stat_result, now: float) -> float:
        """Return since when a file has not changed: its time, or for one dated ahead, its first scan."""
        if stat.st_mtime <= now:
            return stat.st_mtime
        version = (stat.st_mtime_ns, stat.st_size)
        seen = self._ahead.get(path)
        if seen is None or seen[0] != version:
            seen = self._ahead[path] = (version, now)
        return seen[1]

    def _candidates(self) -> list[Path]:
        paths: list[Path] = []
        try:
            top = list(self.root.iterdir())
        except FileNotFoundError:
            return paths
        root = self.root.resolve()
        links_outside: set[Path] = set()

        def outside(path: Path) -> bool:
            if not path.is_symlink():
                return False
            try:
                if path.resolve().is_relative_to(root):
                    return False
            except (OSError, RuntimeError):  # a link loop
                pass
            links_outside.add(path)
            return True

        for entry in top:
            if entry.name.startswith(".") or outside(entry):
                continue
            if entry.is_dir():
                try:
                    children = list(entry.iterdir())
                except OSError as err:
                    # One camera's folder (wrong owner, a broken mount) must not
                    # stop every other camera's uploads.
                    if entry not in self._unlistable:
                        self._unlistable.add(entry)
                        _LOGGER.warning(
                            "Inbox folder %s cannot be listed, its uploads wait: %s",
                            entry,
                            err,
                        )
                    continue
                if entry in self._unlistable:
                    self._unlistable.discard(entry)
                    _LOGGER.info("Inbox folder %s can be listed again", entry)
                paths.extend(
                    child
                    for child in children
                    if not child.name.startswith(".")
                    and child.suffix.lower() in IMAGE_SUFFIXES
                    and not outside(child)
                    and child.is_file()
                )
            elif entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES:
                paths.append(entry)
        self._warn_links_outside(links_outside)
        return paths

    def _warn_links_outside(self, links: set[Path]) -> None:
        """Warn once about (and count) each link out of the inbox.

        A file read here is deleted afterwards: through a link, files that are
        no upload (another folder's pictures) would be read and deleted.
        """
        for link in sorted(links - self._links_outside):
            self._counters["inbox_links_outside"] += 1
            _LOGGER.warning(
                "Inbox %s: skipped %s, which points out of the inbox (files read "
                "here are deleted); move the uploads into the inbox instead",
                self.root,
                link,
            )
        self._links_outside = links

    def read(self, file: InboxFile) -> bytes:
        """Return the file's bytes; raise FileTooLargeError for files too large to be a snapshot."""
        size = file.path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise FileTooLargeError(f"{size} bytes is more than {MAX_FILE_BYTES}")
        return file.path.read_bytes()

    def first_failure(self, file: InboxFile) -> bool:
        """Record that ``file`` failed to open; return whether this version had not before."""
        version = (file.path, file.version)
        if version in self._failed:
            return False
        self._failed.add(version)
        return True

    def failed_attempt(self, file: InboxFile) -> int:
        """Record that reading ``file`` failed for its own sake; return how often this version has."""
        version = (file.path, file.version)
        self._attempts[version] = self._attempts.get(version, 0) + 1
        return self._attempts[version]

    def finish(self, file: InboxFile) -> None:
        """Remove a file whose reads are stored (or keep it under ``.processed/``).

        A file that cannot be removed (the folder is not writable) stays, but
        this version of it is not read again: every poll would store its
        sighting once more. A new upload under the same name since the file
        was found stays for the next scan.
        """
        try:
            if self._replaced(file):
                return
            if self._keep_files:
                self._move(file, PROCESSED_DIR)
            else:
                file.path.unlink(missing_ok=True)
        except OSError as err:
            self._stuck.add((file.path, file.version))
            _LOGGER.warning(
                "Read %s but cannot remove it from the inbox, so it is not read again "
                "until it changes (after a restart it is read once more): %s",
                file.path,
                err,
            )

    def reject(self, file: InboxFile, reason: str) -> Path | None:
        """Move a file that cannot be read to ``.rejected/`` for a person to look at.

        Return where it went (logged with ``reason``), or None when it stays:
        it cannot be moved, and is not read again until it changes; or a new
        upload under its name came since it was found, read at the next scan.
        """
        try:
            if self._replaced(file):
                return None
            target = self._move(file, REJECTED_DIR)
        except OSError as err:
            self._stuck.add((file.path, file.version))
            _LOGGER.warning(
                "Unreadable image %s cannot be moved aside (%s); it is not read "
                "again until it changes: %s",
                file.path,
                err,
                reason,
            )
            return None
        _LOGGER.warning("Moved unreadable image to %s: %s", target, reason)
        return target

    def _replaced(self, file: InboxFile) -> bool:
        """Whether the file at ``file.path`` is a newer upload than the one found.

        Cameras that upload under one name ("snapshot.jpg") may write the next
        car while this one is read: removing or moving it would lose that car
        unread. Raises OSError when the file cannot be looked at.
        """
        try:
            stat = file.path.stat()
        except FileNotFoundError:
            return False
        if (stat.st_mtime_ns, stat.st_size) == file.version:
            return False
        _LOGGER.debug(
            "Inbox file %s was uploaded again while it was read; the new upload is "
            "read at the next scan",
            file.path,
        )
        return True

    def _move(self, file: InboxFile, folder: str) -> Path:
        target_dir = (
            self.root / folder / file.seen_at.strftime("%Y-%m-%d") / file.camera
        )
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / file.path.name
        if target.exists():
            target = (
                target_dir
                / f"{file.path.stem}-{file.path.stat().st_mtime_ns}{file.path.suffix}"
            )
        shutil.move(file.path, target)
        return target
