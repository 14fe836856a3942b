"""The camera services: read_plates reads an image without storing; capture_camera records it."""

from __future__ import annotations

import contextlib
from pathlib import Path
import threading
from typing import Any
from unittest.mock import patch

from homeassistant.auth.models import User
from homeassistant.components.camera import Image
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)
import voluptuous as vol

from custom_components.plate_tracker.const import DOMAIN, EVENT_SIGHTING
from custom_components.plate_tracker.pipeline import PipelineStoppedError

from .synthetic import scene_jpeg


async def test_read_plates_from_an_allowed_file(
    hass: HomeAssistant, init_folder: MockConfigEntry, allowed_dir: Path
) -> None:
    """An operator can check what the engine reads in any picture, with boxes and confidences."""
    image = allowed_dir / "gate.jpg"
    image.write_bytes(scene_jpeg("BC5512HP", seed=4))
    response = await hass.services.async_call(
        DOMAIN,
        "read_plates",
        {"file_path": str(image)},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert (response["width"], response["height"]) == (1280, 720)
    plates = response["plates"]
    assert [plate["plate"] for plate in plates] == ["BC5512HP"]
    assert plates[0]["region"] == "ua"
    x1, y1, x2, y2 = plates[0]["box"]
    assert x2 - x1 > 100
    assert 0 <= y1 < y2 <= 720
    assert 0 < plates[0]["confidence"] <= 1


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"file_path": "/etc/passwd"}, "path_not_allowed"),
        ({"file_path": "relative.jpg"}, "path_not_allowed"),
        ({}, "image_required"),
    ],
)
async def test_read_plates_refuses_bad_input(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    allowed_dir: Path,
    data: dict[str, str],
    key: str,
) -> None:
    """Files outside allowlist_external_dirs are never read; every refusal is translated."""
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "read_plates", data, blocking=True, return_response=True
        )
    assert err.value.translation_key == key


async def test_path_checks_stay_off_the_event_loop(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    allowed_dir: Path,
    hass_admin_user: User,
) -> None:
    """``is_allowed_path`` resolves links on disk: on the event loop it would stall everything.

    Every service that takes a path asks it from an executor thread.
    """
    on_loop: list[bool] = []
    check = hass.config.is_allowed_path

    def recorded(path: str) -> bool:
        on_loop.append(threading.get_ident() == hass.loop_thread_id)
        return check(path)

    calls = [
        ("read_plates", {"file_path": str(allowed_dir / "gone.jpg")}),
        ("watchlist_export", {"file_path": str(allowed_dir / "watchlist.csv")}),
        ("export_sightings", {"folder": str(allowed_dir), "reason": "case 12/345"}),
    ]
    with patch.object(hass.config, "is_allowed_path", recorded):
        for service, data in calls:
            # A missing file is refused after the check; that refusal is not this test's.
            with contextlib.suppress(ServiceValidationError):
                await hass.services.async_call(
                    DOMAIN,
                    service,
                    data,
                    blocking=True,
                    return_response=True,
                    context=Context(user_id=hass_admin_user.id),
                )
    assert on_loop == [False] * len(calls)
    assert (allowed_dir / "watchlist.csv").is_file()


