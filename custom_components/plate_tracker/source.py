"""Home Assistant glue that feeds a source's frames into the pipeline."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
import logging
from pathlib import Path
import time
from typing import Any

from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_track_time_interval

from .const import (
    CONF_FILENAME_PATTERN,
    CONF_FRIGATE_URL,
    CONF_INBOX,
    CONF_KEEP_FILES,
    CONF_MQTT_PREFIX,
    CONF_REAUTH_SOURCE,
    CONF_SOURCE,
    DEFAULT_MQTT_PREFIX,
    DOMAIN,
    FRIGATE_PROBE_SECONDS,
    INBOX_POLL_SECONDS,
    ISSUE_FRIGATE_UNAVAILABLE,
    ISSUE_INBOX_UNAVAILABLE,
    ISSUE_MQTT_DISCONNECTED,
    SIGNAL_SOURCE_HEALTH,
    SOURCE_FOLDER,
    SOURCE_FRIGATE,
    SUBENTRY_SOURCE,
)
from .coordinator import PlateTrackerConfigEntry, SourceStatus, async_abort_reauth
from .pipeline import Frame, ImageRejectedError, SightingPipeline
from .routes import zone_directions
from .sources.folder import DEFAULT_FILENAME_PATTERN, Inbox, InboxFile, holds
from .sources.frigate import (
    FrigateAuthError,
    FrigateClient,
    FrigateError,
    FrigateEventTracker,
    FrigateFrameRequest,
    FrigateUnreachableError,
    MalformedEventError,
    SnapshotDownloads,
)

_LOGGER = logging.getLogger(__name__)


def resolve_inbox(hass: HomeAssistant, inbox: str) -> Path:
    """Resolve an inbox path; a relative one is inside the configuration folder."""
    path = Path(inbox).expanduser()
    return path if path.is_absolute() else Path(hass.config.path(inbox))


def frigate_client(hass: HomeAssistant, config: Mapping[str, Any]) -> FrigateClient:
    """Return a client for a Frigate source's settings (URL and optional login)."""
    return FrigateClient(
        async_get_clientsession(hass),
        config[CONF_FRIGATE_URL],
        username=config.get(CONF_USERNAME),
        password=config.get(CONF_PASSWORD),
    )


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
            await _async_start_frigate(hass, entry, subentry, pipeline, counters)
        elif subentry.data[CONF_SOURCE] == SOURCE_FOLDER:
            tasks.append(
                await _async_start_folder(hass, entry, subentry, pipeline, counters)
            )
    return tasks


