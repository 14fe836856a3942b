"""An evidence export's manifest waits on disk, not in memory: an export of any size fits."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
import sys
import tracemalloc
import zipfile

import pytest

from custom_components.plate_tracker.store import (
    SearchQuery,
    SightingStore,
    export as evidence,
)

from .conftest import T0, minutes, sighting

SIGHTINGS = 2_000
BYTES_A_FILE = 16
"""What the export itself may hold per file it wrote: far less than one hash."""


@pytest.fixture
def many_images(store: SightingStore) -> SightingStore:
    """Store sightings with a crop and a snapshot each: two files in the ZIP per sighting."""
    store.record_many(
        sighting(
            plate=f"AE{number:04d}BK",
            seen_at=T0 + minutes(number),
            crop_jpeg=b"crop %d" % number,
            snapshot_jpeg=b"snapshot %d" % number,
        )
        for number in range(SIGHTINGS)
    )
    return store


def _held_by_export(store: SightingStore, query: SearchQuery, dest: Path) -> int:
    """Export; return the bytes export.py's own lines hold as the ZIP is finished.

    The names of the ZIP's entries are left out: zipfile keeps them for the
    ZIP's central directory, which the format writes at the end.
    """
    held: list[int] = []
    close = zipfile.ZipFile.close

    def close_and_measure(archive: zipfile.ZipFile) -> None:
        if archive.mode == "w" and not held:
            snapshot = tracemalloc.take_snapshot().filter_traces(
                [tracemalloc.Filter(True, evidence.__file__)]
            )
            names = sum(sys.getsizeof(info.filename) for info in archive.filelist)
            held.append(
                sum(stat.size for stat in snapshot.statistics("filename")) - names
            )
        close(archive)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(zipfile.ZipFile, "close", close_and_measure)
        tracemalloc.start()
        try:
            store.export_zip(query, dest)
        finally:
            tracemalloc.stop()
    (export_held,) = held
    return export_held


def test_an_export_holds_no_hash_per_file_in_memory(
    many_images: SightingStore, tmp_path: Path
) -> None:
    """Memory must not grow with the files exported, and the manifest still lists each.

    The manifest's hashes were a dict in memory until the ZIP was closed
    (and again as the report's ``files``): about 132 MiB for 200,000 files,
    on a Raspberry Pi that also runs Home Assistant.
    """
    half = _held_by_export(
        many_images,
        SearchQuery(until=T0 + minutes(SIGHTINGS // 2)),
        tmp_path / "half.zip",
    )
    report = many_images.export_zip(SearchQuery(), tmp_path / "evidence.zip")
    whole = _held_by_export(many_images, SearchQuery(), tmp_path / "whole.zip")

    assert whole - half < SIGHTINGS * BYTES_A_FILE  # SIGHTINGS more files
    files = 2 * SIGHTINGS + 1  # crops, snapshots, sightings.csv
    with zipfile.ZipFile(report.path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert len(manifest["files"]) == files
        assert set(manifest["files"]) == set(archive.namelist()) - {"manifest.json"}
        for name in ("sightings.csv", "crops/1.jpg", f"snapshots/{SIGHTINGS}.jpg"):
            data = archive.read(name)
            assert manifest["files"][name] == {
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
            }
    assert manifest["counts"] == {
        "sightings": SIGHTINGS,
        "crops": SIGHTINGS,
        "snapshots": SIGHTINGS,
    }
    assert manifest["format"] == "plate_tracker evidence export 1"
