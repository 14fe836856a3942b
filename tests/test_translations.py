"""Every screen of every flow is translated, in English and in each other language.

pytest-homeassistant-custom-component does not bring Home Assistant core's
``check_translations`` fixture (it lives in core's own ``tests/components/conftest.py``),
so nothing failed when the source subentry screens had no ``config_subentries``
section. These tests walk the flows instead: the steps the code defines (read
from ``config_flow.py``), the forms, menus, errors and aborts the flows really
show (recorded while driving them), and compare every language's keys with English.
"""

from __future__ import annotations

import ast
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
import json
from pathlib import Path
import string
from typing import Any
from unittest.mock import AsyncMock, patch

from homeassistant.config_entries import SOURCE_IMPORT, SOURCE_USER, ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowHandler, FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker

from custom_components.plate_tracker import config_flow
from custom_components.plate_tracker.config_flow import (
    PlateTrackerOptionsFlow,
    _camera_details_schema,
)
from custom_components.plate_tracker.const import (
    CONF_ENGINE_URL,
    CONF_FRIGATE_URL,
    CONF_INBOX,
    CONF_MQTT_PREFIX,
    CONF_REAUTH_SOURCE,
    CONF_SOURCE,
    DOMAIN,
    SOURCE_FRIGATE,
    SUBENTRY_SOURCE,
)
from custom_components.plate_tracker.matching.errors import ValidationKey

TRANSLATIONS = Path(config_flow.__file__).parent / "translations"
LANGUAGES = ("uk", "ru")

SECTION_OF_BASE = {
    "ConfigFlow": ("config",),
    "ConfigSubentryFlow": (f"config_subentries.{SUBENTRY_SOURCE}",),
    "OptionsFlow": ("options",),
}
SHARED_SOURCE_STEPS = "_SourceSteps"
"""Steps used by both the first setup and "Add source"/"Reconfigure"."""

WATCHLIST_FORM_ERRORS = {
    *(key.value for key in ValidationKey if key.startswith(("plate_", "pattern_"))),
    "watchlist_plate_exists",
}
"""What ``parse_plate_or_pattern`` and the store's ``watchlist_add`` may name on the form."""


def _load(language: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (TRANSLATIONS / f"{language}.json").read_text(encoding="utf-8")
    )
    return loaded


