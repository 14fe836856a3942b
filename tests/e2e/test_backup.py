"""Home Assistant's own backup, taken while sightings arrive, restores a sound database.

A real ``hass`` with the integration from this checkout (an inbox-folder source) and Home
Assistant's ``backup`` integration. Camera uploads keep arriving while the backup is made through
the websocket API, as the UI's *Back up now* does; the database and its WAL are then taken out of
the backup archive as a restore would, and opened.

Run alone with ``scripts/test -m e2e``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
import contextlib
from pathlib import Path
import random
import sqlite3
import tarfile
from typing import Any

import pytest

from .harness import (
    HASS_START_TIMEOUT,
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
PLATE = "BC5512HP"
DATABASE = "data/plate_tracker/plate_tracker.db"


@pytest.fixture
async def hass_process(tmp_path: Path) -> AsyncGenerator[RunningHass]:
    """Run ``hass`` with backups and the README's one-line inbox set-up."""
    port = free_port()
    config = tmp_path / "config"
    write_hass_config(config, port)
    with (config / "configuration.yaml").open("a", encoding="utf-8") as yaml:
        yaml.write(f"backup:\nplate_tracker:\n  inbox: {INBOX}\n")
    async with running_hass(config, port, tmp_path) as (client, process):
        await client.onboard()
        # Home Assistant refuses backups ("Backup manager busy: blocked") until it has started.
        await wait_for(
            "hass to finish starting",
            client.started,
            within=HASS_START_TIMEOUT,
            interval=1,
            alive=process.death,
        )
        yield RunningHass(client, process)


def _restore_database(archive: Path, dest: Path) -> Path:
    """Take the database and its WAL out of a backup as a restore would; return the file."""
    with tarfile.open(archive) as outer:
        (member,) = (
            name for name in outer.getnames() if name.endswith("homeassistant.tar.gz")
        )
        inner = outer.extractfile(member)
        assert inner is not None, outer.getnames()
        with tarfile.open(fileobj=inner, mode="r:gz") as config:
            names = config.getnames()
            assert DATABASE in names, names
            for name in (DATABASE, f"{DATABASE}-wal"):
                if name in names:
                    config.extract(name, dest, filter="data")
    return dest / DATABASE


def _open(database: Path) -> tuple[str, list[str]]:
    conn = sqlite3.connect(database)
    try:
        (check,) = conn.execute("PRAGMA integrity_check").fetchone()
        plates = [
            row[0]
            for row in conn.execute(
                "SELECT p.plate FROM sightings s JOIN plates p ON p.id = s.plate_id"
            )
        ]
    finally:
        conn.close()
    return check, plates


async def test_backup_during_sightings_restores_a_sound_database(
    hass_process: RunningHass, tmp_path: Path
) -> None:
    """The backup platform runs in the real process and its copy opens whole."""
    hass = hass_process
    client = hass.client
    await wait_loaded(hass, "plate_tracker", retry_fails=True)
    inbox = tmp_path / "config" / INBOX
    demo_feed = load_demo_feed()
    scene: bytes = demo_feed.render_scene(
        demo_feed.plate_from_text(PLATE), camera=CAMERA, rng=random.Random(77)
    )

    subscription = EventSubscription(client)
    await subscription.subscribe("plate_tracker_sighting")
    await asyncio.to_thread(upload, inbox, CAMERA, "20261127T100000.jpg", scene)
    first = await subscription.next_event(90)
    assert first is not None, f"no sighting\nhass log:\n{hass.log()}"
    assert first["plate"] == PLATE, first

    async def keep_uploading() -> None:
        for number in range(1, 1000):
            await asyncio.to_thread(
                upload,
                inbox,
                CAMERA,
                f"20261127T1001{number % 60:02}-{number}.jpg",
                scene,
            )
            await asyncio.sleep(0.5)

    feeder = asyncio.create_task(keep_uploading())
    try:
        started: dict[str, Any] = await client.websocket_command(
            {"type": "backup/generate", "agent_ids": ["backup.local"]}
        )
        assert started.get("backup_job_id"), started

        backups_folder = tmp_path / "config" / "backups"

        async def backup_written() -> bool:
            info = await client.websocket_command({"type": "backup/info"})
            return bool(info["backups"])

        await wait_for("the backup to be written", backup_written, within=180)
        # Uploads went on all along, and are still stored and announced.
        later = await subscription.next_event(60)
        assert later is not None, f"no sighting after the backup\n{hass.log()}"
    finally:
        feeder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feeder
        await subscription.close()

    (archive,) = backups_folder.glob("*.tar")
    database = await asyncio.to_thread(
        _restore_database, archive, tmp_path / "restored"
    )
    check, plates = await asyncio.to_thread(_open, database)
    assert check == "ok"
    assert PLATE in plates, plates
    log = hass.log()
    assert "holding the sightings database's main file still" in log, log
    assert "the sightings database is checkpointed again" in log, log
