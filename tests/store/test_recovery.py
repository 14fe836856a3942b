"""A damaged database file is kept whole, a new one started, and what still reads carried over."""

from __future__ import annotations

from datetime import time
import gc
from pathlib import Path
import sqlite3
import warnings

import pytest

from custom_components.plate_tracker.records import Priority, Sighting, WatchlistEntry
from custom_components.plate_tracker.store import SearchQuery, SightingStore
from custom_components.plate_tracker.store.errors import (
    DamagedDatabaseError,
    is_damaged,
)
from custom_components.plate_tracker.store.recovery import (
    AUDIT_ACTION,
    check_store,
    kept_damaged_files,
    resume_set_aside,
    set_damaged_aside,
)
from custom_components.plate_tracker.store.sighting_store import RECOVERED_TABLES

from .conftest import T0, damage_last_leaf, damage_page, minutes, sighting, table_pages

GARBAGE = b"this was a database until the SD card failed\n" * 200
WANTED = (
    WatchlistEntry(
        id=None,
        plate="AE1234BK",
        label="Stolen van",
        reason="case 12/345",
        priority=Priority.CRITICAL,
        expires_at=T0 + minutes(60 * 24 * 30),
        cameras=("bridge", "exit_north"),
        active_from=time(22, 0),
        active_until=time(6, 0),
    ),
    WatchlistEntry(id=None, plate="KA0001AA", label="Witness"),
    WatchlistEntry(id=None, plate="BC55*", enabled=False),
)


def _open_error(path: Path) -> BaseException:
    with pytest.raises(sqlite3.DatabaseError) as caught:
        SightingStore.open(path).close()
    return caught.value


def test_a_file_that_is_not_a_database_is_damaged(db_path: Path) -> None:
    """Garbage where the database was is damage, not a passing error."""
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(GARBAGE)
    assert is_damaged(_open_error(db_path))


def test_a_refused_open_leaves_no_connection_open(db_path: Path) -> None:
    """Each retry on a damaged file must not leave a connection (and its file) open."""
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(GARBAGE)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for _ in range(3):
            try:
                SightingStore.open(db_path)
            except sqlite3.DatabaseError:
                pass
            else:
                pytest.fail("a file that is not a database was opened")
        gc.collect()
    assert [str(w.message) for w in caught if w.category is ResourceWarning] == []


def test_busy_or_unreadable_is_not_damage(db_path: Path, tmp_path: Path) -> None:
    """A locked database or a missing folder is waited for, never set aside."""
    with SightingStore.open(db_path) as store:
        other = sqlite3.connect(db_path, autocommit=True, timeout=0)
        try:
            store._writer.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
            with pytest.raises(sqlite3.OperationalError) as locked:
                other.execute("BEGIN IMMEDIATE")
            store._writer.execute("ROLLBACK")  # type: ignore[union-attr]
        finally:
            other.close()
    assert not is_damaged(locked.value)
    with pytest.raises(sqlite3.OperationalError) as missing:
        sqlite3.connect(tmp_path / "no" / "such" / "folder.db")
    assert not is_damaged(missing.value)
    assert not is_damaged(OSError("disk full"))


