"""Evidence export: the sightings a search selects, as a verifiable ZIP file.

Layout of the ZIP:

- ``sightings.csv``: UTF-8, comma separated, one header row, then one row per
  sighting in the search's order, with the columns ``CSV_COLUMNS``:
  ``id``, ``seen_at`` (ISO 8601, UTC), ``camera``, ``plate`` (canonical),
  ``raw`` (as read), ``confidence`` (0..1), ``source``, ``event_id``,
  ``region``, ``box`` (``x1 y1 x2 y2`` pixels), ``direction``,
  ``alternatives`` (JSON list of ``[plate, confidence]``), ``legal_hold``
  (``true``/``false``), ``crop_file`` and ``snapshot_file`` (paths inside the
  ZIP, empty when the image was not kept).
- ``crops/<id>.jpg`` and ``snapshots/<id>.jpg``: the images, byte for byte.
- ``manifest.json``: what was exported (``format``, ``query``), the SHA-256
  and size of every other file (``files``, one line each, in the order they
  were written), how many of each (``counts``) and when (``created_at``), so
  a copy can be verified later. It is written as the export goes, into a
  file without a name beside ``dest``, as the table is: an export holds
  nothing per file in memory (the hashes of 200,000 images were 132 MiB).

The ZIP is written to a file of its own beside ``dest`` (a short hidden name no
other export shares), flushed to disk, hashed and then linked to ``dest``. So a
half-written export never carries the final name, and a link, unlike a rename,
never replaces a file: of two exports to one name at once, one publishes its
whole file and the other is refused (``export_exists``), never mixed in. The
folder is synced once the name is there: the export is audited once this
returns, and must then survive a power cut.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import UTC, datetime
import errno
import hashlib
import io
import json
import logging
import os
from pathlib import Path
import secrets
import tempfile
import time
from typing import IO, TYPE_CHECKING
import zipfile

from .errors import StoreValidationError
from .models import MAX_PAGE_SIZE, ExportReport, ImageKind, SearchQuery

if TYPE_CHECKING:
    from .sighting_store import SightingStore

_LOGGER = logging.getLogger(__name__)

_NO_LINKS = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS})
"""What ``link`` fails with on a file system without hard links (FAT and
exFAT, as on many USB sticks and memory cards, say ``EPERM``)."""

_NO_FOLDER_SYNC = frozenset(
    {errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS}
)
"""What ``fsync`` of a folder fails with where the file system cannot sync one
(some network shares and FUSE file systems): nothing more can be done there."""

_CHUNK_BYTES = 64 * 1024
_FILE_BUFFER_BYTES = 16 * 1024
"""Each file's buffer: Python 3.14 made the default 128 KiB, which an export's
three files (the ZIP, its table and manifest waiting on disk) would hold at once."""

CSV_COLUMNS = (
    "id",
    "seen_at",
    "camera",
    "plate",
    "raw",
    "confidence",
    "source",
    "event_id",
    "region",
    "box",
    "direction",
    "alternatives",
    "legal_hold",
    "crop_file",
    "snapshot_file",
)


def write_zip(store: SightingStore, query: SearchQuery, dest: Path) -> ExportReport:
    """Export what ``query`` selects (all pages) into the ZIP file ``dest``.

    The returned SHA-256 is that of the file published under ``dest``. Raises
    ``StoreValidationError("export_exists")`` when ``dest`` exists, also when
    another export took the name while this one was written.
    """
    if dest.exists():
        raise StoreValidationError("export_exists", path=str(dest))
    if not dest.parent.is_dir():
        raise StoreValidationError("export_folder_missing", path=str(dest.parent))
    crops = snapshots = sightings = 0
    # Not made from dest's name: a name near the file system's 255 bytes would
    # leave no room for a suffix.
    partial = dest.with_name(f".plate_tracker_export.{secrets.token_hex(8)}.partial")
    # O_EXCL: this file is this export's alone, never one another export writes
    # too. Made as open() makes files (not mkstemp's owner-only mode), since an
    # export is meant to be handed on.
    descriptor = os.open(partial, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with (
            os.fdopen(descriptor, "w+b", buffering=_FILE_BUFFER_BYTES) as file,
            zipfile.ZipFile(file, "w") as archive,
            # The table of an export of millions of sightings is hundreds of
            # MB: it waits on disk, in a file without a name, not in memory.
            tempfile.TemporaryFile(
                dir=dest.parent, buffering=_FILE_BUFFER_BYTES
            ) as table_file,
            io.TextIOWrapper(table_file, encoding="utf-8", newline="") as table,
            tempfile.TemporaryFile(
                dir=dest.parent, buffering=_FILE_BUFFER_BYTES
            ) as manifest_file,
            io.TextIOWrapper(manifest_file, encoding="utf-8", newline="") as manifest,
        ):
            writer = csv.writer(table, lineterminator="\r\n")
            writer.writerow(CSV_COLUMNS)
            listed = _ManifestFiles(manifest)
            listed.begin(
                format="plate_tracker evidence export 1", query=query.describe()
            )

            def add(name: str, data: bytes, method: int) -> None:
                archive.writestr(name, data, compress_type=method)
                listed.add(name, hashlib.sha256(data).hexdigest(), len(data))

            page_query = replace(query, page_size=MAX_PAGE_SIZE, cursor=None)
            while True:
                page = store.search(page_query)
                for sighting in page.sightings:
                    sightings += 1
                    files = {}
                    kinds: tuple[tuple[ImageKind, str], ...] = (
                        ("crop", "crops"),
                        ("snapshot", "snapshots"),
                    )
                    for kind, folder in kinds:
                        jpeg = store.image(sighting.id, kind)
                        if jpeg is not None:
                            files[kind] = f"{folder}/{sighting.id}.jpg"
                            # JPEG is already compressed; storing keeps export fast.
                            add(files[kind], jpeg, zipfile.ZIP_STORED)
                    crops += "crop" in files
                    snapshots += "snapshot" in files
                    writer.writerow(
                        (
                            sighting.id,
                            sighting.seen_at.isoformat(),
                            sighting.camera,
                            sighting.plate,
                            sighting.raw,
                            sighting.confidence,
                            sighting.source,
                            sighting.event_id or "",
                            sighting.region or "",
                            " ".join(map(str, sighting.box)) if sighting.box else "",
                            str(sighting.direction),
                            json.dumps(sighting.alternatives)
                            if sighting.alternatives
                            else "",
                            "true" if sighting.legal_hold else "false",
                            files.get("crop", ""),
                            files.get("snapshot", ""),
                        )
                    )
                if page.next_cursor is None:
                    break
                page_query = replace(page_query, cursor=page.next_cursor)
            table.flush()
            listed.add(
                "sightings.csv", *_add_file(archive, "sightings.csv", table_file)
            )
            listed.end(
                counts={
                    "sightings": sightings,
                    "crops": crops,
                    "snapshots": snapshots,
                },
                created_at=datetime.now(UTC).isoformat(),
            )
            manifest.flush()
            _add_file(archive, "manifest.json", manifest_file)
        with partial.open("rb") as written:
            os.fsync(written.fileno())
            # What is hashed is what is published: the file is this export's
            # alone, and dest becomes a link to it, not a copy.
            digest = hashlib.file_digest(written, "sha256").hexdigest()
        _publish(partial, dest)
        try:
            _sync_folder(dest.parent)
        except BaseException:
            # Not known to outlive a power cut, so not reported as written: no
            # export may exist that the audit log does not name.
            dest.unlink(missing_ok=True)
            raise
    finally:
        _discard(partial)
    return ExportReport(
        path=dest,
        sightings=sightings,
        crops=crops,
        snapshots=snapshots,
        sha256=digest,
    )


class _ManifestFiles:
    """Writes ``manifest.json`` as the export goes: a line per file, none kept in memory.

    The text is what ``json.dumps(indent=2)`` would give, but for each file's
    entry, which stays on one line: members known at the start, then the
    files as they are added, then the members known at the end.
    """

    def __init__(self, text: IO[str]) -> None:
        """Write into ``text``."""
        self._text = text
        self._files = 0

    def begin(self, **members: object) -> None:
        """Open the manifest with ``members`` and its list of files."""
        self._text.write("{\n")
        for key, value in members.items():
            self._text.write(f"{_member(key, value)},\n")
        self._text.write('  "files": {')

    def add(self, name: str, sha256: str, size: int) -> None:
        """List one file of the ZIP with its hash and size."""
        entry = json.dumps({"sha256": sha256, "size": size})
        self._text.write(
            f"{',' if self._files else ''}\n    {json.dumps(name)}: {entry}"
        )
        self._files += 1

    def end(self, **members: object) -> None:
        """Close the list of files and the manifest with ``members``."""
        self._text.write("\n  }" if self._files else "}")
        for key, value in members.items():
            self._text.write(f",\n{_member(key, value)}")
        self._text.write("\n}\n")


def _member(key: str, value: object) -> str:
    """Return ``"key": value`` indented as a member of the manifest's outer object."""
    text = json.dumps(value, indent=2, sort_keys=True).replace("\n", "\n  ")
    return f"  {json.dumps(key)}: {text}"


