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
UPLOAD_STALL_SECONDS = 60.0
"""How long a file that ends before its image does is waited for, unchanged, before it
is taken as an upload that broke off: a slow camera uplink stalls far longer than
SETTLE_SECONDS between packets, and the file's time may come from another clock."""
_JPEG_START = b"\xff\xd8\xff"
_PNG_START = b"\x89PNG\r\n\x1a\n"
_RIFF_START = b"RIFF"
_PNG_END = b"IEND\xaeB`\x82"
"""PNG's last chunk, with its checksum (always the same)."""
_JPEG_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
"""The marker after a JPEG scan's data (in which 0xFF is followed by 0, a restart
marker or another 0xFF)."""
_TIMESTAMP = re.compile(r"(?<!\d)(\d{8})[T_-]?(\d{6})(?!\d)")


class FileTooLargeError(ValueError):
    """A file far larger than any snapshot: set aside unread."""


def image_complete(data: bytes) -> bool:
    """Return whether a JPEG, PNG or WebP file reaches its image's end; other data passes.

    What an upload that stalled left behind is the start of the file: a JPEG
    without its end-of-image marker after the last scan (its segments are
    walked, so an EXIF thumbnail's marker does not count, and data a camera
    appends after the end does no harm), a PNG without its IEND chunk, a WebP
    shorter than its header says. Damaged data that is not short passes: the
    engine judges it.
    """
    if any(
        len(data) < len(signature) and signature.startswith(data)
        for signature in (_JPEG_START, _PNG_START, _RIFF_START)
    ):
        return False
    if data.startswith(_JPEG_START):
        return _jpeg_complete(data)
    if data.startswith(_PNG_START):
        return data.rfind(_PNG_END) != -1
    if data.startswith(_RIFF_START) and len(data) < 12:  # cut before "WEBP"
        return False
    if data.startswith(_RIFF_START) and data[8:12] == b"WEBP":
        return len(data) >= 8 + int.from_bytes(data[4:8], "little")
    return True


