"""The capture-on-motion blueprint: a real automation, a real camera entity, the real engine.

For cameras without an NVR this blueprint is the whole source: a motion sensor turns on, the
camera's picture is captured and its plate becomes a sighting. The tests import the file from
the repository as a user would and drive it through the state machine.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
import shutil
from typing import Any

from homeassistant.components import automation
from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint import models
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml_dict
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .helpers import wait_until
from .synthetic import scene_jpeg

REPO = Path(__file__).resolve().parents[1]
BLUEPRINT_PATH = "plate_tracker/capture_on_motion.yaml"
BLUEPRINT_FILE = REPO / "blueprints" / "automation" / BLUEPRINT_PATH
SENSOR = "binary_sensor.gate_motion"


def test_blueprint_metadata() -> None:
    """Home Assistant accepts the file, and re-import fetches it from its own URL."""
    blueprint = models.Blueprint(
        load_yaml_dict(BLUEPRINT_FILE),
        expected_domain=automation.DOMAIN,
        schema=AUTOMATION_BLUEPRINT_SCHEMA,
    )
    assert blueprint.name == "Plate Tracker: capture a camera on motion"
    assert blueprint.metadata["source_url"] == (
        "https://github.com/plate-tracker/plate_tracker/blob/main/blueprints/automation/"
        + BLUEPRINT_PATH
    )
    assert blueprint.validate() is None
    assert set(blueprint.inputs) == {
        "motion_sensor",
        "camera_entity",
        "camera_name",
        "direction",
        "delay",
        "pictures",
        "interval",
    }


def _install(target: Path) -> None:
    """Put the blueprint where an import puts it: the config folder's blueprints."""
    target.mkdir(parents=True)
    shutil.copy(BLUEPRINT_FILE, target)


@pytest.fixture
async def gate_camera(
    hass: HomeAssistant, init_folder: MockConfigEntry, config_dir: Path
) -> str:
    """Home Assistant's local_file camera showing a car at the gate, and the blueprint installed."""
    picture = config_dir / "gate.jpg"
    picture.write_bytes(scene_jpeg("AE1234BK", seed=5))
    entry = MockConfigEntry(
        domain="local_file", options={"name": "Gate", "file_path": str(picture)}
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    target = Path(hass.config.path("blueprints/automation/plate_tracker"))
    await hass.async_add_executor_job(_install, target)
    hass.states.async_set(SENSOR, "off")
    await hass.async_block_till_done()
    return "camera.gate"


async def setup_capture(hass: HomeAssistant, camera: str, **inputs: Any) -> None:
    """Create an automation from the blueprint with the given inputs."""
    assert await async_setup_component(
        hass,
        automation.DOMAIN,
        {
            automation.DOMAIN: {
                "id": "capture_gate",
                "alias": "Capture the gate",
                "use_blueprint": {
                    "path": BLUEPRINT_PATH,
                    "input": {"motion_sensor": SENSOR, "camera_entity": camera}
                    | inputs,
                },
            }
        },
    )
    await hass.async_block_till_done()
    state = hass.states.get("automation.capture_the_gate")
    assert state is not None
    assert state.state == "on"


async def _stored(
    hass: HomeAssistant, entry: MockConfigEntry
) -> list[tuple[str, str, str]]:
    sightings = await hass.async_add_executor_job(entry.runtime_data.store.recent)
    return sorted((s.camera, s.plate, s.direction.value) for s in sightings)


async def test_motion_records_the_plate_the_camera_shows(
    hass: HomeAssistant, gate_camera: str, init_folder: MockConfigEntry
) -> None:
    """Motion at the gate: the camera's plate is a sighting under the camera's name."""
    await setup_capture(hass, gate_camera)

    hass.states.async_set(SENSOR, "on")
    await wait_until(
        lambda: init_folder.runtime_data.pipeline.counters.sightings_recorded
    )
    await hass.async_block_till_done()

    assert await _stored(hass, init_folder) == [("gate", "AE1234BK", "unknown")]


async def test_named_exit_camera_takes_pictures_while_the_car_is_there(
    hass: HomeAssistant, gate_camera: str, init_folder: MockConfigEntry
) -> None:
    """Several pictures per detection, under the camera map's name and the lane's direction.

    The second detection ends early: the sensor turning off stops the pictures.
    """
    await setup_capture(
        hass,
        gate_camera,
        camera_name=" exit_kyiv_road ",
        direction="receding",
        pictures=3,
        interval=0.5,
    )

    hass.states.async_set(SENSOR, "on")
    await wait_until(
        lambda: init_folder.runtime_data.pipeline.counters.sightings_recorded >= 3
    )
    await hass.async_block_till_done()
    assert (
        await _stored(hass, init_folder)
        == [("exit_kyiv_road", "AE1234BK", "receding")] * 3
    )

    hass.states.async_set(SENSOR, "off")
    await hass.async_block_till_done()
    hass.states.async_set(SENSOR, "on")
    await wait_until(
        lambda: init_folder.runtime_data.pipeline.counters.sightings_recorded >= 4
    )
    hass.states.async_set(SENSOR, "off")
    await hass.async_block_till_done()
    # Longer than the interval: a picture after the sensor turned off would be the fifth.
    await asyncio.sleep(1.0)
    await hass.async_block_till_done()
    assert init_folder.runtime_data.pipeline.counters.sightings_recorded == 4
