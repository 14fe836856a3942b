"""plate_tracker: licence-plate sightings, routes and alerts from an NVR's camera events."""

from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import suppress
from datetime import timedelta
from functools import partial
import logging
from pathlib import Path
import sqlite3

from homeassistant.config_entries import SOURCE_IMPORT
from homeassistant.const import Platform
from homeassistant.core import HassJob, HomeAssistant, callback
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
)
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    issue_registry as ir,
)
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.storage import Store
from homeassistant.helpers.typing import ConfigType
from homeassistant.requirements import RequirementsNotFound, async_process_requirements
from homeassistant.util import dt as dt_util
import voluptuous as vol

from .alerts import WatchlistAlerts, async_load_url_signer
from .const import (
    CONF_ALERT_COOLDOWN,
    CONF_ENGINE_TOKEN,
    CONF_ENGINE_URL,
    CONF_INBOX,
    CONF_MIN_CONFIDENCE,
    CONF_PARALLEL_READS,
    CONF_PUBLISH_AFTER,
    CONF_QUEUE_SIZE,
    CONF_REGIONS,
    CONF_SOURCE,
    CONF_THREADS,
    CONF_URL_LIFETIME_HOURS,
    DATABASE_FILE,
    DEFAULT_ALERT_COOLDOWN,
    DEFAULT_MIN_CONFIDENCE,
    DEFAULT_PARALLEL_READS,
    DEFAULT_PUBLISH_AFTER,
    DEFAULT_QUEUE_SIZE,
    DEFAULT_REGIONS,
    DEFAULT_THREADS,
    DEFAULT_URL_LIFETIME_HOURS,
    DOMAIN,
    ISSUE_ENGINE_SERVER_UNAVAILABLE,
    ISSUE_LOCAL_ENGINE_UNSUPPORTED,
    ISSUE_MODELS_UNAVAILABLE,
    ISSUE_SIGHTINGS_SPOOLED,
    ISSUE_SIGHTINGS_SPOOLED_IN_MEMORY,
    LOCAL_ENGINE_REQUIREMENTS,
    MODELS_DIR,
    PIPELINE_STOP_SECONDS,
    SIGNAL_ENGINE_HEALTH,
    SOURCE_ANPR,
    SOURCE_FOLDER,
    SOURCE_FRIGATE,
    SPOOL_FILE,
)
from .coordinator import (
    Engine,
    LocalEngine,
    PlateTrackerConfigEntry,
    PlateTrackerRuntimeData,
    SightingHub,
    SourceStatus,
    async_abort_reauth,
)
from .dashboard import async_register_card
from .database import (
    async_check_due,
    async_open_database,
    async_store_failed,
    store_unavailable,
)
from .engine.models import ModelsUnavailable, ensure_models
from .engine.remote import EngineUnavailableError, RemoteEngine
from .entity import engine_device_info
from .matching.cooldown import AlertCooldown
from .pipeline import SightingPipeline
from .retention import async_schedule_retention
from .routes import RouteTracker
from .services import async_setup_services
from .source import async_remove_stream_marks, async_start_sources
from .store.errors import is_damaged
from .store.spool import SightingSpool
from .views import SightingImageView
from .websocket_api import async_register_websocket_commands

_LOGGER = logging.getLogger(__name__)

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.DEVICE_TRACKER,
    Platform.EVENT,
    Platform.IMAGE,
    Platform.SENSOR,
]

# A YAML block is imported once into a folder-source entry; it exists so that a
# development or kiosk setup can be brought up without clicking through the UI.
CONFIG_SCHEMA = vol.Schema(
    {DOMAIN: vol.Schema({vol.Required(CONF_INBOX): cv.string})},
    extra=vol.ALLOW_EXTRA,
)


