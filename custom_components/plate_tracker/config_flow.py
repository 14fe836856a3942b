"""Config flow: one Plate Tracker hub, its sources as subentries, options for thresholds.

One hub per Home Assistant: a city has one engine, one sightings store and one
watchlist, whatever number of NVRs and inboxes feed them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial
import logging
from pathlib import Path
import re
import sqlite3
from typing import Any

from homeassistant.components import mqtt, webhook
from homeassistant.components.http import KEY_HASS_USER
from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentry,
    ConfigSubentryData,
    ConfigSubentryFlow,
    OptionsFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_PASSWORD, CONF_USERNAME, CONF_WEBHOOK_ID
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import AbortFlow
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.http import current_request
from homeassistant.helpers.network import NoURLAvailableError
from homeassistant.helpers.selector import (
    BooleanSelector,
    DateTimeSelector,
    LocationSelector,
    LocationSelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
    TimeSelector,
)
from homeassistant.util import dt as dt_util
import voluptuous as vol
from yarl import URL

from .const import (
    CONF_ALERT_COOLDOWN,
    CONF_ALLOW_REMOTE,
    CONF_ANPR_CAMERA,
    CONF_ENGINE_TOKEN,
    CONF_ENGINE_URL,
    CONF_FILENAME_PATTERN,
    CONF_FRIGATE_URL,
    CONF_INBOX,
    CONF_KEEP_DAYS,
    CONF_KEEP_FILES,
    CONF_KEEP_HIT_DAYS,
    CONF_KEEP_IMAGE_DAYS,
    CONF_MIN_CONFIDENCE,
    CONF_MQTT_PREFIX,
    CONF_PARALLEL_READS,
    CONF_PUBLISH_AFTER,
    CONF_QUEUE_SIZE,
    CONF_READ_PICTURES,
    CONF_REAUTH_SOURCE,
    CONF_REGIONS,
    CONF_SOURCE,
    CONF_THREADS,
    CONF_URL_LIFETIME_HOURS,
    DEFAULT_ALERT_COOLDOWN,
    DEFAULT_KEEP_DAYS,
    DEFAULT_KEEP_HIT_DAYS,
    DEFAULT_MIN_CONFIDENCE,
    DEFAULT_MQTT_PREFIX,
    DEFAULT_PARALLEL_READS,
    DEFAULT_PUBLISH_AFTER,
    DEFAULT_QUEUE_SIZE,
    DEFAULT_REGIONS,
    DEFAULT_THREADS,
    DEFAULT_URL_LIFETIME_HOURS,
    DOMAIN,
    REGIONS,
    SOURCE_ANPR,
    SOURCE_FOLDER,
    SOURCE_FRIGATE,
    SUBENTRY_SOURCE,
)
from .coordinator import PlateTrackerConfigEntry, PlateTrackerRuntimeData
from .database import async_store_failed
from .engine.remote import EngineUnavailableError, RemoteEngine
from .matching.errors import MatchingValidationError
from .matching.watchlist import parse_plate_or_pattern
from .matching.watchlist_csv import MAX_LABEL_LENGTH, MAX_REASON_LENGTH
from .records import Priority, WatchlistEntry
from .routes import (
    CAMERA_ROLES,
    CONF_CAMERA_NAME,
    CONF_CAMERAS,
    CONF_LATITUDE,
    CONF_LEAVING_DIRECTION,
    CONF_LONGITUDE,
    CONF_MAX_SPEED_KMH,
    CONF_ROLE,
    CONF_TRIP_GAP_MINUTES,
    CONF_ZONE_DIRECTIONS,
    DEFAULT_MAX_SPEED_KMH,
    DEFAULT_TRIP_GAP_MINUTES,
    LEAVING_DIRECTIONS,
)
from .services import watchable_cameras
from .source import frigate_client, mqtt_topic_prefix, resolve_inbox
from .sources import CAMERA_NAME, storable_text
from .sources.folder import (
    DEFAULT_FILENAME_PATTERN,
    compile_filename_pattern,
    holds,
    inboxes_overlap,
)
from .sources.frigate import FrigateAuthError, FrigateError, FrigateUnreachableError
from .store import AuditLine, StoreValidationError

OUT_OF_RANGE = "datetime_out_of_range"
"""The store's key for a time UTC cannot hold."""
_LOGGER = logging.getLogger(__name__)

_MQTT_PREFIX = re.compile(r"^[^#+\s]+$")


_URL_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
_USERNAME_SELECTOR = TextSelector(
    TextSelectorConfig(type=TextSelectorType.TEXT, autocomplete="username")
)
_PASSWORD_SELECTOR = TextSelector(
    TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="current-password")
)
_TOKEN_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))

FRIGATE_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_FRIGATE_URL): _URL_SELECTOR,
        vol.Required(CONF_MQTT_PREFIX, default=DEFAULT_MQTT_PREFIX): str,
        vol.Optional(CONF_USERNAME): _USERNAME_SELECTOR,
        vol.Optional(CONF_PASSWORD): _PASSWORD_SELECTOR,
    }
)
FOLDER_SCHEMA = vol.Schema({vol.Required(CONF_INBOX, default="plate_inbox"): str})
ANPR_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_ANPR_CAMERA): str,
        vol.Required(CONF_READ_PICTURES, default=False): bool,
        vol.Required(CONF_ALLOW_REMOTE, default=False): bool,
    }
)
ENGINE_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_ENGINE_URL): _URL_SELECTOR,
        vol.Optional(CONF_ENGINE_TOKEN): _TOKEN_SELECTOR,
    }
)
# Re-authentication asks only for what was refused: the engine server's
# token, or a Frigate source's login (required there, optional when adding one).
ENGINE_TOKEN_SCHEMA = vol.Schema({vol.Optional(CONF_ENGINE_TOKEN): _TOKEN_SELECTOR})
LOGIN_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_USERNAME): _USERNAME_SELECTOR,
        vol.Required(CONF_PASSWORD): _PASSWORD_SELECTOR,
    }
)


