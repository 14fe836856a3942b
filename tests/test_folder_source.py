"""The inbox folder source, end to end inside Home Assistant with the real engine and store."""

from __future__ import annotations

from datetime import UTC, datetime
import os
from pathlib import Path

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er, issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)

from custom_components.plate_tracker.const import DOMAIN, EVENT_SIGHTING

from .helpers import wait_until
from .synthetic import scene_jpeg


def _upload(path: Path, data: bytes, arrived: datetime | None = None) -> None:
    """Upload as an FTP server finishes one: written aside, then renamed into the inbox.

    The tests poll without waiting for uploads to settle, so a file written in
    place could be read before its bytes are all there. ``arrived`` sets the
    file's time: the name's time counts only when it fits the arrival.
    """
    partial = path.with_name(f".{path.name}.part")
    partial.write_bytes(data)
    if arrived is not None:
        os.utime(partial, (arrived.timestamp(), arrived.timestamp()))
    partial.replace(path)


@pytest.mark.usefixtures("no_inbox_poll_wait")
async def test_uploaded_snapshot_becomes_a_sighting(
    hass: HomeAssistant,
    inbox: Path,
    init_folder: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """A camera's FTP upload must end as a stored sighting, an entity state and a bus event.

    This is the path the README's demo shows a newcomer, and the one cameras
    without an NVR use in production.
    """
    events = async_capture_events(hass, EVENT_SIGHTING)
    camera_dir = inbox / "bridge"
    camera_dir.mkdir()
    image = camera_dir / "20261125T101500.jpg"
    await hass.async_add_executor_job(
        _upload,
        image,
        scene_jpeg("AE1234BK", seed=3),
        datetime(2026, 11, 25, 10, 15, 4, tzinfo=UTC),
    )

    await wait_until(lambda: bool(events))
    await hass.async_block_till_done()

    assert events[0].data["plate"] == "AE1234BK"
    assert events[0].data["camera"] == "bridge"
    assert events[0].data["seen_at"] == "2026-11-25T10:15:00+00:00"
    entity_id = entity_registry.async_get_entity_id(
        "sensor", "plate_tracker", f"{init_folder.entry_id}_bridge_last_plate"
    )
    assert entity_id is not None
    state = hass.states.get(entity_id)
    assert state is not None
    assert state.state == "AE1234BK"
    assert state.attributes["confidence"] > 0.5
    # The file leaves the inbox only once its sighting is stored.
    await wait_until(lambda: not image.exists())
    store = init_folder.runtime_data.store
    assert await hass.async_add_executor_job(store.count) == 1


async def test_an_inbox_saved_as_the_configuration_folder_never_starts(
    hass: HomeAssistant, inbox: Path, folder_entry: MockConfigEntry, config_dir: Path
) -> None:
    """An inbox saved before the form refused it must not read and delete Home Assistant's images."""
    (config_dir / "www").mkdir()
    image = config_dir / "www" / "floorplan.jpg"
    image.write_bytes(scene_jpeg("AE1234BK", seed=3))
    folder_entry.add_to_hass(hass)
    (subentry,) = folder_entry.subentries.values()
    hass.config_entries.async_update_subentry(
        folder_entry, subentry, data={**subentry.data, "inbox": "."}
    )
    assert not await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    assert folder_entry.state is ConfigEntryState.SETUP_RETRY
    assert "configuration folder" in (folder_entry.reason or "")
    assert image.exists()


@pytest.mark.usefixtures("no_inbox_poll_wait")
async def test_direction_in_the_file_name_reaches_the_sighting(
    hass: HomeAssistant, inbox: Path, folder_entry: MockConfigEntry
) -> None:
    """A camera that measures direction writes it in the file name; with a ``direction`` group in the pattern it is the sighting's.

    At an exit camera without an NVR this is the only way to tell leaving from entering.
    """
    folder_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        folder_entry,
        options={
            **folder_entry.options,
            "filename_pattern": r"^(?P<camera>[^_]+)_\d{8}-\d{6}_(?P<direction>\w+)",
        },
    )
    assert await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    events = async_capture_events(hass, EVENT_SIGHTING)
    image = inbox / "gate_20261125-101500_receding.jpg"
    await hass.async_add_executor_job(_upload, image, scene_jpeg("AE1234BK", seed=3))

    await wait_until(lambda: bool(events))
    assert events[0].data["camera"] == "gate"
    assert events[0].data["direction"] == "receding"
    await hass.config_entries.async_unload(folder_entry.entry_id)
    await hass.async_block_till_done()


