"""Setting up and unloading an entry, and what happens when a part is missing."""

from __future__ import annotations

from datetime import timedelta
import logging
from pathlib import Path
import sqlite3
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.helpers.storage import Store
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    get_scheduled_timer_handles,
)
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.plate_tracker import async_remove_config_entry_device
from custom_components.plate_tracker.const import DOMAIN, ISSUE_MODELS_UNAVAILABLE
from custom_components.plate_tracker.engine.models import ModelsUnavailable
from custom_components.plate_tracker.pipeline import Frame
from custom_components.plate_tracker.records import NewSighting, WatchlistEntry
from custom_components.plate_tracker.store import SightingStore

from .helpers import record_and_announce
from .synthetic import scene_jpeg


async def test_load_and_unload(
    hass: HomeAssistant, init_folder: MockConfigEntry, config_dir: Path
) -> None:
    """Unloading stops the worker and closes the database, which stays on disk for the next start."""
    assert init_folder.state is ConfigEntryState.LOADED
    assert (config_dir / DOMAIN / "plate_tracker.db").is_file()
    runtime = init_folder.runtime_data
    tasks = [*runtime.tasks, runtime.pipeline_task]
    assert await hass.config_entries.async_unload(init_folder.entry_id)
    await hass.async_block_till_done()
    assert init_folder.state is ConfigEntryState.NOT_LOADED
    assert all(task is not None and task.done() for task in tasks)


async def test_unload_reads_the_frames_already_accepted(
    hass: HomeAssistant, init_folder: MockConfigEntry
) -> None:
    """A frame a source handed over just before the unload is read and stored, not dropped."""
    pipeline = init_folder.runtime_data.pipeline
    store_path = init_folder.runtime_data.store.path
    frames = [
        Frame(
            image=scene_jpeg(plate, seed=index),
            camera="bridge",
            seen_at=dt_util.utcnow() - timedelta(seconds=index),
            source="folder",
        )
        for index, plate in enumerate(("AE1234BK", "KA0001AA"))
    ]
    for frame in frames:
        assert pipeline.offer(frame)
    assert await hass.config_entries.async_unload(init_folder.entry_id)
    await hass.async_block_till_done()
    assert (pipeline.counters.frames_read, pipeline.counters.frames_dropped) == (2, 0)
    with SightingStore.open(store_path) as store:
        assert {found.plate for found in store.recent(limit=10)} == {
            "AE1234BK",
            "KA0001AA",
        }


async def test_missing_models_raise_a_repair_issue(
    hass: HomeAssistant, folder_entry: MockConfigEntry, issue_registry: ir.IssueRegistry
) -> None:
    """Without models nothing can be read: the user gets a repair issue that says why, and setup retries."""
    folder_entry.add_to_hass(hass)
    with patch(
        "custom_components.plate_tracker.ensure_models",
        side_effect=ModelsUnavailable("no route to pypi.org"),
    ):
        await hass.config_entries.async_setup(folder_entry.entry_id)
        await hass.async_block_till_done()
    assert folder_entry.state is ConfigEntryState.SETUP_RETRY
    issue = issue_registry.async_get_issue(DOMAIN, ISSUE_MODELS_UNAVAILABLE)
    assert issue is not None
    assert "no route to pypi.org" in issue.translation_placeholders["error"]

    await hass.config_entries.async_reload(folder_entry.entry_id)
    await hass.async_block_till_done()
    assert folder_entry.state is ConfigEntryState.LOADED
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_MODELS_UNAVAILABLE) is None
    assert await hass.config_entries.async_unload(folder_entry.entry_id)


async def test_unusable_database_retries_setup(
    hass: HomeAssistant, folder_entry: MockConfigEntry, config_dir: Path
) -> None:
    """A database that cannot be opened must not be replaced or ignored: setup waits and retries."""
    (config_dir / DOMAIN / "plate_tracker.db").mkdir()
    folder_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    assert folder_entry.state is ConfigEntryState.SETUP_RETRY


