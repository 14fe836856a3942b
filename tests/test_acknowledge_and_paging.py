"""Acknowledging hits, paging while sightings arrive, and local times in service data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from homeassistant.auth.models import User
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.plate_tracker.records import NewSighting, WatchlistEntry

from .helpers import call

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


async def _record(
    hass: HomeAssistant, entry: MockConfigEntry, plate: str, at: datetime
) -> int:
    sighting, _ = await hass.async_add_executor_job(
        entry.runtime_data.store.record,
        NewSighting(
            camera="bridge",
            seen_at=at,
            plate=plate,
            raw=plate,
            confidence=0.9,
            source="folder",
        ),
    )
    assert sighting.id is not None
    return sighting.id


async def _hit(hass: HomeAssistant, entry: MockConfigEntry) -> int:
    """Store a sighting of a watchlisted plate and its hit; return the hit id."""
    store = entry.runtime_data.store
    sighting_id = await _record(hass, entry, "AE1234BK", NOW)
    listed = await hass.async_add_executor_job(
        store.watchlist_add,
        WatchlistEntry(id=None, plate="AE1234BK", label="Skoda", reason="stolen"),
    )
    assert listed.id is not None
    return await hass.async_add_executor_job(
        store.record_hit, sighting_id, listed.id, "exact", "AE1234BK", NOW
    )


async def test_a_second_acknowledgement_names_the_officer_not_an_id(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_admin_user: User,
    hass_read_only_user: User,
) -> None:
    """The refusal says who took the alert in words the dispatcher understands.

    It named the Home Assistant user id (32 hex digits), which tells a
    dispatcher nothing about which officer to call.
    """
    hit_id = await _hit(hass, init_folder)
    await call(hass, "acknowledge_hit", {"hit_id": hit_id}, hass_read_only_user)
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "acknowledge_hit", {"hit_id": hit_id}, hass_admin_user)
    assert err.value.translation_key == "hit_already_acknowledged"
    placeholders = err.value.translation_placeholders
    assert placeholders["user_id"] == hass_read_only_user.name
    assert hass_read_only_user.id not in str(placeholders)


async def test_the_acknowledgement_audit_names_the_plate(
    hass: HomeAssistant, init_folder: MockConfigEntry, hass_read_only_user: User
) -> None:
    """An auditor reads which vehicle's alert was taken, not only a hit number."""
    hit_id = await _hit(hass, init_folder)
    await call(hass, "acknowledge_hit", {"hit_id": hit_id}, hass_read_only_user)
    (line,) = await hass.async_add_executor_job(
        init_folder.runtime_data.store.audit_log
    )
    assert line.details["hit_id"] == hit_id
    assert line.details["plate"] == "AE1234BK"
    assert line.details["plate_read"] == "AE1234BK"


async def test_paging_stays_whole_while_sightings_arrive(
    hass: HomeAssistant, init_folder: MockConfigEntry
) -> None:
    """Following the cursor while cameras report lists each earlier sighting exactly once."""
    before = [
        await _record(
            hass, init_folder, f"AE{index:04}BK", NOW - timedelta(hours=index)
        )
        for index in range(5)
    ]
    data = {"reason": "case 42", "page_size": 2}
    first = await call(hass, "search_sightings", data)
    seen = [item["sighting_id"] for item in first["sightings"]]
    # A newer sighting, and a late one (a slow source) older than the first page.
    await _record(hass, init_folder, "KA0001OO", NOW + timedelta(minutes=1))
    late = await _record(hass, init_folder, "KA0002OO", NOW - timedelta(minutes=150))
    cursor = first["next_cursor"]
    while cursor:
        page = await call(hass, "search_sightings", {**data, "cursor": cursor})
        seen += [item["sighting_id"] for item in page["sightings"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen))
    assert set(before) <= set(seen)
    assert late in seen


async def test_a_time_without_zone_is_home_assistant_local_time(
    hass: HomeAssistant, init_folder: MockConfigEntry
) -> None:
    """The date picker sends local time: 14:00 in Kyiv is 12:00 UTC, not 14:00 UTC."""
    await hass.config.async_set_time_zone("Europe/Kyiv")
    at_noon_utc = await _record(hass, init_folder, "AE1234BK", NOW)
    await _record(hass, init_folder, "AE5678BK", NOW - timedelta(hours=1))
    response = await call(
        hass,
        "search_sightings",
        {"since": "2026-11-25 14:00:00", "until": "2026-11-25 15:00", "reason": "c 1"},
    )
    assert [item["sighting_id"] for item in response["sightings"]] == [at_noon_utc]
    # ``until`` is not included: a range ending at 14:00 stops before the sighting.
    response = await call(
        hass,
        "search_sightings",
        {"since": "2026-11-25 13:00:00", "until": "2026-11-25 14:00", "reason": "c 1"},
    )
    assert [item["plate"] for item in response["sightings"]] == ["AE5678BK"]
