"""The quiet-camera blueprint: a real automation on a camera's *Last sighting* sensor.

Both kinds of sensor it takes are tried: every camera's *Last sighting* and an ANPR source's
*Last read*, fed by real reads over the ANPR webhook.

An exit camera that stops reading leaves the city open: the duty officer is told once, when
it has been quiet for the set minutes, and again only after it read something in between.
A camera already quiet when Home Assistant starts, or when the automation is saved, is
reported then: a restart must not hide a dead camera.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime, timedelta
from pathlib import Path
import shutil
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components import automation
from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint import models
from homeassistant.const import SERVICE_RELOAD
from homeassistant.core import CoreState, HomeAssistant, State
from homeassistant.helpers import restore_state
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


def _automation(sensor: str = LAST_SIGHTING[0]) -> dict[str, object]:
    """Return the configuration of the exit camera's quiet automation from the blueprint."""
    return {
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
    }


def _restore_automation(hass: HomeAssistant, last_triggered: datetime) -> None:
    """Have the automation restored as it was before a restart: last run at ``last_triggered``."""
    state = State(
        "automation.exit_north_quiet",
        "on",
        {"last_triggered": last_triggered.isoformat()},
    )
    restore_state.async_get(hass).last_states[state.entity_id] = (
        restore_state.StoredState.from_dict(
            {"state": state.as_dict(), "last_seen": dt_util.utcnow()}
        )
    )


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
    assert await async_setup_component(hass, automation.DOMAIN, _automation(sensor))
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


@pytest.fixture
async def quiet_camera(
    hass: HomeAssistant,
    exit_camera: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    freezer: FrozenDateTimeFactory,
) -> str:
    """Install the blueprint; the exit camera reads once, then stays quiet for 40 minutes.

    Return the time of its last read, as its *Last sighting* sensor shows it.
    """
    freezer.move_to(dt_util.utcnow().replace(second=0, microsecond=0))
    target = Path(hass.config.path("blueprints/automation/plate_tracker"))
    await hass.async_add_executor_job(_install, target)
    await _read(hass_client_no_auth)
    await hass.async_block_till_done()
    last_read = hass.states.get(LAST_SIGHTING[0]).state
    await _minutes_pass(hass, freezer, 40)
    return last_read


@pytest.mark.parametrize(
    "told",
    [(None, 1), (-10, 1), (10, 1), (35, 0)],
    ids=[
        "never_told",
        "told_for_an_earlier_silence",
        "run_by_hand_early_in_this_silence",
        "told_for_this_silence",
    ],
)
async def test_told_at_startup_when_the_camera_was_already_quiet(
    told: tuple[int | None, int],
    hass: HomeAssistant,
    quiet_camera: str,
    hass_client_no_auth: ClientSessionGenerator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A camera that went quiet before a restart is reported once it is up, not never.

    A template trigger fires only when its template turns true; one already true when
    Home Assistant starts never does, so a camera that died during the restart (a power
    cut takes both) would stay unreported for as long as it stays dead. A silence the
    officer was already told of before the restart (``told_before_restart`` minutes
    after the last read, restored with the automation) is not reported twice; a run
    before the silence was long enough (a test from the editor) does not count.
    """
    told_before_restart, told_at_start = told
    events = async_capture_events(hass, "exit_camera_quiet")
    if told_before_restart is not None:
        last_triggered = dt_util.parse_datetime(quiet_camera) + timedelta(
            minutes=told_before_restart
        )
        _restore_automation(hass, last_triggered)
    hass.set_state(CoreState.not_running)
    assert await async_setup_component(hass, automation.DOMAIN, _automation())
    await hass.async_block_till_done()
    # Home Assistant's own start: automations arm their triggers as this version
    # does (at homeassistant_started, or in a startup job before it).
    await hass.async_start()
    await hass.async_block_till_done()
    assert len(events) == told_at_start
    if events:
        assert events[0].data["last_read"] == quiet_camera

    # Still the same silence: no repeat.
    await _minutes_pass(hass, freezer, 20)
    assert len(events) == told_at_start
    # A read and a new silence are reported as before.
    await _read(hass_client_no_auth)
    await _minutes_pass(hass, freezer, 31)
    assert len(events) == told_at_start + 1


async def test_told_when_added_while_the_camera_is_already_quiet(
    hass: HomeAssistant, quiet_camera: str, freezer: FrozenDateTimeFactory
) -> None:
    """An automation saved in the editor while its camera is already quiet tells at once.

    The editor saves and reloads the automation: its template trigger starts out true
    and would never fire for the silence the officer set it up for.
    """
    told = async_capture_events(hass, "exit_camera_quiet")
    assert await async_setup_component(hass, automation.DOMAIN, {automation.DOMAIN: []})
    await hass.async_block_till_done()
    with patch(
        "homeassistant.config.load_yaml_config_file", return_value=_automation()
    ):
        await hass.services.async_call(
            automation.DOMAIN,
            SERVICE_RELOAD,
            {"id": "exit_north_quiet"},
            blocking=True,
        )
    await hass.async_block_till_done()
    assert [event.data["last_read"] for event in told] == [quiet_camera]
    await _minutes_pass(hass, freezer, 20)
    assert len(told) == 1


async def test_not_told_twice_when_the_integration_reloads(
    hass: HomeAssistant,
    exit_camera: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Reloading Plate Tracker during a silence does not report that silence again.

    The sensor is gone while the integration reloads and comes back with the same
    time: the template turns false and true again, yet nothing was read in between.
    """
    freezer.move_to(dt_util.utcnow().replace(second=0, microsecond=0))
    target = Path(hass.config.path("blueprints/automation/plate_tracker"))
    await hass.async_add_executor_job(_install, target)
    told = async_capture_events(hass, "exit_camera_quiet")
    await _read(hass_client_no_auth)
    await hass.async_block_till_done()
    assert await async_setup_component(hass, automation.DOMAIN, _automation())
    await hass.async_block_till_done()
    await _minutes_pass(hass, freezer, 31)
    assert len(told) == 1

    assert await hass.config_entries.async_reload(exit_camera.entry_id)
    await hass.async_block_till_done()
    await _minutes_pass(hass, freezer, 2)
    assert len(told) == 1
