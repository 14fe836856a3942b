"""Services of plate_tracker, registered once in ``async_setup``.

Every service that reads or changes personal data writes a line to the store's
append-only audit log: who (the Home Assistant user; none for automations),
when, what, and why where the service asks for a reason. Every service that
reads or follows sightings (search, export, route lookups) asks for one. A
legal hold, an acknowledgement or a watchlist change (an entry added or
removed, an import) commits with its audit line, in one transaction: both or
neither.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable, Mapping
from datetime import datetime, time
from functools import partial
from pathlib import Path
import sqlite3
from typing import Any

from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import (
    HomeAssistantError,
    ServiceValidationError,
    Unauthorized,
)
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util
import voluptuous as vol

from .const import DOMAIN, SOURCE_CAMERA
from .coordinator import (
    PlateTrackerConfigEntry,
    loaded_hub,
    sighting_payload,
    sighting_with_links,
)
from .database import async_store_failed
from .engine.remote import EngineUnavailableError
from .matching.errors import MatchingValidationError
from .matching.watchlist import KnownCameras, parse_plate_or_pattern
from .matching.watchlist_csv import (
    MAX_LABEL_LENGTH,
    MAX_REASON_LENGTH,
    format_watchlist_csv,
    parse_watchlist_csv,
)
from .pipeline import Frame, ImageRejectedError, PipelineStoppedError
from .records import Direction, Priority, WatchlistEntry
from .routes import CONF_CAMERA_NAME, CONF_CAMERAS, ROUTE_SERVICES
from .store import (
    MAX_PAGE_SIZE,
    SQLITE_MAX_INTEGER,
    AuditLine,
    PurgeProgress,
    SearchQuery,
    SearchSort,
    StoreValidationError,
    WatchlistHit,
)
from .store.export import write_replacing
from .validation import REASON, ROW_ID, real_number, utf8_string, whole_number

ATTR_FILE_PATH = "file_path"
ATTR_VEHICLE_BOX = "vehicle_box"
MAX_SERVICE_IMAGE_BYTES = 30 * 1024 * 1024
MAX_IMPORT_BYTES = 10 * 1024 * 1024
MAX_REPORTED_ROW_ERRORS = 10
MAX_LEGAL_HOLD_IDS = MAX_PAGE_SIZE
"""Sightings one ``set_legal_hold`` call may name: a page of search results."""

SERVICE_READ_PLATES = "read_plates"
SERVICE_CAPTURE_CAMERA = "capture_camera"
SERVICE_WATCHLIST_ADD = "watchlist_add"
SERVICE_WATCHLIST_REMOVE = "watchlist_remove"
SERVICE_WATCHLIST_LIST = "watchlist_list"
SERVICE_WATCHLIST_IMPORT = "watchlist_import"
SERVICE_WATCHLIST_EXPORT = "watchlist_export"
SERVICE_ACKNOWLEDGE_HIT = "acknowledge_hit"
SERVICE_SEARCH_SIGHTINGS = "search_sightings"
SERVICE_EXPORT_SIGHTINGS = "export_sightings"
SERVICE_PURGE_SIGHTINGS = "purge_sightings"
SERVICE_SET_LEGAL_HOLD = "set_legal_hold"
SERVICE_AUDIT_LOG = "audit_log"

READ_PLATES_SCHEMA = vol.Schema(
    {
        vol.Exclusive(ATTR_ENTITY_ID, "image"): cv.entity_domain("camera"),
        vol.Exclusive(ATTR_FILE_PATH, "image"): utf8_string,
        vol.Optional(ATTR_VEHICLE_BOX): vol.All(
            [whole_number], vol.Length(min=4, max=4)
        ),
    }
)
CAPTURE_CAMERA_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_ENTITY_ID): cv.entity_domain("camera"),
        vol.Optional("camera"): vol.All(
            utf8_string, vol.Strip, vol.Length(min=1, max=100)
        ),
        vol.Optional(ATTR_VEHICLE_BOX): vol.All(
            [whole_number], vol.Length(min=4, max=4)
        ),
        vol.Optional("direction", default=Direction.UNKNOWN.value): vol.In(
            [d.value for d in Direction]
        ),
    }
)
WATCHLIST_ADD_SCHEMA = vol.Schema(
    {
        vol.Required("plate"): utf8_string,
        vol.Optional("label", default=""): vol.All(
            utf8_string, vol.Length(max=MAX_LABEL_LENGTH)
        ),
        vol.Optional("reason", default=""): vol.All(
            utf8_string, vol.Length(max=MAX_REASON_LENGTH)
        ),
        vol.Optional("priority", default=Priority.HIGH.value): vol.In(
            [p.value for p in Priority]
        ),
        vol.Optional("expires_at"): cv.datetime,
        vol.Optional("cameras", default=[]): vol.All(cv.ensure_list, [utf8_string]),
        vol.Inclusive("active_from", "active_hours"): cv.time,
        vol.Inclusive("active_until", "active_hours"): cv.time,
        vol.Optional("enabled", default=True): cv.boolean,
    }
)
WATCHLIST_REMOVE_SCHEMA = vol.Schema(
    {
        vol.Exclusive("entry_id", "which"): ROW_ID,
        vol.Exclusive("plate", "which"): utf8_string,
    }
)
WATCHLIST_IMPORT_SCHEMA = vol.Schema(
    {
        # As long as a file may be: text sent inline is the same import.
        vol.Exclusive("csv", "source"): vol.All(
            utf8_string, vol.Length(max=MAX_IMPORT_BYTES)
        ),
        vol.Exclusive(ATTR_FILE_PATH, "source"): utf8_string,
        vol.Optional("replace", default=False): cv.boolean,
    }
)
WATCHLIST_EXPORT_SCHEMA = vol.Schema({vol.Optional(ATTR_FILE_PATH): utf8_string})
ACKNOWLEDGE_HIT_SCHEMA = vol.Schema(
    {
        vol.Required("hit_id"): ROW_ID,
        # Kept in the audit log for good, as a reason is: no longer than one.
        vol.Optional("note"): vol.All(utf8_string, vol.Length(max=500)),
    }
)
_SELECTION: dict[vol.Marker, Any] = {
    vol.Optional("plate"): utf8_string,
    vol.Optional("fuzzy", default=False): cv.boolean,
    vol.Optional("since"): cv.datetime,
    vol.Optional("until"): cv.datetime,
    vol.Optional("cameras", default=[]): vol.All(cv.ensure_list, [utf8_string]),
    vol.Optional("min_confidence"): vol.All(real_number, vol.Range(min=0, max=1)),
}
SEARCH_SCHEMA = vol.Schema(
    {
        **_SELECTION,
        vol.Required("reason"): REASON,
        vol.Optional("sort", default=SearchSort.NEWEST.value): vol.In(
            [s.value for s in SearchSort]
        ),
        vol.Optional("page_size", default=50): vol.All(
            whole_number, vol.Range(min=1, max=MAX_PAGE_SIZE)
        ),
        vol.Optional("cursor"): utf8_string,
    }
)
EXPORT_SCHEMA = vol.Schema(
    {**_SELECTION, vol.Required("reason"): REASON, vol.Required("folder"): utf8_string}
)
PURGE_SCHEMA = vol.Schema(
    {
        vol.Optional("plate"): utf8_string,
        vol.Optional("since"): cv.datetime,
        vol.Optional("until"): cv.datetime,
        vol.Required("reason"): REASON,
    }
)
LEGAL_HOLD_SCHEMA = vol.Schema(
    {
        vol.Required("sighting_ids"): vol.All(
            cv.ensure_list, [ROW_ID], vol.Length(min=1)
        ),
        vol.Optional("held", default=True): cv.boolean,
        vol.Required("reason"): REASON,
    }
)
AUDIT_LOG_SCHEMA = vol.Schema(
    {
        vol.Optional("since"): cv.datetime,
        vol.Optional("until"): cv.datetime,
        vol.Optional("user_id"): utf8_string,
        vol.Optional("action"): utf8_string,
        vol.Optional("limit", default=100): vol.All(
            whole_number, vol.Range(min=1, max=MAX_PAGE_SIZE)
        ),
        vol.Optional("offset", default=0): vol.All(
            whole_number, vol.Range(min=0, max=SQLITE_MAX_INTEGER)
        ),
    }
)


def hub_entry(hass: HomeAssistant) -> PlateTrackerConfigEntry:
    """Return the loaded Plate Tracker hub, or raise a translated error."""
    if (entry := loaded_hub(hass)) is not None:
        return entry
    raise ServiceValidationError(
        translation_domain=DOMAIN, translation_key="not_loaded"
    )


async def require_admin(hass: HomeAssistant, call: ServiceCall) -> None:
    """Refuse a call from a user who is not an administrator.

    Calls without a user are Home Assistant's own (automations, scripts an admin
    wrote) and are allowed; the audit log records them as the system.
    """
    if call.context.user_id is None:
        return
    user = await hass.auth.async_get_user(call.context.user_id)
    if user is None or not user.is_admin:
        raise Unauthorized(context=call.context)


def _as_utc(value: datetime | None) -> datetime | None:
    """Read a naive service datetime as Home Assistant's local time.

    A time that UTC cannot hold (``0001-01-01T00:00+05:00``, or the last day
    of 9999 west of Greenwich) is refused with a translated error.
    """
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt_util.get_default_time_zone())
    try:
        return dt_util.as_utc(value)
    except OverflowError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="datetime_out_of_range",
            translation_placeholders={"value": value.isoformat()},
        ) from err


def _validation_error(
    err: StoreValidationError | MatchingValidationError,
) -> ServiceValidationError:
    placeholders = (
        err.placeholders
        if isinstance(err, StoreValidationError)
        else err.translation_placeholders
    )
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=str(err.translation_key),
        translation_placeholders=placeholders,
    )


def _store_failed(
    hass: HomeAssistant, entry: PlateTrackerConfigEntry, err: sqlite3.Error
) -> HomeAssistantError:
    """Return the translated error for a database that failed; damage gets it checked."""
    async_store_failed(hass, entry.entry_id, err)
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="store_failed",
        translation_placeholders={"error": str(err)},
    )


async def _store_call[T](
    hass: HomeAssistant, entry: PlateTrackerConfigEntry, func: Callable[[], T]
) -> T:
    """Run a store method in the executor; its refusals and failures become translated errors."""
    try:
        return await hass.async_add_executor_job(func)
    except StoreValidationError as err:
        raise _validation_error(err) from err
    except sqlite3.Error as err:
        raise _store_failed(hass, entry, err) from err


def _audit_line(
    call: ServiceCall,
    action: str,
    details: dict[str, Any],
    *,
    reason: str | None = None,
) -> AuditLine:
    """Return the audit line of a call: its user, what it did, and why."""
    return AuditLine(
        user_id=call.context.user_id,
        action=action,
        details=details,
        reason=reason,
        at=dt_util.utcnow(),
    )


async def _audit(
    hass: HomeAssistant,
    entry: PlateTrackerConfigEntry,
    call: ServiceCall,
    action: str,
    details: dict[str, Any],
    *,
    reason: str | None = None,
) -> None:
    try:
        await hass.async_add_executor_job(
            entry.runtime_data.store.audit_append,
            call.context.user_id,
            action,
            details,
            reason,
            dt_util.utcnow(),
        )
    except sqlite3.Error as err:
        raise _store_failed(hass, entry, err) from err


async def _allowed_path(hass: HomeAssistant, value: str) -> Path:
    path = Path(value)
    # is_allowed_path resolves links on disk: blocking I/O, kept off the event loop.
    if not path.is_absolute() or not await hass.async_add_executor_job(
        hass.config.is_allowed_path, str(path)
    ):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="path_not_allowed",
            translation_placeholders={"path": value},
        )
    return path


def _read_file(path: Path, limit: int) -> bytes:
    if not path.is_file():
        raise FileNotFoundError(path)
    if path.stat().st_size > limit:
        raise ValueError(f"larger than {limit} bytes")
    return path.read_bytes()


async def _read_allowed_file(hass: HomeAssistant, value: str, limit: int) -> bytes:
    path = await _allowed_path(hass, value)
    try:
        return await hass.async_add_executor_job(_read_file, path, limit)
    except (OSError, ValueError) as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="file_unreadable",
            translation_placeholders={"path": value, "error": str(err)},
        ) from err


# --- read_plates ------------------------------------------------------------------------


async def _image_for_call(hass: HomeAssistant, call: ServiceCall) -> bytes:
    if entity_id := call.data.get(ATTR_ENTITY_ID):
        # Imported here: the camera integration is optional (an after-dependency).
        from homeassistant.components.camera import async_get_image  # noqa: PLC0415

        try:
            image = await async_get_image(hass, entity_id)
        except HomeAssistantError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="camera_unavailable",
                translation_placeholders={"entity_id": entity_id, "error": str(err)},
            ) from err
        return image.content
    if file_path := call.data.get(ATTR_FILE_PATH):
        return await _read_allowed_file(hass, file_path, MAX_SERVICE_IMAGE_BYTES)
    raise ServiceValidationError(
        translation_domain=DOMAIN, translation_key="image_required"
    )


def _engine_unavailable(err: EngineUnavailableError) -> HomeAssistantError:
    """Return the error a service raises when the engine server gave no usable answer."""
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="engine_unavailable",
        translation_placeholders={"url": err.url, "error": err.reason},
    )


async def _read_plates(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    entry = hub_entry(hass)
    image = await _image_for_call(hass, call)
    box = call.data.get(ATTR_VEHICLE_BOX)
    try:
        result = await entry.runtime_data.engine.read(
            image, tuple(box) if box else None
        )
    except ValueError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_image",
            translation_placeholders={"error": str(err)},
        ) from err
    except EngineUnavailableError as err:
        raise _engine_unavailable(err) from err
    return result.to_dict()


async def _capture_camera(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    """Record the plates a camera shows now as sightings, like an upload to the inbox.

    For cameras without an NVR: an automation calls it when a motion or
    presence sensor fires. The camera's name in sightings and in the camera
    map is the entity's object id (``camera.bridge`` is ``bridge``) unless
    ``camera`` names it.
    """
    entry = hub_entry(hass)
    entity_id: str = call.data[ATTR_ENTITY_ID]
    seen_at = dt_util.utcnow()
    image = await _image_for_call(hass, call)
    box: list[int] | None = call.data.get(ATTR_VEHICLE_BOX)
    try:
        sightings = await entry.runtime_data.pipeline.submit(
            Frame(
                image=image,
                camera=call.data.get("camera") or entity_id.split(".", 1)[1],
                seen_at=seen_at,
                source=SOURCE_CAMERA,
                vehicle_box=(box[0], box[1], box[2], box[3]) if box else None,
                direction=Direction(call.data["direction"]),
            )
        )
    except ImageRejectedError as err:
        # The camera's fault, not the caller's: an error, not a validation error.
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="invalid_image",
            translation_placeholders={"error": str(err)},
        ) from err
    except EngineUnavailableError as err:
        raise _engine_unavailable(err) from err
    except PipelineStoppedError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN, translation_key="recognition_stopped"
        ) from err
    return {"sightings": [sighting_payload(sighting) for sighting in sightings]}


# --- watchlist --------------------------------------------------------------------------


def watchlist_entry_dict(entry: WatchlistEntry) -> dict[str, Any]:
    """Return the JSON-able form of a watchlist entry."""
    return {
        "entry_id": entry.id,
        "plate": entry.plate,
        "label": entry.label,
        "reason": entry.reason,
        "priority": entry.priority.value,
        "expires_at": entry.expires_at.isoformat() if entry.expires_at else None,
        "cameras": list(entry.cameras),
        "active_from": entry.active_from.isoformat() if entry.active_from else None,
        "active_until": entry.active_until.isoformat() if entry.active_until else None,
        "enabled": entry.enabled,
    }


def _plate_or_pattern(text: str) -> str:
    try:
        return parse_plate_or_pattern(text)
    except MatchingValidationError as err:
        raise _validation_error(err) from err


def watchable_cameras(options: Mapping[str, Any], seen: Iterable[str]) -> KnownCameras:
    """Return the cameras a watchlist entry may be limited to, by id and display name.

    Those on the camera map (in ``options``) and those the hub has ``seen``. A
    camera not seen yet (being installed) is put on the map first, so no
    camera is out of reach.
    """
    mapped = options.get(CONF_CAMERAS, {})
    return KnownCameras(
        {
            camera: mapped.get(camera, {}).get(CONF_CAMERA_NAME) or camera
            for camera in set(mapped).union(seen)
        }
    )


def _watched_cameras(
    entry: PlateTrackerConfigEntry, names: list[str], reported: Iterable[str] = ()
) -> tuple[str, ...]:
    """Return the ids of the cameras ``names`` says (ids or display names); refuse others.

    Known are the cameras on the map, those the hub has seen, and ``reported``.
    """
    known = watchable_cameras(
        entry.options, entry.runtime_data.hub.known_cameras.union(reported)
    )
    try:
        return known.resolve(names)
    except MatchingValidationError as err:
        raise _validation_error(err) from err


async def _watchlist_add(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    await require_admin(hass, call)
    entry = hub_entry(hass)
    active_from: time | None = call.data.get("active_from")
    active_until: time | None = call.data.get("active_until")
    listed = WatchlistEntry(
        id=None,
        plate=_plate_or_pattern(call.data["plate"]),
        label=call.data["label"],
        reason=call.data["reason"],
        priority=Priority(call.data["priority"]),
        expires_at=_as_utc(call.data.get("expires_at")),
        cameras=_watched_cameras(entry, call.data["cameras"]),
        active_from=active_from,
        active_until=active_until,
        enabled=call.data["enabled"],
    )
    stored = await _store_call(
        hass,
        entry,
        partial(
            entry.runtime_data.store.watchlist_add,
            listed,
            audit=lambda stored: _audit_line(
                call, SERVICE_WATCHLIST_ADD, watchlist_entry_dict(stored)
            ),
        ),
    )
    await entry.runtime_data.alerts.async_reload_watchlist()
    return {"entry": watchlist_entry_dict(stored)}


async def _watchlist_remove(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    await require_admin(hass, call)
    entry = hub_entry(hass)
    which: int | str
    if "entry_id" in call.data:
        which = call.data["entry_id"]
    elif "plate" in call.data:
        which = _plate_or_pattern(call.data["plate"])
    else:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="entry_or_plate_required"
        )

    def audit_line(removed: WatchlistEntry) -> AuditLine:
        # The id alone would not tell an auditor which plate stopped being
        # watched: an imported entry's id is in no earlier audit line.
        details: dict[str, Any] = {"entry": which}
        if isinstance(which, int):
            details["plate"] = removed.plate
        return _audit_line(call, SERVICE_WATCHLIST_REMOVE, details)

    if not await _store_call(
        hass,
        entry,
        partial(entry.runtime_data.store.watchlist_remove, which, audit=audit_line),
    ):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="watchlist_entry_not_found",
            translation_placeholders={"entry_id": str(which)},
        )
    # Sightings matched before the index is rebuilt still see the entry: the
    # fewer awaits in between, the fewer hits that have to be skipped.
    await entry.runtime_data.alerts.async_reload_watchlist()
    return None


async def _watchlist_list(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    await require_admin(hass, call)
    entry = hub_entry(hass)
    alerts = entry.runtime_data.alerts
    entries: list[Any] = []
    for listed in alerts.entries:
        item = watchlist_entry_dict(listed)
        last = (
            alerts.last_hit_by_entry.get(listed.id) if listed.id is not None else None
        )
        item["last_seen"] = (
            {
                "seen_at": last.seen_at.isoformat(),
                "camera": last.camera,
                "plate_read": last.plate_read,
                "match_kind": last.match_kind,
                "sighting_id": last.sighting_id,
                "hit_id": last.hit_id,
            }
            if last is not None
            else None
        )
        entries.append(item)
    await _audit(hass, entry, call, SERVICE_WATCHLIST_LIST, {"count": len(entries)})
    return {"entries": entries}


async def _watchlist_import(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    await require_admin(hass, call)
    entry = hub_entry(hass)
    if "csv" in call.data:
        text = call.data["csv"]
    elif ATTR_FILE_PATH in call.data:
        raw = await _read_allowed_file(
            hass, call.data[ATTR_FILE_PATH], MAX_IMPORT_BYTES
        )
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            # A spreadsheet's "CSV" in a local code page (cp1251 in Ukraine): read
            # with replacement characters, its labels and reasons would be lost.
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="csv_not_utf8",
                translation_placeholders={"offset": str(err.start)},
            ) from err
    else:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="csv_required"
        )
    # An expiry without a time zone (as a spreadsheet writes it) is local time,
    # as it is for watchlist_add.
    entries, errors = parse_watchlist_csv(
        text,
        known_cameras=watchable_cameras(
            entry.options, entry.runtime_data.hub.known_cameras
        ),
        default_tz=dt_util.get_default_time_zone(),
    )
    if errors:
        # All or nothing: one bad row and nothing is applied, and every bad row is named.
        shown = "; ".join(
            f"line {error.line}"
            + (f", {error.column}" if error.column else "")
            + f": {error.translation_key.value}"
            + (f" ({error.value!r})" if error.value else "")
            for error in errors[:MAX_REPORTED_ROW_ERRORS]
        )
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="watchlist_import_invalid",
            translation_placeholders={"count": str(len(errors)), "errors": shown},
        )
    replace_all = call.data["replace"]
    result = await _store_call(
        hass,
        entry,
        partial(
            entry.runtime_data.store.watchlist_replace_or_merge,
            entries,
            replace=replace_all,
            audit=lambda result: _audit_line(
                call,
                SERVICE_WATCHLIST_IMPORT,
                {"rows": len(entries), "replace": replace_all, "total": len(result)},
            ),
        ),
    )
    # The store answers with the new watchlist: index it before any other await,
    # so that few sightings are matched against entries the import removed.
    entry.runtime_data.alerts.async_set_watchlist(result)
    return {"imported": len(entries), "total": len(result)}


async def _watchlist_export(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    await require_admin(hass, call)
    entry = hub_entry(hass)
    text = format_watchlist_csv(entry.runtime_data.alerts.entries)
    response: dict[str, Any] = {
        "count": len(entry.runtime_data.alerts.entries),
        "csv": text,
    }
    if ATTR_FILE_PATH in call.data:
        path = await _allowed_path(hass, call.data[ATTR_FILE_PATH])
        try:
            await hass.async_add_executor_job(
                write_replacing, path, text.encode("utf-8")
            )
        except OSError as err:
            # The folder's disk: missing, full or read-only.
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="export_failed",
                translation_placeholders={"path": str(path), "error": str(err)},
            ) from err
        response["path"] = str(path)
    await _audit(
        hass,
        entry,
        call,
        SERVICE_WATCHLIST_EXPORT,
        {"count": response["count"], "path": response.get("path")},
    )
    return response


async def _acknowledge_hit(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    entry = hub_entry(hass)
    user_id = call.context.user_id or "system"

    def audit_line(hit: WatchlistHit) -> AuditLine:
        return _audit_line(
            call,
            SERVICE_ACKNOWLEDGE_HIT,
            # The hit's number alone would not tell an auditor which vehicle's alert it was.
            {"hit_id": hit.id, "plate": hit.listed_plate, "plate_read": hit.plate_read},
            reason=call.data.get("note"),
        )

    try:
        hit = await _store_call(
            hass,
            entry,
            partial(
                entry.runtime_data.store.acknowledge_hit,
                call.data["hit_id"],
                user_id,
                dt_util.utcnow(),
                audit=audit_line,
            ),
        )
    except ServiceValidationError as err:
        if err.translation_key != "hit_already_acknowledged":
            raise
        # A user id (32 hex digits) tells a dispatcher nothing: name the officer.
        placeholders = dict(err.translation_placeholders or {})
        if user := await hass.auth.async_get_user(placeholders.get("user_id", "")):
            placeholders["user_id"] = user.name or user.id
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="hit_already_acknowledged",
            translation_placeholders=placeholders,
        ) from err.__cause__
    return {
        "hit_id": hit.id,
        "acknowledged_by": hit.acknowledged_by,
        "acknowledged_at": hit.acknowledged_at.isoformat()
        if hit.acknowledged_at
        else None,
    }


# --- search, export, retention, audit ---------------------------------------------------


async def _selected_cameras(
    hass: HomeAssistant, entry: PlateTrackerConfigEntry, names: list[str]
) -> tuple[str, ...]:
    """Return the ids of the cameras a search names, by id or display name, as the watchlist takes them.

    Sightings carry the camera id: a display name kept as typed would select
    nothing, and an empty answer reads as "the car never passed there". Any
    camera that ever reported counts, also one taken off the map or whose
    device was deleted: its old sightings are still evidence. A name that is no
    camera is refused with the watchlist's translated error.
    """
    if not names:
        return ()
    reported = await _store_call(hass, entry, entry.runtime_data.store.cameras)
    return _watched_cameras(entry, names, reported)


async def _query(
    hass: HomeAssistant,
    entry: PlateTrackerConfigEntry,
    call: ServiceCall,
    **extra: Any,
) -> SearchQuery:
    plate = call.data.get("plate")
    return SearchQuery(
        plate=_plate_or_pattern(plate) if plate else None,
        fuzzy=call.data["fuzzy"],
        since=_as_utc(call.data.get("since")),
        until=_as_utc(call.data.get("until")),
        cameras=await _selected_cameras(hass, entry, call.data["cameras"]),
        min_confidence=call.data.get("min_confidence"),
        **extra,
    )


async def _search_sightings(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    entry = hub_entry(hass)
    query = await _query(
        hass,
        entry,
        call,
        sort=SearchSort(call.data["sort"]),
        page_size=call.data["page_size"],
        cursor=call.data.get("cursor"),
    )
    page = await _store_call(
        hass, entry, partial(entry.runtime_data.store.search, query)
    )
    await _audit(
        hass,
        entry,
        call,
        SERVICE_SEARCH_SIGHTINGS,
        {**query.describe(), "results": len(page.sightings)},
        reason=call.data["reason"],
    )
    return {
        "sightings": [
            {
                **sighting_with_links(entry, sighting),
                "match_kind": page.match_kinds.get(sighting.plate),
            }
            for sighting in page.sightings
        ],
        "next_cursor": page.next_cursor,
    }


async def _export_sightings(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    entry = hub_entry(hass)
    folder = await _allowed_path(hass, call.data["folder"])
    query = await _query(hass, entry, call, page_size=MAX_PAGE_SIZE)
    # To the microsecond: two exports started in one second get two files.
    stamp = dt_util.utcnow().strftime("%Y%m%dT%H%M%S%fZ")
    dest = folder / f"plate_tracker_evidence_{stamp}.zip"
    try:
        report = await _store_call(
            hass, entry, partial(entry.runtime_data.store.export_zip, query, dest)
        )
    except OSError as err:
        # The folder's disk, not the database: full, read-only, gone meanwhile.
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="export_failed",
            translation_placeholders={"path": str(dest), "error": str(err)},
        ) from err
    response: dict[str, Any] = {
        "path": str(report.path),
        "sightings": report.sightings,
        "crops": report.crops,
        "snapshots": report.snapshots,
        "sha256": report.sha256,
    }
    try:
        await _audit(
            hass,
            entry,
            call,
            SERVICE_EXPORT_SIGHTINGS,
            {**response, **query.describe()},
            reason=call.data["reason"],
        )
    except BaseException:
        # No evidence file may exist that the audit log does not name.
        await hass.async_add_executor_job(partial(report.path.unlink, missing_ok=True))
        raise
    return response


async def _purge_sightings(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    await require_admin(hass, call)
    entry = hub_entry(hass)
    # Audited as the store knows it, so that a search of the log for the plate
    # finds its erasure whatever script or alphabet typed it.
    text = call.data.get("plate")
    plate = _plate_or_pattern(text) if text is not None else None
    since, until = _as_utc(call.data.get("since")), _as_utc(call.data.get("until"))
    details: dict[str, Any] = {
        "plate": plate,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
    }
    progress = PurgeProgress()
    try:
        removed = await _store_call(
            hass,
            entry,
            partial(
                entry.runtime_data.store.purge,
                plate,
                since,
                until,
                progress=progress,
            ),
        )
    except Exception as err:
        if progress.sightings:
            # The committed batches are erased: the audit log says so.
            await _audit_purge(
                hass,
                entry,
                call,
                {
                    **details,
                    "removed": progress.sightings,
                    "interrupted": str(err.__cause__ or err),
                },
            )
        raise
    await _audit_purge(hass, entry, call, {**details, "removed": removed})
    return {"removed": removed}


async def _audit_purge(
    hass: HomeAssistant,
    entry: PlateTrackerConfigEntry,
    call: ServiceCall,
    details: dict[str, Any],
) -> None:
    """Audit a purge, then show what the store still holds if it erased anything.

    Erased is erased even when its audit line cannot be written: entities
    must not keep showing the sightings until a restart.
    """
    try:
        await _audit(
            hass,
            entry,
            call,
            SERVICE_PURGE_SIGHTINGS,
            details,
            reason=call.data["reason"],
        )
    finally:
        if details["removed"]:
            await entry.runtime_data.hub.async_sightings_removed(
                entry.runtime_data.store
            )


async def _set_legal_hold(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    await require_admin(hass, call)
    entry = hub_entry(hass)
    ids = call.data["sighting_ids"]
    if len(ids) > MAX_LEGAL_HOLD_IDS:
        # Every id goes into the audit line, kept for good: a page of search
        # results is held at once, a whole database is not named id by id.
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="too_many_sightings",
            translation_placeholders={
                "count": str(len(ids)),
                "maximum": str(MAX_LEGAL_HOLD_IDS),
            },
        )
    # A mistyped id must not answer "changed: 0" as a hold already there does:
    # the officer would trust a hold that retention then erases. The store
    # refuses the whole call (sighting_not_found), checked in the hold's own
    # transaction, so the call can be repeated once fixed.
    held = call.data["held"]
    changed = await _store_call(
        hass,
        entry,
        partial(
            entry.runtime_data.store.set_legal_hold,
            ids,
            held,
            audit=lambda changed: _audit_line(
                call,
                SERVICE_SET_LEGAL_HOLD,
                {"sighting_ids": ids, "held": held, "changed": changed},
                reason=call.data["reason"],
            ),
        ),
    )
    return {"changed": changed}


async def _audit_log(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    await require_admin(hass, call)
    entry = hub_entry(hass)
    records = await _store_call(
        hass,
        entry,
        partial(
            entry.runtime_data.store.audit_log,
            since=_as_utc(call.data.get("since")),
            until=_as_utc(call.data.get("until")),
            user_id=call.data.get("user_id"),
            action=call.data.get("action"),
            limit=call.data["limit"],
            offset=call.data["offset"],
        ),
    )
    # Reading the audit log is itself audited: who looked at who looked.
    await _audit(hass, entry, call, SERVICE_AUDIT_LOG, {"records": len(records)})
    return {
        "records": [
            {
                "id": record.id,
                "at": record.at.isoformat(),
                "user_id": record.user_id,
                "action": record.action,
                "details": record.details,
                "reason": record.reason,
            }
            for record in records
        ]
    }


type ServiceHandler = Callable[
    [HomeAssistant, ServiceCall], Coroutine[Any, Any, ServiceResponse]
]

SERVICES: tuple[tuple[str, ServiceHandler, vol.Schema, SupportsResponse], ...] = (
    (SERVICE_READ_PLATES, _read_plates, READ_PLATES_SCHEMA, SupportsResponse.ONLY),
    (
        SERVICE_CAPTURE_CAMERA,
        _capture_camera,
        CAPTURE_CAMERA_SCHEMA,
        SupportsResponse.OPTIONAL,
    ),
    (
        SERVICE_WATCHLIST_ADD,
        _watchlist_add,
        WATCHLIST_ADD_SCHEMA,
        SupportsResponse.OPTIONAL,
    ),
    (
        SERVICE_WATCHLIST_REMOVE,
        _watchlist_remove,
        WATCHLIST_REMOVE_SCHEMA,
        SupportsResponse.NONE,
    ),
    (SERVICE_WATCHLIST_LIST, _watchlist_list, vol.Schema({}), SupportsResponse.ONLY),
    (
        SERVICE_WATCHLIST_IMPORT,
        _watchlist_import,
        WATCHLIST_IMPORT_SCHEMA,
        SupportsResponse.OPTIONAL,
    ),
    (
        SERVICE_WATCHLIST_EXPORT,
        _watchlist_export,
        WATCHLIST_EXPORT_SCHEMA,
        SupportsResponse.OPTIONAL,
    ),
    (
        SERVICE_ACKNOWLEDGE_HIT,
        _acknowledge_hit,
        ACKNOWLEDGE_HIT_SCHEMA,
        SupportsResponse.OPTIONAL,
    ),
    (SERVICE_SEARCH_SIGHTINGS, _search_sightings, SEARCH_SCHEMA, SupportsResponse.ONLY),
    (
        SERVICE_EXPORT_SIGHTINGS,
        _export_sightings,
        EXPORT_SCHEMA,
        SupportsResponse.OPTIONAL,
    ),
    (
        SERVICE_PURGE_SIGHTINGS,
        _purge_sightings,
        PURGE_SCHEMA,
        SupportsResponse.OPTIONAL,
    ),
    (
        SERVICE_SET_LEGAL_HOLD,
        _set_legal_hold,
        LEGAL_HOLD_SCHEMA,
        SupportsResponse.OPTIONAL,
    ),
    (SERVICE_AUDIT_LOG, _audit_log, AUDIT_LOG_SCHEMA, SupportsResponse.ONLY),
)


def _store_errors_translated(handler: ServiceHandler) -> ServiceHandler:
    """Give a store error that a handler lets through the translated error ``_store_call`` gives.

    Store calls belong in ``_store_call``; this keeps any that is not (the
    route services read through the route tracker) from answering with a
    bare SQLite error, and gets a damaged file checked all the same.
    """

    async def run(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
        # Taken before the call: a damaged file may get the hub reloaded meanwhile.
        entry = loaded_hub(hass)
        try:
            return await handler(hass, call)
        except StoreValidationError as err:
            raise _validation_error(err) from err
        except sqlite3.Error as err:
            if entry is None:
                raise
            raise _store_failed(hass, entry, err) from err

    return run


def _finished_before_unload(handler: ServiceHandler) -> ServiceHandler:
    """Run a service call in a task of its own, which the hub's unload waits for.

    An options change reloads the hub and closes its store: an import, export
    or purge under way must finish on it, audited, not fail on a closed store.
    The task is the call's own (the caller's may be a long script), shielded
    so that a caller giving up does not cut a write off half-way.
    """

    async def run(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
        task = hass.async_create_task(handler(hass, call), eager_start=True)
        if (entry := loaded_hub(hass)) is not None and not task.done():
            pending = entry.runtime_data.hub.pending
            pending.add(task)
            task.add_done_callback(pending.discard)
        return await asyncio.shield(task)

    return run


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register plate_tracker's services."""
    for name, handler, schema, supports_response in (*SERVICES, *ROUTE_SERVICES):
        hass.services.async_register(
            DOMAIN,
            name,
            partial(_finished_before_unload(_store_errors_translated(handler)), hass),
            schema=schema,
            supports_response=supports_response,
        )