def _check_inbox(
    path: Path, config_dir: Path, other_inboxes: Iterable[Path] = ()
) -> str | None:
    """Return an error key, or None when the inbox can be used (it is created if missing).

    ``already_configured``: another source's inbox is this folder, however it
    is spelled (``..``, a symlink). ``inbox_overlaps``: one of them holds the
    other, so each upload in the inner one would be read by both sources, the
    outer taking the inner folder's name for a camera.
    """
    try:
        if holds(path, config_dir):
            # An empty or "." inbox is the configuration folder itself.
            return "inbox_holds_config"
        for other in other_inboxes:
            if path.resolve() == other.resolve():
                return "already_configured"
            if inboxes_overlap(path, other):
                return "inbox_overlaps"
        path.mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError):  # ValueError: a NUL character in the path
        return "inbox_not_creatable"
    if not path.is_dir():
        return "inbox_not_dir"
    return None


def _http_url(text: str) -> URL | None:
    """Return the address as a URL if it is http(s) with a host, else None."""
    try:
        url = URL(text)
    except ValueError:  # "http://[host": yarl refuses it
        return None
    return url if url.scheme in ("http", "https") and url.host else None


def _unstorable_text(user_input: Mapping[str, Any] | None) -> dict[str, str]:
    r"""Return an error for each field holding text UTF-8 cannot write.

    JSON from the API can carry a lone surrogate (``"\udc80"``, also what
    Python makes of a file name's undecodable byte). Home Assistant saves
    every integration's config entries in one JSON file that cannot hold it:
    saved in a source or an option, no later change of any entry is saved.
    SQLite refuses it as well (a watchlist entry).
    """
    return {
        field: "text_not_storable"
        for field, value in (user_input or {}).items()
        if not all(
            storable_text(text)
            for text in (value if isinstance(value, list) else [value])
            if isinstance(text, str)
        )
    }


async def _validate_engine(hass: HomeAssistant, url: str, token: str) -> dict[str, str]:
    """Errors of an engine server's address: it must answer its health check."""
    if _http_url(url) is None:
        return {CONF_ENGINE_URL: "invalid_url"}
    engine = RemoteEngine(async_get_clientsession(hass), url, token=token or None)
    try:
        await engine.health()
    except EngineUnavailableError as err:
        _LOGGER.debug("No engine server answered at %s: %s", engine.url, err)
        return {"base": "engine_auth" if err.unauthorized else "engine_unreachable"}
    return {}


def _valid_mqtt_prefix(prefix: str) -> bool:
    """Whether the source can subscribe below ``prefix``: no wildcard, space or control character.

    MQTT's own check refuses a NUL or control character; a broker closes the
    connection of a client that sends a NUL in a topic, and Home Assistant has
    one connection for every integration.
    """
    topics = prefix.strip("/")
    if not _MQTT_PREFIX.match(topics):
        return False
    try:
        mqtt.valid_subscribe_topic(f"{topics}/events")
    except vol.Invalid:
        return False
    return True


async def _validate_frigate(
    hass: HomeAssistant, user_input: dict[str, Any]
) -> dict[str, str]:
    errors: dict[str, str] = {}
    url = _http_url(user_input[CONF_FRIGATE_URL])
    if url is None:
        errors[CONF_FRIGATE_URL] = "invalid_url"
    if not _valid_mqtt_prefix(user_input[CONF_MQTT_PREFIX]):
        errors[CONF_MQTT_PREFIX] = "invalid_mqtt_prefix"
    if errors:
        return errors
    if not hass.config_entries.async_entries("mqtt"):
        return {"base": "mqtt_not_configured"}
    client = frigate_client(hass, user_input)
    try:
        await client.version()
    except FrigateError as err:
        _LOGGER.debug("No Frigate answered at %s: %s", url, err)
        return {"base": "cannot_connect"}
    try:
        # Frigate answers its version without a login even on port 8971; the
        # stats need one there, so they prove the login (or that none is needed).
        await client.check_access()
    except FrigateAuthError as err:
        _LOGGER.debug("Frigate at %s refused access: %s", url, err)
        errors["base"] = "invalid_auth"
    except FrigateUnreachableError as err:
        _LOGGER.debug("Frigate at %s stopped answering: %s", url, err)
        errors["base"] = "cannot_connect"
    except FrigateError as err:
        # The version proved it is Frigate; an odd stats answer (a proxy that
        # forwards only some paths) is no reason to refuse the source.
        _LOGGER.debug("Frigate at %s answered its stats oddly: %s", url, err)
    return errors