async def test_read_plates_refuses_broken_images(
    hass: HomeAssistant, init_folder: MockConfigEntry, allowed_dir: Path
) -> None:
    """A corrupt or missing file is a clear error, not a crash."""
    (allowed_dir / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "read_plates",
            {"file_path": str(allowed_dir / "broken.jpg")},
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == "invalid_image"
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "read_plates",
            {"file_path": str(allowed_dir / "gone.jpg")},
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == "file_unreadable"


async def test_read_plates_from_a_camera(
    hass: HomeAssistant, init_folder: MockConfigEntry
) -> None:
    """Any camera Home Assistant knows can be read, with an optional vehicle box."""
    with patch(
        "homeassistant.components.camera.async_get_image",
        return_value=Image("image/jpeg", scene_jpeg("AE1234BK", seed=5)),
    ) as get_image:
        response = await hass.services.async_call(
            DOMAIN,
            "read_plates",
            {"entity_id": "camera.gate", "vehicle_box": [0, 0, 1280, 720]},
            blocking=True,
            return_response=True,
        )
    get_image.assert_awaited_once()
    assert response is not None
    assert [plate["plate"] for plate in response["plates"]] == ["AE1234BK"]

    with (
        patch(
            "homeassistant.components.camera.async_get_image",
            side_effect=HomeAssistantError("camera offline"),
        ),
        pytest.raises(HomeAssistantError) as err,
    ):
        await hass.services.async_call(
            DOMAIN,
            "read_plates",
            {"entity_id": "camera.gate"},
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == "camera_unavailable"


async def test_read_plates_refuses_a_huge_file(
    hass: HomeAssistant, init_folder: MockConfigEntry, allowed_dir: Path
) -> None:
    """A file far larger than any camera picture is refused before it is read into memory."""
    huge = allowed_dir / "huge.jpg"
    with huge.open("wb") as handle:
        handle.truncate(31 * 1024 * 1024)
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "read_plates",
            {"file_path": str(huge)},
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == "file_unreadable"
    assert str(err.value) == (
        f"Could not read {huge}: larger than {30 * 1024 * 1024} bytes"
    )


async def test_services_say_when_the_hub_is_not_loaded(
    hass: HomeAssistant, init_folder: MockConfigEntry
) -> None:
    """After the hub is unloaded (or while it retries setup) a call gets a clear message, not a crash."""
    assert await hass.config_entries.async_unload(init_folder.entry_id)
    await hass.async_block_till_done()
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "search_sightings",
            {"plate": "AE1234BK", "reason": "case 42"},
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == "not_loaded"
    assert str(err.value) == "Plate Tracker is not set up or not loaded"


async def _local_file_camera(hass: HomeAssistant, path: Path, name: str) -> str:
    """Set up Home Assistant's own local_file camera showing ``path``; return its entity id."""
    entry = MockConfigEntry(
        domain="local_file", options={"name": name, "file_path": str(path)}
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return f"camera.{name.lower()}"


async def test_capture_camera_records_its_plates_as_sightings(
    hass: HomeAssistant, init_folder: MockConfigEntry, config_dir: Path
) -> None:
    """A camera without an NVR: an automation captures it and the plate becomes a sighting.

    The camera's name is the entity's object id unless the call names it, and the
    direction the automation knows is kept.
    """
    picture = config_dir / "gate.jpg"
    picture.write_bytes(scene_jpeg("AE1234BK", seed=5))
    entity_id = await _local_file_camera(hass, picture, "Gate")
    events = async_capture_events(hass, EVENT_SIGHTING)

    response = await hass.services.async_call(
        DOMAIN,
        "capture_camera",
        {"entity_id": entity_id},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    (sighting,) = response["sightings"]
    assert (sighting["plate"], sighting["camera"], sighting["source"]) == (
        "AE1234BK",
        "gate",
        "camera",
    )
    assert sighting["direction"] == "unknown"

    response = await hass.services.async_call(
        DOMAIN,
        "capture_camera",
        {"entity_id": entity_id, "camera": "north_exit", "direction": "receding"},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    (again,) = response["sightings"]
    assert (again["camera"], again["direction"]) == ("north_exit", "receding")

    stored = await hass.async_add_executor_job(init_folder.runtime_data.store.recent)
    assert sorted((s.camera, s.plate) for s in stored) == [
        ("gate", "AE1234BK"),
        ("north_exit", "AE1234BK"),
    ]
    await hass.async_block_till_done()
    assert sorted(event.data["camera"] for event in events) == ["gate", "north_exit"]


async def test_capture_camera_without_a_picture_or_with_a_broken_one(
    hass: HomeAssistant, init_folder: MockConfigEntry, config_dir: Path
) -> None:
    """A camera that gives no picture, or a corrupt one, is a translated error and stores nothing."""
    gone = config_dir / "gone.jpg"
    gone.write_bytes(scene_jpeg("AE1234BK", seed=5))
    missing = await _local_file_camera(hass, gone, "Dark")
    gone.unlink()
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            DOMAIN, "capture_camera", {"entity_id": missing}, blocking=True
        )
    assert err.value.translation_key == "camera_unavailable"

    broken = config_dir / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 cut off")
    corrupt = await _local_file_camera(hass, broken, "Broken")
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            DOMAIN, "capture_camera", {"entity_id": corrupt}, blocking=True
        )
    assert err.value.translation_key == "invalid_image"
    assert not isinstance(err.value, ServiceValidationError)

    assert (
        await hass.async_add_executor_job(init_folder.runtime_data.store.recent) == []
    )
    assert init_folder.runtime_data.pipeline.counters.frames_rejected == 1


async def test_capture_camera_while_recognition_stops(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    config_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A capture the unloading pipeline will not read says so, in words, instead of waiting forever."""
    picture = config_dir / "gate.jpg"
    picture.write_bytes(scene_jpeg("AE1234BK", seed=5))
    camera = await _local_file_camera(hass, picture, "Gate")

    async def stopped(*args: object, **kwargs: object) -> list[object]:
        raise PipelineStoppedError

    monkeypatch.setattr(init_folder.runtime_data.pipeline, "submit", stopped)
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            DOMAIN, "capture_camera", {"entity_id": camera}, blocking=True
        )
    assert err.value.translation_key == "recognition_stopped"


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"entity_id": "sensor.gate"},
        {"entity_id": "camera.gate", "direction": "sideways"},
        {"entity_id": "camera.gate", "vehicle_box": [1, 2, 3]},
        {"entity_id": "camera.gate", "camera": "  "},
    ],
)
async def test_capture_camera_refuses_wrong_service_data(
    hass: HomeAssistant, init_folder: MockConfigEntry, data: dict[str, Any]
) -> None:
    """Wrong service data is refused before any camera is asked for a picture."""
    with (
        patch("homeassistant.components.camera.async_get_image") as get_image,
        pytest.raises(vol.Invalid),
    ):
        await hass.services.async_call(DOMAIN, "capture_camera", data, blocking=True)
    get_image.assert_not_called()


@pytest.mark.usefixtures("init_folder")
async def test_a_watchlist_export_the_disk_refuses_is_a_translated_error(
    hass: HomeAssistant, allowed_dir: Path, hass_admin_user: User
) -> None:
    """A file that cannot be written (a folder that is not there) is said in words.

    The OSError reached the user as an untranslated "unknown error" that did
    not say which file failed.
    """
    target = allowed_dir / "not_there" / "watchlist.csv"
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            DOMAIN,
            "watchlist_export",
            {"file_path": str(target)},
            blocking=True,
            return_response=True,
            context=Context(user_id=hass_admin_user.id),
        )
    assert err.value.translation_key == "export_failed"
    assert err.value.translation_placeholders["path"] == str(target)
