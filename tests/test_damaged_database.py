"""A damaged database does not keep the integration down: set aside, a new one, a repair issue."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from http import HTTPStatus
from pathlib import Path
import sqlite3
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady, HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from yarl import URL

from custom_components.plate_tracker import database
from custom_components.plate_tracker.const import DATABASE_FILE, DOMAIN, EVENT_SIGHTING
from custom_components.plate_tracker.database import (
    async_check_due,
    async_lost_watchlist,
    async_open_database,
)
from custom_components.plate_tracker.records import Priority, WatchlistEntry
from custom_components.plate_tracker.repairs import RESTORED_LABEL
from custom_components.plate_tracker.store import SightingStore

from .helpers import call, wait_until
from .store.conftest import T0, damage_last_leaf, sighting
from .synthetic import scene_jpeg

GARBAGE = b"the SD card returned this instead of the database\n" * 100
IMAGE = b"j" * 3000
"""Nearly a page: 20 images fill 20 leaves of the images table."""


def _kept_file_and_issue(
    issue_registry: ir.IssueRegistry, database: Path
) -> tuple[Path, ir.IssueEntry]:
    """Return the one damaged file kept beside ``database``, and the repair issue naming it."""
    (damaged,) = database.parent.glob(f"{DATABASE_FILE}.damaged-*Z")
    issue = issue_registry.async_get_issue(DOMAIN, f"database_damaged_{damaged.name}")
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_placeholders is not None
    return damaged, issue


async def _damaged_while_stopped[T](
    hass: HomeAssistant,
    entry: MockConfigEntry,
    config_dir: Path,
    table: str,
    fill: Callable[[SightingStore], T],
    *,
    damage: Callable[[Path, str], object] = damage_last_leaf,
) -> tuple[Path, T]:
    """Set the entry up, ``fill`` its store, stop it, and ``damage`` ``table``.

    By default the table's last page is overwritten. Return the database's
    path and what ``fill`` returned.
    """
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    filled = await hass.async_add_executor_job(fill, entry.runtime_data.store)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    database = config_dir / DOMAIN / DATABASE_FILE
    damage(database, table)
    return database, filled


async def test_damaged_database_is_set_aside_and_sightings_go_on(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    config_dir: Path,
    folder_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """The entry loads on a new database; the issue names the kept file."""
    database = config_dir / DOMAIN / DATABASE_FILE
    database.write_bytes(GARBAGE)
    folder_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    assert folder_entry.state is ConfigEntryState.LOADED

    damaged, issue = _kept_file_and_issue(issue_registry, database)
    assert damaged.read_bytes() == GARBAGE
    assert issue.translation_key == "database_damaged_watchlist_incomplete"
    assert issue.translation_placeholders["damaged"] == str(damaged)
    assert issue.translation_placeholders["watchlist"] == "0"
    assert "not a database" in issue.translation_placeholders["error"]
    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, folder_entry
    )
    error = issue.translation_placeholders["error"]
    assert diagnostics["store"]["damaged_files_kept"] == [
        {"name": damaged.name, "bytes": len(GARBAGE), "reason": error}
    ]

    store = folder_entry.runtime_data.store
    (audited,) = await hass.async_add_executor_job(
        partial(store.audit_log, action="database_set_aside")
    )
    assert audited.user_id is None
    assert audited.details["kept"] == damaged.name
    assert audited.details["error"] == error
    assert audited.details["carried"]["watchlist"] == 0
    assert "watchlist" in audited.details["not_whole"]
    _, created = await hass.async_add_executor_job(
        store.record,
        sighting(),
    )
    assert created
    await hass.config_entries.async_unload(folder_entry.entry_id)
    await hass.async_block_till_done()


async def test_a_set_aside_a_power_cut_interrupted_is_done_again_at_start(
    hass: HomeAssistant,
    config_dir: Path,
    folder_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """The files as a power cut leaves them: the kept file, a half-built new one, no database."""

    def fill(store: SightingStore) -> WatchlistEntry:
        for number in range(20):
            store.record(sighting(event_id=str(number)))
        return store.watchlist_add(WatchlistEntry(id=None, plate="AE1234BK"))

    database, listed = await _damaged_while_stopped(
        hass, folder_entry, config_dir, "sightings", fill, damage=lambda _, __: None
    )
    kept = database.with_name(f"{DATABASE_FILE}.damaged-20260301T120000Z")
    database.rename(kept)
    kept.with_name(kept.name + ".new").write_bytes(b"half a database")
    kept.with_name(kept.name + ".reason").write_text(
        "database disk image is malformed", encoding="utf-8"
    )

    assert await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()

    assert folder_entry.state is ConfigEntryState.LOADED
    damaged, issue = _kept_file_and_issue(issue_registry, database)
    assert damaged == kept
    assert issue.translation_key == "database_damaged"
    # What SQLite said before the power cut, kept beside the file.
    assert issue.translation_placeholders["error"] == "database disk image is malformed"
    assert issue.translation_placeholders["sightings"] == "20"
    store = folder_entry.runtime_data.store
    (audited,) = await hass.async_add_executor_job(
        partial(store.audit_log, action="database_set_aside")
    )
    assert audited.details["error"] == "database disk image is malformed"
    assert audited.details["carried"]["sightings"] == 20
    assert await hass.async_add_executor_job(store.watchlist) == [listed]
    assert await hass.async_add_executor_job(store.count) == 20
    assert not list(database.parent.glob("*.new*"))
    await hass.config_entries.async_unload(folder_entry.entry_id)
    await hass.async_block_till_done()


async def test_a_database_that_cannot_be_opened_is_waited_for_not_set_aside(
    hass: HomeAssistant, config_dir: Path, folder_entry: MockConfigEntry
) -> None:
    """Only damage moves the file: a folder that cannot hold it leaves it all alone."""
    folder = config_dir / DOMAIN
    database = folder / DATABASE_FILE
    database.mkdir()  # a folder where the file should be: SQLite cannot open it
    folder_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    assert folder_entry.state is ConfigEntryState.SETUP_RETRY
    assert database.is_dir()
    assert not list(folder.glob(f"{DATABASE_FILE}.damaged-*Z"))


@pytest.mark.usefixtures("no_inbox_poll_wait")
async def test_damage_found_by_a_write_is_checked_and_set_aside(
    hass: HomeAssistant,
    config_dir: Path,
    inbox: Path,
    folder_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Damage the start-up does not touch: the sighting waits, is stored, and alerts go on.

    The last page of the images table is damaged while Home Assistant is
    stopped; opening the database does not read it. The first upload's write is refused as damaged:
    the sighting goes to the spool, the entry reloads, SQLite's quick check
    finds the damage, the file is set aside with what still reads carried
    over (the watchlist, the earlier sightings, the pictures not on the
    damaged page), and the spooled sighting is stored in the new database
    after them and announced.
    """

    def fill(store: SightingStore) -> WatchlistEntry:
        for number in range(20):
            store.record(
                sighting(plate="KA0001AA", event_id=str(number), snapshot_jpeg=IMAGE)
            )
        return store.watchlist_add(
            WatchlistEntry(id=None, plate="AE1234BK", label="Stolen")
        )

    database, listed = await _damaged_while_stopped(
        hass, folder_entry, config_dir, "images", fill
    )
    assert await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    assert not list(database.parent.glob(f"{DATABASE_FILE}.damaged-*Z"))

    events = async_capture_events(hass, EVENT_SIGHTING)
    camera = inbox / "bridge"
    camera.mkdir()
    partial = camera / ".snapshot.jpg.part"
    partial.write_bytes(scene_jpeg("AE1234BK", seed=3))
    partial.replace(camera / "snapshot.jpg")
    await wait_until(lambda: bool(events), seconds=60)
    await hass.async_block_till_done()

    assert events[0].data["plate"] == "AE1234BK"
    _, issue = _kept_file_and_issue(issue_registry, database)
    # The pictures on the damaged page are lost; everything else came over.
    assert issue.translation_key == "database_damaged_rows_lost"
    placeholders = issue.translation_placeholders
    assert (placeholders["watchlist"], placeholders["sightings"]) == ("1", "20")
    assert int(placeholders["images"]) < 20
    store = folder_entry.runtime_data.store
    assert await hass.async_add_executor_job(store.watchlist) == [listed]
    assert await hass.async_add_executor_job(store.count) == 21
    assert events[0].data["sighting_id"] == 21
    await hass.config_entries.async_unload(folder_entry.entry_id)
    await hass.async_block_till_done()