class FrigateConnectionMonitor:
    """Turns a Frigate source's request results and MQTT state into what the user sees.

    Each outage is logged once when it starts and once when it ends, shown by the
    source's connectivity sensors, and explained by a repair issue while it lasts.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        entry: PlateTrackerConfigEntry,
        subentry: ConfigSubentry,
        status: SourceStatus,
    ) -> None:
        """Watch one Frigate source of the entry."""
        self._hass = hass
        self._entry = entry
        self._subentry_id = subentry.subentry_id
        self._title = subentry.title
        self.status = status

    def _changed(self) -> None:
        async_dispatcher_send(
            self._hass,
            SIGNAL_SOURCE_HEALTH.format(entry_id=self._entry.entry_id),
            self._subentry_id,
        )

    @callback
    def api_succeeded(self) -> None:
        """Record that a request to Frigate's API worked."""
        was_available = self.status.api.available
        if self.status.api.succeeded():
            if was_available is False:
                _LOGGER.info("Frigate source %s is available again", self._title)
            ir.async_delete_issue(
                self._hass,
                DOMAIN,
                ISSUE_FRIGATE_UNAVAILABLE.format(subentry_id=self._subentry_id),
            )
            if not any(
                status.api.auth_failed
                for status in self._entry.runtime_data.source_status.values()
            ):
                # The one reauth flow of the hub asks for a login that works again.
                async_abort_reauth(self._hass, self._entry, "reauth_frigate")
            self._changed()

    @callback
    def api_failed(self, err: FrigateError) -> None:
        """Record a failed request to Frigate's API; decide whether Frigate is down.

        Only an unanswered request or a refused login counts: a missing snapshot
        (HTTP 404 for an event Frigate already deleted) shows Frigate is up.
        """
        if not isinstance(err, (FrigateUnreachableError, FrigateAuthError)):
            self.api_succeeded()
            return
        auth = isinstance(err, FrigateAuthError)
        if self.status.api.failed(str(err), auth=auth):
            _LOGGER.warning("Frigate source %s is unavailable: %s", self._title, err)
            self._changed()
        issue = ISSUE_FRIGATE_UNAVAILABLE.format(subentry_id=self._subentry_id)
        if auth:
            # A refused login asks the user for the right one (the reauth flow).
            ir.async_delete_issue(self._hass, DOMAIN, issue)
            self._entry.async_start_reauth(
                self._hass, data={CONF_REAUTH_SOURCE: self._subentry_id}
            )
        elif self.status.api.available is False:
            ir.async_create_issue(
                self._hass,
                DOMAIN,
                issue,
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key="frigate_unavailable",
                translation_placeholders={"source": self._title, "error": str(err)},
            )

    @callback
    def async_forget_issues(self) -> None:
        """Remove the source's repair issues when it is unloaded."""
        ir.async_delete_issue(
            self._hass,
            DOMAIN,
            ISSUE_FRIGATE_UNAVAILABLE.format(subentry_id=self._subentry_id),
        )
        ir.async_delete_issue(self._hass, DOMAIN, ISSUE_MQTT_DISCONNECTED)

    @callback
    def mqtt_state(self, connected: bool) -> None:
        """Record that Home Assistant's MQTT client connected to or lost the broker."""
        was_connected = self.status.mqtt.available
        if not self.status.mqtt.set_connected(connected):
            return
        if connected:
            if was_connected is False:
                _LOGGER.info("MQTT broker is connected again; Frigate events arrive")
            ir.async_delete_issue(self._hass, DOMAIN, ISSUE_MQTT_DISCONNECTED)
        else:
            _LOGGER.warning(
                "MQTT broker is disconnected: no Frigate events reach %s", self._title
            )
            ir.async_create_issue(
                self._hass,
                DOMAIN,
                ISSUE_MQTT_DISCONNECTED,
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key=ISSUE_MQTT_DISCONNECTED,
            )
        self._changed()


