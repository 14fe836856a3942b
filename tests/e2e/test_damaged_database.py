"""A damaged page in the sightings database is found by a search and mended by a real ``hass``.

A real ``hass`` with the integration from this checkout (an inbox-folder source) starts on a
database with 300 sightings and a watchlist entry, one page of which was overwritten while Home
Assistant was stopped, as a failing SD card does. Nothing reads that page at start-up, so the
integration loads and stores new sightings. A police search over all sightings meets the damage:
it is refused with the translated error, the integration reloads, checks the file, sets it aside
and carries every readable row into a new database. The repair issue says so, the same search then
answers with everything but the page's rows, and the watchlist still raises its alert.

Run alone with ``scripts/test -m e2e``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from pathlib import Path
import random
from typing import Any

import pytest

from custom_components.plate_tracker.records import WatchlistEntry
from custom_components.plate_tracker.store import SightingStore

from ..store.conftest import T0, damage_page, minutes, sighting, table_pages
from .harness import (
    EventSubscription,
    RunningHass,
    e2e_marks,
    free_port,
    load_demo_feed,
    running_hass,
    upload,
    wait_for,
    wait_loaded,
    write_hass_config,
)

pytestmark = e2e_marks()

INBOX = "plate_inbox"
CAMERA = "gate"
WATCHED = "BC5512HP"
STORED = 300


def _damaged_database(database: Path) -> int:
    """Write the database hass will find; overwrite its middle sightings page.

    Return how many sightings that page held.
    """
    with SightingStore.open(database) as store:
        store.watchlist_add(WatchlistEntry(id=None, plate=WATCHED, label="Stolen van"))
        store.record_many(
            sighting(
                camera=CAMERA,
                seen_at=T0 + minutes(number),
                plate=f"AE{number // 5:04d}BK",
                event_id=str(number),
                snapshot_jpeg=b"j" * 500,
            )
            for number in range(STORED)
        )
    leaves = table_pages(database, "sightings", "leaf")
    page, lost = leaves[len(leaves) // 2]
    damage_page(database, page)
    return lost


@pytest.fixture
async def hass_process(tmp_path: Path) -> AsyncGenerator[tuple[RunningHass, int]]:
    """Run ``hass`` with the inbox set-up, on the damaged database; yield it and the page's rows."""
    port = free_port()
    config = tmp_path / "config"
    write_hass_config(config, port)
    with (config / "configuration.yaml").open("a", encoding="utf-8") as yaml:
        yaml.write(f"plate_tracker:\n  inbox: {INBOX}\n")
    database = config / "plate_tracker" / "plate_tracker.db"
    database.parent.mkdir(parents=True, exist_ok=True)
    lost = await asyncio.to_thread(_damaged_database, database)
    async with running_hass(config, port, tmp_path) as (client, process):
        await client.onboard()
        yield RunningHass(client, process), lost


async def _search(hass: RunningHass) -> dict[str, Any]:
    """Search every sighting as an operator does, through the websocket API; return the answer."""
    return await hass.client.websocket_answer(
        {
            "type": "call_service",
            "domain": "plate_tracker",
            "service": "search_sightings",
            "service_data": {
                "since": "2026-01-01T00:00:00+00:00",
                "page_size": 500,
                "reason": "case 12/345",
            },
            "return_response": True,
        }
    )


async def test_a_search_meeting_damage_gets_the_file_set_aside_and_its_rows_back(
    hass_process: tuple[RunningHass, int], tmp_path: Path
) -> None:
    """The whole path in the real process: refused, reloaded, set aside, carried over."""
    hass, lost = hass_process
    client = hass.client
    await wait_loaded(hass, "plate_tracker", retry_fails=True)
    inbox = tmp_path / "config" / INBOX
    folder = tmp_path / "config" / "plate_tracker"
    demo_feed = load_demo_feed()
    scene: bytes = demo_feed.render_scene(
        demo_feed.plate_from_text(WATCHED), camera=CAMERA, rng=random.Random(5)
    )
    alerts = EventSubscription(client)
    await alerts.subscribe("plate_tracker_watchlist_hit")
    try:
        # The damaged page is not read at start-up: sightings and alerts go on.
        await asyncio.to_thread(upload, inbox, CAMERA, "20261127T100000.jpg", scene)
        alert = await alerts.next_event(90)
        assert alert is not None, f"no alert\nhass log:\n{hass.log()}"
        assert alert["plate"] == WATCHED, alert

        refused = await _search(hass)
        assert not refused["success"], refused
        assert refused["error"]["translation_key"] == "store_failed", refused
        assert "malformed" in refused["error"]["message"], refused

        async def set_aside() -> bool:
            issues = await client.websocket_command({"type": "repairs/list_issues"})
            return any(
                issue["domain"] == "plate_tracker"
                and issue["issue_id"].startswith("database_damaged_")
                for issue in issues["issues"]
            )

        await wait_for("the damaged file to be set aside", set_aside, within=120)
        await wait_loaded(hass, "plate_tracker", retry_fails=True)
        issues = await client.websocket_command({"type": "repairs/list_issues"})
        (issue,) = (
            issue
            for issue in issues["issues"]
            if issue["issue_id"].startswith("database_damaged_")
        )
        assert issue["translation_key"] == "database_damaged_rows_lost", issue
        assert issue["translation_placeholders"]["sightings"] == str(STORED + 1 - lost)
        assert issue["translation_placeholders"]["watchlist"] == "1", issue
        (kept,) = folder.glob("plate_tracker.db.damaged-*Z")
        assert issue["translation_placeholders"]["damaged"] == str(kept)

        # The audit log, carried over, says so itself: the kept file and SQLite's error.
        audit = await hass.client.websocket_answer(
            {
                "type": "call_service",
                "domain": "plate_tracker",
                "service": "audit_log",
                "service_data": {"action": "database_set_aside"},
                "return_response": True,
            }
        )
        assert audit["success"], audit
        (record,) = audit["result"]["response"]["records"]
        assert record["details"]["kept"] == kept.name, record
        assert "malformed" in record["details"]["error"], record
        assert record["details"]["carried"]["sightings"] == STORED + 1 - lost, record

        answer = await _search(hass)
        assert answer["success"], answer
        found = answer["result"]["response"]["sightings"]
        assert len(found) == STORED + 1 - lost, len(found)
        assert WATCHED in {row["plate"] for row in found}

        # The watchlist came over: the plate seen by another camera raises its alert.
        await asyncio.to_thread(
            upload, inbox, "exit_north", "20261127T110000.jpg", scene
        )
        alert = await alerts.next_event(90)
        assert alert is not None, f"no alert after the set-aside\n{hass.log()}"
        assert (alert["plate"], alert["camera"]) == (WATCHED, "exit_north"), alert
    finally:
        await alerts.close()
    log = hass.log()
    assert "carrying what still reads over" in log.lower(), log