def test_garbage_is_kept_whole_and_a_new_database_started(db_path: Path) -> None:
    """Nothing of the damaged file is changed or deleted, its WAL included."""
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(GARBAGE)
    wal = db_path.with_name(db_path.name + "-wal")
    wal.write_bytes(b"half a WAL")

    store, result = set_damaged_aside(db_path, T0, "malformed")

    assert result.damaged == db_path.with_name(
        f"{db_path.name}.damaged-20260301T120000Z"
    )
    assert result.damaged.read_bytes() == GARBAGE
    assert result.damaged.with_name(result.damaged.name + "-wal").read_bytes() == (
        b"half a WAL"
    )
    assert (result.carried["watchlist"], result.watchlist_complete) == (0, False)
    # Why it was set aside stays beside it, and in the new database's audit log.
    assert result.reason == "malformed"
    (kept,) = kept_damaged_files(db_path)
    assert (kept["name"], kept["reason"]) == (result.damaged.name, "malformed")
    assert kept["bytes"] >= len(GARBAGE) + len(b"half a WAL")
    with store:
        assert store.count() == 0
        (audited,) = store.audit_log(action=AUDIT_ACTION)
        assert audited.details == {
            "kept": result.damaged.name,
            "error": "malformed",
            "carried": dict.fromkeys(RECOVERED_TABLES, 0),
            "not_whole": list(RECOVERED_TABLES),
            "watchlist_lost": None,
            "unreadable_ids": dict.fromkeys(RECOVERED_TABLES),
        }
        assert store.record(sighting())[1]

    # Damaged again within the same second: the first file is not overwritten.
    db_path.unlink()
    db_path.with_name(db_path.name + "-wal").unlink(missing_ok=True)
    db_path.write_bytes(GARBAGE[:100])
    store, again = set_damaged_aside(db_path, T0, "malformed")
    store.close()
    assert again.damaged.name == f"{db_path.name}.damaged-20260301T120000Z-2"
    assert result.damaged.read_bytes() == GARBAGE