def _fill_watchlist(store: SightingStore) -> None:
    """List 100 wanted plates: the watchlist table's last page holds the last few dozen."""
    for number in range(100):
        store.watchlist_add(
            WatchlistEntry(
                id=None, plate=f"AE{number:04d}BK", label="Stolen", reason="x" * 200
            )
        )


async def test_damage_met_by_the_first_reads_is_checked_on_the_next_try(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    config_dir: Path,
    folder_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """The watchlist's last page damaged: setup waits, the next try sets the file aside.

    The watchlist is read whole at setup, after opening. What comes before the
    damaged page is carried over, the issue counts the rest, and its repair
    names their plates.
    """
    database, _ = await _damaged_while_stopped(
        hass, folder_entry, config_dir, "watchlist", _fill_watchlist
    )

    await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    assert folder_entry.state is ConfigEntryState.SETUP_RETRY
    assert not list(database.parent.glob(f"{DATABASE_FILE}.damaged-*Z"))

    assert await hass.config_entries.async_reload(folder_entry.entry_id)
    await hass.async_block_till_done()
    assert folder_entry.state is ConfigEntryState.LOADED
    damaged, issue = _kept_file_and_issue(issue_registry, database)
    # The entries on the damaged page are counted; their plates come from the watchlist's index.
    assert issue.translation_key == "database_damaged_watchlist_lost"
    carried = int(issue.translation_placeholders["watchlist"])
    assert 50 < carried < 100
    assert issue.translation_placeholders["watchlist_lost"] == str(100 - carried)
    assert issue.data == {"kept": damaged.name}
    store = folder_entry.runtime_data.store
    plates = [
        entry.plate for entry in await hass.async_add_executor_job(store.watchlist)
    ]
    assert plates == [f"AE{number:04d}BK" for number in range(carried)]

    # The repair lists the lost plates again in one step, at the priority chosen.
    lost = [f"AE{number:04d}BK" for number in range(carried, 100)]
    await hass.async_add_executor_job(
        store.watchlist_add,
        WatchlistEntry(id=None, plate=lost[0], label="Listed again by hand"),
    )
    assert issue.is_fixable
    assert await async_setup_component(hass, "repairs", {})
    client = await hass_client()
    started = await client.post(
        "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": issue.issue_id}
    )
    assert started.status == HTTPStatus.OK
    form = await started.json()
    assert form["step_id"] == "confirm"
    assert form["description_placeholders"]["plates"] == ", ".join(lost)
    done = await client.post(
        f"/api/repairs/issues/fix/{form['flow_id']}", json={"priority": "critical"}
    )
    assert done.status == HTTPStatus.OK
    assert (await done.json())["type"] == "create_entry"
    listed = {
        entry.plate: entry
        for entry in await hass.async_add_executor_job(store.watchlist)
    }
    assert sorted(listed) == [f"AE{number:04d}BK" for number in range(100)]
    assert listed[lost[0]].label == "Listed again by hand"
    for plate in lost[1:]:
        assert (listed[plate].label, listed[plate].priority) == (
            RESTORED_LABEL,
            Priority.CRITICAL,
        )
    # Alerts use them at once, the change is audited, and the issue is gone.
    alerts = folder_entry.runtime_data.alerts
    assert {entry.plate for entry in alerts.entries} >= set(lost)
    (audited,) = await hass.async_add_executor_job(
        partial(store.audit_log, action="watchlist_add")
    )
    assert audited.details["plates"] == lost[1:]
    assert audited.details["already_listed"] == lost[:1]
    assert audited.details["via"] == "repair_flow"
    assert issue_registry.async_get_issue(DOMAIN, issue.issue_id) is None
    assert await async_lost_watchlist(hass, damaged.name) == []
    await hass.config_entries.async_unload(folder_entry.entry_id)
    await hass.async_block_till_done()