def _flat_keys(tree: dict[str, Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for key, value in tree.items():
        if isinstance(value, dict):
            keys |= _flat_keys(value, f"{prefix}{key}.")
        else:
            keys.add(f"{prefix}{key}")
    return keys


def _lookup(tree: dict[str, Any], dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


@dataclass
class _CodeFacts:
    """What one flow class (or helper) names in its source code."""

    step_ids: set[str] = field(default_factory=set)
    errors: set[str] = field(default_factory=set)
    aborts: set[str] = field(default_factory=set)
    calls: set[str] = field(default_factory=set)


def _string_constants(node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.Dict):
        for value in node.values:
            yield from _string_constants(value)


def _facts(node: ast.AST, *, returns_errors: bool = False) -> _CodeFacts:
    facts = _CodeFacts()
    for child in ast.walk(node):
        if isinstance(child, ast.Call):
            func = child.func
            name = func.attr if isinstance(func, ast.Attribute) else None
            if isinstance(func, ast.Name):
                facts.calls.add(func.id)
            for keyword in child.keywords:
                if name in ("async_show_form", "async_show_menu") and (
                    keyword.arg == "step_id"
                ):
                    facts.step_ids.update(_string_constants(keyword.value))
                if name == "async_abort" and keyword.arg == "reason":
                    facts.aborts.update(_string_constants(keyword.value))
        elif isinstance(child, ast.Assign):
            for target in child.targets:
                is_errors = (
                    isinstance(target, ast.Subscript)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "errors"
                ) or (isinstance(target, ast.Name) and target.id == "errors")
                if is_errors:
                    facts.errors.update(_string_constants(child.value))
        elif returns_errors and isinstance(child, ast.Return) and child.value:
            facts.errors.update(_string_constants(child.value))
    return facts


def _flow_code_facts() -> dict[str, _CodeFacts]:
    """Return, per translation section, the steps, errors and aborts config_flow.py names."""
    tree = ast.parse(Path(config_flow.__file__).read_text(encoding="utf-8"))
    helpers = {
        node.name: _facts(node, returns_errors=True)
        for node in tree.body
        if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef)
    }
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}

    def class_facts(name: str) -> _CodeFacts:
        facts = _facts(classes[name])
        for helper in facts.calls & helpers.keys():
            facts.errors |= helpers[helper].errors
        return facts

    by_section: dict[str, _CodeFacts] = {}
    for name, node in classes.items():
        bases = [base.id for base in node.bases if isinstance(base, ast.Name)]
        sections = [s for base in bases for s in SECTION_OF_BASE.get(base, ())]
        if not sections:
            continue
        facts = class_facts(name)
        if SHARED_SOURCE_STEPS in bases:
            shared = class_facts(SHARED_SOURCE_STEPS)
            facts.step_ids |= shared.step_ids
            facts.errors |= shared.errors
            facts.aborts |= shared.aborts
        for section in sections:
            by_section[section] = facts
    return by_section


@dataclass
class _Shown:
    """Forms, menus, errors and aborts the flows showed, per translation section."""

    forms: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    menus: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    errors: dict[str, set[str]] = field(default_factory=dict)
    aborts: dict[str, set[str]] = field(default_factory=dict)


def _section(handler: FlowHandler) -> str:
    for klass in type(handler).__mro__:
        if klass.__name__ in SECTION_OF_BASE:
            return SECTION_OF_BASE[klass.__name__][0]
    raise AssertionError(f"unknown flow {type(handler)}")


@pytest.fixture
def shown() -> Generator[_Shown]:
    """Record what every Plate Tracker flow shows while the test drives it."""
    record = _Shown()
    show_form = FlowHandler.async_show_form
    show_menu = FlowHandler.async_show_menu
    abort = FlowHandler.async_abort

    def recording_form(self: FlowHandler, **kwargs: Any) -> Any:
        section = _section(self)
        schema = kwargs.get("data_schema")
        fields = {str(key) for key in schema.schema} if schema is not None else set()
        record.forms.setdefault(section, {}).setdefault(
            kwargs["step_id"], set()
        ).update(fields)
        record.errors.setdefault(section, set()).update(
            (kwargs.get("errors") or {}).values()
        )
        return show_form(self, **kwargs)

    def recording_menu(self: FlowHandler, **kwargs: Any) -> Any:
        options = kwargs["menu_options"]
        record.menus.setdefault(_section(self), {})[kwargs["step_id"]] = list(options)
        return show_menu(self, **kwargs)

    def recording_abort(self: FlowHandler, **kwargs: Any) -> Any:
        record.aborts.setdefault(_section(self), set()).add(kwargs["reason"])
        return abort(self, **kwargs)

    with (
        patch.object(FlowHandler, "async_show_form", recording_form),
        patch.object(FlowHandler, "async_show_menu", recording_menu),
        patch.object(FlowHandler, "async_abort", recording_abort),
    ):
        yield record


async def _walk_config_flow(hass: HomeAssistant, config_dir: Path) -> None:
    """Show the first setup's menu and forms, their errors, and the import's abort."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    flow_id = result["flow_id"]
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"next_step_id": "frigate"}
    )
    await hass.config_entries.flow.async_configure(
        flow_id, {CONF_FRIGATE_URL: "ftp://frigate", CONF_MQTT_PREFIX: "a b"}
    )
    hass.config_entries.flow.async_abort(flow_id)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "folder"}
    )
    (config_dir / "a_file").write_text("not a folder")
    await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_INBOX: "a_file"}
    )
    hass.config_entries.flow.async_abort(result["flow_id"])
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "anpr"}
    )
    await hass.config_entries.flow.async_configure(
        result["flow_id"], {"camera": "exit north"}
    )
    await hass.config_entries.flow.async_configure(
        result["flow_id"], {"camera": "exit_north"}
    )
    hass.config_entries.flow.async_abort(result["flow_id"])
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_IMPORT}, data={CONF_INBOX: "a_file"}
    )
    assert result["type"] is FlowResultType.ABORT


async def _walk_subentry_flow(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Show "Add source" and "Reconfigure" with their forms, errors and aborts."""
    flows = hass.config_entries.subentries
    result = await flows.async_init(
        (entry.entry_id, SUBENTRY_SOURCE), context={"source": SOURCE_USER}
    )
    flow_id = result["flow_id"]
    await flows.async_configure(flow_id, {"next_step_id": "frigate"})
    await flows.async_configure(
        flow_id, {CONF_FRIGATE_URL: "ftp://frigate", CONF_MQTT_PREFIX: "a b"}
    )
    await flows.async_configure(
        flow_id, {CONF_FRIGATE_URL: "http://frigate:5000", CONF_MQTT_PREFIX: "x"}
    )
    flows.async_abort(flow_id)
    result = await flows.async_init(
        (entry.entry_id, SUBENTRY_SOURCE), context={"source": SOURCE_USER}
    )
    await flows.async_configure(result["flow_id"], {"next_step_id": "folder"})
    result = await flows.async_configure(result["flow_id"], {CONF_INBOX: "plate_inbox"})
    assert result["reason"] == "already_configured"
    result = await flows.async_init(
        (entry.entry_id, SUBENTRY_SOURCE), context={"source": SOURCE_USER}
    )
    await flows.async_configure(result["flow_id"], {"next_step_id": "anpr"})
    await flows.async_configure(result["flow_id"], {"camera": "exit/north"})
    result = await flows.async_configure(result["flow_id"], {"camera": "exit_north"})
    assert result["step_id"] == "anpr_address"
    flows.async_abort(result["flow_id"])
    (subentry_id,) = entry.subentries
    result = await entry.start_subentry_reconfigure_flow(hass, subentry_id)
    result = await flows.async_configure(result["flow_id"], {CONF_INBOX: "plate_inbox"})
    assert result["reason"] == "reconfigure_successful"


async def _walk_options_flow(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Show every options step, with a Frigate source's zone fields, and its errors."""
    options = hass.config_entries.options

    async def open_step(step: str) -> str:
        result = await options.async_init(entry.entry_id)
        result = await options.async_configure(
            result["flow_id"], {"next_step_id": step}
        )
        return str(result["flow_id"])

    flow_id = await open_step("settings")
    await options.async_configure(
        flow_id, {"regions": [], "filename_pattern": "no group"}
    )
    options.async_abort(flow_id)
    flow_id = await open_step("engine")
    await options.async_configure(flow_id, {"engine_url": "engine:8790"})
    options.async_abort(flow_id)
    options.async_abort(await open_step("alerts"))
    result = await options.async_init(entry.entry_id)
    result = await options.async_configure(
        result["flow_id"], {"next_step_id": "watchlist_remove"}
    )
    assert result["reason"] == "watchlist_empty"
    flow_id = await open_step("watchlist_add")
    await options.async_configure(flow_id, {"plate": "!", "priority": "high"})
    await options.async_configure(flow_id, {"plate": "AE1234BK", "priority": "high"})
    options.async_abort(await open_step("watchlist_remove"))
    flow_id = await open_step("camera")
    await options.async_configure(
        flow_id, {"camera": " ", "trip_gap_minutes": 30, "max_speed_kmh": 150}
    )
    with (
        patch.object(PlateTrackerOptionsFlow, "_has_frigate", True),
        patch.object(
            PlateTrackerOptionsFlow, "_zones_of", AsyncMock(return_value=["road"])
        ),
    ):
        await options.async_configure(
            flow_id, {"camera": "gate", "trip_gap_minutes": 30, "max_speed_kmh": 150}
        )
        await options.async_configure(
            flow_id,
            {
                "location": {"latitude": 50.0, "longitude": 30.0},
                "role": "exit",
                "zones_approaching": ["road"],
                "zones_receding": ["road"],
            },
        )
    options.async_abort(flow_id)


async def _walk_reauth_flows(
    hass: HomeAssistant, entry: MockConfigEntry, aioclient_mock: AiohttpClientMocker
) -> None:
    """Ask for an engine server's token and a Frigate source's login, with their errors."""
    aioclient_mock.get("http://engine.test:8790/v1/health", status=401)
    result = await entry.start_reauth_flow(hass)
    assert result["reason"] == "reauth_not_needed"
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, CONF_ENGINE_URL: "http://engine.test:8790"}
    )
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"engine_token": "x"}
    )
    assert result["errors"] == {"base": "engine_auth"}
    hass.config_entries.flow.async_abort(result["flow_id"])
    frigate = ConfigSubentry(
        subentry_type=SUBENTRY_SOURCE,
        title="Frigate frigate",
        unique_id="frigate:http://frigate:5000",
        data={
            CONF_SOURCE: SOURCE_FRIGATE,
            CONF_FRIGATE_URL: "http://frigate:5000",
            CONF_MQTT_PREFIX: "frigate",
        },
    )
    hass.config_entries.async_add_subentry(entry, frigate)
    result = await entry.start_reauth_flow(
        hass, data={CONF_REAUTH_SOURCE: frigate.subentry_id}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"username": "police", "password": "x"}
    )
    assert result["errors"] == {"base": "mqtt_not_configured"}
    hass.config_entries.flow.async_abort(result["flow_id"])


