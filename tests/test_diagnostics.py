"""Diagnostics must help support without handing out plates or places."""

from __future__ import annotations

from datetime import UTC, datetime
from http import HTTPStatus
import json
from pathlib import Path

from homeassistant.config_entries import ConfigSubentryData
from homeassistant.const import CONF_PASSWORD, CONF_USERNAME, CONF_WEBHOOK_ID
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    MqttMockHAClient,
)
from syrupy.assertion import SnapshotAssertion

from custom_components.plate_tracker.const import (
    CONF_ALLOW_REMOTE,
    CONF_ANPR_CAMERA,
    CONF_INBOX,
    CONF_READ_PICTURES,
    CONF_SOURCE,
    DOMAIN,
    SOURCE_ANPR,
    SOURCE_FOLDER,
    SUBENTRY_SOURCE,
)
from custom_components.plate_tracker.records import NewSighting
from custom_components.plate_tracker.routes import (
    CONF_CAMERA_NAME,
    CONF_CAMERAS,
    CONF_LATITUDE,
    CONF_LONGITUDE,
    CONF_ROLE,
)

from .conftest import FRIGATE_URL
from .helpers import record_and_announce, wait_until
from .store.conftest import sighting

WEBHOOK_ID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"


async def test_diagnostics_redact_plates(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_folder: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    """Plates, raw reads and the inbox path are redacted; counters and cameras are kept."""
    runtime = init_folder.runtime_data
    sighting, _ = await hass.async_add_executor_job(
        runtime.store.record,
        NewSighting(
            camera="bridge",
            seen_at=datetime(2026, 11, 25, 9, 30, tzinfo=UTC),
            plate="AE1234BK",
            raw="AE 1234 BK",
            confidence=0.97,
            source="folder",
            alternatives=(("AE1234BX", 0.02),),
        ),
    )
    runtime.hub.async_publish(sighting)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, init_folder)
    assert "AE1234BK" not in str(diagnostics)
    assert diagnostics == snapshot


@pytest.mark.parametrize("expected_lingering_timers", [True])
async def test_diagnostics_redact_the_frigate_login(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    mqtt_mock: MqttMockHAClient,
    frigate_entry: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    """A diagnostics file is shared with strangers: it must not carry the NVR's password or its address."""
    frigate_entry.add_to_hass(hass)
    (subentry,) = frigate_entry.subentries.values()
    hass.config_entries.async_update_subentry(
        frigate_entry,
        subentry,
        data={**subentry.data, CONF_USERNAME: "police", CONF_PASSWORD: "s3cret"},
    )
    aioclient_mock.post(f"{FRIGATE_URL}/api/login", cookies={"frigate_token": "jwt-1"})
    aioclient_mock.get(f"{FRIGATE_URL}/api/stats", json={})
    aioclient_mock.get(f"{FRIGATE_URL}/api/config", json={"cameras": {}})
    assert await hass.config_entries.async_setup(frigate_entry.entry_id)
    await hass.async_block_till_done()
    # The first check of Frigate (a login, then its stats) runs in the background.
    (status,) = frigate_entry.runtime_data.source_status.values()
    await wait_until(lambda: status.api.available is True)

    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, frigate_entry
    )
    text = str(diagnostics)
    for secret in ("s3cret", "police", "frigate.test", "jwt-1"):
        assert secret not in text
    (source,) = diagnostics["entry"]["sources"]
    assert source[CONF_PASSWORD] == "**REDACTED**"
    (status,) = diagnostics["source_status"].values()
    assert status["frigate_api"]["available"] is True
    assert await hass.config_entries.async_unload(frigate_entry.entry_id)


async def test_the_downloaded_file_holds_no_police_data(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    inbox: Path,
) -> None:
    """The file users post on GitHub, as Home Assistant serves it, issues included.

    An ANPR camera's webhook id lets anyone post reads; a watchlist's labels
    and reasons, plates, event ids and the cameras' places are police data.
    """
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Plate Tracker",
        data={},
        options={
            CONF_CAMERAS: {
                "bridge": {
                    CONF_CAMERA_NAME: "Bridge",
                    CONF_LATITUDE: 50.4501,
                    CONF_LONGITUDE: 30.5234,
                    CONF_ROLE: "inside",
                }
            }
        },
        subentries_data=[
            ConfigSubentryData(
                subentry_type=SUBENTRY_SOURCE,
                title="Inbox plate_inbox",
                unique_id=f"folder:{inbox}",
                data={CONF_SOURCE: SOURCE_FOLDER, CONF_INBOX: "plate_inbox"},
            ),
            ConfigSubentryData(
                subentry_type=SUBENTRY_SOURCE,
                title="ANPR exit_north",
                unique_id="anpr:exit_north",
                data={
                    CONF_SOURCE: SOURCE_ANPR,
                    CONF_ANPR_CAMERA: "exit_north",
                    CONF_READ_PICTURES: False,
                    CONF_ALLOW_REMOTE: False,
                    CONF_WEBHOOK_ID: WEBHOOK_ID,
                },
            ),
        ],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await hass.services.async_call(
        DOMAIN,
        "watchlist_add",
        {"plate": "AE1234BK", "label": "Stolen Skoda", "reason": "Case 42/2026"},
        blocking=True,
    )
    await record_and_announce(
        hass,
        entry,
        sighting(
            plate="AE1234BK",
            event_id="1700000000.1-abc",
            alternatives=(("AE1234BX", 0.02),),
        ),
    )
    assert await async_setup_component(hass, "diagnostics", {})
    client = await hass_client()
    response = await client.get(f"/api/diagnostics/config_entry/{entry.entry_id}")
    assert response.status == HTTPStatus.OK
    text = await response.text()
    assert json.loads(text)["data"]["last_sightings"]["bridge"]["camera"] == "bridge"
    for secret in (
        WEBHOOK_ID,
        "AE1234B",
        "Stolen Skoda",
        "Case 42/2026",
        "1700000000.1-abc",
        "50.4501",
        "30.5234",
        'plate_inbox"',
    ):
        assert secret not in text
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
