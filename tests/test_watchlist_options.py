"""The watchlist and alert settings in the options flow, for users who never call a service."""

from __future__ import annotations

from datetime import UTC, datetime

from homeassistant.config_entries import ConfigFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.helpers.json import json_bytes
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.plate_tracker.const import (
    CONF_ALERT_COOLDOWN,
    CONF_KEEP_DAYS,
    CONF_KEEP_HIT_DAYS,
    CONF_URL_LIFETIME_HOURS,
)

from .helpers import record_and_announce
from .store.conftest import sighting


async def _open(
    hass: HomeAssistant, entry: MockConfigEntry, step: str
) -> ConfigFlowResult:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    return await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": step}
    )


async def test_add_a_plate_from_the_options(
    hass: HomeAssistant, init_folder: MockConfigEntry
) -> None:
    """A bad plate and a plate already listed are named on the form; a good one is listed, audited and alerts at once.

    The expiry the date picker gives has no zone: it is Home Assistant's local time.
    """
    await hass.config.async_set_time_zone("Europe/Kyiv")
    for camera in ("bridge", "exit_kyiv_road"):
        # Cameras the hub has seen: an entry may be limited to them.
        await record_and_announce(
            hass, init_folder, sighting(camera=camera, plate="KA0001OO")
        )
    result = await _open(hass, init_folder, "watchlist_add")
    assert result["step_id"] == "watchlist_add"
    form = {
        "plate": "AE!234BK",
        "label": " Stolen Skoda ",
        "priority": "critical",
        "expires_at": "2026-12-01 00:00:00",
        "cameras": "bridge, exit_kyiv_road,",
    }
    result = await hass.config_entries.options.async_configure(result["flow_id"], form)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"plate": "plate_invalid_characters"}
    assert result["description_placeholders"] == {"character": "!"}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], form | {"plate": "AE 1234 BK"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (listed,) = init_folder.runtime_data.alerts.entries
    assert (listed.plate, listed.label, listed.priority.value) == (
        "AE1234BK",
        "Stolen Skoda",
        "critical",
    )
    assert listed.cameras == ("bridge", "exit_kyiv_road")
    assert listed.expires_at == datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
    store = init_folder.runtime_data.store
    (audited,) = await hass.async_add_executor_job(store.audit_log)
    assert (audited.action, audited.user_id) == ("watchlist_add", None)
    assert audited.details["via"] == "options_flow"

    result = await _open(hass, init_folder, "watchlist_add")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"plate": "АЕ1234ВК", "priority": "high"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"plate": "watchlist_plate_exists"}
    assert result["description_placeholders"] == {"plate": "AE1234BK"}
    assert len(init_folder.runtime_data.alerts.entries) == 1


async def test_remove_plates_from_the_options(
    hass: HomeAssistant, init_folder: MockConfigEntry
) -> None:
    """Entries picked in the list are removed and audited; an empty watchlist says so instead of an empty form.

    The audit line names the plates: the ids alone would not tell an auditor
    which vehicles stopped being watched.
    """
    result = await _open(hass, init_folder, "watchlist_remove")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "watchlist_empty"

    for plate in ("AE1234BK", "KA0001OO", "BC7777HP"):
        result = await _open(hass, init_folder, "watchlist_add")
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"plate": plate, "priority": "high"}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
    ids = {entry.plate: entry.id for entry in init_folder.runtime_data.alerts.entries}

    result = await _open(hass, init_folder, "watchlist_remove")
    assert result["step_id"] == "watchlist_remove"
    offered = result["data_schema"].schema["entries"].config["options"]
    assert {option["label"] for option in offered} == {
        "AE1234BK (high)",
        "KA0001OO (high)",
        "BC7777HP (high)",
    }
    chosen = [str(ids["AE1234BK"]), str(ids["BC7777HP"])]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"entries": chosen}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert [e.plate for e in init_folder.runtime_data.alerts.entries] == ["KA0001OO"]
    store = init_folder.runtime_data.store
    audit = await hass.async_add_executor_job(store.audit_log)
    removed = [line for line in audit if line.action == "watchlist_remove"]
    assert [line.details for line in removed] == [
        {
            "entries": [int(i) for i in chosen],
            "plates": ["AE1234BK", "BC7777HP"],
            "via": "options_flow",
        }
    ]


