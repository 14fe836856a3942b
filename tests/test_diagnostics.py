"""Diagnostics must help support without handing out plates or places."""

from __future__ import annotations

from datetime import UTC, datetime

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion

from custom_components.plate_tracker.records import NewSighting


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