RETIRED_CAMERAS_STORAGE_VERSION = 1


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the services and import a YAML inbox, if any."""
    async_setup_services(hass)
    async_register_websocket_commands(hass)
    hass.http.register_view(SightingImageView(hass))
    await async_register_card(hass)
    if DOMAIN in config:
        hass.async_create_task(
            hass.config_entries.flow.async_init(
                DOMAIN,
                context={"source": SOURCE_IMPORT},
                data={
                    CONF_SOURCE: SOURCE_FOLDER,
                    CONF_INBOX: config[DOMAIN][CONF_INBOX],
                },
            )
        )
    return True


def models_dir(hass: HomeAssistant) -> Path:
    """Where the recognition models live (downloaded once, verified by hash)."""
    return Path(hass.config.path(DOMAIN, MODELS_DIR))


async def _async_start_engine(
    hass: HomeAssistant, entry: PlateTrackerConfigEntry
) -> Engine:
    """Return the engine the options choose: an engine server, or one in this process."""
    options = entry.options
    regions = options.get(CONF_REGIONS, DEFAULT_REGIONS)
    if url := options.get(CONF_ENGINE_URL):
        remote = RemoteEngine(
            async_get_clientsession(hass),
            url,
            token=options.get(CONF_ENGINE_TOKEN) or None,
            regions=regions,
            on_health_change=lambda: _async_engine_server_changed(hass, entry, remote),
        )
        try:
            await remote.health()
        except EngineUnavailableError as err:
            if err.unauthorized:
                # Home Assistant asks for the token (the reauth flow); no retries meanwhile.
                raise ConfigEntryAuthFailed(
                    translation_domain=DOMAIN,
                    translation_key="engine_token_refused",
                    translation_placeholders={"url": remote.url},
                ) from err
            raise ConfigEntryNotReady(
                translation_domain=DOMAIN,
                translation_key="engine_unavailable",
                translation_placeholders={"url": remote.url, "error": err.reason},
            ) from err
        ir.async_delete_issue(hass, DOMAIN, ISSUE_ENGINE_SERVER_UNAVAILABLE)
        return remote
    # Reading here now: an outage of a server no longer used is no issue.
    ir.async_delete_issue(hass, DOMAIN, ISSUE_ENGINE_SERVER_UNAVAILABLE)
    try:
        await async_process_requirements(hass, DOMAIN, list(LOCAL_ENGINE_REQUIREMENTS))
    except RequirementsNotFound as err:
        # Home Assistant OS: onnxruntime has no wheel for its musl libc.
        ir.async_create_issue(
            hass,
            DOMAIN,
            ISSUE_LOCAL_ENGINE_UNSUPPORTED,
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=ISSUE_LOCAL_ENGINE_UNSUPPORTED,
            translation_placeholders={"requirements": ", ".join(err.requirements)},
        )
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="local_engine_unsupported",
            translation_placeholders={"requirements": ", ".join(err.requirements)},
        ) from err
    ir.async_delete_issue(hass, DOMAIN, ISSUE_LOCAL_ENGINE_UNSUPPORTED)
    try:
        await hass.async_add_executor_job(ensure_models, models_dir(hass))
    except ModelsUnavailable as err:
        ir.async_create_issue(
            hass,
            DOMAIN,
            ISSUE_MODELS_UNAVAILABLE,
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=ISSUE_MODELS_UNAVAILABLE,
            translation_placeholders={"path": str(models_dir(hass)), "error": str(err)},
        )
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="models_unavailable",
            translation_placeholders={"error": str(err)},
        ) from err
    ir.async_delete_issue(hass, DOMAIN, ISSUE_MODELS_UNAVAILABLE)
    # Imported here: onnxruntime exists only where the requirements above installed.
    from .engine.recognizer import PlateRecognizer  # noqa: PLC0415

    recognizers = [
        await hass.async_add_executor_job(
            partial(
                PlateRecognizer,
                models_dir(hass),
                threads=options.get(CONF_THREADS, DEFAULT_THREADS),
                regions=regions,
            )
        )
        for _ in range(options.get(CONF_PARALLEL_READS, DEFAULT_PARALLEL_READS))
    ]
    return LocalEngine(hass, recognizers)


@callback
def _async_engine_server_changed(
    hass: HomeAssistant, entry: PlateTrackerConfigEntry, remote: RemoteEngine
) -> None:
    """Tell the connectivity sensor; while the server is off, keep a repair issue up.

    A refused token asks the user for the right one instead (the reauth flow).
    """
    async_dispatcher_send(hass, SIGNAL_ENGINE_HEALTH.format(entry_id=entry.entry_id))
    connection = remote.connection
    if connection.available is not False or connection.auth_failed:
        ir.async_delete_issue(hass, DOMAIN, ISSUE_ENGINE_SERVER_UNAVAILABLE)
        if connection.auth_failed:
            entry.async_start_reauth(hass)
        elif connection.available:
            async_abort_reauth(hass, entry, "reauth_engine")
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        ISSUE_ENGINE_SERVER_UNAVAILABLE,
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key=ISSUE_ENGINE_SERVER_UNAVAILABLE,
        translation_placeholders={
            "url": remote.url,
            "error": connection.last_error or "",
        },
    )


async def async_setup_entry(
    hass: HomeAssistant, entry: PlateTrackerConfigEntry
) -> bool:
    """Open the store, load the engine, start the pipeline and the source."""
    engine = await _async_start_engine(hass, entry)
    options = entry.options
    db_path = Path(hass.config.path(DOMAIN, DATABASE_FILE))
    store = await async_open_database(hass, entry.entry_id, db_path)

    try:
        alerts = WatchlistAlerts(
            hass,
            entry.entry_id,
            store,
            await async_load_url_signer(hass),
            AlertCooldown(options.get(CONF_ALERT_COOLDOWN, DEFAULT_ALERT_COOLDOWN)),
            timedelta(
                hours=options.get(CONF_URL_LIFETIME_HOURS, DEFAULT_URL_LIFETIME_HOURS)
            ),
        )
        await alerts.async_reload_watchlist()
        await alerts.async_load_last_hits()
        entry.async_on_unload(alerts.async_hold_until_started())
        hub = SightingHub(hass, entry.entry_id, alerts)
        hub.retired_store = Store(
            hass, RETIRED_CAMERAS_STORAGE_VERSION, _retired_cameras_key(entry.entry_id)
        )
        retired = (await hub.retired_store.async_load() or {}).get("cameras", {})
        latest = await hass.async_add_executor_job(store.latest_per_camera)
        hub.last_by_camera.update(latest)
        for camera, sighting in latest.items():
            removed = retired.get(camera)
            removed_at = dt_util.parse_datetime(removed) if removed else None
            if removed_at is not None and sighting.seen_at <= removed_at:
                # The user deleted this camera's device and it has not reported since.
                hub.retired_cameras[camera] = removed
            else:
                hub.known_cameras.add(camera)
    except Exception as err:
        with suppress(sqlite3.Error):
            await hass.async_add_executor_job(store.close)
        if is_damaged(err):
            # The first reads of the sightings and the watchlist can meet damage
            # the opening did not: check the whole file on the next try.
            async_check_due(hass, entry.entry_id)
        elif not isinstance(err, sqlite3.Error):
            raise
        # A file locked by a backup tool or another process, or a disk I/O
        # error that passes: Home Assistant tries again, as for an opening
        # that failed so.
        raise store_unavailable(db_path, err) from err

    spool_path = db_path.with_name(SPOOL_FILE)
    try:
        spool = await hass.async_add_executor_job(SightingSpool.open, spool_path)
    except OSError as err:
        await hass.async_add_executor_job(store.close)
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="spool_unavailable",
            translation_placeholders={"path": str(spool_path), "error": str(err)},
        ) from err

    pipeline = SightingPipeline(
        read_frame=engine.read,
        record=lambda new: hass.async_add_executor_job(store.record, new),
        publish=hub.async_publish,
        queue_size=options.get(CONF_QUEUE_SIZE, DEFAULT_QUEUE_SIZE),
        min_confidence=options.get(CONF_MIN_CONFIDENCE, DEFAULT_MIN_CONFIDENCE),
        publish_after=options.get(CONF_PUBLISH_AFTER, DEFAULT_PUBLISH_AFTER),
        spool=spool,
        run_blocking=hass.async_add_executor_job,
        on_spool_change=partial(_async_spool_changed, hass, spool),
        on_store_error=partial(async_store_failed, hass, entry.entry_id),
        parallel_reads=options.get(CONF_PARALLEL_READS, DEFAULT_PARALLEL_READS),
        is_watched=lambda read, frame: alerts.is_watched(
            read.text, read.alternatives, frame.camera, frame.seen_at
        ),
    )
    _async_spool_changed(hass, spool, len(spool))
    source_counters: Counter[str] = Counter()
    entry.runtime_data = PlateTrackerRuntimeData(
        store=store,
        engine=engine,
        pipeline=pipeline,
        hub=hub,
        alerts=alerts,
        source_counters=source_counters,
        source_status={
            subentry.subentry_id: SourceStatus(
                title=subentry.title, kind=subentry.data[CONF_SOURCE]
            )
            for subentry in entry.subentries.values()
            if subentry.data.get(CONF_SOURCE)
            in (SOURCE_FRIGATE, SOURCE_FOLDER, SOURCE_ANPR)
        },
    )
    # The tracker listens before the pipeline replays the spool: an exit stored
    # only now, after a restart, must still move its vehicle and be announced.
    # (Started first, the pipeline's replay could announce it before the tracker
    # listened, and the tracker's first reading then took it in silently.)
    await RouteTracker.from_entry(hass, entry).async_start(entry)
    entry.runtime_data.pipeline_task = entry.async_create_background_task(
        hass, pipeline.run(), name=f"{DOMAIN} pipeline {entry.entry_id}"
    )
    # The cameras' devices name it as their parent, so it exists before any of them.
    entry.runtime_data.engine_device_id = (
        dr.async_get(hass)
        .async_get_or_create(
            config_entry_id=entry.entry_id, **engine_device_info(entry)
        )
        .id
    )
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    try:
        entry.runtime_data.tasks.extend(
            await async_start_sources(hass, entry, source_counters)
        )
    except ConfigEntryNotReady:
        # A source not ready yet (its broker, its inbox folder): undo the platforms
        # and close the store, or the retry finds the platforms set up already
        # and the store's connections stay open.
        await async_unload_entry(hass, entry)
        raise
    async_schedule_retention(hass, entry)
    # Home Assistant cancels every background task as it stops, before its stop
    # event: a shutdown job runs first, so the frames accepted are still read.
    entry.async_on_unload(
        hass.async_add_shutdown_job(
            HassJob(partial(_async_finish_work, entry.runtime_data))
        )
    )
    entry.async_on_unload(entry.add_update_listener(_async_entry_updated))
    return True


@callback
def _async_spool_changed(
    hass: HomeAssistant, spool: SightingSpool, waiting: int
) -> None:
    """Keep a repair issue up while sightings wait in the spool for the database.

    While the spool file cannot be written either, the issue says how many
    sightings only memory holds and what was dropped to bound it.
    """
    if waiting:
        placeholders = {
            "path": str(spool.path),
            "database": str(spool.path.with_name(DATABASE_FILE)),
        }
        in_memory = bool(
            spool.memory_only or spool.images_dropped or spool.sightings_dropped
        )
        if in_memory:
            placeholders |= {
                "memory_only": str(spool.memory_only),
                "images_dropped": str(spool.images_dropped),
                "sightings_dropped": str(spool.sightings_dropped),
                "limit": str(spool.memory_only_limit),
            }
        ir.async_create_issue(
            hass,
            DOMAIN,
            ISSUE_SIGHTINGS_SPOOLED,
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=ISSUE_SIGHTINGS_SPOOLED_IN_MEMORY
            if in_memory
            else ISSUE_SIGHTINGS_SPOOLED,
            translation_placeholders=placeholders,
        )
    else:
        ir.async_delete_issue(hass, DOMAIN, ISSUE_SIGHTINGS_SPOOLED)


async def _async_entry_updated(
    hass: HomeAssistant, entry: PlateTrackerConfigEntry
) -> None:
    """Reload when options or sources changed: new thresholds, a new or removed source."""
    await hass.config_entries.async_reload(entry.entry_id)


def _retired_cameras_key(entry_id: str) -> str:
    return f"{DOMAIN}.{entry_id}.retired_cameras"


async def async_remove_entry(
    hass: HomeAssistant, entry: PlateTrackerConfigEntry
) -> None:
    """Remove what a removed hub kept in Home Assistant's storage besides its database.

    The sightings database stays where it is: it is evidence, removed only by a person.
    """
    await async_remove_stream_marks(hass, list(entry.subentries))
    # Issues about setting the hub up: no entry is left to set up and clear them.
    for issue_id in (
        ISSUE_ENGINE_SERVER_UNAVAILABLE,
        ISSUE_LOCAL_ENGINE_UNSUPPORTED,
        ISSUE_MODELS_UNAVAILABLE,
    ):
        ir.async_delete_issue(hass, DOMAIN, issue_id)
    await Store[dict[str, object]](
        hass, RETIRED_CAMERAS_STORAGE_VERSION, _retired_cameras_key(entry.entry_id)
    ).async_remove()


async def async_remove_config_entry_device(
    hass: HomeAssistant,  # noqa: ARG001  # Home Assistant's signature
    entry: PlateTrackerConfigEntry,
    device_entry: dr.DeviceEntry,
) -> bool:
    """Let the user delete a camera's device, e.g. a camera taken out of service.

    Its sightings stay (they are evidence); the device comes back when the camera
    reports again. The engine, watchlist and source devices cannot be deleted.
    """
    hub = entry.runtime_data.hub
    prefix = f"{entry.entry_id}_"
    for domain, identifier in device_entry.identifiers:
        camera = identifier.removeprefix(prefix)
        if domain == DOMAIN and identifier != camera and camera in hub.known_cameras:
            hub.async_retire_camera(camera, dt_util.utcnow())
            return True
    return False


async def async_unload_entry(
    hass: HomeAssistant, entry: PlateTrackerConfigEntry
) -> bool:
    """Stop the sources, let the pipeline read what they sent, then close the store."""
    if not await hass.config_entries.async_unload_platforms(entry, PLATFORMS):
        return False
    runtime = entry.runtime_data
    await _async_finish_work(runtime)
    await runtime.hub.async_save_retired_now()
    await hass.async_add_executor_job(runtime.store.close)
    return True


async def _async_finish_work(runtime: PlateTrackerRuntimeData) -> None:
    """Stop the sources and let the pipeline read and store what they sent.

    Frames already accepted are read and stored for up to PIPELINE_STOP_SECONDS;
    what is left then is counted as dropped, and a camera still waiting for
    its answer is told to send again (see ``SightingPipeline.run``). Run at
    an unload and as Home Assistant stops; a second run finds nothing to do.
    """
    for task in runtime.tasks:
        task.cancel()
    await asyncio.gather(*runtime.tasks, return_exceptions=True)
    if (pipeline_task := runtime.pipeline_task) is not None:
        if not pipeline_task.done():
            with suppress(TimeoutError):
                async with asyncio.timeout(PIPELINE_STOP_SECONDS):
                    await runtime.pipeline.join()
        pipeline_task.cancel()
        await asyncio.gather(pipeline_task, return_exceptions=True)
    # Matching and route work already started for announced sightings is finished, not
    # cut off: it writes watchlist hits the police rely on. Work that finishes may
    # start more (a watchlist import has the new vehicles located), awaited too.
    while pending := [task for task in runtime.hub.pending if not task.done()]:
        await asyncio.gather(*pending, return_exceptions=True)
