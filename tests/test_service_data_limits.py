"""Service data that passes its type but not what SQLite and UTC can hold is refused clearly.

Each of these raised an OverflowError out of the service (an untranslated
"unknown error" in the UI) before: ids and offsets beyond SQLite's 64-bit
integers, and times that UTC cannot hold (the first hours of year 1 east of
Greenwich, the last of 9999 west of it).
"""

from __future__ import annotations

from datetime import UTC, datetime
import math
from typing import Any

from homeassistant.auth.models import User
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous as vol

from custom_components.plate_tracker.records import NewSighting
from custom_components.plate_tracker.store import SQLITE_MAX_INTEGER

from .helpers import call

BEYOND_SQLITE = SQLITE_MAX_INTEGER + 1
BEFORE_UTC = "0001-01-01T00:00:00+05:00"
AFTER_UTC = "9999-12-31T23:59:59-05:00"
REASON = {"reason": "case 42"}


async def call_as_admin(
    hass: HomeAssistant, user: User, service: str, data: dict[str, Any]
) -> Any:
    """Call ``service`` as ``user``, asking for a response where it gives one."""
    return await call(hass, service, data, user, response=service != "watchlist_remove")


@pytest.mark.usefixtures("init_folder")
@pytest.mark.parametrize(
    ("service", "data", "field"),
    [
        ("acknowledge_hit", {"hit_id": BEYOND_SQLITE}, "hit_id"),
        ("acknowledge_hit", {"hit_id": -BEYOND_SQLITE}, "hit_id"),
        ("watchlist_remove", {"entry_id": BEYOND_SQLITE}, "entry_id"),
        (
            "set_legal_hold",
            {"sighting_ids": [3, BEYOND_SQLITE], **REASON},
            "sighting_ids",
        ),
        ("audit_log", {"offset": BEYOND_SQLITE}, "offset"),
        # A script's YAML can say .inf, which int() cannot take.
        ("acknowledge_hit", {"hit_id": math.inf}, "hit_id"),
        ("audit_log", {"limit": math.inf}, "limit"),
        ("search_sightings", {"page_size": -math.inf, **REASON}, "page_size"),
        (
            "get_route",
            {"plate": "AE1234BK", "max_sightings": math.inf, **REASON},
            "max_sightings",
        ),
        (
            "read_plates",
            {"file_path": "scene.jpg", "vehicle_box": [0, 0, math.inf, 9]},
            "vehicle_box",
        ),
        # Text kept for good (the audit log) or parsed whole: bounded.
        ("acknowledge_hit", {"hit_id": 1, "note": "x" * 501}, "note"),
        ("watchlist_import", {"csv": "plate\n" + "x" * 10 * 1024 * 1024}, "csv"),
        # Valid YAML and JSON, but no float holds it; and NaN, never a number.
        (
            "search_sightings",
            {"min_confidence": 10**400, **REASON},
            "min_confidence",
        ),
        (
            "search_sightings",
            {"min_confidence": math.nan, **REASON},
            "min_confidence",
        ),
        (
            "get_route",
            {"plate": "AE1234BK", "trip_gap_minutes": 10**400, **REASON},
            "trip_gap_minutes",
        ),
    ],
)
async def test_ids_and_offsets_beyond_sqlite_are_refused_by_the_schema(
    hass: HomeAssistant,
    hass_admin_user: User,
    service: str,
    data: dict[str, Any],
    field: str,
) -> None:
    """The schema names the field and the limit; nothing reaches the store."""
    with pytest.raises(vol.Invalid) as err:
        await call_as_admin(hass, hass_admin_user, service, data)
    assert field in str(err.value)


