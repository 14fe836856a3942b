"""A watchlist entry limited to cameras names only cameras that exist.

An entry limited to a misspelt camera ("exit_nort") never alerts, and nothing
says so: the police believe the plate is watched. Every way in (the
``watchlist_add`` service, a CSV import, the options flow) refuses a camera
that is neither on the camera map nor seen by the hub, and stores a display
name as the camera's id, which is what sightings carry.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import UTC, datetime

from homeassistant.auth.models import User
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)

from custom_components.plate_tracker.const import EVENT_WATCHLIST_HIT

from .helpers import call, record_and_announce
from .store.conftest import sighting

MAPPED = {
    # On the map, not seen yet: a camera being installed.
    "exit_north": {
        "name": "North exit",
        "latitude": 50.52,
        "longitude": 30.50,
        "role": "exit",
        "leaving_direction": "receding",
    },
}
KNOWN = "bridge, exit_north (North exit)"
"""How the error lists the known cameras: ids, with a display name that differs."""


@pytest.fixture
async def city(
    hass: HomeAssistant, folder_entry: MockConfigEntry
) -> AsyncGenerator[MockConfigEntry]:
    """Set up a hub with one mapped camera (``exit_north``) and one seen (``bridge``)."""
    folder_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        folder_entry, options={**folder_entry.options, "cameras": MAPPED}
    )
    assert await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    await record_and_announce(hass, folder_entry, sighting(plate="KA0001OO"))
    yield folder_entry
    await hass.config_entries.async_unload(folder_entry.entry_id)
    await hass.async_block_till_done()


async def test_watchlist_add_refuses_an_unknown_camera(
    hass: HomeAssistant, city: MockConfigEntry, hass_admin_user: User
) -> None:
    """A typo in a camera is refused with the cameras that exist; nothing is listed or audited."""
    with pytest.raises(ServiceValidationError) as err:
        await call(
            hass,
            "watchlist_add",
            {"plate": "AE1234BK", "cameras": ["bridge", "exit_nort", "gate"]},
            hass_admin_user,
        )
    assert err.value.translation_domain == "plate_tracker"
    assert err.value.translation_key == "camera_unknown"
    assert err.value.translation_placeholders == {
        "cameras": "exit_nort, gate",
        "known": KNOWN,
    }
    assert city.runtime_data.alerts.entries == []
    store = city.runtime_data.store
    assert await hass.async_add_executor_job(store.watchlist) == []
    audit = await hass.async_add_executor_job(store.audit_log)
    assert [line.action for line in audit] == []


async def test_watchlist_add_stores_a_display_name_as_the_camera_id_and_alerts(
    hass: HomeAssistant, city: MockConfigEntry, hass_admin_user: User
) -> None:
    """Cameras named as the UI shows them, in any case, or comma-separated, become ids.

    Sightings carry the id: an entry keeping "North exit" would never match one.
    """
    response = await call(
        hass,
        "watchlist_add",
        {"plate": "AE1234BK", "cameras": [" north EXIT ", "BRIDGE, bridge"]},
        hass_admin_user,
    )
    assert response["entry"]["cameras"] == ["exit_north", "bridge"]
    (listed,) = city.runtime_data.alerts.entries
    assert listed.cameras == ("exit_north", "bridge")

    hits = async_capture_events(hass, EVENT_WATCHLIST_HIT)
    await record_and_announce(
        hass,
        city,
        sighting(camera="exit_north", seen_at=datetime(2026, 11, 25, 12, tzinfo=UTC)),
    )
    assert [hit.data["camera"] for hit in hits] == ["exit_north"]


async def test_watchlist_add_in_a_city_with_no_known_camera(
    hass: HomeAssistant, init_folder: MockConfigEntry, hass_admin_user: User
) -> None:
    """Before any camera reported or was mapped, a limited entry is refused and says none is known."""
    with pytest.raises(ServiceValidationError) as err:
        await call(
            hass,
            "watchlist_add",
            {"plate": "AE1234BK", "cameras": "bridge"},
            hass_admin_user,
        )
    assert err.value.translation_key == "camera_unknown"
    assert err.value.translation_placeholders == {"cameras": "bridge", "known": "–"}
    # Not limited to cameras: nothing to check.
    response = await call(hass, "watchlist_add", {"plate": "AE1234BK"}, hass_admin_user)
    assert response["entry"]["cameras"] == []


async def test_watchlist_import_refuses_a_row_with_an_unknown_camera(
    hass: HomeAssistant, city: MockConfigEntry, hass_admin_user: User
) -> None:
    """One row with a misspelt camera and nothing is imported; the error names its line and column."""
    bad = (
        "plate,label,cameras\n"
        "AE1234BK,Skoda,North exit\n"
        "KA0001OO,Audi,bridge;exit_nort\n"
    )
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "watchlist_import", {"csv": bad}, hass_admin_user)
    assert err.value.translation_key == "watchlist_import_invalid"
    assert err.value.translation_placeholders == {
        "count": "1",
        "errors": "line 3, cameras: camera_unknown ('bridge;exit_nort')",
    }
    assert city.runtime_data.alerts.entries == []

    good = "plate,label,cameras\nAE1234BK,Skoda,North exit\nKA0001OO,Audi,bridge EXIT_NORTH\n"
    response = await call(hass, "watchlist_import", {"csv": good}, hass_admin_user)
    assert response == {"imported": 2, "total": 2}
    assert {
        listed.plate: listed.cameras for listed in city.runtime_data.alerts.entries
    } == {"AE1234BK": ("exit_north",), "KA0001OO": ("bridge", "exit_north")}


async def test_options_flow_names_an_unknown_camera_on_the_form(
    hass: HomeAssistant, city: MockConfigEntry
) -> None:
    """The form shows the camera error beside the cameras field, with a bad plate's at once."""
    result = await hass.config_entries.options.async_init(city.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "watchlist_add"}
    )
    form = {"plate": "AE!234BK", "priority": "high", "cameras": "bridge, exit_nort"}
    result = await hass.config_entries.options.async_configure(result["flow_id"], form)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {
        "plate": "plate_invalid_characters",
        "cameras": "camera_unknown",
    }
    assert result["description_placeholders"] == {
        "character": "!",
        "cameras": "exit_nort",
        "known": KNOWN,
    }

    form["plate"] = "AE1234BK"
    result = await hass.config_entries.options.async_configure(result["flow_id"], form)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"cameras": "camera_unknown"}
    assert result["description_placeholders"] == {
        "cameras": "exit_nort",
        "known": KNOWN,
    }
    assert city.runtime_data.alerts.entries == []

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], form | {"cameras": "bridge, North exit"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (listed,) = city.runtime_data.alerts.entries
    assert listed.cameras == ("bridge", "exit_north")