@pytest.mark.usefixtures("no_inbox_poll_wait")
async def test_missing_inbox_is_shown_logged_once_and_recovers(
    hass: HomeAssistant,
    inbox: Path,
    *,
    init_folder: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    issue_registry: ir.IssueRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An inbox that went away (an unmounted share) must look like a dead NVR, not a quiet camera.

    Without this, a scan of a missing folder finds no files and nothing tells
    the user that uploads are going nowhere. The outage is logged once when it
    starts and once when it ends, not at every poll.
    """
    (subentry_id,) = init_folder.subentries
    entity_id = entity_registry.async_get_entity_id(
        "binary_sensor",
        DOMAIN,
        f"{init_folder.entry_id}_{subentry_id}_inbox_folder",
    )
    assert entity_id is not None
    status = init_folder.runtime_data.source_status[subentry_id]
    issue_id = f"inbox_unavailable_{subentry_id}"

    def sensor_state() -> str | None:
        state = hass.states.get(entity_id)
        return state.state if state is not None else None

    await wait_until(lambda: sensor_state() == STATE_ON)
    unmounted = inbox.with_name("unmounted")
    await hass.async_add_executor_job(inbox.rename, unmounted)
    await wait_until(lambda: sensor_state() == STATE_OFF)
    await wait_until(lambda: status.inbox.consecutive_failures >= 6)
    await hass.async_block_till_done()

    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "inbox_unavailable"
    state = hass.states.get(entity_id)
    assert state is not None
    assert state.attributes["consecutive_failures"] >= 3
    assert "login_refused" not in state.attributes
    assert _messages(caplog, "cannot be read") == 1
    exists = await hass.async_add_executor_job(inbox.exists)
    assert not exists, "a vanished share is not silently replaced"

    await hass.async_add_executor_job(unmounted.rename, inbox)
    await wait_until(lambda: sensor_state() == STATE_ON)
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    assert _messages(caplog, "is readable again") == 1


def _messages(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in record.getMessage() for record in caplog.records)


@pytest.mark.usefixtures("no_inbox_poll_wait")
async def test_unreadable_upload_is_set_aside_for_a_person(
    hass: HomeAssistant, inbox: Path, init_folder: MockConfigEntry
) -> None:
    """A truncated upload must neither block the inbox nor vanish: it moves to .rejected and is counted.

    The next good upload of the same camera is still read.
    """
    events = async_capture_events(hass, EVENT_SIGHTING)
    camera_dir = inbox / "bridge"
    await hass.async_add_executor_job(camera_dir.mkdir)
    broken = camera_dir / "20261125T101400.jpg"
    await hass.async_add_executor_job(_upload, broken, b"\xff\xd8\xff\xe0 cut off")
    rejected = inbox / ".rejected" / "2026-11-25" / "bridge" / broken.name
    await wait_until(rejected.is_file)

    good = camera_dir / "20261125T101500.jpg"
    await hass.async_add_executor_job(_upload, good, scene_jpeg("AE1234BK", seed=3))
    await wait_until(lambda: bool(events))
    assert [event.data["plate"] for event in events] == ["AE1234BK"]
    assert init_folder.runtime_data.source_counters["inbox_rejected"] == 1
    assert await hass.async_add_executor_job(rejected.read_bytes) == (
        b"\xff\xd8\xff\xe0 cut off"
    )