@pytest.mark.usefixtures("init_folder")
@pytest.mark.parametrize("moment", [BEFORE_UTC, AFTER_UTC])
@pytest.mark.parametrize(
    ("service", "data"),
    [
        ("search_sightings", {"since": None, **REASON}),
        ("search_sightings", {"until": None, **REASON}),
        ("purge_sightings", {"since": None, **REASON}),
        ("audit_log", {"until": None}),
        ("get_route", {"plate": "AE1234BK", "since": None, **REASON}),
        ("watchlist_add", {"plate": "AE1234BK", "expires_at": None}),
    ],
)
async def test_times_utc_cannot_hold_are_a_translated_error(
    hass: HomeAssistant,
    hass_admin_user: User,
    service: str,
    data: dict[str, Any],
    moment: str,
) -> None:
    """The error says which time, in the user's language, instead of an unknown error."""
    data = {key: moment if value is None else value for key, value in data.items()}
    with pytest.raises(ServiceValidationError) as err:
        await call_as_admin(hass, hass_admin_user, service, data)
    assert err.value.translation_key == "datetime_out_of_range"
    assert str(err.value) == (
        f"{moment} is outside the times Plate Tracker can store (years 1 to 9999 in UTC)"
    )


async def test_the_widest_times_utc_holds_still_search(
    hass: HomeAssistant, init_folder: MockConfigEntry, hass_admin_user: User
) -> None:
    """The limit is UTC's own: a search from year 1 to 9999 in UTC finds every sighting."""
    store = init_folder.runtime_data.store
    await hass.async_add_executor_job(
        store.record,
        NewSighting(
            camera="bridge",
            seen_at=datetime(2026, 11, 25, 12, tzinfo=UTC),
            plate="AE1234BK",
            raw="AE1234BK",
            confidence=0.9,
            source="folder",
        ),
    )
    response = await call_as_admin(
        hass,
        hass_admin_user,
        "search_sightings",
        {
            "since": "0001-01-01T05:00:00+05:00",
            "until": "9999-12-31T18:59:59-05:00",
            **REASON,
        },
    )
    assert [found["plate"] for found in response["sightings"]] == ["AE1234BK"]


@pytest.mark.usefixtures("init_folder")
async def test_a_watchlist_file_with_such_an_expiry_imports_nothing(
    hass: HomeAssistant, hass_admin_user: User
) -> None:
    """The row is named as invalid, as any unreadable expiry is, and no entry is added."""
    with pytest.raises(ServiceValidationError) as err:
        await call_as_admin(
            hass,
            hass_admin_user,
            "watchlist_import",
            {"csv": f"plate,expires_at\nAE1234BK,{BEFORE_UTC}\nKA0001AA,\n"},
        )
    assert err.value.translation_key == "watchlist_import_invalid"
    assert "line 2, expires_at: expires_at_invalid" in str(err.value)
    listed = await call_as_admin(hass, hass_admin_user, "watchlist_list", {})
    assert listed["entries"] == []


@pytest.mark.parametrize("not_an_id", [1.5, True])
async def test_an_id_that_is_no_whole_number_names_no_row(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_admin_user: User,
    not_an_id: float,
) -> None:
    """An id of 1.5 or ``true`` is refused, not read as sighting 1.

    A legal hold, an acknowledgement or a removal acts on evidence: a typo or
    a template that rendered a fraction or a boolean must not put another
    car's sighting on hold.
    """
    store = init_folder.runtime_data.store
    first, _ = await hass.async_add_executor_job(
        store.record,
        NewSighting(
            camera="bridge",
            seen_at=datetime(2026, 11, 25, 12, tzinfo=UTC),
            plate="AE1234BK",
            raw="AE1234BK",
            confidence=0.9,
            source="folder",
        ),
    )
    assert first.id == 1
    with pytest.raises(vol.Invalid) as err:
        await call_as_admin(
            hass,
            hass_admin_user,
            "set_legal_hold",
            {"sighting_ids": [not_an_id], **REASON},
        )
    assert "sighting_ids" in str(err.value)
    held = await hass.async_add_executor_job(store.get, first.id)
    assert held is not None
    assert not held.legal_hold