@pytest.fixture
async def walked(
    hass: HomeAssistant,
    folder_entry: MockConfigEntry,
    config_dir: Path,
    shown: _Shown,
    aioclient_mock: AiohttpClientMocker,
) -> _Shown:
    """Drive every flow through its steps and error paths, recording what it showed."""
    with patch("custom_components.plate_tracker.async_setup_entry", return_value=True):
        await _walk_config_flow(hass, config_dir)
    folder_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    await _walk_options_flow(hass, folder_entry)
    assert await hass.config_entries.async_unload(folder_entry.entry_id)
    await hass.async_block_till_done()
    with patch("custom_components.plate_tracker.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_USER}
        )
        assert result["reason"] == "single_instance_allowed"
        await _walk_subentry_flow(hass, folder_entry)
        await hass.async_block_till_done()
        await _walk_reauth_flows(hass, folder_entry, aioclient_mock)
        await hass.async_block_till_done()
    return shown


async def test_every_flow_screen_is_translated(walked: _Shown) -> None:
    """A screen without translations shows raw keys: "frigate_url", "cannot_connect".

    Every form, field, menu option, error and abort a flow showed while being
    driven through its steps and error paths must have English text.
    """
    english = _load("en")
    missing: list[str] = []

    def need(path: str) -> None:
        value = _lookup(english, path)
        if not isinstance(value, str) or not value.strip():
            missing.append(path)

    for section, forms in walked.forms.items():
        for step, fields in forms.items():
            need(f"{section}.step.{step}.title")
            for name in fields:
                need(f"{section}.step.{step}.data.{name}")
    for section, menus in walked.menus.items():
        for step, menu_options in menus.items():
            need(f"{section}.step.{step}.title")
            for option in menu_options:
                need(f"{section}.step.{step}.menu_options.{option}")
    for section, errors in walked.errors.items():
        for error in errors:
            need(f"{section}.error.{error}")
    for section, aborts in walked.aborts.items():
        for reason in aborts:
            need(f"{section}.abort.{reason}")
    assert not missing, f"untranslated in en.json: {sorted(missing)}"
    # The walk reached the subentry flow, where translations were missing before.
    assert walked.forms[f"config_subentries.{SUBENTRY_SOURCE}"].keys() == {
        "frigate",
        "folder",
        "anpr",
        "anpr_address",
    }


