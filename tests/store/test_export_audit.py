"""Evidence export, the audit log and routes."""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import os
from pathlib import Path
import sqlite3
import threading
import tracemalloc
import zipfile

import pytest

from custom_components.plate_tracker.records import Direction, WatchlistEntry
from custom_components.plate_tracker.store import (
    CSV_COLUMNS,
    ExportReport,
    SearchPage,
    SearchQuery,
    SearchSort,
    SightingStore,
    StoreValidationError,
    export as export_module,
)

from .conftest import T0, minutes, sighting


def test_export_zip_holds_csv_images_and_verifiable_manifest(
    store: SightingStore, tmp_path: Path
) -> None:
    """Evidence must be complete and verifiable later by its SHA-256 hashes."""
    with_images, _ = store.record(
        sighting(crop_jpeg=b"crop-1", snapshot_jpeg=b"snap-1", box=(1, 2, 3, 4))
    )
    text_only, _ = store.record(sighting(seen_at=T0 + minutes(1), raw="АЕ 1234 ВК"))
    store.record(sighting(plate="KA0001AA", seen_at=T0 + minutes(2)))
    exports = tmp_path / "exports"
    exports.mkdir()
    dest = exports / "case-12.zip"

    report = store.export_zip(SearchQuery(plate="AE1234BK", page_size=1), dest)

    assert (report.path, report.sightings, report.crops, report.snapshots) == (
        dest,
        2,
        1,
        1,
    )
    assert report.sha256 == hashlib.sha256(dest.read_bytes()).hexdigest()
    assert [p.name for p in exports.iterdir()] == ["case-12.zip"]
    with zipfile.ZipFile(dest) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert sorted(archive.namelist()) == sorted(
            [*manifest["files"], "manifest.json"]
        )
        for name, described in manifest["files"].items():
            data = archive.read(name)
            assert hashlib.sha256(data).hexdigest() == described["sha256"]
            assert len(data) == described["size"]
        assert archive.read(f"crops/{with_images.id}.jpg") == b"crop-1"
        assert archive.read(f"snapshots/{with_images.id}.jpg") == b"snap-1"
        rows = list(csv.DictReader(io.StringIO(archive.read("sightings.csv").decode())))
    assert manifest["counts"] == {"sightings": 2, "crops": 1, "snapshots": 1}
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [row["id"] for row in rows] == [str(text_only.id), str(with_images.id)]
    assert rows[0]["raw"] == "АЕ 1234 ВК"
    assert rows[0]["crop_file"] == ""
    assert rows[1]["seen_at"] == T0.isoformat()
    assert rows[1]["box"] == "1 2 3 4"
    assert rows[1]["crop_file"] == f"crops/{with_images.id}.jpg"


def test_export_never_overwrites_or_writes_nowhere(
    store: SightingStore, tmp_path: Path
) -> None:
    """An existing evidence file is never replaced by a later export."""
    existing = tmp_path / "case.zip"
    existing.write_bytes(b"earlier evidence")
    with pytest.raises(StoreValidationError) as caught:
        store.export_zip(SearchQuery(), existing)
    assert caught.value.translation_key == "export_exists"
    assert existing.read_bytes() == b"earlier evidence"
    with pytest.raises(StoreValidationError) as caught:
        store.export_zip(SearchQuery(), tmp_path / "missing" / "case.zip")
    assert caught.value.translation_key == "export_folder_missing"


def test_failed_export_leaves_no_file(store: SightingStore, tmp_path: Path) -> None:
    """A bad query fails before anything carries the export's name."""
    exports = tmp_path / "exports"
    exports.mkdir()
    with pytest.raises(StoreValidationError):
        store.export_zip(SearchQuery(plate="**"), exports / "case.zip")
    assert list(exports.iterdir()) == []


