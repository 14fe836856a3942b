"""The city camera map in the options flow: where cameras stand and which are exits."""

from __future__ import annotations

from datetime import UTC, datetime
import math

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.plate_tracker.matching.journeys import CameraRole
from custom_components.plate_tracker.records import Direction, NewSighting
from custom_components.plate_tracker.routes import (
    camera_map,
    route_tracker,
    zone_directions,
)

from .helpers import record_and_announce


async def _open_camera_step(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    assert "camera" in result["menu_options"]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "camera"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "camera"
    return result["flow_id"]


async def test_exit_camera_is_placed_on_the_map(
    hass: HomeAssistant, init_folder: MockConfigEntry
) -> None:
    """An exit camera without its leaving direction could never tell that a vehicle left: the form insists, then saves."""
    await record_and_announce(
        hass,
        init_folder,
        NewSighting(
            camera="gate_north",
            seen_at=datetime(2026, 11, 25, 10, tzinfo=UTC),
            plate="AE1234BK",
            raw="AE1234BK",
            confidence=0.9,
            source="folder",
        ),
    )

    flow_id = await _open_camera_step(hass, init_folder)
    result = await hass.config_entries.options.async_configure(
        flow_id, {"camera": "gate_north", "trip_gap_minutes": 45, "max_speed_kmh": 150}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "camera_details"
    assert result["description_placeholders"] == {"camera": "gate_north"}

    details = {
        "name": "North gate",
        "location": {"latitude": 50.5, "longitude": 30.5},
        "role": "exit",
    }
    result = await hass.config_entries.options.async_configure(flow_id, details)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"leaving_direction": "leaving_direction_required"}

    result = await hass.config_entries.options.async_configure(
        flow_id, {**details, "leaving_direction": "receding"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert init_folder.options == {
        "min_confidence": 0.5,
        "trip_gap_minutes": 45,
        "max_speed_kmh": 150,
        "cameras": {
            "gate_north": {
                "name": "North gate",
                "latitude": 50.5,
                "longitude": 30.5,
                "role": "exit",
                "leaving_direction": "receding",
            }
        },
    }
    # The hub reloaded with the new map: alerts name the camera, routes use it.
    tracker = route_tracker(init_folder)
    assert tracker.cameras["gate_north"].leaving_direction is Direction.RECEDING
    assert tracker.trip_gap.total_seconds() == 45 * 60
    assert tracker.max_speed_kmh == 150
    assert init_folder.runtime_data.alerts.camera_names["gate_north"] == "North gate"


@pytest.mark.parametrize(
    "location",
    [
        {"latitude": 400.0, "longitude": 30.5},
        {"latitude": 50.5, "longitude": -181.0},
        {"latitude": math.nan, "longitude": 30.5},
    ],
)
async def test_a_place_not_on_earth_is_refused_not_left_off_the_map(
    hass: HomeAssistant, init_folder: MockConfigEntry, location: dict[str, float]
) -> None:
    """The map picks real places, but the API can send any number: the form says so.

    Saved, such a camera would only be logged and silently left off the map.
    """
    flow_id = await _open_camera_step(hass, init_folder)
    await hass.config_entries.options.async_configure(
        flow_id, {"camera": "centre", "trip_gap_minutes": 30, "max_speed_kmh": 200}
    )
    details = {"name": "Centre", "location": location, "role": "inside"}
    result = await hass.config_entries.options.async_configure(flow_id, details)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"location": "location_invalid"}
    assert "cameras" not in init_folder.options

    result = await hass.config_entries.options.async_configure(
        flow_id, {**details, "location": {"latitude": 50.45, "longitude": 30.52}}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert "centre" in route_tracker(init_folder).cameras


async def test_camera_step_needs_a_camera_and_recovers(
    hass: HomeAssistant, init_folder: MockConfigEntry
) -> None:
    """A blank camera id is refused with a translated error; the form then still works."""
    flow_id = await _open_camera_step(hass, init_folder)
    result = await hass.config_entries.options.async_configure(
        flow_id, {"camera": "  ", "trip_gap_minutes": 30, "max_speed_kmh": 200}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"camera": "camera_required"}

    result = await hass.config_entries.options.async_configure(
        flow_id, {"camera": "centre", "trip_gap_minutes": 30, "max_speed_kmh": 200}
    )
    assert result["step_id"] == "camera_details"
    # An inside camera has no leaving direction, even if one was picked.
    result = await hass.config_entries.options.async_configure(
        flow_id,
        {
            "location": {"latitude": 50.45, "longitude": 30.52},
            "role": "inside",
            "leaving_direction": "left",
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert init_folder.options["cameras"] == {
        "centre": {
            "name": "centre",
            "latitude": 50.45,
            "longitude": 30.52,
            "role": "inside",
            "leaving_direction": None,
        }
    }


async def test_camera_is_edited_and_taken_off_the_map(
    hass: HomeAssistant, init_folder: MockConfigEntry
) -> None:
    """Editing shows the camera's saved place and role; removing it keeps the other cameras."""
    cameras = {
        "centre": {
            "name": "Centre",
            "latitude": 50.45,
            "longitude": 30.52,
            "role": "inside",
            "leaving_direction": None,
        },
        "gate_south": {
            "name": "South gate",
            "latitude": 50.4,
            "longitude": 30.52,
            "role": "exit",
            "leaving_direction": "approaching",
        },
    }
    hass.config_entries.async_update_entry(
        init_folder, options={**init_folder.options, "cameras": cameras}
    )
    await hass.async_block_till_done()

    flow_id = await _open_camera_step(hass, init_folder)
    result = await hass.config_entries.options.async_configure(
        flow_id, {"camera": "gate_south", "trip_gap_minutes": 30, "max_speed_kmh": 200}
    )
    suggested = {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description and "suggested_value" in key.description
    }
    assert suggested["name"] == "South gate"
    assert suggested["location"] == {"latitude": 50.4, "longitude": 30.52}
    assert suggested["leaving_direction"] == "approaching"

    result = await hass.config_entries.options.async_configure(
        flow_id,
        {
            "location": {"latitude": 50.4, "longitude": 30.52},
            "role": "exit",
            "remove": True,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert init_folder.options["cameras"] == {"centre": cameras["centre"]}


def test_camera_map_leaves_impossible_places_off() -> None:
    """A swapped latitude/longitude must not take down the hub: that camera is left off the map."""
    cameras = camera_map(
        {
            "cameras": {
                "ok": {
                    "name": "Bridge",
                    "latitude": 50.45,
                    "longitude": 30.52,
                    "role": "exit",
                    "leaving_direction": "left",
                },
                "swapped": {"name": "Swapped", "latitude": 130.5, "longitude": 50.4},
                "unnamed": {"latitude": 1, "longitude": 2, "role": "inside"},
            }
        }
    )
    assert set(cameras) == {"ok", "unnamed"}
    assert cameras["ok"].role is CameraRole.EXIT
    assert cameras["ok"].leaving_direction is Direction.LEFT
    assert cameras["unnamed"].name == "unnamed"
    assert cameras["unnamed"].leaving_direction is None
    assert camera_map({}) == {}


async def test_zone_map_is_kept_where_the_form_has_no_zone_fields(
    hass: HomeAssistant, init_folder: MockConfigEntry
) -> None:
    """Without a Frigate source the camera form asks nothing about zones, and editing a camera keeps its zone map.

    The map may come from a Frigate that is removed for now; renaming the
    camera must not silently drop what the user set up.
    """
    zones = {"city_limit": "receding"}
    hass.config_entries.async_update_entry(
        init_folder,
        options={
            **init_folder.options,
            "cameras": {
                "gate": {
                    "name": "Gate",
                    "latitude": 50.4,
                    "longitude": 30.5,
                    "role": "exit",
                    "leaving_direction": "receding",
                    "zone_directions": zones,
                }
            },
        },
    )
    await hass.async_block_till_done()
    flow_id = await _open_camera_step(hass, init_folder)
    result = await hass.config_entries.options.async_configure(
        flow_id, {"camera": "gate", "trip_gap_minutes": 30, "max_speed_kmh": 200}
    )
    assert not [
        key for key in result["data_schema"].schema if str(key).startswith("zones_")
    ]
    result = await hass.config_entries.options.async_configure(
        flow_id,
        {
            "name": "North gate",
            "location": {"latitude": 50.4, "longitude": 30.5},
            "role": "exit",
            "leaving_direction": "receding",
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert init_folder.options["cameras"]["gate"]["name"] == "North gate"
    assert init_folder.options["cameras"]["gate"]["zone_directions"] == zones


def test_zone_directions_are_read_per_camera() -> None:
    """Each camera's zone map is its own; a zone with a direction that is not one is left out, never guessed."""
    assert zone_directions(
        {
            "cameras": {
                "gate": {
                    "zone_directions": {"city_limit": "receding", "odd": "sideways"}
                },
                "centre": {"zone_directions": {"road": "left"}},
                "bridge": {"name": "Bridge"},
                "yard": {"zone_directions": ["hand", "edited"]},
            }
        }
    ) == {
        "gate": {"city_limit": Direction.RECEDING},
        "centre": {"road": Direction.LEFT},
    }
    assert zone_directions({}) == {}


async def test_steps_that_need_the_hub_abort_while_it_is_not_loaded(
    hass: HomeAssistant, init_folder: MockConfigEntry
) -> None:
    """Saving options reloads the hub: a step answered meanwhile aborts, translated, not a 500.

    The settings stay reachable, so a hub that failed to start can still be changed.
    """
    await hass.config_entries.async_unload(init_folder.entry_id)
    await hass.async_block_till_done()

    for step in ("camera", "watchlist_remove"):
        result = await hass.config_entries.options.async_init(init_folder.entry_id)
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"next_step_id": step}
        )
        assert result["type"] is FlowResultType.ABORT, step
        assert result["reason"] == "not_loaded"

    # The watchlist form needs nothing of the hub until it is sent.
    result = await hass.config_entries.options.async_init(init_folder.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "watchlist_add"}
    )
    assert result["step_id"] == "watchlist_add"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"plate": "AE1234BK", "label": "stolen"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_loaded"

    result = await hass.config_entries.options.async_init(init_folder.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "settings"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "settings"