class _SourceSteps:
    """The steps that describe a source, shared by the first setup and by "Add source".

    ``_finish_source`` decides what a finished source becomes: the hub entry with its
    first source, or one more source of the existing hub.
    """

    hass: HomeAssistant
    _reconfigured: dict[str, Any] | None = None
    _anpr: dict[str, Any]
    """The ANPR camera being added, between its two steps."""

    async def _finish_source(
        self, title: str, data: dict[str, Any], unique_id: str
    ) -> Any:
        raise NotImplementedError

    def _other_sources(self) -> list[ConfigSubentry]:
        """Return the hub's sources besides the one being changed; none before the hub exists."""
        return []

    def _prefix_in_use(self, prefix: str, unique_id: str) -> bool:
        """Whether another Frigate source follows the MQTT topic prefix ``prefix``.

        Both would handle every event: each pass downloaded, read, stored and
        announced twice. The same Frigate again is refused as already configured.
        """
        topics = prefix.strip("/")
        return any(
            source.data[CONF_SOURCE] == SOURCE_FRIGATE
            and source.unique_id != unique_id
            and mqtt_topic_prefix(source.data) == topics
            for source in self._other_sources()
        )

    async def _check_folder(self, inbox: Path) -> str | None:
        """Return the inbox's error key, or None when it can be used (see ``_check_inbox``).

        Other inboxes are compared by their resolved folders: the unique ids
        of older sources name their folders as they were written.
        """
        other_inboxes = [
            resolve_inbox(self.hass, source.data[CONF_INBOX])
            for source in self._other_sources()
            if source.data[CONF_SOURCE] == SOURCE_FOLDER
        ]
        return await self.hass.async_add_executor_job(
            _check_inbox, inbox, Path(self.hass.config.config_dir), other_inboxes
        )

    async def _folder_unique_id(self, inbox: Path) -> str:
        """Return the unique id of an inbox: its folder however it is spelled."""
        return f"folder:{await self.hass.async_add_executor_job(inbox.resolve)}"

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> Any:  # noqa: ARG002 - Home Assistant calls steps with it
        """Ask which source to use."""
        return self.async_show_menu(  # type: ignore[attr-defined]
            step_id="user", menu_options=[SOURCE_FRIGATE, SOURCE_FOLDER, SOURCE_ANPR]
        )

    async def async_step_frigate(self, user_input: dict[str, Any] | None = None) -> Any:
        """Ask for Frigate's URL, MQTT prefix and login, and check that Frigate answers."""
        errors = _unstorable_text(user_input)
        if user_input is not None and not errors:
            user_input[CONF_FRIGATE_URL] = (
                user_input[CONF_FRIGATE_URL].strip().rstrip("/")
            )
            # Port 5000 needs no login: an empty field means none, not an empty user.
            for field in (CONF_USERNAME, CONF_PASSWORD):
                if not (user_input.get(field) or "").strip():
                    user_input.pop(field, None)
            if CONF_USERNAME in user_input:
                user_input[CONF_USERNAME] = user_input[CONF_USERNAME].strip()
            unique_id = f"frigate:{user_input[CONF_FRIGATE_URL]}"
            if self._prefix_in_use(user_input[CONF_MQTT_PREFIX], unique_id):
                errors[CONF_MQTT_PREFIX] = "prefix_in_use"
            else:
                errors = await _validate_frigate(self.hass, user_input)
            if not errors:
                return await self._finish_source(
                    f"Frigate {URL(user_input[CONF_FRIGATE_URL]).host}",
                    {CONF_SOURCE: SOURCE_FRIGATE, **user_input},
                    unique_id,
                )
        return self.async_show_form(  # type: ignore[attr-defined]
            step_id="frigate",
            data_schema=self.add_suggested_values_to_schema(  # type: ignore[attr-defined]
                FRIGATE_SCHEMA, user_input or self._reconfigured or {}
            ),
            errors=errors,
        )

    async def async_step_folder(self, user_input: dict[str, Any] | None = None) -> Any:
        """Ask for the inbox folder cameras upload their snapshots to."""
        errors = _unstorable_text(user_input)
        if user_input is not None and not errors:
            inbox = resolve_inbox(self.hass, user_input[CONF_INBOX].strip())
            error = await self._check_folder(inbox)
            if error == "already_configured":
                return self.async_abort(reason=error)  # type: ignore[attr-defined]
            if error is not None:
                errors[CONF_INBOX] = error
            else:
                return await self._finish_source(
                    f"Inbox {inbox.name}",
                    {
                        CONF_SOURCE: SOURCE_FOLDER,
                        CONF_INBOX: user_input[CONF_INBOX].strip(),
                    },
                    await self._folder_unique_id(inbox),
                )
        return self.async_show_form(  # type: ignore[attr-defined]
            step_id="folder",
            data_schema=self.add_suggested_values_to_schema(  # type: ignore[attr-defined]
                FOLDER_SCHEMA, user_input or self._reconfigured or {}
            ),
            errors=errors,
        )

    async def async_step_anpr(self, user_input: dict[str, Any] | None = None) -> Any:
        """Ask for the camera that reads plates itself, then show the address it sends to."""
        errors = _unstorable_text(user_input)
        if user_input is not None and not errors:
            user_input[CONF_ANPR_CAMERA] = user_input[CONF_ANPR_CAMERA].strip()
            if not CAMERA_NAME.fullmatch(user_input[CONF_ANPR_CAMERA]):
                errors[CONF_ANPR_CAMERA] = "invalid_camera_name"
            else:
                # A reconfigured camera keeps its address: the camera need not change.
                webhook_id = (self._reconfigured or {}).get(
                    CONF_WEBHOOK_ID
                ) or webhook.async_generate_id()
                self._anpr = {
                    CONF_SOURCE: SOURCE_ANPR,
                    **user_input,
                    CONF_WEBHOOK_ID: webhook_id,
                }
                return await self.async_step_anpr_address()
        return self.async_show_form(  # type: ignore[attr-defined]
            step_id="anpr",
            data_schema=self.add_suggested_values_to_schema(  # type: ignore[attr-defined]
                ANPR_SCHEMA, user_input or self._reconfigured or {}
            ),
            errors=errors,
        )

    async def async_step_anpr_address(
        self, user_input: dict[str, Any] | None = None
    ) -> Any:
        """Show where the camera sends its reads; finish when the user has read it."""
        data = self._anpr
        if user_input is not None:
            return await self._finish_source(
                f"ANPR {data[CONF_ANPR_CAMERA]}",
                data,
                f"anpr:{data[CONF_ANPR_CAMERA]}",
            )
        path = webhook.async_generate_path(data[CONF_WEBHOOK_ID])
        try:
            url = webhook.async_generate_url(
                self.hass, data[CONF_WEBHOOK_ID], allow_ip=True, prefer_external=False
            )
        except NoURLAvailableError:
            url = f"http://<home-assistant>:8123{path}"
        return self.async_show_form(  # type: ignore[attr-defined]
            step_id="anpr_address",
            description_placeholders={"url": url, "path": path},
        )


def _source_subentry(
    title: str, data: dict[str, Any], unique_id: str
) -> ConfigSubentryData:
    return ConfigSubentryData(
        subentry_type=SUBENTRY_SOURCE, title=title, data=data, unique_id=unique_id
    )