async def _async_start_frigate(
    hass: HomeAssistant,
    entry: PlateTrackerConfigEntry,
    subentry: ConfigSubentry,
    pipeline: SightingPipeline,
    counters: Counter[str],
) -> None:
    config = subentry.data
    if not await mqtt.async_wait_for_mqtt_client(hass):
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN, translation_key="mqtt_unavailable"
        )
    client = frigate_client(hass, config)
    monitor = FrigateConnectionMonitor(
        hass, entry, subentry, entry.runtime_data.source_status[subentry.subentry_id]
    )
    # The camera map's zones; a changed map reloads the entry and builds a new tracker.
    tracker = FrigateEventTracker(zone_directions=zone_directions(entry.options))
    # Frames of one event are fetched one after another, so an ``end`` never
    # overtakes the ``update`` before it and splits the pass in two.
    last_fetch: dict[str, asyncio.Task[None]] = {}
    downloads = SnapshotDownloads()

    def lost(request: FrigateFrameRequest, err: FrigateError) -> None:
        counters["snapshot_fetch_errors"] += 1
        # An outage is logged once, by the monitor; each lost frame is counted.
        outage = isinstance(err, (FrigateUnreachableError, FrigateAuthError))
        _LOGGER.log(
            logging.DEBUG if outage else logging.WARNING,
            "Could not fetch the snapshot of Frigate event %s: %s",
            request.event_id,
            err,
        )
        downloads.failed(request.event_id)

    async def download(request: FrigateFrameRequest) -> bytes | None:
        """Return the request's snapshot, or None (counted and logged) when Frigate gave none."""
        delays = iter(downloads.retry_delays(request))
        while True:
            try:
                image = await client.event_snapshot(request.event_id)
            except FrigateError as err:
                monitor.api_failed(err)
                delay = (
                    next(delays, None)
                    if isinstance(err, FrigateUnreachableError)
                    else None
                )
                if delay is None:
                    lost(request, err)
                    return None
            else:
                monitor.api_succeeded()
                downloads.downloaded(request.event_id)
                return image
            counters["snapshot_fetch_retries"] += 1
            try:
                await asyncio.sleep(delay)
            except asyncio.CancelledError:
                # Home Assistant stops, or the source is reloaded: say what is lost.
                counters["snapshot_fetch_errors"] += 1
                _LOGGER.warning(
                    "Gave up the snapshot of Frigate event %s (camera %s): Frigate "
                    "had not answered since the event ended",
                    request.event_id,
                    request.camera,
                )
                raise

    async def fetch_and_offer(
        request: FrigateFrameRequest, previous: asyncio.Task[None] | None
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        image: bytes | None = None
        snapshot_lost = False
        if downloads.wanted(request):
            image = await download(request)
            snapshot_lost = image is None
            # Without Frigate's own read there is nothing to read; an end still closes the pass.
            if snapshot_lost and not request.final and not request.anpr_plate:
                return
        if request.final:
            downloads.ended(request.event_id)
        pipeline.offer(
            Frame(
                image=image,
                camera=request.camera,
                seen_at=request.seen_at,
                source=SOURCE_FRIGATE,
                event_id=request.event_id,
                vehicle_box=request.vehicle_box,
                plate_box=request.plate_box,
                final=request.final,
                direction=request.direction,
                anpr_plate=request.anpr_plate,
                anpr_score=request.anpr_score,
                snapshot_lost=snapshot_lost,
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

    async def probe(_: datetime | None = None) -> None:
        """Ask Frigate for its stats, so an outage shows even while cameras are quiet."""
        try:
            await client.check_access()
        except FrigateError as err:
            counters["frigate_probe_errors"] += 1
            monitor.api_failed(err)
        else:
            monitor.api_succeeded()

    prefix = config.get(CONF_MQTT_PREFIX, DEFAULT_MQTT_PREFIX).strip("/")
    entry.async_on_unload(
        await mqtt.async_subscribe(
            hass, f"{prefix}/events", message_received, encoding=None
        )
    )
    entry.async_on_unload(
        mqtt.async_subscribe_connection_status(hass, monitor.mqtt_state)
    )
    # A removed or reconfigured source must not leave its outage behind.
    entry.async_on_unload(monitor.async_forget_issues)
    monitor.mqtt_state(mqtt.is_connected(hass))
    entry.async_on_unload(
        async_track_time_interval(
            hass,
            probe,
            timedelta(seconds=FRIGATE_PROBE_SECONDS),
            name=f"{DOMAIN} frigate check {subentry.title}",
            cancel_on_shutdown=True,
        )
    )
    # Check at once, without holding up setup: the other sources, search and the
    # watchlist keep working while one NVR is down, and the sensors say so.
    entry.async_create_background_task(
        hass, probe(), name=f"{DOMAIN} frigate check {subentry.title}"
    )


class InboxMonitor:
    """Shows an inbox folder that went away or became unreadable like a dead NVR.

    Its connectivity sensor turns off, the outage is logged once when it starts
    and once when it ends, and a repair issue explains it while it lasts.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        entry: PlateTrackerConfigEntry,
        subentry: ConfigSubentry,
        root: Path,
    ) -> None:
        """Watch the folder of one inbox source of the entry."""
        self._hass = hass
        self._entry_id = entry.entry_id
        self._subentry_id = subentry.subentry_id
        self._title = subentry.title
        self._root = root
        self.status = entry.runtime_data.source_status[subentry.subentry_id]
        self._issue_id = ISSUE_INBOX_UNAVAILABLE.format(
            subentry_id=subentry.subentry_id
        )

    def _changed(self) -> None:
        async_dispatcher_send(
            self._hass,
            SIGNAL_SOURCE_HEALTH.format(entry_id=self._entry_id),
            self._subentry_id,
        )

    @callback
    def readable(self) -> None:
        """Record that the folder could be listed."""
        was_available = self.status.inbox.available
        if self.status.inbox.succeeded():
            if was_available is False:
                _LOGGER.info("Inbox %s is readable again", self._root)
                ir.async_delete_issue(self._hass, DOMAIN, self._issue_id)
            self._changed()

    @callback
    def unreadable(self, err: OSError) -> None:
        """Record that the folder is missing or cannot be listed."""
        if self.status.inbox.failed(str(err)):
            _LOGGER.warning("Inbox %s cannot be read: %s", self._root, err)
            ir.async_create_issue(
                self._hass,
                DOMAIN,
                self._issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key="inbox_unavailable",
                translation_placeholders={
                    "source": self._title,
                    "path": str(self._root),
                    "error": str(err),
                },
            )
            self._changed()

    @callback
    def async_forget_issue(self) -> None:
        """Remove the source's repair issue when it is unloaded."""
        ir.async_delete_issue(self._hass, DOMAIN, self._issue_id)


async def _async_start_folder(
    hass: HomeAssistant,
    entry: PlateTrackerConfigEntry,
    subentry: ConfigSubentry,
    pipeline: SightingPipeline,
    counters: Counter[str],
) -> asyncio.Task[None]:
    config = subentry.data
    inbox = Inbox(
        resolve_inbox(hass, config[CONF_INBOX]),
        filename_pattern=entry.options.get(
            CONF_FILENAME_PATTERN, DEFAULT_FILENAME_PATTERN
        ),
        keep_files=entry.options.get(CONF_KEEP_FILES, False),
    )
    if await hass.async_add_executor_job(
        holds, inbox.root, Path(hass.config.config_dir)
    ):
        # Its files would be read and deleted: Home Assistant's own with them.
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="inbox_holds_config",
            translation_placeholders={"path": str(inbox.root)},
        )
    try:
        await hass.async_add_executor_job(inbox.ensure_exists)
    except OSError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="inbox_unavailable",
            translation_placeholders={"path": str(inbox.root), "error": str(err)},
        ) from err
    monitor = InboxMonitor(hass, entry, subentry, inbox.root)
    # A removed or reconfigured source must not leave its outage behind.
    entry.async_on_unload(monitor.async_forget_issue)

    def scan(now: float) -> list[InboxFile]:
        # An empty scan of a folder that is gone would look like a quiet camera.
        inbox.check_readable()
        return inbox.scan(now)

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
            if target is None:
                _LOGGER.warning(
                    "Unreadable image %s cannot be moved aside; it is not read again "
                    "until it changes: %s",
                    file.path,
                    err,
                )
            else:
                _LOGGER.warning("Moved unreadable image to %s: %s", target, err)
            return
        counters["inbox_files"] += 1
        await hass.async_add_executor_job(inbox.finish, file)

    async def watch() -> None:
        while True:
            try:
                files = await hass.async_add_executor_job(scan, time.time())
            except OSError as err:
                counters["inbox_errors"] += 1
                # An outage is logged once, by the monitor.
                _LOGGER.debug("Inbox %s: %s", inbox.root, err)
                monitor.unreadable(err)
                await asyncio.sleep(INBOX_POLL_SECONDS)
                continue
            monitor.readable()
            try:
                for file in files:
                    try:
                        await read_file(file)
                    except OSError as err:
                        # This file only (it went, or cannot be opened): the files
                        # after it are still read, and it is tried again next poll.
                        counters["inbox_errors"] += 1
                        _LOGGER.log(
                            logging.WARNING
                            if not isinstance(err, FileNotFoundError)
                            and inbox.first_failure(file)
                            else logging.DEBUG,
                            "Inbox %s: cannot read %s, tried again each poll: %s",
                            inbox.root,
                            file.path.name,
                            err,
                        )
            except Exception:
                # Most likely the store: the file stays in the inbox and is read again.
                counters["inbox_errors"] += 1
                _LOGGER.exception("Inbox %s: reading failed; will retry", inbox.root)
            await asyncio.sleep(INBOX_POLL_SECONDS)

    return entry.async_create_background_task(
        hass, watch(), name=f"{DOMAIN} inbox {inbox.root}"
    )
