"""The inbox folder source, end to end inside Home Assistant with the real engine and store."""

from __future__ import annotations

from datetime import UTC, datetime
import logging
import os
from pathlib import Path
from types import MappingProxyType

from homeassistant.auth.models import User
from homeassistant.config_entries import ConfigEntryState, ConfigSubentry
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import entity_registry as er, issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)

from custom_components.plate_tracker.const import (
    CONF_INBOX,
    CONF_SOURCE,
    DOMAIN,
    EVENT_SIGHTING,
    EVENT_WATCHLIST_HIT,
    SOURCE_FOLDER,
    SUBENTRY_SOURCE,
)
from custom_components.plate_tracker.engine.remote import EngineUnavailableError
from custom_components.plate_tracker.sources.folder import Inbox, InboxFile

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


NOT_A_PICTURE = b"<html><body>503 Service Unavailable</body></html>"
"""What a camera's web server sent instead of a snapshot, uploaded as one."""


def _messages(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in record.getMessage() for record in caplog.records)


@pytest.mark.usefixtures("no_inbox_poll_wait")
async def test_unreadable_upload_is_set_aside_for_a_person(
    hass: HomeAssistant, inbox: Path, init_folder: MockConfigEntry
) -> None:
    """An upload that is no picture must neither block the inbox nor vanish: it moves to .rejected and is counted.

    The next good upload of the same camera is still read. (A picture cut
    short waits for the rest first: see test_inbox_unfinished_uploads.py.)
    """
    events = async_capture_events(hass, EVENT_SIGHTING)
    camera_dir = inbox / "bridge"
    await hass.async_add_executor_job(camera_dir.mkdir)
    broken = camera_dir / "20261125T101400.jpg"
    await hass.async_add_executor_job(_upload, broken, NOT_A_PICTURE)
    rejected = inbox / ".rejected" / "2026-11-25" / "bridge" / broken.name
    await wait_until(rejected.is_file)

    good = camera_dir / "20261125T101500.jpg"
    await hass.async_add_executor_job(_upload, good, scene_jpeg("AE1234BK", seed=3))
    await wait_until(lambda: bool(events))
    assert [event.data["plate"] for event in events] == ["AE1234BK"]
    assert init_folder.runtime_data.source_counters["inbox_rejected"] == 1
    assert await hass.async_add_executor_job(rejected.read_bytes) == NOT_A_PICTURE


@pytest.mark.usefixtures("no_inbox_poll_wait")
async def test_a_camera_folder_named_in_latin1_gives_sightings(
    hass: HomeAssistant, inbox: Path, init_folder: MockConfigEntry
) -> None:
    """A folder whose name is not UTF-8 (an FTP server writing Latin-1 'Süd') still names a camera.

    Its name held a surrogate escape, which the store cannot write: the error
    was taken for an unreadable picture, and a good snapshot went to .rejected.
    """
    events = async_capture_events(hass, EVENT_SIGHTING)
    camera_dir = Path(os.fsdecode(os.fsencode(inbox) + b"/Einfahrt_S\xfcd"))
    await hass.async_add_executor_job(camera_dir.mkdir)
    image = camera_dir / "20261125T101500.jpg"
    await hass.async_add_executor_job(_upload, image, scene_jpeg("AE1234BK", seed=3))

    await wait_until(lambda: bool(events))
    await wait_until(lambda: not image.exists())

    assert (events[0].data["plate"], events[0].data["camera"]) == (
        "AE1234BK",
        "Einfahrt_S_d",
    )
    assert not (inbox / ".rejected").exists()
    assert init_folder.runtime_data.source_counters["inbox_rejected"] == 0


