"""The quiet-camera blueprint: a real automation on a camera's *Last sighting* sensor.

Both kinds of sensor it takes are tried: every camera's *Last sighting* and an ANPR source's
*Last read*, fed by real reads over the ANPR webhook.

An exit camera that stops reading leaves the city open: the duty officer is told once, when
it has been quiet for the set minutes, and again only after it read something in between.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import timedelta
from pathlib import Path
import shutil

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components import automation
from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint import models
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from homeassistant.util.yaml import load_yaml_dict
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from .test_anpr_source import _post, anpr_entry

REPO = Path(__file__).resolve().parents[1]
BLUEPRINT_PATH = "plate_tracker/camera_quiet.yaml"
BLUEPRINT_FILE = REPO / "blueprints" / "automation" / BLUEPRINT_PATH
LAST_READ = ("sensor.anpr_exit_north_last_read", "ANPR exit_north Last read")
LAST_SIGHTING = ("sensor.exit_north_last_sighting", "exit_north Last sighting")


def test_blueprint_metadata() -> None:
    """Home Assistant accepts the file, and re-import fetches it from its own URL."""
    blueprint = models.Blueprint(
        load_yaml_dict(BLUEPRINT_FILE),
        expected_domain=automation.DOMAIN,
        schema=AUTOMATION_BLUEPRINT_SCHEMA,
    )
    assert blueprint.metadata["source_url"].endswith(BLUEPRINT_PATH)
    assert blueprint.validate() is None
    assert set(blueprint.inputs) == {"last_read_sensor", "quiet_minutes", "actions"}


@pytest.fixture
async def exit_camera(hass: HomeAssistant) -> AsyncGenerator[MockConfigEntry]:
    """Set up the hub with the ANPR source ``exit_north``; unload it after the test."""
    entry = anpr_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


def _install(target: Path) -> None:
    target.mkdir(parents=True)
    shutil.copy(BLUEPRINT_FILE, target)


async def _read(hass_client_no_auth: ClientSessionGenerator) -> None:
    body = b'{"plate": "AE1234BK"}'
    assert (await _post(hass_client_no_auth, body, "application/json"))[0] == 200


async def _minutes_pass(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, minutes: int
) -> None:
    """Let time pass a minute at a time, as the template trigger sees it."""
    for _ in range(minutes):
        freezer.tick(timedelta(minutes=1))
        async_fire_time_changed(hass)
        await hass.async_block_till_done()


@pytest.mark.parametrize(
    "quiet_sensor", [LAST_SIGHTING, LAST_READ], ids=["last_sighting", "last_read"]
)
async def test_told_once_when_the_camera_goes_quiet(
    quiet_sensor: tuple[str, str],
    hass: HomeAssistant,
    exit_camera: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Quiet for 30 minutes: the actions run once; a read and a new silence run them again."""
    sensor, name = quiet_sensor
    freezer.move_to(dt_util.utcnow().replace(second=0, microsecond=0))
    target = Path(hass.config.path("blueprints/automation/plate_tracker"))
    await hass.async_add_executor_job(_install, target)
    told = async_capture_events(hass, "exit_camera_quiet")
    await _read(hass_client_no_auth)
    await hass.async_block_till_done()
    assert hass.states.get(sensor).state == dt_util.utcnow().isoformat()
    assert await async_setup_component(
        hass,
        automation.DOMAIN,
        {
            automation.DOMAIN: {
                "id": "exit_north_quiet",
                "alias": "Exit north quiet",
                "use_blueprint": {
                    "path": BLUEPRINT_PATH,
                    "input": {
                        "last_read_sensor": sensor,
                        "quiet_minutes": 30,
                        "actions": [
                            {
                                "event": "exit_camera_quiet",
                                "event_data": {
                                    "source": "{{ source }}",
                                    "last_read": "{{ last_read }}",
                                    "minutes": "{{ quiet_minutes }}",
                                },
                            }
                        ],
                    },
                },
            }
        },
    )
    await hass.async_block_till_done()
    assert hass.states.get("automation.exit_north_quiet").state == "on"
    last_read = hass.states.get(sensor).state

    await _minutes_pass(hass, freezer, 29)
    assert told == []
    await _minutes_pass(hass, freezer, 2)
    assert len(told) == 1
    assert told[0].data == {
        "source": name,
        "last_read": last_read,
        "minutes": 30,
    }
    # Still quiet: no repeat every minute.
    await _minutes_pass(hass, freezer, 20)
    assert len(told) == 1

    # It reads again, then goes quiet again: told again.
    await _read(hass_client_no_auth)
    await _minutes_pass(hass, freezer, 10)
    assert len(told) == 1
    await _minutes_pass(hass, freezer, 21)
    assert len(told) == 2