def _add_file(
    archive: zipfile.ZipFile, name: str, source: IO[bytes]
) -> tuple[str, int]:
    """Copy ``source`` from its start into the archive a chunk at a time, compressed.

    Returns its SHA-256 and size.
    """
    size = source.seek(0, os.SEEK_END)
    source.seek(0)
    info = zipfile.ZipInfo(name, time.localtime(time.time())[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o600 << 16  # as writestr gives a file added by name
    info.file_size = size  # so that a table past 4 GiB gets ZIP64 sizes
    digest = hashlib.sha256()
    with archive.open(info, "w") as entry:
        while chunk := source.read(_CHUNK_BYTES):
            digest.update(chunk)
            entry.write(chunk)
    return digest.hexdigest(), size


def _publish(partial: Path, dest: Path) -> None:
    """Give the finished file ``partial`` the name ``dest`` too, unless that name is taken.

    ``link`` fails on an existing name where ``rename`` would replace the file:
    the export that comes second is refused and the first one's file stays as
    it is. Without hard links (FAT, exFAT) the name is taken first by creating
    it empty and exclusively, then the file is renamed onto it: for that
    moment an empty file carries the name, never a part of an export.
    """
    try:
        os.link(partial, dest)
    except FileExistsError as err:
        raise StoreValidationError("export_exists", path=str(dest)) from err
    except OSError as err:
        if err.errno not in _NO_LINKS:
            raise
        try:
            os.close(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError as exists:
            raise StoreValidationError("export_exists", path=str(dest)) from exists
        try:
            partial.replace(dest)
        except BaseException:
            dest.unlink(missing_ok=True)
            raise


def write_replacing(dest: Path, data: bytes) -> None:
    """Write ``data`` to ``dest``, replacing a file there whole or not at all.

    For a file that is meant to be overwritten (a watchlist export read by a
    script or a spreadsheet): written to a file of its own beside ``dest``,
    flushed to disk, then renamed onto ``dest``, which shows the old file or
    the new one, never a part of the new one (a full disk, a crash); the
    folder is synced so that the name survives a power cut too.
    """
    partial = dest.with_name(f".plate_tracker_write.{secrets.token_hex(8)}.partial")
    # Made as open() makes files (not mkstemp's owner-only mode), as the file
    # it replaces was.
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        partial.replace(dest)
        _sync_folder(dest.parent)
    finally:
        _discard(partial)


def _sync_folder(folder: Path) -> None:
    """Make the names in ``folder`` durable: a file's name is the folder's data, not the file's.

    Skipped where folders cannot be opened (Windows) or synced (see
    ``_NO_FOLDER_SYNC``); any other failure is raised.
    """
    if (only_folders := getattr(os, "O_DIRECTORY", None)) is None:
        return
    descriptor = os.open(folder, os.O_RDONLY | only_folders)
    try:
        os.fsync(descriptor)
    except OSError as err:
        if err.errno not in _NO_FOLDER_SYNC:
            raise
        _LOGGER.debug("The file system of %s cannot sync folders: %s", folder, err)
    finally:
        os.close(descriptor)


def _discard(partial: Path) -> None:
    """Remove an export's own file once it is published, or when the export failed."""
    try:
        partial.unlink(missing_ok=True)
    except OSError as err:
        # The export itself is settled; only a hidden leftover stays.
        _LOGGER.warning("Cannot remove the unfinished export %s: %s", partial, err)
