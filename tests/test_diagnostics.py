"""Diagnostics must help support without handing out plates or places."""

from __future__ import annotations

from datetime import UTC, datetime

from homeassistant.const import CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant
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

from custom_components.plate_tracker.records import NewSighting

from .conftest import FRIGATE_URL
from .helpers import wait_until


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