async def test_alert_settings_are_saved_beside_the_others(
    hass: HomeAssistant, init_folder: MockConfigEntry
) -> None:
    """Saving the alert settings keeps the recognition settings of the other step, and they take effect."""
    result = await _open(hass, init_folder, "alerts")
    assert result["step_id"] == "alerts"
    alerts = {
        CONF_ALERT_COOLDOWN: 120,
        CONF_URL_LIFETIME_HOURS: 24,
        CONF_KEEP_DAYS: 30,
        CONF_KEEP_HIT_DAYS: 365,
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], alerts
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert init_folder.options == {"min_confidence": 0.5, **alerts}
    assert init_folder.runtime_data.alerts.url_lifetime.total_seconds() == 24 * 3600


@pytest.mark.parametrize("field", ["label", "reason"])
async def test_text_the_store_cannot_write_is_named_on_the_form(
    hass: HomeAssistant, init_folder: MockConfigEntry, field: str
) -> None:
    """A lone surrogate (valid JSON from the API) is named on the form, not a crashed flow.

    SQLite refuses such text when the entry is written: the flow failed with
    an unknown error and the user never learnt which field was at fault. The
    watchlist services refuse the same text.
    """
    result = await _open(hass, init_folder, "watchlist_add")
    form = {"plate": "AE1234BK", "priority": "high"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], form | {field: "Skoda \ud800"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {field: "text_not_storable"}
    assert init_folder.runtime_data.alerts.entries == []

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], form | {field: "Skoda"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert len(init_folder.runtime_data.alerts.entries) == 1


@pytest.mark.parametrize(("field", "longest"), [("label", 200), ("reason", 500)])
async def test_a_label_or_reason_is_no_longer_than_the_service_allows(
    hass: HomeAssistant, init_folder: MockConfigEntry, field: str, longest: int
) -> None:
    """The form takes what ``watchlist_add`` takes: a label of 200, a reason of 500 characters.

    The label goes into every alert and, with the entry, into the audit log
    that is kept for good; the form must not be the way around the service's limit.
    """
    result = await _open(hass, init_folder, "watchlist_add")
    form = {"plate": "AE1234BK", "priority": "high"}
    with pytest.raises(InvalidData):
        await hass.config_entries.options.async_configure(
            result["flow_id"], form | {field: "x" * (longest + 1)}
        )
    assert init_folder.runtime_data.alerts.entries == []
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], form | {field: "x" * longest}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_camera_map_text_home_assistant_cannot_save_is_refused(
    hass: HomeAssistant, init_folder: MockConfigEntry
) -> None:
    """The camera map is an option: a lone surrogate in a camera or its name is named on the form.

    Home Assistant saves every integration's config entries in one JSON file,
    which cannot hold it: once in the options, no later change of any config
    entry is saved, and a restart loses them all.
    """
    result = await _open(hass, init_folder, "camera")
    route = {"trip_gap_minutes": 30, "max_speed_kmh": 200}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], route | {"camera": "gate_\udc80"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"camera": "text_not_storable"}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], route | {"camera": "gate"}
    )
    details = {
        "name": "Gate \ud800",
        "location": {"latitude": 50.4, "longitude": 30.5},
        "role": "inside",
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], details
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"name": "text_not_storable"}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], details | {"name": "Gate"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert init_folder.options["cameras"]["gate"]["name"] == "Gate"
    assert json_bytes(dict(init_folder.options))


@pytest.mark.parametrize(
    ("zone", "expires_at"),
    [
        # West of UTC, the last local half hour of year 9999 is past UTC's range.
        ("America/New_York", "9999-12-31 23:30:00"),
        # East of UTC, the first local hour of year 1 is before it.
        ("Europe/Kyiv", "0001-01-01 00:30:00"),
    ],
)
async def test_an_expiry_utc_cannot_hold_is_named_on_the_form(
    hass: HomeAssistant, init_folder: MockConfigEntry, zone: str, expires_at: str
) -> None:
    """The date picker allows any year: a local time outside UTC's range is an error on the expiry, not a crash."""
    await hass.config.async_set_time_zone(zone)
    result = await _open(hass, init_folder, "watchlist_add")
    form = {"plate": "AE1234BK", "priority": "high", "expires_at": expires_at}
    result = await hass.config_entries.options.async_configure(result["flow_id"], form)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"expires_at": "datetime_out_of_range"}
    assert init_folder.runtime_data.alerts.entries == []
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], form | {"expires_at": "2030-01-01 00:00:00"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert [entry.plate for entry in init_folder.runtime_data.alerts.entries] == [
        "AE1234BK"
    ]
