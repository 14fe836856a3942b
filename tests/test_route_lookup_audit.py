"""Route lookups (get_route, where_is) are justified, audited and fail in words like searches."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
import sqlite3
from typing import Any

from homeassistant.auth.models import User
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous as vol

from custom_components.plate_tracker.records import Direction, NewSighting

from .helpers import call, record_and_announce

START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
PLATE = "AE1234BK"
CAMERAS = {
    "gate_north": {
        "name": "North gate",
        "latitude": 50.52,
        "longitude": 30.50,
        "role": "exit",
        "leaving_direction": "receding",
    },
    "centre": {
        "name": "Centre",
        "latitude": 50.45,
        "longitude": 30.52,
        "role": "inside",
        "leaving_direction": None,
    },
}


@pytest.fixture
async def city(
    hass: HomeAssistant, folder_entry: MockConfigEntry
) -> AsyncGenerator[MockConfigEntry]:
    """Set up the hub with an exit and an inside camera, and the plate seen at both."""
    folder_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        folder_entry, options={**folder_entry.options, "cameras": CAMERAS}
    )
    assert await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    for minutes, camera, direction in (
        (0, "centre", Direction.UNKNOWN),
        (20, "gate_north", Direction.RECEDING),
    ):
        await record_and_announce(
            hass,
            folder_entry,
            NewSighting(
                camera=camera,
                seen_at=START + timedelta(minutes=minutes),
                plate=PLATE,
                raw=PLATE,
                confidence=0.9,
                source="folder",
                direction=direction,
            ),
        )
    yield folder_entry
    await hass.config_entries.async_unload(folder_entry.entry_id)
    await hass.async_block_till_done()


@pytest.mark.usefixtures("city")
@pytest.mark.parametrize("service", ["get_route", "where_is"])
@pytest.mark.parametrize("reason", [None, "", "  "])
async def test_a_route_lookup_needs_a_reason(
    hass: HomeAssistant, hass_read_only_user: User, service: str, reason: str | None
) -> None:
    """Where a person's car went is as personal as a search: no reason, no answer.

    Both services took the plate alone, and the audit line of an officer
    following a car across the city said nothing about why.
    """
    data: dict[str, Any] = {"plate": PLATE}
    if reason is not None:
        data["reason"] = reason
    with pytest.raises(vol.Invalid) as err:
        await call(hass, service, data, hass_read_only_user)
    assert "reason" in str(err.value)


@pytest.mark.parametrize(
    ("service", "details"),
    [
        ("get_route", {"plate": PLATE, "since": None, "until": None, "sightings": 2}),
        ("where_is", {"plate": PLATE, "city_status": "left"}),
    ],
)
async def test_a_route_lookup_says_who_what_and_why(
    hass: HomeAssistant,
    city: MockConfigEntry,
    hass_read_only_user: User,
    service: str,
    details: dict[str, Any],
) -> None:
    """The audit line names the officer, the vehicle and the case."""
    await call(
        hass,
        service,
        {"plate": "ae 1234 bk", "reason": "case 12023/2026"},
        hass_read_only_user,
    )
    (line,) = await hass.async_add_executor_job(city.runtime_data.store.audit_log)
    assert (line.action, line.user_id, line.reason) == (
        service,
        hass_read_only_user.id,
        "case 12023/2026",
    )
    assert details.items() <= line.details.items()


@pytest.mark.parametrize("failing", ["read_route_columns", "get", "camera_activity"])
async def test_where_is_on_a_failing_store_is_a_translated_error(
    hass: HomeAssistant,
    city: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    failing: str,
) -> None:
    """A database error reaches the caller in words, as every other service's does.

    ``where_is`` read the store outside the services' error handling: a
    failing disk answered with a bare ``sqlite3.OperationalError`` instead of
    the translated ``store_failed``.
    """
    store = city.runtime_data.store

    def disk_failed(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, failing, disk_failed)
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, "where_is", {"plate": PLATE, "reason": "call 112"})
    assert err.value.translation_key == "store_failed"
    assert err.value.translation_placeholders == {"error": "disk I/O error"}