async def _downloaded_diagnostics(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, entry: MockConfigEntry
) -> dict[str, Any]:
    """Return the whole file the diagnostics download gives, the integration's issues included."""
    assert await async_setup_component(hass, "diagnostics", {})
    client = await hass_client()
    response = await client.get(f"/api/diagnostics/config_entry/{entry.entry_id}")
    assert response.status == HTTPStatus.OK
    downloaded: dict[str, Any] = await response.json()
    return downloaded


async def test_lost_watched_plates_stay_out_of_the_diagnostics_download(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    config_dir: Path,
    folder_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """The plates of lost watchlist entries are wanted cars, kept apart from the repair issue.

    Home Assistant's diagnostics download carries the integration's persistent
    issues, data and placeholders as they are, outside the integration's
    redaction: a file shared with a stranger for support must not list them.
    """
    database, _ = await _damaged_while_stopped(
        hass, folder_entry, config_dir, "watchlist", _fill_watchlist
    )
    await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_reload(folder_entry.entry_id)
    await hass.async_block_till_done()
    damaged, issue = _kept_file_and_issue(issue_registry, database)
    assert issue.translation_key == "database_damaged_watchlist_lost"

    downloaded = await _downloaded_diagnostics(hass, hass_client, folder_entry)
    (issue_downloaded,) = downloaded["issues"]
    assert issue_downloaded["data"] == {"kept": damaged.name}
    assert "AE0099BK" not in str(downloaded)
    lost = await async_lost_watchlist(hass, damaged.name)
    assert lost[-1] == "AE0099BK"
    assert issue_downloaded["translation_placeholders"]["watchlist_lost"] == str(
        len(lost)
    )
    await hass.config_entries.async_unload(folder_entry.entry_id)
    await hass.async_block_till_done()


async def test_an_older_issue_naming_the_lost_plates_is_rewritten_at_start(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    folder_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """An older version wrote the lost plates into its persistent issue: they move out, the repair still lists them.

    Until moved, every diagnostics download carried those plates.
    """
    kept = f"{DATABASE_FILE}.damaged-20260301T120000Z"
    issue_id = f"database_damaged_{kept}"
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=True,
        is_persistent=True,
        severity=ir.IssueSeverity.ERROR,
        translation_key="database_damaged_watchlist_lost",
        data={"plates": "AE1234BK,KA0001AA", "kept": kept},
        translation_placeholders={
            "watchlist": "3",
            "watchlist_lost": "AE1234BK, KA0001AA",
        },
    )
    # Before any client request: newer Home Assistant freezes the HTTP router
    # once the test server runs, and repairs registers views.
    assert await async_setup_component(hass, "repairs", {})
    folder_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()

    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.data == {"kept": kept}
    assert issue.translation_placeholders == {"watchlist": "3", "watchlist_lost": "2"}
    assert issue.is_fixable
    assert "AE1234BK" not in str(
        await _downloaded_diagnostics(hass, hass_client, folder_entry)
    )

    client = await hass_client()
    started = await client.post(
        "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": issue_id}
    )
    form = await started.json()
    assert form["description_placeholders"]["plates"] == "AE1234BK, KA0001AA"
    done = await client.post(
        f"/api/repairs/issues/fix/{form['flow_id']}", json={"priority": "high"}
    )
    assert (await done.json())["type"] == "create_entry"
    store = folder_entry.runtime_data.store
    listed = await hass.async_add_executor_job(store.watchlist)
    assert sorted(entry.plate for entry in listed) == ["AE1234BK", "KA0001AA"]
    assert await async_lost_watchlist(hass, kept) == []
    await hass.config_entries.async_unload(folder_entry.entry_id)
    await hass.async_block_till_done()


