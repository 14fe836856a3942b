"""Watchlist changes made in the options flow or a repair name the user who made them."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aiohttp.test_utils import TestClient
from homeassistant.auth.models import User
from homeassistant.components.config import config_entries as config_entries_views
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.plate_tracker.const import DOMAIN

OPTIONS_FLOW = "/api/config/config_entries/options/flow"


@pytest.fixture
async def client(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> TestClient:
    """Return a client of the frontend's config entry views, as Home Assistant's own tests set them up."""
    assert await async_setup_component(hass, "http", {})
    config_entries_views.async_setup(hass)
    return await hass_client()


async def _options_step(
    client: TestClient, entry: MockConfigEntry, step: str, form: dict[str, Any]
) -> dict[str, Any]:
    """Open the options flow as the frontend does, pick ``step`` and send ``form``."""
    started = await client.post(OPTIONS_FLOW, json={"handler": entry.entry_id})
    assert started.status == HTTPStatus.OK
    menu = await started.json()
    assert menu["type"] == "menu"
    picked = await client.post(
        f"{OPTIONS_FLOW}/{menu['flow_id']}", json={"next_step_id": step}
    )
    assert picked.status == HTTPStatus.OK
    assert (await picked.json())["step_id"] == step
    done = await client.post(f"{OPTIONS_FLOW}/{menu['flow_id']}", json=form)
    assert done.status == HTTPStatus.OK
    return await done.json()


async def test_options_flow_watchlist_changes_name_their_user(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    client: TestClient,
    hass_admin_user: User,
) -> None:
    """An auditor must learn who listed or unlisted a plate, not only that someone did.

    Home Assistant puts no user into an options flow's context; the form is
    sent in the administrator's authenticated request, which names them.
    """
    added = await _options_step(
        client, init_folder, "watchlist_add", {"plate": "AE1234BK", "priority": "high"}
    )
    assert added["type"] == "create_entry"
    (listed,) = init_folder.runtime_data.alerts.entries
    removed = await _options_step(
        client, init_folder, "watchlist_remove", {"entries": [str(listed.id)]}
    )
    assert removed["type"] == "create_entry"

    store = init_folder.runtime_data.store
    audit = await hass.async_add_executor_job(store.audit_log)
    assert sorted((line.action, line.user_id) for line in audit) == [
        ("watchlist_add", hass_admin_user.id),
        ("watchlist_remove", hass_admin_user.id),
    ]


async def test_repair_listing_lost_plates_again_names_its_user(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    hass_admin_user: User,
) -> None:
    """Plates listed again by the repair are audited with the administrator who ran it.

    The repair read the user from the flow's context, where Home Assistant
    never puts one: every such line said nobody.
    """
    ir.async_create_issue(
        hass,
        DOMAIN,
        "database_damaged_watchlist_lost_test",
        is_fixable=True,
        severity=ir.IssueSeverity.ERROR,
        translation_key="database_damaged_watchlist_lost",
        # As an older version wrote it: the plates in the issue itself.
        data={"kept": "plate_tracker.db.damaged-1", "plates": "AE1234BK"},
    )
    assert await async_setup_component(hass, "repairs", {})
    client = await hass_client()
    started = await client.post(
        "/api/repairs/issues/fix",
        json={"handler": DOMAIN, "issue_id": "database_damaged_watchlist_lost_test"},
    )
    assert started.status == HTTPStatus.OK
    form = await started.json()
    done = await client.post(
        f"/api/repairs/issues/fix/{form['flow_id']}", json={"priority": "high"}
    )
    assert (await done.json())["type"] == "create_entry"

    store = init_folder.runtime_data.store
    (line,) = await hass.async_add_executor_job(store.audit_log)
    assert (line.action, line.user_id) == ("watchlist_add", hass_admin_user.id)
