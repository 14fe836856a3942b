"""The inbox folder source against uploads that always fail, inside Home Assistant."""

from __future__ import annotations

from datetime import UTC, datetime
import logging
from pathlib import Path
import sqlite3
from typing import Any

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)

from custom_components.plate_tracker.const import EVENT_SIGHTING

from .helpers import wait_until
from .synthetic import scene_jpeg
from .test_folder_source import _upload

POISON = scene_jpeg("BC5512HP", seed=4)


@pytest.mark.usefixtures("no_inbox_poll_wait")
async def test_an_upload_that_always_fails_is_set_aside_and_holds_up_nothing(
    hass: HomeAssistant,
    inbox: Path,
    init_folder: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A picture that makes reading fail every time (an engine crash on it) is set aside and counted.

    It failed first at every poll, and the failure ended the poll: no upload
    after it was ever read, and the log had its traceback every second.
    """
    events = async_capture_events(hass, EVENT_SIGHTING)
    pipeline = init_folder.runtime_data.pipeline
    read = pipeline._read_frame
    tries: list[bytes] = []

    async def crash_on_poison(image: bytes, *args: Any, **kwargs: Any) -> Any:
        if image == POISON:
            tries.append(image)
            raise RuntimeError("the model crashed on this picture")
        return await read(image, *args, **kwargs)

    monkeypatch.setattr(pipeline, "_read_frame", crash_on_poison)
    camera_dir = inbox / "bridge"
    await hass.async_add_executor_job(camera_dir.mkdir)
    poison = camera_dir / "20261125T101400.jpg"
    good = camera_dir / "20261125T101500.jpg"
    await hass.async_add_executor_job(
        _upload, poison, POISON, datetime(2026, 11, 25, 10, 14, tzinfo=UTC)
    )
    await hass.async_add_executor_job(
        _upload,
        good,
        scene_jpeg("AE1234BK", seed=3),
        datetime(2026, 11, 25, 10, 15, tzinfo=UTC),
    )
    rejected = inbox / ".rejected" / "2026-11-25" / "bridge" / poison.name

    await wait_until(lambda: bool(events))
    await wait_until(rejected.is_file)
    assert [event.data["plate"] for event in events] == ["AE1234BK"]
    assert len(tries) == 3
    counters = init_folder.runtime_data.source_counters
    assert counters["inbox_poison"] == 1
    assert not poison.exists()
    tracebacks = [record for record in caplog.records if record.exc_info]
    assert len(tracebacks) == 1


@pytest.mark.usefixtures("no_inbox_poll_wait")
async def test_a_database_outage_sets_no_upload_aside(
    hass: HomeAssistant,
    inbox: Path,
    init_folder: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A store that fails for every upload is not the uploads' fault: they wait, all of them.

    Only a failure of the file's own (not the database's) may set it aside.
    """
    events = async_capture_events(hass, EVENT_SIGHTING)
    store = init_folder.runtime_data.store
    record = store.record
    refused: list[object] = []

    def locked(new: object) -> object:
        if len(refused) < 6:
            refused.append(new)
            raise sqlite3.OperationalError("database is locked")
        return record(new)

    monkeypatch.setattr(store, "record", locked)
    camera_dir = inbox / "bridge"
    await hass.async_add_executor_job(camera_dir.mkdir)
    image = camera_dir / "20261125T101500.jpg"
    await hass.async_add_executor_job(_upload, image, scene_jpeg("AE1234BK", seed=3))

    await wait_until(lambda: bool(events), seconds=60)
    assert len(refused) == 6
    assert not (inbox / ".rejected").exists()
    assert init_folder.runtime_data.source_counters["inbox_poison"] == 0
    warned = [
        record
        for record in caplog.records
        if record.levelno >= logging.WARNING
        and "database is locked" in record.getMessage()
    ]
    assert len(warned) <= 1