async def test_a_service_meeting_damage_gets_a_translated_error_and_a_check(
    hass: HomeAssistant,
    config_dir: Path,
    folder_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A search whose audit line cannot be written says so; the reload sets the file aside.

    The audit log's last page is damaged: the search itself reads fine, but
    its audit line, written before the answer, is refused as damaged. No
    unaudited answer is given.
    """

    def fill(store: SightingStore) -> None:
        for _ in range(100):
            store.audit_append(None, "search", {"n": "x" * 200}, None, T0)
        store.record(sighting())

    database, _ = await _damaged_while_stopped(
        hass, folder_entry, config_dir, "audit", fill
    )
    assert await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()

    with pytest.raises(HomeAssistantError) as caught:
        await call(hass, "search_sightings", {"plate": "AE1234BK", "reason": "case 42"})
    assert caught.value.translation_key == "store_failed"
    assert "malformed" in str(caught.value.translation_placeholders)
    await hass.async_block_till_done()

    assert folder_entry.state is ConfigEntryState.LOADED
    _kept_file_and_issue(issue_registry, database)
    answer = await call(
        hass, "search_sightings", {"plate": "AE1234BK", "reason": "case 42"}
    )
    # The sighting came over with the audit lines before the damaged page.
    assert [found["plate"] for found in answer["sightings"]] == ["AE1234BK"]
    await hass.config_entries.async_unload(folder_entry.entry_id)
    await hass.async_block_till_done()


def _scramble_fts_index(database: Path, table: str) -> None:
    """Overwrite the FTS5 index ``table``'s segments: its pages stay sound, its content not."""
    conn = sqlite3.connect(database)
    try:
        with conn:
            conn.execute(
                f"UPDATE {table}_data SET block = randomblob(length(block))"  # noqa: S608
                " WHERE id > 10"
            )
    finally:
        conn.close()


async def test_a_damaged_trigram_index_is_rebuilt_and_the_file_kept(
    hass: HomeAssistant,
    config_dir: Path,
    folder_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A pattern search meeting FTS5 damage is refused once; the check rebuilds the index.

    SQLite 3.40 passes such a file in its checks, so without the rebuild
    every pattern search failed and the entry reloaded once an hour for
    ever; SQLite 3.53 found it, and the whole file was set aside.
    """

    def fill(store: SightingStore) -> None:
        for number in range(300):
            store.record(sighting(plate=f"AE{number:04d}BK", event_id=str(number)))

    database, _ = await _damaged_while_stopped(
        hass,
        folder_entry,
        config_dir,
        "plate_trigrams",
        fill,
        damage=_scramble_fts_index,
    )
    assert await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    query = {"plate": "AE01*", "page_size": 500, "reason": "case 42"}

    with pytest.raises(HomeAssistantError) as caught:
        await call(hass, "search_sightings", query)
    assert caught.value.translation_key == "store_failed"
    await hass.async_block_till_done()

    assert folder_entry.state is ConfigEntryState.LOADED
    answer = await call(hass, "search_sightings", query)
    assert sorted(found["plate"] for found in answer["sightings"]) == [
        f"AE{number:04d}BK" for number in range(100, 200)
    ]
    assert not list(database.parent.glob(f"{DATABASE_FILE}.damaged-*"))
    assert not [
        issue
        for (domain, _), issue in issue_registry.issues.items()
        if domain == DOMAIN
    ]
    await hass.config_entries.async_unload(folder_entry.entry_id)
    await hass.async_block_till_done()


async def test_a_signed_image_link_meeting_damage_is_unavailable_and_checked(
    hass: HomeAssistant,
    config_dir: Path,
    folder_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """An alert's picture on a damaged page: 503, never an error page, and the file checked."""

    def fill(store: SightingStore) -> int:
        for number in range(20):
            last, _ = store.record(sighting(event_id=str(number), snapshot_jpeg=IMAGE))
        return last.id

    database, last_id = await _damaged_while_stopped(
        hass, folder_entry, config_dir, "images", fill
    )
    assert await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()

    link = URL(folder_entry.runtime_data.alerts.image_url(last_id, "snapshot"))
    client = await hass_client_no_auth()
    response = await client.get(link.path_qs)
    assert response.status == HTTPStatus.SERVICE_UNAVAILABLE
    assert "try again later" in await response.text()
    await hass.async_block_till_done()

    assert folder_entry.state is ConfigEntryState.LOADED
    _kept_file_and_issue(issue_registry, database)
    await hass.config_entries.async_unload(folder_entry.entry_id)
    await hass.async_block_till_done()


async def test_the_watchlist_repair_waits_for_the_hub(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    """Without a running hub the repair adds nothing and says why; the issue stays.

    The issue is one of an older version, with the plates in its data: it is
    rewritten only when the hub starts, and its repair reads them meanwhile.
    """
    assert await async_setup_component(hass, DOMAIN, {})
    ir.async_create_issue(
        hass,
        DOMAIN,
        "database_damaged_test",
        is_fixable=True,
        is_persistent=True,
        severity=ir.IssueSeverity.ERROR,
        translation_key="database_damaged_watchlist_lost",
        data={"plates": "AE1234BK,KA0001AA", "kept": "plate_tracker.db.damaged-x"},
    )
    assert await async_setup_component(hass, "repairs", {})
    client = await hass_client()
    started = await client.post(
        "/api/repairs/issues/fix",
        json={"handler": DOMAIN, "issue_id": "database_damaged_test"},
    )
    form = await started.json()
    assert form["description_placeholders"]["plates"] == "AE1234BK, KA0001AA"
    done = await client.post(
        f"/api/repairs/issues/fix/{form['flow_id']}", json={"priority": "high"}
    )
    answer = await done.json()
    assert (answer["type"], answer["reason"]) == ("abort", "not_loaded")
    assert ir.async_get(hass).async_get_issue(DOMAIN, "database_damaged_test")


async def test_a_check_that_could_not_run_is_still_due_on_the_next_try(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """A check stopped by a passing error (a locked file, an I/O error) runs on the retry.

    The check is due because SQLite refused a write as damaged; the retry of a
    setup that could not check must not skip it, or the damaged file is used
    for another hour, every sighting waiting in the spool and raising no alert.
    """
    db_path = tmp_path / DOMAIN / DATABASE_FILE
    async_check_due(hass, "entry")
    with (
        patch.object(
            database, "check_store", side_effect=sqlite3.OperationalError("locked")
        ),
        pytest.raises(ConfigEntryNotReady),
    ):
        await async_open_database(hass, "entry", db_path)
    checked: list[SightingStore] = []
    with patch.object(database, "check_store", side_effect=checked.append):
        store = await async_open_database(hass, "entry", db_path)
    await hass.async_add_executor_job(store.close)
    assert checked == [store]