def test_a_file_that_cannot_be_renamed_is_left_as_it_was(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused rename changes nothing: no half-built database, no reason file."""
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(GARBAGE)
    wal = db_path.with_name(db_path.name + "-wal")
    wal.write_bytes(b"half a WAL")
    rename = Path.rename

    def refuse_the_main_file(self: Path, target: Path) -> Path:
        if self == db_path:
            raise PermissionError("read-only folder")
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", refuse_the_main_file)
    with pytest.raises(PermissionError):
        set_damaged_aside(db_path, T0, "malformed")
    monkeypatch.undo()

    assert sorted(path.name for path in db_path.parent.iterdir()) == [
        db_path.name,
        wal.name,
    ]
    assert db_path.read_bytes() == GARBAGE
    assert wal.read_bytes() == b"half a WAL"


def test_the_watchlist_is_carried_over_from_a_file_damaged_elsewhere(
    db_path: Path,
) -> None:
    """Images' pages overwritten: the watchlist still reads, every field of it."""
    with SightingStore.open(db_path) as store:
        listed = [store.watchlist_add(entry) for entry in WANTED]
        for number in range(300):
            store.record(
                sighting(
                    seen_at=T0 + minutes(number),
                    event_id=str(number),
                    snapshot_jpeg=bytes([number % 256]) * 3000,
                )
            )
    conn = sqlite3.connect(db_path)
    (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    (images_root,) = conn.execute(
        "SELECT rootpage FROM sqlite_schema WHERE name = 'images'"
    ).fetchone()
    conn.close()
    with db_path.open("r+b") as file:
        file.seek((images_root - 1) * page_size)
        file.write(b"\xff" * page_size)
    conn = sqlite3.connect(db_path)
    with pytest.raises(sqlite3.DatabaseError) as caught:
        conn.execute("SELECT count(*), sum(length(jpeg)) FROM images").fetchone()
    conn.close()
    assert is_damaged(caught.value)
    assert pages > 100

    store, result = set_damaged_aside(db_path, T0, "malformed")

    assert (result.carried["watchlist"], result.watchlist_complete) == (3, True)
    assert result.unread == ("images",)
    assert (result.carried["sightings"], result.carried["images"]) == (300, 0)
    with store:
        assert store.watchlist() == listed
        assert store.count() == 300
        assert store.image(1, "snapshot") is None


def test_extended_damage_codes_count_as_damage() -> None:
    """SQLITE_CORRUPT_INDEX and its kin carry SQLITE_CORRUPT in their low byte."""
    err = sqlite3.DatabaseError("database disk image is malformed")
    err.sqlite_errorcode = sqlite3.SQLITE_CORRUPT_INDEX  # type: ignore[attr-defined]
    assert is_damaged(err)
    err.sqlite_errorcode = sqlite3.SQLITE_BUSY_SNAPSHOT  # type: ignore[attr-defined]
    assert not is_damaged(err)


def test_quick_check_finds_damage_and_a_damaged_store_still_closes(
    db_path: Path,
) -> None:
    """The check the integration runs after a refused write; closing never raises."""
    with SightingStore.open(db_path) as store:
        check_store(store)
        for number in range(20):
            store.record(sighting(event_id=str(number), snapshot_jpeg=b"x" * 3000))
    damage_last_leaf(db_path, "images")

    store = SightingStore.open(db_path)
    with pytest.raises(DamagedDatabaseError) as caught:
        check_store(store)
    assert is_damaged(caught.value)
    assert "malformed" in str(caught.value)
    store.close()


def _fill(store: SightingStore, count: int, picture: int) -> list[WatchlistEntry]:
    """Store ``count`` sightings (five a plate, two cameras), hits and audit lines."""
    listed = [store.watchlist_add(entry) for entry in WANTED]
    for number in range(count):
        stored, _ = store.record(
            sighting(
                camera=("bridge", "exit_north")[number % 2],
                seen_at=T0 + minutes(number),
                plate=f"AE{number // 5:04d}BK",
                event_id=str(number),
                snapshot_jpeg=bytes([number % 251]) * picture,
            )
        )
        if number % 7 == 0:
            store.record_hit(stored.id, listed[0].id or 0, "exact", stored.plate, T0)
        store.audit_append("police", "search", {"n": number}, "case 12/345", T0)
    return listed


def _damaged_in_the_middle(
    db_path: Path, count: int, picture: int
) -> tuple[list[WatchlistEntry], int]:
    """Fill a store (see ``_fill``), then damage its middle sightings page.

    Return the watchlist and how many sightings that page held.
    """
    with SightingStore.open(db_path) as store:
        listed = _fill(store, count, picture=picture)
    leaves = table_pages(db_path, "sightings", "leaf")
    page, lost = leaves[len(leaves) // 2]
    damage_page(db_path, page)
    return listed, lost


def test_rows_past_a_damaged_page_are_carried_over(db_path: Path) -> None:
    """A damaged page in the middle of the sightings loses only the rows on it."""
    with SightingStore.open(db_path) as store:
        listed = _fill(store, 600, picture=300)
        before = {number: store.get(number) for number in range(1, 601)}
        hits_before = store.hits_for_entry(listed[0].id or 0, limit=1000)
    leaves = table_pages(db_path, "sightings", "leaf")
    page, lost = leaves[len(leaves) // 2]
    damage_page(db_path, page)

    store, result = set_damaged_aside(db_path, T0, "malformed")

    with store:
        carried = {number: store.get(number) for number in range(1, 601)}
        missing = [number for number, found in carried.items() if found is None]
        # The rows of that one page, ids in a row; every other sighting whole.
        assert len(missing) == lost > 5
        assert missing == list(range(missing[0], missing[0] + lost))
        assert all(carried[n] == before[n] for n in before if n not in missing)
        assert result.carried["sightings"] == store.count() == 600 - lost
        assert result.unread == ("sightings", "images", "watchlist_hits")
        # Which sightings were on the damaged page is known; the pictures and
        # hits left out read fine but belong to those sightings.
        assert result.unreadable_ids == {
            "sightings": ((missing[0], missing[-1]),),
            "images": (),
            "watchlist_hits": (),
        }
        (audited,) = store.audit_log(action=AUDIT_ACTION)
        assert audited.details["unreadable_ids"]["sightings"] == [
            [missing[0], missing[-1]]
        ]
        assert result.watchlist_complete
        assert store.watchlist() == listed
        assert result.carried["audit"] == 600
        # The 600 carried lines, and the set-aside's own as the newest.
        assert [len(store.audit_log(limit=500, offset=at)) for at in (0, 500)] == [
            500,
            101,
        ]
        assert store.audit_log(limit=1)[0].action == AUDIT_ACTION
        # Pictures and hits come with the sightings they belong to.
        assert result.carried["images"] == 600 - lost
        assert store.image(600, "snapshot") == bytes([599 % 251]) * 300
        assert store.image(missing[0], "snapshot") is None
        assert store.hits_for_entry(listed[0].id or 0, limit=1000) == [
            hit for hit in hits_before if hit.sighting_id not in missing
        ]
        # Plates seen only on the lost page are gone; the others still search,
        # fuzzily too, and their routes are built again.
        gone = {before[n].plate for n in missing} - {  # type: ignore[union-attr]
            found.plate for found in carried.values() if found is not None
        }
        assert gone
        for plate in gone:
            assert store.route_for(plate) == []
            assert not store.search(SearchQuery(plate=plate)).sightings
        assert [row[0] for row in store.route_for("AE0119BK")] == [
            596,
            597,
            598,
            599,
            600,
        ]
        fuzzy = store.search(SearchQuery(plate="AE0I19BK", fuzzy=True)).sightings
        assert {596, 597, 598, 599, 600} <= {found.id for found in fuzzy}
        assert store.search(SearchQuery(plate="AE011*")).sightings
        # New sightings follow the carried ones.
        new, _ = store.record(sighting(seen_at=T0 + minutes(700), event_id="new"))
        assert new.id == 601


def test_a_damaged_picture_loses_only_its_own_row(db_path: Path) -> None:
    """A picture whose overflow page is damaged is left out; the scan goes on past it."""
    with SightingStore.open(db_path) as store:
        _fill(store, 40, picture=9000)
    overflow = table_pages(db_path, "images", "overflow")
    assert len(overflow) >= 80
    damage_page(db_path, overflow[len(overflow) // 2][0])

    store, result = set_damaged_aside(db_path, T0, "malformed")

    with store:
        assert result.carried["sightings"] == store.count() == 40
        assert result.carried["images"] == 39
        assert result.unread == ("images",)
        pictures = [store.image(number, "snapshot") for number in range(1, 41)]
        assert pictures.count(None) == 1
        assert all(
            picture == bytes([number % 251]) * 9000
            for number, picture in enumerate(pictures)
            if picture is not None
        )


@pytest.mark.parametrize("between", [1, 2, 5])
def test_two_damaged_pages_lose_only_their_own_rows(
    db_path: Path, between: int
) -> None:
    """Each damaged stretch is sought past on its own; the pages between them come over."""
    with SightingStore.open(db_path) as store:
        _fill(store, 1000, picture=0)
    leaves = table_pages(db_path, "sightings", "leaf")
    damaged = (leaves[2], leaves[3 + between])
    for page, _ in damaged:
        damage_page(db_path, page)

    store, result = set_damaged_aside(db_path, T0, "malformed")

    with store:
        missing = [n for n in range(1, 1001) if store.get(n) is None]
    runs = [n for n in missing if n - 1 not in missing]
    assert len(runs) == 2
    assert len(missing) == sum(cells for _, cells in damaged)
    assert result.carried["sightings"] == 1000 - len(missing)


@pytest.mark.parametrize("first", [2, 3, 4, 6])
def test_a_good_page_between_longer_damaged_stretches_is_carried_over(
    db_path: Path, first: int
) -> None:
    """A seek that doubles its jump can leap over a good page shorter than the damage before it.

    Every row whose page still reads comes over all the same: the rows the
    table holds are known from one of its indexes, on pages of their own.
    """
    with SightingStore.open(db_path) as store:
        _fill(store, 3000, picture=0)
    leaves = table_pages(db_path, "sightings", "leaf")
    damaged = [*leaves[2 : 2 + first], leaves[3 + first]]
    for page, _ in damaged:
        damage_page(db_path, page)

    store, result = set_damaged_aside(db_path, T0, "malformed")

    with store:
        missing = [n for n in range(1, 3001) if store.get(n) is None]
    assert len(missing) == sum(cells for _, cells in damaged)
    runs = [n for n in missing if n - 1 not in missing]
    assert len(runs) == 2
    assert result.carried["sightings"] == 3000 - len(missing)
    assert [
        n
        for first, last in result.unreadable_ids["sightings"] or ()
        for n in range(first, last + 1)
    ] == missing


@pytest.mark.parametrize("sequence_kept", [True, False], ids=["sequence", "none"])
def test_ids_lost_with_a_damaged_file_are_not_given_again(
    db_path: Path, sequence_kept: bool
) -> None:
    """A case file may cite a sighting or hit only the damaged file still holds: no new row takes its id.

    The damaged file's ``sqlite_sequence`` tells the highest id it ever gave,
    purged rows' too. Without it (a file from before schema version 7, or that
    table damaged too) the ids of the rows lost on damaged pages, and of the
    hits left out with them, are known all the same.
    """
    with SightingStore.open(db_path) as store:
        listed = _fill(store, 600, picture=0)
        hits = [hit.id for hit in store.hits_for_entry(listed[0].id or 0, limit=1000)]
        # Purged before the damage: only the sequence still knows these ids.
        assert store.purge(since=T0 + minutes(590)) == 10
    if not sequence_kept:
        conn = sqlite3.connect(db_path)
        with conn:
            conn.execute("DELETE FROM sqlite_sequence")
        conn.close()
    damage_last_leaf(db_path, "sightings")

    store, result = set_damaged_aside(db_path, T0, "malformed")

    with store:
        ((_, last_lost),) = result.unreadable_ids["sightings"] or ()
        assert last_lost == 590
        new, _ = store.record(sighting(seen_at=T0 + minutes(700), event_id="new"))
        hit = store.record_hit(new.id, listed[0].id or 0, "exact", new.plate, T0)
    # A hit on every seventh sighting; the one on sighting 596 went with the purge.
    assert max(hits) == 86
    assert (new.id, hit) == ((601, 87) if sequence_kept else (591, 86))


def test_cameras_and_plates_on_damaged_pages_come_back_from_their_indexes(
    db_path: Path,
) -> None:
    """A lost camera or plate row would take every sighting of it along.

    The cameras table fits in one page: damaged, no sighting could be carried
    over. Both tables' rows are whole in their unique indexes, on other pages.
    """
    with SightingStore.open(db_path) as store:
        listed = _fill(store, 3000, picture=20)
        before = [store.get(number) for number in range(1, 3001)]
        hits_before = store.hits_for_entry(listed[0].id or 0, limit=1000)
        cameras = store.cameras()
    # Every plates leaf: more rows than one batch read back.
    plate_leaves = table_pages(db_path, "plates", "leaf")
    assert len(plate_leaves) >= 3
    for page, _ in plate_leaves:
        damage_page(db_path, page)
    (camera_page,) = table_pages(db_path, "cameras", "leaf")
    damage_page(db_path, camera_page[0])
    lost = _unreadable_plates(db_path, before)
    assert len(lost) == 600

    store, result = set_damaged_aside(db_path, T0, "malformed")

    with store:
        assert result.unread == ()
        assert result.carried["cameras"] == 2
        assert result.carried["plates"] == 600
        assert result.carried["sightings"] == store.count() == 3000
        assert [store.get(number) for number in range(1, 3001)] == before
        assert store.cameras() == cameras
        assert result.carried["images"] == 3000
        assert store.hits_for_entry(listed[0].id or 0, limit=1000) == hits_before
        # Plates read back from the index are found fuzzily and by pattern too.
        for plate, sighting_ids in lost.items():
            for query in (
                SearchQuery(plate=f"{plate[:-1]}X", fuzzy=True, page_size=500),
                SearchQuery(plate=f"{plate[:6]}*", page_size=500),
            ):
                found = {found.id for found in store.search(query).sightings}
                assert sighting_ids <= found


def _unreadable_plates(
    db_path: Path, sightings: list[Sighting | None]
) -> dict[str, set[int]]:
    """Return the plates whose rows no longer read, with their sightings' ids."""
    by_plate: dict[str, set[int]] = {}
    for found in sightings:
        assert found is not None
        by_plate.setdefault(found.plate, set()).add(found.id)
    conn = sqlite3.connect(db_path)
    lost = {}
    try:
        for plate, ids in by_plate.items():
            plate_id = conn.execute(
                "SELECT plate_id FROM sightings WHERE id = ?", (min(ids),)
            ).fetchone()[0]
            try:
                conn.execute(
                    "SELECT plate FROM plates WHERE id = ?", (plate_id,)
                ).fetchone()
            except sqlite3.DatabaseError:
                lost[plate] = ids
    finally:
        conn.close()
    return lost


@pytest.mark.parametrize("index_damaged", [False, True])
def test_watchlist_entries_lost_are_named_from_their_index(
    db_path: Path, index_damaged: bool
) -> None:
    """A lost entry's label and times are gone, but its plate is in the index: say which."""
    with SightingStore.open(db_path) as store:
        listed = _fill(store, 50, picture=0)
        hits = store.hits_for_entry(listed[0].id or 0, limit=100)
    names = ["watchlist"] + (["sqlite_autoindex_watchlist_1"] if index_damaged else [])
    for name in names:
        ((page, _),) = table_pages(db_path, name, "leaf")
        damage_page(db_path, page)

    store, result = set_damaged_aside(db_path, T0, "malformed")

    with store:
        assert not result.watchlist_complete
        assert store.watchlist() == []
        expected = None if index_damaged else ("AE1234BK", "BC55*", "KA0001AA")
        assert result.watchlist_lost == expected
        (audited,) = store.audit_log(action=AUDIT_ACTION)
        assert audited.details["watchlist_lost"] == (
            None if expected is None else list(expected)
        )
        # The hits stay, without their entry, as after an entry is removed.
        assert result.carried["watchlist_hits"] == len(hits) == 8
        assert store.count() == 50


def test_a_damaged_index_too_leaves_its_table_incomplete(db_path: Path) -> None:
    """With the cameras' index damaged as well, their sightings cannot come over."""
    with SightingStore.open(db_path) as store:
        _fill(store, 50, picture=0)
    for name in ("cameras", "sqlite_autoindex_cameras_1"):
        ((page, _),) = table_pages(db_path, name, "leaf")
        damage_page(db_path, page)

    store, result = set_damaged_aside(db_path, T0, "malformed")

    with store:
        assert result.carried["cameras"] == 0
        assert result.carried["sightings"] == store.count() == 0
        assert result.unread == ("cameras", "sightings", "images", "watchlist_hits")
        assert result.carried["audit"] == 50
        assert result.watchlist_complete


def test_a_damaged_trigram_index_is_rebuilt_in_place(db_path: Path) -> None:
    """FTS5 damage, the pages sound: the check rebuilds the index, the file stays."""
    with SightingStore.open(db_path) as store:
        for number in range(300):
            store.record(sighting(plate=f"AE{number:04d}BK", event_id=str(number)))
        wanted = store.search(SearchQuery(plate="AE01*", page_size=500)).sightings
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute(
            "UPDATE plate_trigrams_data SET block = randomblob(length(block))"
            " WHERE id > 10"
        )
    conn.close()

    with SightingStore.open(db_path) as store:
        with pytest.raises(sqlite3.DatabaseError) as caught:
            store.search(SearchQuery(plate="AE01*", page_size=500))
        assert is_damaged(caught.value)

        assert check_store(store) == ["plate_trigrams"]

        assert store.search(SearchQuery(plate="AE01*", page_size=500)).sightings == (
            wanted
        )
        assert len(wanted) == 100
        assert check_store(store) == []
    assert not list(db_path.parent.glob("*.damaged-*"))


def test_indexes_that_no_longer_match_their_tables_are_rebuilt(db_path: Path) -> None:
    """Two time indexes swapped on disk: rebuilt from their tables, the file stays."""
    with SightingStore.open(db_path) as store:
        for number in range(300):
            store.record(
                sighting(
                    seen_at=T0 + minutes(number),
                    event_id=str(number),
                    snapshot_jpeg=b"x" * 100 if number % 3 else None,
                )
            )
    conn = sqlite3.connect(db_path)
    roots = dict(
        conn.execute(
            "SELECT name, rootpage FROM sqlite_schema"
            " WHERE name IN ('sightings_time', 'images_time')"
        ).fetchall()
    )
    conn.execute("PRAGMA writable_schema = ON")
    with conn:
        for name, other in (
            ("sightings_time", "images_time"),
            ("images_time", "sightings_time"),
        ):
            conn.execute(
                "UPDATE sqlite_schema SET rootpage = ? WHERE name = ?",
                (roots[other], name),
            )
    conn.close()

    with SightingStore.open(db_path) as store:
        assert store._integrity_problems(10)
        assert check_store(store) == ["indexes"]
        assert store._integrity_problems(10) == []
        page = store.search(SearchQuery(since=T0 + minutes(290), page_size=500))
        assert [found.id for found in page.sightings] == list(range(300, 290, -1))


class _PowerCut(BaseException):
    """Stands for the process stopping where it is."""


def test_a_set_aside_cut_short_is_done_again(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new database is moved into place only when whole; a cut one is built again."""
    listed, lost = _damaged_in_the_middle(db_path, 300, picture=100)
    carry = SightingStore.insert_recovered

    def cut_at_images(store: SightingStore, table: str, rows: list) -> int:
        if table == "images":
            raise _PowerCut
        return carry(store, table, rows)

    monkeypatch.setattr(SightingStore, "insert_recovered", cut_at_images)
    with pytest.raises(_PowerCut):
        set_damaged_aside(db_path, T0, "malformed")
    monkeypatch.undo()
    # The sightings went into the half-built file only: no database to open.
    assert not db_path.exists()
    (building,) = db_path.parent.glob("*.new")

    resumed = resume_set_aside(db_path)

    assert resumed is not None
    store, result = resumed
    with store:
        assert result.damaged == building.with_name(building.name.removesuffix(".new"))
        assert result.carried["images"] == result.carried["sightings"] == store.count()
        assert store.count() == 300 - lost
        assert store.watchlist() == listed
        assert result.reason == "malformed"
        (audited,) = store.audit_log(action=AUDIT_ACTION)
        assert audited.details["carried"]["sightings"] == 300 - lost
    assert not list(db_path.parent.glob("*.new*"))
    assert resume_set_aside(db_path) is None


def test_a_set_aside_that_could_not_start_its_new_database_is_done_again(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new file refused (a full disk) after the damaged one moved: the next start goes on."""
    _, lost = _damaged_in_the_middle(db_path, 300, picture=10)
    opened = SightingStore.open

    def refuse_the_new_file(path: Path, **kwargs: bool) -> SightingStore:
        if path.name.endswith(".new"):
            raise sqlite3.OperationalError("database or disk is full")
        return opened(path, **kwargs)

    monkeypatch.setattr(SightingStore, "open", refuse_the_new_file)
    with pytest.raises(sqlite3.OperationalError):
        set_damaged_aside(db_path, T0, "malformed")
    monkeypatch.undo()
    assert not db_path.exists()
    # Set aside by a version that kept no reason.
    (reason,) = db_path.parent.glob("*.reason")
    reason.unlink()

    resumed = resume_set_aside(db_path)

    assert resumed is not None
    store, result = resumed
    with store:
        assert result.reason.startswith("not recorded")
        assert result.carried["watchlist"] == 3
        assert store.count() == 300 - lost
    assert not list(db_path.parent.glob("*.new*"))


def test_a_set_aside_during_a_backup_keeps_the_new_main_file_still(
    db_path: Path,
) -> None:
    """Held (a backup runs): the carried rows wait in the WAL, the main file is not written."""
    _, lost = _damaged_in_the_middle(db_path, 300, picture=10)

    store, _ = set_damaged_aside(db_path, T0, "malformed", held=True)

    assert store.main_file_held
    main_file = db_path.read_bytes()
    store.record(sighting(event_id="during the backup"))
    assert store.count() == 301 - lost
    store.close()
    assert db_path.read_bytes() == main_file
    with SightingStore.open(db_path) as store:
        assert store.count() == 301 - lost