class PlateTrackerConfigFlow(_SourceSteps, ConfigFlow, domain=DOMAIN):
    """Set up Plate Tracker with its first source; more sources are added as subentries."""

    VERSION = 1
    _reauth_source: str | None = None

    async def _finish_source(
        self, title: str, data: dict[str, Any], unique_id: str
    ) -> ConfigFlowResult:
        return self.async_create_entry(
            title="Plate Tracker",
            data={},
            subentries=[_source_subentry(title, data, unique_id)],
        )

    async def async_step_import(self, import_data: dict[str, Any]) -> ConfigFlowResult:
        """Create the hub with the inbox described in configuration.yaml, once."""
        inbox = resolve_inbox(self.hass, import_data[CONF_INBOX])
        if error := await self._check_folder(inbox):
            return self.async_abort(reason=error)
        return await self._finish_source(
            f"Inbox {inbox.name}",
            {CONF_SOURCE: SOURCE_FOLDER, CONF_INBOX: import_data[CONF_INBOX]},
            await self._folder_unique_id(inbox),
        )

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """Ask again for a refused credential: a Frigate source's login, else the engine server's token."""
        self._reauth_source = entry_data.get(CONF_REAUTH_SOURCE)
        if self._reauth_source is not None:
            return await self.async_step_reauth_frigate()
        return await self.async_step_reauth_engine()

    async def async_step_reauth_engine(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the token the engine server was started with, and check it."""
        entry = self._get_reauth_entry()
        url = entry.options.get(CONF_ENGINE_URL)
        if not url:
            # Reading in Home Assistant now: there is no token to ask for.
            return self.async_abort(reason="reauth_not_needed")
        errors = _unstorable_text(user_input)
        if user_input is not None and not errors:
            token = (user_input.get(CONF_ENGINE_TOKEN) or "").strip()
            errors = await _validate_engine(self.hass, url, token)
            if not errors:
                return self._finish_reauth(
                    entry, options={**entry.options, CONF_ENGINE_TOKEN: token}
                )
        return self.async_show_form(
            step_id="reauth_engine",
            data_schema=ENGINE_TOKEN_SCHEMA,
            errors=errors,
            description_placeholders={"url": url},
        )

    async def async_step_reauth_frigate(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the Frigate login of the source that was refused, and check it."""
        entry = self._get_reauth_entry()
        subentry = entry.subentries.get(self._reauth_source or "")
        if subentry is None or subentry.data.get(CONF_SOURCE) != SOURCE_FRIGATE:
            # The source was removed while the flow waited.
            return self.async_abort(reason="reauth_not_needed")
        errors = _unstorable_text(user_input)
        if user_input is not None and not errors:
            data = {
                **subentry.data,
                CONF_USERNAME: user_input[CONF_USERNAME].strip(),
                CONF_PASSWORD: user_input[CONF_PASSWORD],
            }
            errors = await _validate_frigate(self.hass, data)
            if not errors:
                return self._finish_reauth(entry, subentry=subentry, data=data)
        return self.async_show_form(
            step_id="reauth_frigate",
            data_schema=self.add_suggested_values_to_schema(
                LOGIN_SCHEMA,
                {CONF_USERNAME: subentry.data.get(CONF_USERNAME, "")},
            ),
            errors=errors,
            description_placeholders={
                "source": subentry.title,
                "url": subentry.data[CONF_FRIGATE_URL],
            },
        )

    def _finish_reauth(
        self,
        entry: ConfigEntry,
        *,
        options: dict[str, Any] | None = None,
        subentry: ConfigSubentry | None = None,
        data: dict[str, Any] | None = None,
    ) -> ConfigFlowResult:
        """Save the checked credential and start the hub again with it, once.

        A loaded hub reloads on its own when the entry changes (its update
        listener); a hub whose setup failed, or an unchanged credential (the
        server was fixed instead), is reloaded here.
        """
        reloads_itself = entry.state is ConfigEntryState.LOADED
        changed = False
        if options is not None:
            changed = self.hass.config_entries.async_update_entry(
                entry, options=options
            )
        if subentry is not None and data is not None:
            changed = self.hass.config_entries.async_update_subentry(
                entry, subentry, data=data
            )
        if not (reloads_itself and changed):
            self.hass.config_entries.async_schedule_reload(entry.entry_id)
        return self.async_abort(reason="reauth_successful")

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls,
        config_entry: ConfigEntry,  # noqa: ARG003 - the signature Home Assistant calls
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Return the subentry types: sources (one Frigate, several inboxes, ...)."""
        return {SUBENTRY_SOURCE: SourceSubentryFlow}

    @staticmethod
    @callback
    def async_get_options_flow(
        config_entry: PlateTrackerConfigEntry,  # noqa: ARG004 - the signature Home Assistant calls
    ) -> PlateTrackerOptionsFlow:
        """Thresholds and engine settings."""
        return PlateTrackerOptionsFlow()


class SourceSubentryFlow(_SourceSteps, ConfigSubentryFlow):
    """Add another source to the hub, or change one."""

    def _reconfigured_subentry(self) -> ConfigSubentry | None:
        if self.source == SOURCE_RECONFIGURE:
            return self._get_reconfigure_subentry()
        return None

    def _other_sources(self) -> list[ConfigSubentry]:
        """Return the hub's sources besides the one being reconfigured."""
        reconfigured = self._reconfigured_subentry()
        return [
            subentry
            for subentry in self._get_entry().subentries.values()
            if reconfigured is None or subentry.subentry_id != reconfigured.subentry_id
        ]

    async def _finish_source(
        self, title: str, data: dict[str, Any], unique_id: str
    ) -> SubentryFlowResult:
        entry = self._get_entry()
        reconfigured = self._reconfigured_subentry()
        if any(source.unique_id == unique_id for source in self._other_sources()):
            return self.async_abort(reason="already_configured")
        if reconfigured is not None:
            return self.async_update_and_abort(
                entry, reconfigured, title=title, data=data, unique_id=unique_id
            )
        return self.async_create_entry(title=title, data=data, unique_id=unique_id)

    async def async_step_reconfigure(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002 - Home Assistant calls steps with it
    ) -> SubentryFlowResult:
        """Change a source's URL, prefix or folder (its kind stays)."""
        self._reconfigured = dict(self._get_reconfigure_subentry().data)
        step = {
            SOURCE_FRIGATE: self.async_step_frigate,
            SOURCE_ANPR: self.async_step_anpr,
        }.get(self._reconfigured[CONF_SOURCE], self.async_step_folder)
        result: SubentryFlowResult = await step()
        return result


class PlateTrackerOptionsFlow(OptionsFlow):
    """Settings of the hub, and the watchlist managed without a restart."""

    async def async_step_init(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002 - a menu step has no input
    ) -> ConfigFlowResult:
        """Offer what can be changed."""
        return self.async_show_menu(
            step_id="init",
            menu_options=[
                "settings",
                "engine",
                "alerts",
                "camera",
                "watchlist_add",
                "watchlist_remove",
            ],
        )

    def _runtime(self) -> PlateTrackerRuntimeData:
        """Return what the loaded hub holds; abort when it is not loaded.

        Saving options reloads the hub, so a flow opened (or a step answered)
        during that reload, or while the hub failed to start, finds no hub.
        """
        if self.config_entry.state is not ConfigEntryState.LOADED:
            raise AbortFlow("not_loaded")
        runtime: PlateTrackerRuntimeData = self.config_entry.runtime_data
        return runtime

    def _store_failed(self, err: sqlite3.Error, placeholders: dict[str, str]) -> None:
        """Say on the form why the database refused a change; damage gets the file checked.

        Nothing was changed (a watchlist change commits with its audit line or
        not at all), so the form can simply be sent again.
        """
        async_store_failed(self.hass, self.config_entry.entry_id, err)
        placeholders["error"] = str(err)

    def _save(
        self, changes: dict[str, Any], form: vol.Schema | None = None
    ) -> ConfigFlowResult:
        """Keep the other steps' options; the hub reloads only if something changed.

        An optional field of the step's ``form`` left empty removes its option,
        so that its default applies again: merged, the old value would stay
        ("Keep images" emptied would still delete pictures early).

        A hub that failed to start has no update listener: it is set up again
        with the new options (on Home Assistant OS, the engine server that was
        missing), instead of waiting for a restart.
        """
        options = {**self.config_entry.options, **changes}
        if form is not None:
            for field in form.schema:
                emptied = changes.get(field.schema) in (None, "")
                if isinstance(field, vol.Optional) and emptied:
                    options.pop(field.schema, None)
        if self.config_entry.state in (
            ConfigEntryState.SETUP_ERROR,
            ConfigEntryState.SETUP_RETRY,
        ):
            # Saved first: the reload starts before this flow's result is applied.
            self.hass.config_entries.async_update_entry(
                self.config_entry, options=options
            )
            self.hass.config_entries.async_schedule_reload(self.config_entry.entry_id)
        return self.async_create_entry(data=options)

    async def async_step_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Recognition thresholds, regions and, for inboxes, how files are named."""
        errors = _unstorable_text(user_input)
        is_folder = any(
            subentry.data[CONF_SOURCE] == SOURCE_FOLDER
            for subentry in self.config_entry.subentries.values()
        )
        if user_input is not None and not errors:
            if not user_input.get(CONF_REGIONS):
                errors[CONF_REGIONS] = "no_regions"
            if is_folder:
                try:
                    compile_filename_pattern(user_input[CONF_FILENAME_PATTERN])
                except (re.error, ValueError, OverflowError, RecursionError):
                    # OverflowError: a count past re's limit, \w{4294967296};
                    # RecursionError: groups nested thousands deep.
                    errors[CONF_FILENAME_PATTERN] = "invalid_pattern"
            if not errors:
                return self._save(user_input)
        schema: dict[Any, Any] = {
            vol.Required(
                CONF_MIN_CONFIDENCE, default=DEFAULT_MIN_CONFIDENCE
            ): NumberSelector(
                NumberSelectorConfig(
                    min=0.05, max=1.0, step=0.05, mode=NumberSelectorMode.SLIDER
                )
            ),
            vol.Required(
                CONF_PUBLISH_AFTER, default=DEFAULT_PUBLISH_AFTER
            ): NumberSelector(
                NumberSelectorConfig(min=0, max=60, step=0.5, unit_of_measurement="s")
            ),
            vol.Required(CONF_REGIONS, default=DEFAULT_REGIONS): SelectSelector(
                SelectSelectorConfig(
                    options=list(REGIONS), multiple=True, translation_key=CONF_REGIONS
                )
            ),
            vol.Required(CONF_QUEUE_SIZE, default=DEFAULT_QUEUE_SIZE): vol.All(
                NumberSelector(NumberSelectorConfig(min=1, max=1000, step=1)),
                vol.Coerce(int),
            ),
            vol.Required(CONF_THREADS, default=DEFAULT_THREADS): vol.All(
                NumberSelector(NumberSelectorConfig(min=1, max=16, step=1)),
                vol.Coerce(int),
            ),
            vol.Required(CONF_PARALLEL_READS, default=DEFAULT_PARALLEL_READS): vol.All(
                NumberSelector(NumberSelectorConfig(min=1, max=8, step=1)),
                vol.Coerce(int),
            ),
        }
        if is_folder:
            schema[
                vol.Required(CONF_FILENAME_PATTERN, default=DEFAULT_FILENAME_PATTERN)
            ] = str
            schema[vol.Required(CONF_KEEP_FILES, default=False)] = BooleanSelector()
        return self.async_show_form(
            step_id="settings",
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema(schema), user_input or dict(self.config_entry.options)
            ),
            errors=errors,
        )

    async def async_step_engine(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Where plates are read: here, or on an engine server (Home Assistant OS)."""
        errors = _unstorable_text(user_input)
        if user_input is not None and not errors:
            url = (user_input.get(CONF_ENGINE_URL) or "").strip()
            token = user_input.get(CONF_ENGINE_TOKEN) or ""
            if url:
                errors = await _validate_engine(self.hass, url, token)
            if not errors:
                return self._save(
                    {CONF_ENGINE_URL: url, CONF_ENGINE_TOKEN: token}, ENGINE_SCHEMA
                )
        return self.async_show_form(
            step_id="engine",
            data_schema=self.add_suggested_values_to_schema(
                ENGINE_SCHEMA, user_input or dict(self.config_entry.options)
            ),
            errors=errors,
        )

    async def async_step_alerts(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Alert cooldown, lifetime of image links, and how long data is kept."""
        days = NumberSelectorConfig(min=1, max=3650, step=1, unit_of_measurement="d")
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_ALERT_COOLDOWN, default=DEFAULT_ALERT_COOLDOWN
                ): vol.All(
                    NumberSelector(
                        NumberSelectorConfig(
                            min=0, max=86400, step=1, unit_of_measurement="s"
                        )
                    ),
                    vol.Coerce(int),
                ),
                vol.Required(
                    CONF_URL_LIFETIME_HOURS, default=DEFAULT_URL_LIFETIME_HOURS
                ): vol.All(
                    NumberSelector(
                        NumberSelectorConfig(
                            min=1, max=24 * 90, step=1, unit_of_measurement="h"
                        )
                    ),
                    vol.Coerce(int),
                ),
                vol.Required(CONF_KEEP_DAYS, default=DEFAULT_KEEP_DAYS): vol.All(
                    NumberSelector(days), vol.Coerce(int)
                ),
                vol.Required(
                    CONF_KEEP_HIT_DAYS, default=DEFAULT_KEEP_HIT_DAYS
                ): vol.All(NumberSelector(days), vol.Coerce(int)),
                vol.Optional(CONF_KEEP_IMAGE_DAYS): vol.All(
                    NumberSelector(days), vol.Coerce(int)
                ),
            }
        )
        if user_input is not None:
            return self._save(user_input, schema)
        return self.async_show_form(
            step_id="alerts",
            data_schema=self.add_suggested_values_to_schema(
                schema, dict(self.config_entry.options)
            ),
        )

    _camera_step: dict[str, Any]
    """What the camera step chose: the camera id, the trip gap, the top speed."""
    _frigate_zones: list[str] | None = None
    """Zone names Frigate has for the chosen camera; None until asked (once per flow)."""

    @property
    def _has_frigate(self) -> bool:
        return any(
            subentry.data[CONF_SOURCE] == SOURCE_FRIGATE
            for subentry in self.config_entry.subentries.values()
        )

    async def _zones_of(self, camera: str) -> list[str]:
        """Ask every Frigate source for the camera's zones, to offer them by name.

        Only a convenience: a Frigate that does not answer leaves the user
        typing zone names, and the form still works.
        """
        if self._frigate_zones is None:
            zones: set[str] = set()
            for subentry in self.config_entry.subentries.values():
                if subentry.data[CONF_SOURCE] != SOURCE_FRIGATE:
                    continue
                client = frigate_client(self.hass, subentry.data)
                try:
                    zones.update((await client.camera_zones()).get(camera, ()))
                except FrigateError as err:
                    _LOGGER.debug("Frigate did not list its zones: %s", err)
            self._frigate_zones = sorted(zones)
        return self._frigate_zones

    async def async_step_camera(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose a camera to put on the city map; set how routes are judged."""
        errors = _unstorable_text(user_input)
        if user_input is not None and not errors:
            user_input[CONF_CAMERA] = user_input[CONF_CAMERA].strip()
            if not user_input[CONF_CAMERA]:
                errors[CONF_CAMERA] = "camera_required"
            else:
                self._camera_step = user_input
                return await self.async_step_camera_details()
        known = watchable_cameras(
            self.config_entry.options, self._runtime().hub.known_cameras
        )
        schema = vol.Schema(
            {
                vol.Required(CONF_CAMERA): SelectSelector(
                    SelectSelectorConfig(
                        options=[
                            SelectOptionDict(value=camera, label=name)
                            for camera, name in known.names.items()
                        ],
                        custom_value=True,
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                ),
                vol.Required(
                    CONF_TRIP_GAP_MINUTES, default=DEFAULT_TRIP_GAP_MINUTES
                ): vol.All(
                    NumberSelector(
                        NumberSelectorConfig(
                            min=1, max=7 * 24 * 60, step=1, unit_of_measurement="min"
                        )
                    ),
                    vol.Coerce(int),
                ),
                vol.Required(
                    CONF_MAX_SPEED_KMH, default=DEFAULT_MAX_SPEED_KMH
                ): vol.All(
                    NumberSelector(
                        NumberSelectorConfig(
                            min=10, max=1000, step=10, unit_of_measurement="km/h"
                        )
                    ),
                    vol.Coerce(int),
                ),
            }
        )
        return self.async_show_form(
            step_id="camera",
            data_schema=self.add_suggested_values_to_schema(
                schema, user_input or dict(self.config_entry.options)
            ),
            errors=errors,
        )

    async def async_step_camera_details(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Name, place and role of the chosen camera; or take it off the map."""
        camera = self._camera_step[CONF_CAMERA]
        cameras = dict(self.config_entry.options.get(CONF_CAMERAS, {}))
        route_options = {
            CONF_TRIP_GAP_MINUTES: self._camera_step[CONF_TRIP_GAP_MINUTES],
            CONF_MAX_SPEED_KMH: self._camera_step[CONF_MAX_SPEED_KMH],
        }
        errors = _unstorable_text(user_input)
        placeholders = {"camera": camera}
        current = cameras.get(camera)
        has_frigate = self._has_frigate
        if user_input is not None and not errors:
            if user_input.get(CONF_REMOVE):
                cameras.pop(camera, None)
                return self._save({CONF_CAMERAS: cameras, **route_options})
            is_exit = user_input[CONF_ROLE] == "exit"
            if not _on_earth(user_input[CONF_LOCATION]):
                # Only the API can send one (the map picks real places): saved,
                # the camera would silently stay off the map.
                errors[CONF_LOCATION] = "location_invalid"
            if is_exit and not user_input.get(CONF_LEAVING_DIRECTION):
                errors[CONF_LEAVING_DIRECTION] = "leaving_direction_required"
            zones: dict[str, str] = {}
            if has_frigate:
                zones, twice = _zone_directions_from_form(user_input)
                if twice:
                    errors["base"] = "zone_in_two_directions"
                    placeholders["zone"] = twice
            elif current is not None:
                # Without a Frigate source the form has no zone fields: keep the map.
                zones = current.get(CONF_ZONE_DIRECTIONS) or {}
            if not errors:
                cameras[camera] = {
                    CONF_CAMERA_NAME: user_input.get(CONF_CAMERA_NAME, "").strip()
                    or camera,
                    CONF_LATITUDE: user_input[CONF_LOCATION][CONF_LATITUDE],
                    CONF_LONGITUDE: user_input[CONF_LOCATION][CONF_LONGITUDE],
                    CONF_ROLE: user_input[CONF_ROLE],
                    CONF_LEAVING_DIRECTION: user_input.get(CONF_LEAVING_DIRECTION)
                    if is_exit
                    else None,
                }
                if zones:
                    cameras[camera][CONF_ZONE_DIRECTIONS] = zones
                return self._save({CONF_CAMERAS: cameras, **route_options})
        suggested: dict[str, Any] = {
            CONF_CAMERA_NAME: camera,
            CONF_LOCATION: {
                CONF_LATITUDE: self.hass.config.latitude,
                CONF_LONGITUDE: self.hass.config.longitude,
            },
        }
        if current is not None:
            suggested = {
                CONF_CAMERA_NAME: current[CONF_CAMERA_NAME],
                CONF_LOCATION: {
                    CONF_LATITUDE: current[CONF_LATITUDE],
                    CONF_LONGITUDE: current[CONF_LONGITUDE],
                },
                CONF_ROLE: current[CONF_ROLE],
                CONF_LEAVING_DIRECTION: current.get(CONF_LEAVING_DIRECTION),
                **_zone_fields(current.get(CONF_ZONE_DIRECTIONS) or {}),
            }
        zones_offered: list[str] | None = None
        if has_frigate:
            known = set(await self._zones_of(camera))
            if current is not None:
                known.update(current.get(CONF_ZONE_DIRECTIONS) or {})
            zones_offered = sorted(known)
        schema = _camera_details_schema(zones_offered)
        return self.async_show_form(
            step_id="camera_details",
            data_schema=self.add_suggested_values_to_schema(
                schema, user_input or suggested
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_watchlist_add(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add a plate or pattern to the watchlist."""
        errors = _unstorable_text(user_input)
        placeholders: dict[str, str] = {}
        if user_input is not None and not errors:
            runtime = self._runtime()
            known = watchable_cameras(
                self.config_entry.options, runtime.hub.known_cameras
            )
            cameras: tuple[str, ...] = ()
            user_id = flow_user_id()
            try:
                cameras = known.resolve([user_input.get("cameras", "")])
            except MatchingValidationError as err:
                # Checked apart from the plate: a form with both wrong names both.
                errors["cameras"] = "camera_unknown"
                placeholders.update(err.translation_placeholders)
            try:
                listed = _watchlist_entry_from_form(user_input, cameras)
                if not errors:
                    await self.hass.async_add_executor_job(
                        partial(
                            runtime.store.watchlist_add,
                            listed,
                            audit=lambda stored: _options_audit_line(
                                "watchlist_add",
                                {"plate": stored.plate, "label": stored.label},
                                user_id,
                            ),
                        )
                    )
            except MatchingValidationError as err:
                errors["plate"] = err.translation_key.value
                placeholders.update(err.translation_placeholders)
            except StoreValidationError as err:
                # An expiry outside UTC's years, or the plate already listed.
                field = "expires_at" if err.translation_key == OUT_OF_RANGE else "plate"
                errors[field] = err.translation_key
                placeholders.update(err.placeholders)
            except sqlite3.Error as err:
                self._store_failed(err, placeholders)
                errors["base"] = "store_failed"
            if not errors:
                await runtime.alerts.async_reload_watchlist()
                return self._save({})
        return self.async_show_form(
            step_id="watchlist_add",
            data_schema=self.add_suggested_values_to_schema(
                WATCHLIST_ENTRY_SCHEMA, user_input or {}
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_watchlist_remove(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Remove entries from the watchlist."""
        alerts = self._runtime().alerts
        if not alerts.entries:
            return self.async_abort(reason="watchlist_empty")
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            store = self._runtime().store
            chosen = [int(entry_id) for entry_id in user_input["entries"]]
            user_id = flow_user_id()
            try:
                await self.hass.async_add_executor_job(
                    partial(
                        store.watchlist_remove_all,
                        chosen,
                        # The ids alone would not tell an auditor which plates
                        # stopped being watched.
                        audit=lambda removed: _options_audit_line(
                            "watchlist_remove",
                            {
                                "entries": chosen,
                                "plates": [listed.plate for listed in removed],
                            },
                            user_id,
                        ),
                    )
                )
            except sqlite3.Error as err:
                self._store_failed(err, placeholders)
                errors["base"] = "store_failed"
            else:
                await alerts.async_reload_watchlist()
                return self._save({})
        options = [
            SelectOptionDict(
                value=str(listed.id),
                label=f"{listed.plate} {listed.label}".strip()
                + f" ({listed.priority.value})",
            )
            for listed in alerts.entries
        ]
        return self.async_show_form(
            step_id="watchlist_remove",
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema(
                    {
                        vol.Required("entries"): SelectSelector(
                            SelectSelectorConfig(options=options, multiple=True)
                        )
                    }
                ),
                user_input or {},
            ),
            errors=errors,
            description_placeholders=placeholders,
        )


CONF_CAMERA = "camera"
CONF_LOCATION = "location"
CONF_REMOVE = "remove"
ZONE_FIELDS: dict[str, str] = {
    direction: f"zones_{direction}" for direction in LEAVING_DIRECTIONS
}
"""Per direction, the form field listing the Frigate zones that mean it."""


def _camera_details_schema(zones: list[str] | None) -> vol.Schema:
    """Return the camera form; with Frigate (``zones`` offered), its zone fields too."""
    fields: dict[Any, Any] = {
        vol.Optional(CONF_CAMERA_NAME): str,
        vol.Required(CONF_LOCATION): LocationSelector(
            LocationSelectorConfig(radius=False)
        ),
        vol.Required(CONF_ROLE, default="inside"): SelectSelector(
            SelectSelectorConfig(
                options=list(CAMERA_ROLES), translation_key="camera_role"
            )
        ),
        vol.Optional(CONF_LEAVING_DIRECTION): SelectSelector(
            SelectSelectorConfig(
                options=list(LEAVING_DIRECTIONS), translation_key="leaving_direction"
            )
        ),
    }
    if zones is not None:
        for field in ZONE_FIELDS.values():
            fields[vol.Optional(field)] = SelectSelector(
                SelectSelectorConfig(
                    options=zones,
                    multiple=True,
                    custom_value=True,
                    mode=SelectSelectorMode.DROPDOWN,
                )
            )
    fields[vol.Optional(CONF_REMOVE, default=False)] = BooleanSelector()
    return vol.Schema(fields)


def _zone_fields(zone_directions: dict[str, str]) -> dict[str, list[str]]:
    """Return the stored zone map as the form's lists, one per direction."""
    return {
        field: sorted(
            zone for zone, direction in zone_directions.items() if direction == meant
        )
        for meant, field in ZONE_FIELDS.items()
    }


def _on_earth(location: Mapping[str, Any]) -> bool:
    """Whether a location selector's value is a place on Earth (not NaN, not latitude 400)."""
    latitude = float(location[CONF_LATITUDE])
    longitude = float(location[CONF_LONGITUDE])
    return -90 <= latitude <= 90 and -180 <= longitude <= 180


def _zone_directions_from_form(
    form: dict[str, Any],
) -> tuple[dict[str, str], str | None]:
    """Return the zone map the form describes, and a zone listed under two directions."""
    zones: dict[str, str] = {}
    for direction, field in ZONE_FIELDS.items():
        for zone in form.get(field) or ():
            name = zone.strip()
            if not name:
                continue
            if zones.get(name, direction) != direction:
                return zones, name
            zones[name] = direction
    return zones, None


WATCHLIST_ENTRY_SCHEMA = vol.Schema(
    {
        vol.Required("plate"): str,
        # As long as the watchlist_add service allows.
        vol.Optional("label"): vol.All(str, vol.Length(max=MAX_LABEL_LENGTH)),
        vol.Optional("reason"): vol.All(str, vol.Length(max=MAX_REASON_LENGTH)),
        vol.Required("priority", default=Priority.HIGH.value): SelectSelector(
            SelectSelectorConfig(
                options=[priority.value for priority in Priority],
                translation_key="priority",
            )
        ),
        vol.Optional("expires_at"): DateTimeSelector(),
        vol.Optional("cameras"): str,
        vol.Optional("active_from"): TimeSelector(),
        vol.Optional("active_until"): TimeSelector(),
        vol.Required("enabled", default=True): BooleanSelector(),
    }
)


def flow_user_id() -> str | None:
    """Return the id of the user whose request answers a flow's step; None without one.

    Home Assistant puts no user into the context of an options or a repair
    flow, but the frontend sends each step in an HTTP request the http
    component authenticated, and the step runs inside it. Only on the event
    loop: an executor thread does not see the request.
    """
    request = current_request.get()
    if request is None:
        return None
    user = request.get(KEY_HASS_USER)
    return user.id if user is not None else None


def _options_audit_line(
    action: str, details: dict[str, Any], user_id: str | None
) -> AuditLine:
    """Return the audit line of a watchlist change made in the options flow."""
    return AuditLine(
        user_id=user_id,
        action=action,
        details={**details, "via": "options_flow"},
        reason=None,
        at=dt_util.utcnow(),
    )


def _watchlist_entry_from_form(
    form: dict[str, Any], cameras: tuple[str, ...]
) -> WatchlistEntry:
    """Build an entry from the form.

    MatchingValidationError for a bad plate, StoreValidationError for an expiry
    outside UTC's years.
    """
    expires_at = (
        dt_util.parse_datetime(form["expires_at"]) if form.get("expires_at") else None
    )
    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=dt_util.get_default_time_zone())
    if expires_at is not None:
        try:
            # The date picker takes any year; late on 9999-12-31 west of UTC is past it.
            expires_at = dt_util.as_utc(expires_at)
        except OverflowError as err:
            raise StoreValidationError(OUT_OF_RANGE, value=form["expires_at"]) from err
    return WatchlistEntry(
        id=None,
        plate=parse_plate_or_pattern(form["plate"]),
        label=form.get("label", "").strip(),
        reason=form.get("reason", "").strip(),
        priority=Priority(form["priority"]),
        expires_at=expires_at,
        cameras=cameras,
        active_from=dt_util.parse_time(form["active_from"])
        if form.get("active_from")
        else None,
        active_until=dt_util.parse_time(form["active_until"])
        if form.get("active_until")
        else None,
        enabled=form["enabled"],
    )
