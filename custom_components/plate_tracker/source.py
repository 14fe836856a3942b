"""Home Assistant glue that feeds a source's frames into the pipeline."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
import logging
from pathlib import Path
import time
from typing import Any

from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .const import (
    CONF_FILENAME_PATTERN,
    CONF_FRIGATE_URL,
    CONF_INBOX,
    CONF_KEEP_FILES,
    CONF_MQTT_PREFIX,
    CONF_SOURCE,
    DEFAULT_MQTT_PREFIX,
    DOMAIN,
    INBOX_POLL_SECONDS,
    SOURCE_FOLDER,
    SOURCE_FRIGATE,
    SUBENTRY_SOURCE,
)
from .coordinator import PlateTrackerConfigEntry
from .pipeline import Frame, ImageRejectedError, SightingPipeline
from .routes import zone_directions
from .sources.folder import DEFAULT_FILENAME_PATTERN, Inbox, InboxFile
from .sources.frigate import (
    FrigateClient,
    FrigateError,
    FrigateEventTracker,
    FrigateFrameRequest,
    MalformedEventError,
)

_LOGGER = logging.getLogger(__name__)


def resolve_inbox(hass: HomeAssistant, inbox: str) -> Path:
    """Resolve an inbox path; a relative one is inside the configuration folder."""
    path = Path(inbox).expanduser()
    return path if path.is_absolute() else Path(hass.config.path(inbox))


async def async_start_sources(
    hass: HomeAssistant, entry: PlateTrackerConfigEntry, counters: Counter[str]
) -> list[asyncio.Task[None]]:
    """Start every source subentry; return their long-running tasks (none for push sources)."""
    pipeline = entry.runtime_data.pipeline
    tasks: list[asyncio.Task[None]] = []
    for subentry in entry.subentries.values():
        if subentry.subentry_type != SUBENTRY_SOURCE:
            continue
        if subentry.data[CONF_SOURCE] == SOURCE_FRIGATE:
            await _async_start_frigate(hass, entry, subentry.data, pipeline, counters)
        elif subentry.data[CONF_SOURCE] == SOURCE_FOLDER:
            tasks.append(
                await _async_start_folder(
                    hass, entry, subentry.data, pipeline, counters
                )
            )
    return tasks


async def _async_start_frigate(
    hass: HomeAssistant,
    entry: PlateTrackerConfigEntry,
    config: Mapping[str, Any],
    pipeline: SightingPipeline,
    counters: Counter[str],
) -> None:
    if not await mqtt.async_wait_for_mqtt_client(hass):
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN, translation_key="mqtt_unavailable"
        )
    client = FrigateClient(async_get_clientsession(hass), config[CONF_FRIGATE_URL])
    # The camera map's zones; a changed map reloads the entry and builds a new tracker.
    tracker = FrigateEventTracker(zone_directions=zone_directions(entry.options))
    # Frames of one event are fetched one after another, so an ``end`` never
    # overtakes the ``update`` before it and splits the pass in two.
    last_fetch: dict[str, asyncio.Task[None]] = {}

    async def fetch_and_offer(
        request: FrigateFrameRequest, previous: asyncio.Task[None] | None
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        image: bytes | None = None
        if request.fetch:
            try:
                image = await client.event_snapshot(request.event_id)
            except FrigateError as err:
                counters["snapshot_fetch_errors"] += 1
                _LOGGER.warning(
                    "Could not fetch the snapshot of Frigate event %s: %s",
                    request.event_id,
                    err,
                )
                if not request.final:
                    return
        pipeline.offer(
            Frame(
                image=image,
                camera=request.camera,
                seen_at=request.seen_at,
                source=SOURCE_FRIGATE,
                event_id=request.event_id,
                vehicle_box=request.vehicle_box,
                final=request.final,
                direction=request.direction,
                anpr_plate=request.anpr_plate,
                anpr_score=request.anpr_score,
            )
        )

    @callback
    def message_received(msg: mqtt.ReceiveMessage) -> None:
        counters["mqtt_messages"] += 1
        try:
            request = tracker.handle(msg.payload)
        except MalformedEventError as err:
            counters["mqtt_malformed"] += 1
            _LOGGER.warning("Ignored a malformed message on %s: %s", msg.topic, err)
            return
        if request is None:
            return
        task = entry.async_create_background_task(
            hass,
            fetch_and_offer(request, last_fetch.get(request.event_id)),
            name=f"{DOMAIN} frigate event {request.event_id}",
        )
        last_fetch[request.event_id] = task

        def forget(done: asyncio.Task[None], event_id: str = request.event_id) -> None:
            if last_fetch.get(event_id) is done:
                del last_fetch[event_id]

        task.add_done_callback(forget)

    prefix = config.get(CONF_MQTT_PREFIX, DEFAULT_MQTT_PREFIX).strip("/")
    entry.async_on_unload(
        await mqtt.async_subscribe(
            hass, f"{prefix}/events", message_received, encoding=None
        )
    )


async def _async_start_folder(
    hass: HomeAssistant,
    entry: PlateTrackerConfigEntry,
    config: Mapping[str, Any],
    pipeline: SightingPipeline,
    counters: Counter[str],
) -> asyncio.Task[None]:
    inbox = Inbox(
        resolve_inbox(hass, config[CONF_INBOX]),
        filename_pattern=entry.options.get(
            CONF_FILENAME_PATTERN, DEFAULT_FILENAME_PATTERN
        ),
        keep_files=entry.options.get(CONF_KEEP_FILES, False),
    )
    try:
        await hass.async_add_executor_job(inbox.ensure_exists)
    except OSError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="inbox_unavailable",
            translation_placeholders={"path": str(inbox.root), "error": str(err)},
        ) from err

    async def read_file(file: InboxFile) -> None:
        try:
            image = await hass.async_add_executor_job(inbox.read, file)
            await pipeline.submit(
                Frame(
                    image=image,
                    camera=file.camera,
                    seen_at=file.seen_at,
                    source=SOURCE_FOLDER,
                    direction=file.direction,
                )
            )
        except (ImageRejectedError, ValueError) as err:
            counters["inbox_rejected"] += 1
            target = await hass.async_add_executor_job(inbox.reject, file)
            _LOGGER.warning("Moved unreadable image to %s: %s", target, err)
            return
        counters["inbox_files"] += 1
        await hass.async_add_executor_job(inbox.finish, file)

    async def watch() -> None:
        while True:
            try:
                files = await hass.async_add_executor_job(inbox.scan, time.time())
                for file in files:
                    await read_file(file)
            except OSError as err:
                counters["inbox_errors"] += 1
                _LOGGER.warning("Inbox %s: %s", inbox.root, err)
            except Exception:
                # Most likely the store: the file stays in the inbox and is read again.
                counters["inbox_errors"] += 1
                _LOGGER.exception("Inbox %s: reading failed; will retry", inbox.root)
            await asyncio.sleep(INBOX_POLL_SECONDS)

    return entry.async_create_background_task(
        hass, watch(), name=f"{DOMAIN} inbox {inbox.root}"
    )