def _jpeg_complete(data: bytes) -> bool:
    position, size = 2, len(data)
    while position + 1 < size:
        if data[position] != 0xFF:
            return True  # no marker where one belongs: damaged, not short
        marker = data[position + 1]
        if marker == 0xD9:  # end of image
            return True
        if marker == 0xFF:  # fill byte before a marker
            position += 1
        elif 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            position += 2
        elif position + 4 > size:
            return False
        else:
            position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
            if marker == 0xDA:  # start of scan: its data runs to the next marker
                found = _JPEG_SCAN_END.search(data, position)
                if found is None:
                    return False
                position = found.start()
    return False


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
        (``inbox_links_outside``, once for each), the folders inside camera
        folders, which are not read (``inbox_nested_folders``, once for each),
        and the files read or set aside that could not be taken out of the
        inbox (``inbox_not_removed``).
        """
        self.root = root
        self._counters: Counter[str] = Counter() if counters is None else counters
        self._pattern = compile_filename_pattern(filename_pattern)
        self._keep_files = keep_files
        self._clock = SourceClock("Set the camera's clock (NTP, UTC)")
        self._stuck: set[tuple[Path, tuple[int, int]]] = set()
        """Versions of files read to the end that could not be moved out: not read again."""
        self._cannot_remove = False
        """Whether the last file to leave the inbox could not (warned once until one can)."""
        self._unfinished: dict[tuple[Path, tuple[int, int]], float] = {}
        """Versions of files that end before their image does, and when that was first seen."""
        self._unlistable: set[Path] = set()
        """Camera folders that could not be listed at the last scan (warned once)."""
        self._failed: set[tuple[Path, tuple[int, int]]] = set()
        """Versions of files that failed to open (warned once; tried again each poll)."""
        self._attempts: dict[tuple[Path, tuple[int, int]], int] = {}
        """Versions of files whose reading failed for their own sake, and how often."""
        self._links_outside: set[Path] = set()
        """Links found in the inbox that point out of it (warned once)."""
        self._nested: set[Path] = set()
        """Folders inside camera folders, whose files are not read (warned once)."""
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
        candidates, unlisted = self._candidates()
        for path in candidates:
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            version = (path, (stat.st_mtime_ns, stat.st_size))
            present.add(version)
            if version in self._stuck or not stat.st_size:
                continue
            if self._waiting_for_rest(version, now):
                continue
            if now - self._unchanged_since(path, stat, now) >= SETTLE_SECONDS:
                found.append((stat.st_mtime, path, stat))
        # What is known of a file that went (or was uploaded again) is forgotten;
        # a folder that could not be listed this time may still hold its files.
        present |= {
            version
            for version in (*self._stuck, *self._failed, *self._unfinished)
            if any(version[0].is_relative_to(folder) for folder in unlisted)
        }
        self._stuck &= present
        self._failed &= present
        self._attempts = {
            version: tries
            for version, tries in self._attempts.items()
            if version in present
        }
        self._unfinished = {
            version: since
            for version, since in self._unfinished.items()
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

    def _candidates(self) -> tuple[list[Path], set[Path]]:
        """Return the image files in the inbox and its camera folders, and the folders that could not be listed."""
        paths: list[Path] = []
        unlisted: set[Path] = set()
        try:
            top = list(self.root.iterdir())
        except FileNotFoundError:
            return paths, {self.root}
        root = self.root.resolve()
        links_outside: set[Path] = set()
        nested: set[Path] = set()

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
                except FileNotFoundError:
                    continue  # removed since the inbox was listed, files and all
                except OSError as err:
                    # One camera's folder (wrong owner, a broken mount) must not
                    # stop every other camera's uploads.
                    unlisted.add(entry)
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
                for child in children:
                    if child.name.startswith("."):
                        continue
                    if (
                        child.suffix.lower() in IMAGE_SUFFIXES
                        and not outside(child)
                        and child.is_file()
                    ):
                        paths.append(child)
                    elif not child.is_symlink() and child.is_dir():
                        nested.add(child)
            elif entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES:
                paths.append(entry)
        self._warn_links_outside(links_outside)
        self._warn_nested(nested)
        return paths, unlisted

    def _warn_nested(self, folders: set[Path]) -> None:
        """Warn once about (and count) each folder inside a camera's folder.

        Only a camera's folder itself is read: the uploads of a camera set to
        write into folders of its own (``gate/2026-11-25/``) would wait there
        unseen, and no sighting tell that they exist.
        """
        for folder in sorted(folders - self._nested):
            self._counters["inbox_nested_folders"] += 1
            _LOGGER.warning(
                "Inbox %s: folder %s is not read, since only the files directly in "
                "a camera's folder are; set the camera to upload without folders "
                "of its own (such as date folders)",
                self.root,
                folder.relative_to(self.root),
            )
        self._nested = folders

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

    def still_arriving(self, file: InboxFile, data: bytes, now: float) -> bool:
        """Return whether ``data`` read from ``file`` ends before its image does and more may come.

        An upload over a slow uplink stalls for longer than SETTLE_SECONDS:
        its file is left for later, not set aside half written. Only when this
        version of it has stayed so for UPLOAD_STALL_SECONDS of this host's
        clock (the file's own time may come from another one) is it read as
        it is; the engine then judges it (``broke_off`` tells why it failed).
        """
        return not image_complete(data) and self.wait_for_rest(file, now)

    def wait_for_rest(self, file: InboxFile, now: float) -> bool:
        """Record that ``file`` ends before its image does; return whether to wait for the rest."""
        since = self._unfinished.setdefault((file.path, file.version), now)
        return now - since < UPLOAD_STALL_SECONDS

    def broke_off(self, file: InboxFile) -> bool:
        """Return whether ``file`` was waited for as an unfinished upload."""
        return (file.path, file.version) in self._unfinished

    def _waiting_for_rest(
        self, version: tuple[Path, tuple[int, int]], now: float
    ) -> bool:
        since = self._unfinished.get(version)
        return since is not None and now - since < UPLOAD_STALL_SECONDS

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
            self._not_removed(file, err)
            return
        self._removed()

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
            _LOGGER.debug(
                "Unreadable image %s stays in the inbox: %s", file.path, reason
            )
            self._not_removed(file, err)
            return None
        self._removed()
        _LOGGER.warning("Moved unreadable image to %s: %s", target, reason)
        return target

    def _not_removed(self, file: InboxFile, err: OSError) -> None:
        """Keep this version of ``file`` from being read again; count it, warn once.

        A read-only inbox (a share mounted read-only, a folder of the FTP
        server's user) leaves every file there: the warning is for the inbox,
        not for each file, until a file can be taken out again.
        """
        self._stuck.add((file.path, file.version))
        self._counters["inbox_not_removed"] += 1
        _LOGGER.log(
            logging.DEBUG if self._cannot_remove else logging.WARNING,
            "Inbox %s: cannot take %s out of the inbox after reading it (%s). Files "
            "left there are not read again until they change, but once more after "
            "a restart: let Home Assistant delete and move files in the inbox. "
            "Further such files are counted (inbox_not_removed), not logged",
            self.root,
            file.path.name,
            err,
        )
        self._cannot_remove = True

    def _removed(self) -> None:
        if self._cannot_remove:
            self._cannot_remove = False
            _LOGGER.info("Inbox %s: files read can be taken out of it again", self.root)

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