async def test_a_database_locked_at_the_first_reads_retries_setup(
    hass: HomeAssistant,
    folder_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A file another process holds for a moment must not stop the hub until a restart.

    SQLite's error at setup's first reads (the watchlist, the last sightings)
    that is not damage ("database is locked" while a backup tool or a WAL
    recovery holds the file, a passing disk I/O error) was raised as it
    was: the entry ended in "Failed to set up" and no sighting was stored
    until someone reloaded it. It now waits and retries, as when the opening
    itself fails so, and says why. The lock is raised at the first read:
    WAL readers cannot be locked out by another connection while the store
    holds the file open.
    """
    read_watchlist = SightingStore.watchlist
    refused: list[SightingStore] = []

    def locked_at_first(store: SightingStore) -> list[WatchlistEntry]:
        if not refused:
            refused.append(store)
            raise sqlite3.OperationalError("database is locked")
        return read_watchlist(store)

    monkeypatch.setattr(SightingStore, "watchlist", locked_at_first)
    folder_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    assert folder_entry.state is ConfigEntryState.SETUP_RETRY
    assert folder_entry.reason is not None
    assert folder_entry.reason.endswith("cannot be opened: database is locked")
    assert (refused[0]._writer, refused[0]._reader) == (None, None)

    await hass.config_entries.async_reload(folder_entry.entry_id)
    await hass.async_block_till_done()
    assert folder_entry.state is ConfigEntryState.LOADED
    assert await hass.config_entries.async_unload(folder_entry.entry_id)


async def test_restart_shows_the_last_plate_again(
    hass: HomeAssistant, init_folder: MockConfigEntry
) -> None:
    """After a restart the camera's sensor shows its last stored sighting, not 'unknown'."""
    from datetime import UTC, datetime

    from custom_components.plate_tracker.records import NewSighting

    store = init_folder.runtime_data.store
    await hass.async_add_executor_job(
        store.record,
        NewSighting(
            camera="gate",
            seen_at=datetime(2026, 11, 25, 8, 0, tzinfo=UTC),
            plate="KA7777OO",
            raw="KA 7777 OO",
            confidence=0.91,
            source="folder",
        ),
    )
    await hass.config_entries.async_reload(init_folder.entry_id)
    await hass.async_block_till_done()
    state = hass.states.get("sensor.gate_last_plate")
    assert state is not None
    assert state.state == "KA7777OO"
    assert state.attributes["seen_at"] == "2026-11-25T08:00:00+00:00"
    last_sighting = hass.states.get("sensor.gate_last_sighting")
    assert last_sighting is not None
    assert last_sighting.state == "2026-11-25T08:00:00+00:00"


async def test_last_sighting_time_never_moves_back(
    hass: HomeAssistant, init_folder: MockConfigEntry
) -> None:
    """A pass read late (events caught up after an outage) must not make a camera look quiet."""
    from datetime import UTC, datetime

    from custom_components.plate_tracker.records import NewSighting

    from .helpers import record_and_announce

    def sighting(plate: str, hour: int) -> NewSighting:
        return NewSighting(
            camera="gate",
            seen_at=datetime(2026, 11, 25, hour, 0, tzinfo=UTC),
            plate=plate,
            raw=plate,
            confidence=0.9,
            source="folder",
        )

    await record_and_announce(hass, init_folder, sighting("KA7777OO", 9))
    assert hass.states.get("sensor.gate_last_sighting").state == (
        "2026-11-25T09:00:00+00:00"
    )
    await record_and_announce(hass, init_folder, sighting("AE1234BK", 8))
    assert hass.states.get("sensor.gate_last_plate").state == "AE1234BK"
    assert hass.states.get("sensor.gate_last_sighting").state == (
        "2026-11-25T09:00:00+00:00"
    )
    await record_and_announce(hass, init_folder, sighting("BC0001AA", 10))
    assert hass.states.get("sensor.gate_last_sighting").state == (
        "2026-11-25T10:00:00+00:00"
    )


async def test_busy_counters_are_disabled_by_default(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """Counters that change with every frame would fill the recorder; health signals stay on."""
    entries = {
        entry.unique_id.removeprefix(f"{init_folder.entry_id}_"): entry
        for entry in er.async_entries_for_config_entry(
            entity_registry, init_folder.entry_id
        )
    }
    for key in ("frames_read", "queue_depth", "read_time"):
        assert entries[key].disabled_by is er.RegistryEntryDisabler.INTEGRATION
    for key in (
        "frames_dropped",
        "frames_rejected",
        "spool_depth",
        "sightings_recorded",
    ):
        assert entries[key].disabled_by is None


async def test_a_retired_cameras_device_can_be_deleted_and_returns_when_it_reports(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    hass_ws_client: WebSocketGenerator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A camera taken out of service leaves a device the user can delete; its sightings stay as evidence.

    The device does not come back at the next start from old sightings, only when
    the camera reports again. The engine's own device cannot be deleted.
    """
    from datetime import timedelta

    store = init_folder.runtime_data.store
    await hass.async_add_executor_job(
        store.record,
        NewSighting(
            camera="gate",
            seen_at=dt_util.utcnow() - timedelta(hours=1),
            plate="KA7777OO",
            raw="KA 7777 OO",
            confidence=0.91,
            source="folder",
        ),
    )
    await hass.config_entries.async_reload(init_folder.entry_id)
    await hass.async_block_till_done()
    camera_id = (DOMAIN, f"{init_folder.entry_id}_gate")

    def device_with(identifier: tuple[str, str]) -> dr.DeviceEntry | None:
        # async_get_device is deprecated in newer Home Assistant; this works on both lines.
        return next(
            (
                device
                for device in dr.async_entries_for_config_entry(
                    device_registry, init_folder.entry_id
                )
                if identifier in device.identifiers
            ),
            None,
        )

    device = device_with(camera_id)
    engine = device_with((DOMAIN, init_folder.entry_id))
    assert device is not None
    assert engine is not None

    assert await async_setup_component(hass, "config", {})
    client = await hass_ws_client(hass)

    async def remove(device_id: str) -> bool:
        await client.send_json_auto_id(
            {
                "type": "config/device_registry/remove_config_entry",
                "config_entry_id": init_folder.entry_id,
                "device_id": device_id,
            }
        )
        return bool((await client.receive_json())["success"])

    assert not await remove(engine.id)
    assert await remove(device.id)
    await hass.async_block_till_done()
    assert device_with(camera_id) is None

    freezer.tick(60)
    await hass.config_entries.async_reload(init_folder.entry_id)
    await hass.async_block_till_done()
    assert device_with(camera_id) is None
    sightings = await hass.async_add_executor_job(
        init_folder.runtime_data.store.latest_per_camera
    )
    assert list(sightings) == ["gate"]

    hub = init_folder.runtime_data.hub
    hub.async_add_camera("gate")
    await hass.async_block_till_done()
    assert device_with(camera_id) is not None
    assert "gate" not in hub.retired_cameras


async def test_unreadable_spool_retries_setup_and_recovers(
    hass: HomeAssistant, folder_entry: MockConfigEntry, config_dir: Path
) -> None:
    """Sightings waiting in the spool must not be skipped: setup waits until the spool can be read, and says why."""
    spool = config_dir / DOMAIN / "plate_tracker.spool.jsonl"
    spool.mkdir()
    folder_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    assert folder_entry.state is ConfigEntryState.SETUP_RETRY
    assert folder_entry.reason is not None
    assert folder_entry.reason.startswith(f"The sightings spool {spool} cannot be read")

    spool.rmdir()
    await hass.config_entries.async_reload(folder_entry.entry_id)
    await hass.async_block_till_done()
    assert folder_entry.state is ConfigEntryState.LOADED
    assert await hass.config_entries.async_unload(folder_entry.entry_id)


def _assert_store_closed(entry: MockConfigEntry) -> None:
    """Check that a setup which failed after opening the database closed it again."""
    store = entry.runtime_data.store
    assert store._writer is None
    assert store._reader is None


async def test_frigate_source_waits_for_mqtt(
    hass: HomeAssistant, frigate_entry: MockConfigEntry
) -> None:
    """Without Home Assistant's MQTT integration no Frigate event can arrive: setup retries and says why."""
    frigate_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(frigate_entry.entry_id)
    await hass.async_block_till_done()
    assert frigate_entry.state is ConfigEntryState.SETUP_RETRY
    assert frigate_entry.reason == "Home Assistant's MQTT integration is not available"
    _assert_store_closed(frigate_entry)


@pytest.fixture
def inbox_taken_by_a_file(inbox: Path) -> Path:
    """Put a file where the inbox folder should be (a mistyped mount point)."""
    inbox.rmdir()
    inbox.write_text("not a folder")
    return inbox


async def test_unusable_inbox_retries_setup(
    hass: HomeAssistant, folder_entry: MockConfigEntry, inbox_taken_by_a_file: Path
) -> None:
    """An inbox path taken by a file is named, and setup retries instead of losing uploads."""
    inbox = inbox_taken_by_a_file
    folder_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    assert folder_entry.state is ConfigEntryState.SETUP_RETRY
    assert folder_entry.reason is not None
    assert folder_entry.reason.startswith(
        f"The inbox folder {inbox} cannot be used: [Errno 17] File exists"
    )
    _assert_store_closed(folder_entry)


async def test_setup_retried_after_a_source_was_not_ready_is_clean(
    hass: HomeAssistant,
    folder_entry: MockConfigEntry,
    inbox_taken_by_a_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Once the inbox is usable again the retried setup must set up every platform, with fresh entities."""
    folder_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    assert folder_entry.state is ConfigEntryState.SETUP_RETRY
    _assert_store_closed(folder_entry)

    await hass.async_add_executor_job(inbox_taken_by_a_file.unlink)
    caplog.clear()
    await hass.config_entries.async_reload(folder_entry.entry_id)
    await hass.async_block_till_done()
    try:
        assert folder_entry.state is ConfigEntryState.LOADED
        assert [
            record.getMessage()
            for record in caplog.records
            if record.name == "homeassistant.config_entries"
            and record.levelno >= logging.ERROR
        ] == []
    finally:
        await hass.config_entries.async_unload(folder_entry.entry_id)
        await hass.async_block_till_done()


async def test_camera_devices_hang_under_the_engine_device(
    hass: HomeAssistant, init_folder: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    """A camera's device names the engine's as its parent, in the way this release wants.

    Home Assistant 2026.10 deprecates naming the parent by identifiers and logs it; the
    engine's device exists before any camera's, so its registry id can be given instead.
    """
    await record_and_announce(
        hass,
        init_folder,
        NewSighting(
            camera="bridge",
            seen_at=dt_util.utcnow(),
            plate="AE1234BK",
            raw="AE1234BK",
            confidence=0.9,
            source="folder",
        ),
    )

    by_identifier = {
        identifier: device
        for device in dr.async_entries_for_config_entry(
            dr.async_get(hass), init_folder.entry_id
        )
        for identifier in device.identifiers
    }
    engine = by_identifier[(DOMAIN, init_folder.entry_id)]
    camera = by_identifier[(DOMAIN, f"{init_folder.entry_id}_bridge")]
    assert camera.via_device_id == engine.id
    assert init_folder.runtime_data.engine_device_id == engine.id
    assert "via_device" not in caplog.text


async def test_a_deleted_cameras_device_stays_deleted_across_an_immediate_reload(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A camera device deleted just before a reload (an options change) must not come back.

    The deletion is saved with a delay; the unload must write it, or the next
    setup recreates the device from the camera's old sightings, and a timer of
    the unloaded entry is left running.
    """
    await record_and_announce(
        hass,
        init_folder,
        NewSighting(
            camera="gate",
            seen_at=dt_util.utcnow() - timedelta(hours=1),
            plate="KA7777OO",
            raw="KA7777OO",
            confidence=0.91,
            source="folder",
        ),
    )
    camera_id = (DOMAIN, f"{init_folder.entry_id}_gate")

    def camera_device() -> dr.DeviceEntry | None:
        return next(
            (
                device
                for device in dr.async_entries_for_config_entry(
                    device_registry, init_folder.entry_id
                )
                if camera_id in device.identifiers
            ),
            None,
        )

    device = camera_device()
    assert device is not None
    assert await async_remove_config_entry_device(hass, init_folder, device)
    # What Home Assistant does once the integration allowed the removal.
    device_registry.async_remove_device(device.id)
    await hass.config_entries.async_reload(init_folder.entry_id)
    await hass.async_block_till_done()
    assert camera_device() is None
    assert "gate" not in init_folder.runtime_data.hub.known_cameras

    assert await hass.config_entries.async_unload(init_folder.entry_id)
    await hass.async_block_till_done()
    pending_writes = [
        owner.key
        for handle in get_scheduled_timer_handles(hass.loop)
        if not handle.cancelled()
        and isinstance(owner := getattr(handle._callback, "__self__", None), Store)
        and owner.key.startswith(DOMAIN)
    ]
    assert pending_writes == []


async def test_removing_the_hub_removes_its_setup_issues(
    hass: HomeAssistant, folder_entry: MockConfigEntry, issue_registry: ir.IssueRegistry
) -> None:
    """A hub deleted while its setup waited for the models leaves no repair issue behind.

    No entry would ever set up again to clear it: Repairs would show an error
    about an integration that is no longer there, forever.
    """
    folder_entry.add_to_hass(hass)
    with patch(
        "custom_components.plate_tracker.ensure_models",
        side_effect=ModelsUnavailable("no route to pypi.org"),
    ):
        await hass.config_entries.async_setup(folder_entry.entry_id)
        await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_MODELS_UNAVAILABLE) is not None

    await hass.config_entries.async_remove(folder_entry.entry_id)
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_MODELS_UNAVAILABLE) is None