@pytest.mark.usefixtures("no_inbox_poll_wait")
async def test_a_sighting_the_store_refuses_leaves_its_file_for_a_retry(
    hass: HomeAssistant,
    inbox: Path,
    init_folder: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A store error is not the picture's fault: the file stays in the inbox and is read again.

    The store raises ValueErrors too (UnicodeEncodeError): taken for an
    unreadable image, they moved a good picture to .rejected, its car lost.
    """
    events = async_capture_events(hass, EVENT_SIGHTING)
    store = init_folder.runtime_data.store
    record = store.record
    refused: list[object] = []

    def refusing_once(new: object) -> object:
        if not refused:
            refused.append(new)
            raise UnicodeEncodeError("utf-8", "x", 0, 1, "surrogates not allowed")
        return record(new)

    monkeypatch.setattr(store, "record", refusing_once)
    camera_dir = inbox / "bridge"
    await hass.async_add_executor_job(camera_dir.mkdir)
    image = camera_dir / "20261125T101500.jpg"
    await hass.async_add_executor_job(_upload, image, scene_jpeg("AE1234BK", seed=3))

    await wait_until(lambda: bool(events))
    await wait_until(lambda: not image.exists())

    assert refused
    assert [event.data["plate"] for event in events] == ["AE1234BK"]
    assert not (inbox / ".rejected").exists()
    counters = init_folder.runtime_data.source_counters
    assert (counters["inbox_rejected"], counters["inbox_errors"]) == (0, 1)


def _failing_for(
    monkeypatch: pytest.MonkeyPatch, method: str, broken: Path, error: OSError
) -> list[Path]:
    """Make ``Path.<method>`` raise ``error`` for ``broken`` only; return the calls it refused."""
    original = getattr(Path, method)
    refused: list[Path] = []

    def failing(self: Path, *args: object, **kwargs: object) -> object:
        if self == broken:
            refused.append(self)
            raise error
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, method, failing)
    return refused


def _counting_scans(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record each poll of the inbox (the time each scan was asked for)."""
    original = Inbox.scan
    scans: list[float] = []

    def counting(self: Inbox, now: float) -> list[InboxFile]:
        scans.append(now)
        return original(self, now)

    monkeypatch.setattr(Inbox, "scan", counting)
    return scans


@pytest.mark.usefixtures("no_inbox_poll_wait")
async def test_a_file_that_cannot_be_removed_is_stored_once(
    hass: HomeAssistant,
    inbox: Path,
    init_folder: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A folder the integration cannot write in must not store the same upload at every poll.

    The file is read, its sighting stored, and it stays: that version is not
    read again. The camera writing the name anew is a new upload, read again.
    """
    camera_dir = inbox / "bridge"
    await hass.async_add_executor_job(camera_dir.mkdir)
    image = camera_dir / "20261125T101500.jpg"
    refused = _failing_for(
        monkeypatch, "unlink", image, PermissionError(13, "Permission denied")
    )
    await hass.async_add_executor_job(_upload, image, scene_jpeg("AE1234BK", seed=3))
    scans = _counting_scans(monkeypatch)
    store = init_folder.runtime_data.store
    await wait_until(lambda: bool(refused))
    # Twenty polls later (0.05 s each), still one sighting and one warning.
    seen = len(scans)
    await wait_until(lambda: len(scans) >= seen + 20)
    assert await hass.async_add_executor_job(store.count) == 1
    assert image.exists()
    assert len(refused) == 1
    assert caplog.text.count("cannot take 20261125T101500.jpg out of the inbox") == 1
    counters = init_folder.runtime_data.source_counters
    assert (counters["inbox_files"], counters["inbox_not_removed"]) == (1, 1)

    await hass.async_add_executor_job(
        _upload,
        image,
        scene_jpeg("BC5512HP", seed=4),
        datetime(2026, 11, 25, 10, 16, tzinfo=UTC),
    )
    await wait_until(lambda: len(refused) == 2)
    assert await hass.async_add_executor_job(store.count) == 2


@pytest.mark.usefixtures("no_inbox_poll_wait")
async def test_a_file_that_cannot_be_opened_does_not_hold_up_the_others(
    hass: HomeAssistant,
    inbox: Path,
    init_folder: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The oldest upload failing to open must not stop every newer one behind it.

    It stays in the inbox (nothing is lost: it is tried again at each poll,
    and read once it opens), warned about once.
    """
    events = async_capture_events(hass, EVENT_SIGHTING)
    camera_dir = inbox / "bridge"
    await hass.async_add_executor_job(camera_dir.mkdir)
    locked = camera_dir / "20261125T101400.jpg"
    refused = _failing_for(
        monkeypatch, "read_bytes", locked, PermissionError(13, "Permission denied")
    )
    await hass.async_add_executor_job(
        _upload,
        locked,
        scene_jpeg("BC5512HP", seed=4),
        datetime(2026, 11, 25, 10, 14, tzinfo=UTC),
    )
    good = camera_dir / "20261125T101500.jpg"
    await hass.async_add_executor_job(
        _upload,
        good,
        scene_jpeg("AE1234BK", seed=3),
        datetime(2026, 11, 25, 10, 15, tzinfo=UTC),
    )
    await wait_until(lambda: bool(events))
    await wait_until(lambda: len(refused) >= 3)
    assert [event.data["plate"] for event in events] == ["AE1234BK"]
    assert locked.exists()
    warned = [
        record
        for record in caplog.records
        if record.levelno == logging.WARNING
        and "cannot read 20261125T101400.jpg" in record.getMessage()
    ]
    assert len(warned) == 1

    monkeypatch.undo()
    await wait_until(lambda: len(events) == 2)
    assert [event.data["plate"] for event in events] == ["AE1234BK", "BC5512HP"]


@pytest.mark.usefixtures("no_inbox_poll_wait")
async def test_a_camera_folder_that_cannot_be_listed_does_not_stop_the_others(
    hass: HomeAssistant,
    inbox: Path,
    init_folder: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One camera's folder with the wrong owner leaves the inbox up for every other camera."""
    events = async_capture_events(hass, EVENT_SIGHTING)
    locked = inbox / "gate"
    await hass.async_add_executor_job(locked.mkdir)
    refused = _failing_for(
        monkeypatch, "iterdir", locked, PermissionError(13, "Permission denied")
    )
    camera_dir = inbox / "bridge"
    await hass.async_add_executor_job(camera_dir.mkdir)
    await hass.async_add_executor_job(
        _upload, camera_dir / "20261125T101500.jpg", scene_jpeg("AE1234BK", seed=3)
    )
    await wait_until(lambda: bool(events))
    await wait_until(lambda: len(refused) >= 3)
    assert events[0].data["camera"] == "bridge"
    assert caplog.text.count(f"Inbox folder {locked} cannot be listed") == 1
    (status,) = init_folder.runtime_data.source_status.values()
    assert status.inbox.available is not False

    monkeypatch.undo()
    await wait_until(
        lambda: f"Inbox folder {locked} can be listed again" in caplog.text
    )


@pytest.mark.usefixtures("no_inbox_poll_wait")
async def test_uploads_wait_for_an_engine_server_that_is_down(
    hass: HomeAssistant,
    inbox: Path,
    init_folder: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """While the engine server is down, uploads stay in the inbox, without an error each poll.

    The outage is the engine server's sensor and repair issue; the inbox only
    waits, and reads the files once the engine answers.
    """
    events = async_capture_events(hass, EVENT_SIGHTING)
    pipeline = init_folder.runtime_data.pipeline
    read = pipeline._read_frame
    tried: list[bytes] = []

    async def engine_down(image: bytes, *args: object, **kwargs: object) -> object:
        tried.append(image)
        raise EngineUnavailableError("http://engine.test:8765/", "unreachable")

    monkeypatch.setattr(pipeline, "_read_frame", engine_down)
    camera_dir = inbox / "bridge"
    await hass.async_add_executor_job(camera_dir.mkdir)
    image = camera_dir / "20261125T101500.jpg"
    await hass.async_add_executor_job(
        _upload,
        image,
        scene_jpeg("AE1234BK", seed=3),
        datetime(2026, 11, 25, 10, 15, tzinfo=UTC),
    )
    await wait_until(lambda: len(tried) >= 3)
    assert image.exists()
    assert not events
    assert init_folder.runtime_data.source_counters["inbox_engine_unavailable"] >= 3
    assert not [
        record
        for record in caplog.records
        if record.levelno >= logging.ERROR and "plate_tracker" in record.name
    ]

    monkeypatch.setattr(pipeline, "_read_frame", read)
    await wait_until(lambda: bool(events))
    assert events[0].data["plate"] == "AE1234BK"
    await wait_until(lambda: not image.exists())


@pytest.mark.usefixtures("no_inbox_poll_wait")
async def test_a_watched_plate_read_below_the_minimum_is_kept_and_alerts(
    hass: HomeAssistant,
    inbox: Path,
    folder_entry: MockConfigEntry,
    hass_admin_user: User,
) -> None:
    """Every read is below a minimum of 1.0 here: the watched car is stored and alerted, the other not.

    Real engine, real store, the real watchlist matcher: what the police would lose
    to the minimum confidence is only what no watched plate matches.
    """
    folder_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        folder_entry, options={"min_confidence": 1.0}
    )
    assert await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    await hass.services.async_call(
        DOMAIN,
        "watchlist_add",
        # Written on paper with Cyrillic letters and spaces, as officers do.
        {"plate": "АЕ 1234 ВК", "label": "Stolen van"},
        blocking=True,
        context=Context(user_id=hass_admin_user.id),
    )
    hits = async_capture_events(hass, EVENT_WATCHLIST_HIT)
    files = []
    for camera, plate in (("bridge", "AE1234BK"), ("gate", "KA7777OO")):
        (inbox / camera).mkdir()
        files.append(inbox / camera / "20261125T101500.jpg")
        await hass.async_add_executor_job(_upload, files[-1], scene_jpeg(plate, seed=3))

    await wait_until(lambda: not any(path.exists() for path in files))
    await wait_until(lambda: bool(hits))
    await hass.async_block_till_done()

    runtime = folder_entry.runtime_data
    latest = await hass.async_add_executor_job(runtime.store.latest_per_camera)
    assert sorted(latest) == ["bridge"]
    assert latest["bridge"].plate == "AE1234BK"
    assert latest["bridge"].confidence < 1.0
    assert [hit.data["plate"] for hit in hits] == ["AE1234BK"]
    assert runtime.pipeline.counters.watched_below_threshold == 1
    assert runtime.pipeline.counters.reads_below_threshold >= 1
    await hass.config_entries.async_unload(folder_entry.entry_id)
    await hass.async_block_till_done()


def _inbox_source(title: str, inbox: str) -> ConfigSubentry:
    return ConfigSubentry(
        subentry_type=SUBENTRY_SOURCE,
        title=title,
        unique_id=f"folder:{title}",
        data=MappingProxyType({CONF_SOURCE: SOURCE_FOLDER, CONF_INBOX: inbox}),
    )


@pytest.mark.usefixtures("no_inbox_poll_wait")
async def test_an_inbox_inside_another_sources_inbox_is_a_repair_issue(
    hass: HomeAssistant,
    inbox: Path,
    init_folder: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Sources from before the flow refused nested inboxes double every sighting they share.

    The user is told which two, in a repair issue, and both keep reading (no
    sighting lost); removing one clears the issue.
    """
    nested = _inbox_source("Inbox bridge", "plate_inbox/bridge")
    assert hass.config_entries.async_add_subentry(init_folder, nested)
    await hass.async_block_till_done()
    assert init_folder.state is ConfigEntryState.LOADED

    outer, inner = await hass.async_add_executor_job(
        lambda: (inbox.resolve(), (inbox / "bridge").resolve())
    )
    issue_id = f"sources_overlap_folder_source_subentry_{nested.subentry_id}"
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "sources_overlap_inbox"
    assert issue.severity is ir.IssueSeverity.WARNING
    assert issue.translation_placeholders == {
        "first": "Inbox plate_inbox",
        "second": "Inbox bridge",
        "detail": f"{outer}, {inner}",
    }
    # Both sources still read: the upload becomes a sighting.
    events = async_capture_events(hass, EVENT_SIGHTING)
    await hass.async_add_executor_job(
        _upload,
        inbox / "bridge" / "20261125T101500.jpg",
        scene_jpeg("AE1234BK", seed=3),
        None,
    )
    await wait_until(lambda: bool(events))
    assert {event.data["plate"] for event in events} == {"AE1234BK"}

    assert hass.config_entries.async_remove_subentry(init_folder, nested.subentry_id)
    await hass.async_block_till_done()
    assert init_folder.state is ConfigEntryState.LOADED
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_separate_inboxes_raise_no_overlap_issue(
    hass: HomeAssistant,
    config_dir: Path,
    init_folder: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Two inboxes side by side (one name the prefix of the other's) do not overlap."""
    (config_dir / "plate_inbox_2").mkdir()
    assert hass.config_entries.async_add_subentry(
        init_folder, _inbox_source("Inbox 2", "plate_inbox_2")
    )
    await hass.async_block_till_done()
    assert init_folder.state is ConfigEntryState.LOADED
    assert not [
        issue_id
        for domain, issue_id in issue_registry.issues
        if domain == DOMAIN and issue_id.startswith("sources_overlap")
    ]