@pytest.mark.parametrize("hard_links", [True, False], ids=["links", "no_links"])
def test_two_exports_to_one_name_publish_one_whole_file(
    store: SightingStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    hard_links: bool,
) -> None:
    """Two exports started at once to one name: one file, whole, and the hash it reports.

    The export service names files by the second, so two officers exporting
    at once race for one name. Evidence whose hash differs from the audited
    one, or that holds the other officer's sightings, is worthless in court;
    the export that loses must say the name is taken, not fail obscurely. On
    a file system without hard links (FAT and exFAT cards) the same holds.
    """
    for second in range(40):
        plate = "AE1234BK" if second % 2 else "KA0001AA"
        store.record(
            sighting(
                plate=plate,
                seen_at=T0 + minutes(second),
                crop_jpeg=bytes([second]) * 50_000,
            )
        )
    if not hard_links:

        def no_link(source: object, target: object) -> None:
            raise OSError(errno.EPERM, "Operation not permitted")

        monkeypatch.setattr(os, "link", no_link)
    exports = tmp_path / "exports"
    exports.mkdir()
    dest = exports / "plate_tracker_evidence_20260301T120000Z.zip"
    # Both exports have checked that the name is free before either writes.
    both_started = threading.Barrier(2, timeout=10)
    first_pages: set[int] = set()
    search = store.search

    def search_together(query: SearchQuery) -> SearchPage:
        if threading.get_ident() not in first_pages:
            first_pages.add(threading.get_ident())
            both_started.wait()
        return search(query)

    monkeypatch.setattr(store, "search", search_together)
    outcomes: dict[str, ExportReport | StoreValidationError] = {}

    def export(plate: str) -> None:
        try:
            outcomes[plate] = store.export_zip(SearchQuery(plate=plate), dest)
        except StoreValidationError as err:
            outcomes[plate] = err

    threads = [
        threading.Thread(target=export, args=(plate,))
        for plate in ("AE1234BK", "KA0001AA")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    reports = {p: o for p, o in outcomes.items() if isinstance(o, ExportReport)}
    refused = [o for o in outcomes.values() if isinstance(o, StoreValidationError)]
    assert len(reports) == 1, outcomes
    assert [err.translation_key for err in refused] == ["export_exists"]
    ((plate, report),) = reports.items()
    assert report.sha256 == hashlib.sha256(dest.read_bytes()).hexdigest()
    assert [p.name for p in exports.iterdir()] == [dest.name], "no partial file left"
    with zipfile.ZipFile(dest) as archive:
        assert archive.testzip() is None
        manifest = json.loads(archive.read("manifest.json"))
        for name, described in manifest["files"].items():
            assert hashlib.sha256(archive.read(name)).hexdigest() == described["sha256"]
        rows = list(csv.DictReader(io.StringIO(archive.read("sightings.csv").decode())))
    assert manifest["query"]["plate"] == plate
    assert {row["plate"] for row in rows} == {plate}
    assert len(rows) == report.sightings == 20


def test_export_to_a_file_system_without_links_never_overwrites(
    store: SightingStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exports to a FAT or exFAT card, which has no hard links, still work and still never overwrite."""

    def no_link(source: object, target: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_link)
    store.record(sighting(crop_jpeg=b"crop-1"))
    exports = tmp_path / "exports"
    exports.mkdir()
    dest = exports / "case.zip"
    report = store.export_zip(SearchQuery(), dest)
    assert report.sha256 == hashlib.sha256(dest.read_bytes()).hexdigest()
    assert [p.name for p in exports.iterdir()] == ["case.zip"]

    taken = exports / "taken.zip"
    search = store.search

    def search_while_name_is_taken(query: SearchQuery) -> SearchPage:
        if not taken.exists():
            taken.write_bytes(b"another export")
        return search(query)

    monkeypatch.setattr(store, "search", search_while_name_is_taken)
    with pytest.raises(StoreValidationError) as caught:
        store.export_zip(SearchQuery(), taken)
    assert caught.value.translation_key == "export_exists"
    assert taken.read_bytes() == b"another export"
    assert sorted(p.name for p in exports.iterdir()) == ["case.zip", "taken.zip"]


def test_a_large_export_does_not_hold_its_table_in_memory(
    store: SightingStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An export of a city's month is millions of rows: its table must not fill Home Assistant's memory.

    Held in memory the table took several times its own size (the text, a
    copy, its bytes); written on disk, memory stays that of one page of the
    search whatever the export's size.
    """
    store.record_many(
        sighting(
            plate=f"AA{number % 1000:04d}AA",
            seen_at=T0 + minutes(number),
            event_id=f"event-{number}",
            alternatives=tuple((f"AA{other:04d}AB", 0.01) for other in range(12)),
        )
        for number in range(6000)
    )
    monkeypatch.setattr(export_module, "MAX_PAGE_SIZE", 50)
    dest = tmp_path / "city.zip"
    tracemalloc.start()
    try:
        report = store.export_zip(SearchQuery(), dest)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    with zipfile.ZipFile(dest) as archive:
        table = archive.read("sightings.csv")
        manifest = json.loads(archive.read("manifest.json"))
    assert report.sightings == len(table.splitlines()) - 1 == 6000
    assert manifest["files"]["sightings.csv"] == {
        "sha256": hashlib.sha256(table).hexdigest(),
        "size": len(table),
    }
    assert peak < len(table) / 2, (peak, len(table))


def test_an_export_sorted_by_confidence_misses_no_sighting_read_again_meanwhile(
    store: SightingStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An export must hold every sighting its query selects, whatever is stored meanwhile.

    A better frame of an event raises its sighting's confidence: read in pages
    of separate snapshots, a sighting that moves ahead of the pages already
    written is in none of them, though it matched the query all along.
    """
    for event, confidence in (("a", 0.9), ("b", 0.8), ("c", 0.7)):
        store.record(sighting(event_id=event, confidence=confidence))
    monkeypatch.setattr(export_module, "MAX_PAGE_SIZE", 1)
    search = store.search
    pages = 0

    def better_frame_after_the_first_page(query: SearchQuery) -> SearchPage:
        nonlocal pages
        page = search(query)
        pages += 1
        if pages == 1:
            store.record(sighting(event_id="c", confidence=0.95))
        return page

    monkeypatch.setattr(store, "search", better_frame_after_the_first_page)
    report = store.export_zip(
        SearchQuery(sort=SearchSort.CONFIDENCE), tmp_path / "case.zip"
    )
    assert report.sightings == 3


def test_audit_log_filters_and_orders(store: SightingStore) -> None:
    """Who did what and why can be found again, newest first."""
    store.audit_append("admin", "search", {"plate": "AE*"}, "case 12", T0)
    store.audit_append("officer", "export", {"count": 2}, "case 12", T0 + minutes(1))
    store.audit_append("admin", "purge", {"plate": "KA0001AA"}, None, T0 + minutes(2))

    assert [r.action for r in store.audit_log()] == ["purge", "export", "search"]
    (only,) = store.audit_log(user_id="officer")
    assert (only.at, only.details, only.reason) == (
        T0 + minutes(1),
        {"count": 2},
        "case 12",
    )
    assert [r.action for r in store.audit_log(since=T0 + minutes(1))] == [
        "purge",
        "export",
    ]
    assert [r.action for r in store.audit_log(action="search")] == ["search"]
    assert [r.action for r in store.audit_log(limit=1, offset=1)] == ["export"]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit SET reason = 'none'",
        "DELETE FROM audit",
        "DELETE FROM audit WHERE id = 1",
    ],
)
def test_audit_records_cannot_be_changed_or_deleted(
    store: SightingStore, db_path: Path, statement: str
) -> None:
    """The audit log is append-only even to SQL run on the file itself."""
    store.audit_append("admin", "search", {}, "case 12", T0)
    conn = sqlite3.connect(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(statement)
    finally:
        conn.close()
    assert len(store.audit_log()) == 1


def test_route_is_in_time_order_and_can_join_lookalikes(store: SightingStore) -> None:
    """A route lists where a plate was seen, oldest first, with misreads on request.

    Its rows feed the journey logic's columns directly, so their shape is fixed.
    """
    store.record(
        sighting(
            camera="exit_north",
            seen_at=T0 + minutes(9),
            direction=Direction.RECEDING,
            event_id="ev9",
            confidence=0.75,
        )
    )
    store.record(sighting(camera="bridge", seen_at=T0))
    store.record(sighting(plate="AEI234BK", camera="market", seen_at=T0 + minutes(4)))
    store.record(sighting(plate="KA0001AA", seen_at=T0 + minutes(5)))

    route = store.route_for("AE1234BK")
    assert route == [
        (2, "bridge", T0.timestamp(), "AE1234BK", 0.9, "unknown", None),
        (
            1,
            "exit_north",
            (T0 + minutes(9)).timestamp(),
            "AE1234BK",
            0.75,
            "receding",
            "ev9",
        ),
    ]
    joined = store.route_for("AE1234BK", include_lookalikes=True)
    assert [row[3] for row in joined] == ["AE1234BK", "AEI234BK", "AE1234BK"]
    assert (
        store.route_for("AE1234BK", since=T0 + minutes(1), until=T0 + minutes(9)) == []
    )
    assert store.route_for("KA0009AA") == []
    assert [s.camera for s in store.sightings_for_plate("AE1234BK")] == [
        "bridge",
        "exit_north",
    ]


def test_latest_per_camera_recent_and_cameras(store: SightingStore) -> None:
    """Entities are restored after a restart from the latest sighting per camera."""
    store.record(sighting(camera="bridge", seen_at=T0 + minutes(2)))
    late_arrival, _ = store.record(sighting(camera="bridge", seen_at=T0))
    latest, _ = store.record(sighting(camera="market", seen_at=T0 + minutes(1)))
    assert {c: s.seen_at for c, s in store.latest_per_camera().items()} == {
        "bridge": T0 + minutes(2),
        "market": T0 + minutes(1),
    }
    assert [s.id for s in store.recent(limit=2)] == [latest.id, late_arrival.id]
    assert [s.id for s in store.recent(limit=5, before_id=latest.id)] == [
        late_arrival.id,
        1,
    ]
    assert store.cameras() == ["bridge", "market"]


def test_better_frame_of_an_event_replaces_the_read(store: SightingStore) -> None:
    """One NVR event is one sighting, carrying the best read seen so far."""
    first, created = store.record(
        sighting(
            event_id="ev1",
            plate="AE1284BK",
            confidence=0.6,
            crop_jpeg=b"blurry",
            snapshot_jpeg=b"wide",
        )
    )
    assert created
    better, created = store.record(
        sighting(
            event_id="ev1", confidence=0.9, seen_at=T0 + minutes(1), crop_jpeg=b"sharp"
        )
    )
    assert not created
    assert better.id == first.id
    assert (better.plate, better.confidence, better.seen_at) == ("AE1234BK", 0.9, T0)
    assert store.image(first.id, "crop") == b"sharp"
    assert store.image(first.id, "snapshot") == b"wide"
    worse, created = store.record(
        sighting(event_id="ev1", plate="AE12B4BK", confidence=0.5)
    )
    assert not created
    assert worse == better
    other_camera, created = store.record(sighting(event_id="ev1", camera="market"))
    assert created
    assert other_camera.id != first.id
    assert store.search(SearchQuery(plate="AE1284BK")).sightings == ()


def test_direction_learnt_late_in_an_event_is_kept(store: SightingStore) -> None:
    """An NVR often knows the direction only at the end of a pass; it must reach the stored sighting.

    The city status of a car at an exit depends on it, so it is taken even from
    a read no better than the stored one, and a later frame that knows nothing
    about the direction never erases it.
    """
    first, _ = store.record(sighting(event_id="ev1", confidence=0.9))
    assert first.direction is Direction.UNKNOWN
    learnt, created = store.record(
        sighting(event_id="ev1", confidence=0.6, direction=Direction.RECEDING)
    )
    assert not created
    assert learnt.direction is Direction.RECEDING
    assert (learnt.confidence, learnt.raw) == (0.9, first.raw), (
        "only the direction changes"
    )
    assert store.route_for("AE1234BK")[0][5] == "receding"

    for unaware in (
        sighting(event_id="ev1", confidence=0.5),
        sighting(event_id="ev1", confidence=0.95, raw="AE1234 BK"),
    ):
        kept, _ = store.record(unaware)
        assert kept.direction is Direction.RECEDING
    assert kept.raw == "AE1234 BK", "the better read still replaces the read"
    corrected, _ = store.record(
        sighting(event_id="ev1", confidence=0.5, direction=Direction.APPROACHING)
    )
    assert corrected.direction is Direction.APPROACHING


def test_announcing_a_sighting_again_records_its_hit_once(
    store: SightingStore,
) -> None:
    """A pass announced again only for its direction is the same watchlist hit, not a second one to acknowledge."""
    listed = store.watchlist_add(WatchlistEntry(id=None, plate="AE1234BK"))
    assert listed.id is not None
    stored, _ = store.record(sighting(event_id="ev1"))
    hit = store.record_hit(stored.id, listed.id, "exact", "AE1234BK", T0)
    store.acknowledge_hit(hit, "officer-7", T0 + minutes(1))
    again = store.record_hit(stored.id, listed.id, "exact", "AE1234BK", T0 + minutes(2))
    assert again == hit
    (kept,) = store.hits_for_sighting(stored.id)
    assert kept.acknowledged_by == "officer-7"
    other = store.record_hit(stored.id, listed.id, "lookalike", "AEI234BK", T0)
    assert other != hit