async def test_walk_covers_every_step_in_the_code(walked: _Shown) -> None:
    """A step added to config_flow.py without being walked here would go unchecked."""
    for section, facts in _flow_code_facts().items():
        reached = set(walked.forms.get(section, {})) | set(
            walked.menus.get(section, {})
        )
        assert facts.step_ids <= reached, (
            f"{section}: steps {sorted(facts.step_ids - reached)} are not walked"
        )


def test_every_error_and_abort_in_the_code_is_translated() -> None:
    """Errors and aborts are named in code paths a walk may not reach; all need text."""
    english = _load("en")
    missing: list[str] = []
    for section, facts in _flow_code_facts().items():
        errors = set(facts.errors)
        if section == "options":
            errors |= WATCHLIST_FORM_ERRORS
        missing.extend(
            f"{section}.error.{error}"
            for error in errors
            if not isinstance(_lookup(english, f"{section}.error.{error}"), str)
        )
        missing.extend(
            f"{section}.abort.{reason}"
            for reason in facts.aborts
            if not isinstance(_lookup(english, f"{section}.abort.{reason}"), str)
        )
    assert _flow_code_facts()[f"config_subentries.{SUBENTRY_SOURCE}"].errors
    assert not missing, f"untranslated in en.json: {sorted(missing)}"


def test_source_flows_describe_every_field() -> None:
    """Source forms are filled in once, by people who do not know Frigate's internals.

    Every field of the first setup's and of "Add source"'s forms says what it
    wants; the subentry screens also name their type and their buttons.
    """
    english = _load("en")
    subentry = f"config_subentries.{SUBENTRY_SOURCE}"
    for section in ("config", subentry):
        for step, schema in (
            ("frigate", config_flow.FRIGATE_SCHEMA),
            ("folder", config_flow.FOLDER_SCHEMA),
        ):
            for name in map(str, schema.schema):
                assert _lookup(english, f"{section}.step.{step}.data.{name}")
                assert _lookup(
                    english, f"{section}.step.{step}.data_description.{name}"
                )
    for path in ("entry_type", "initiate_flow.user", "initiate_flow.reconfigure"):
        assert isinstance(_lookup(english, f"{subentry}.{path}"), str), path
    for name in map(str, _camera_details_schema(["road"]).schema):
        assert _lookup(english, f"options.step.camera_details.data.{name}")


@pytest.mark.parametrize("language", LANGUAGES)
def test_languages_have_the_same_keys_as_english(language: str) -> None:
    """A key only English has shows English on a Ukrainian screen; one English lacks is dead."""
    english = _flat_keys(_load("en"))
    other = _flat_keys(_load(language))
    assert sorted(english - other) == [], f"missing in {language}.json"
    assert sorted(other - english) == [], f"only in {language}.json"


@pytest.mark.parametrize("language", LANGUAGES)
def test_languages_keep_the_placeholders(language: str) -> None:
    """A translation that drops or renames ``{source}`` shows a literal brace or fails."""
    english = _load("en")
    other = _load(language)
    for key in _flat_keys(english):
        text = _lookup(english, key)
        translated = _lookup(other, key)
        if not isinstance(translated, str):
            continue
        assert _placeholders(text) == _placeholders(translated), key


def _placeholders(text: str) -> set[str]:
    return {
        name for _, name, _, _ in string.Formatter().parse(text) if name is not None
    }
