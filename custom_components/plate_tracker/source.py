"""Home Assistant glue that feeds a source's frames into the pipeline."""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
import logging
from pathlib import Path
import sqlite3
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
from homeassistant.helpers.storage import Store

from .anpr_webhook import async_start_anpr
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
    ISSUE_SOURCES_OVERLAP,
    SIGNAL_SOURCE_HEALTH,
    SOURCE_ANPR,
    SOURCE_FOLDER,
    SOURCE_FRIGATE,
    SUBENTRY_SOURCE,
)
from .coordinator import PlateTrackerConfigEntry, SourceStatus, async_abort_reauth
from .engine.remote import EngineUnavailableError
from .engine.types import is_finite_number
from .pipeline import Frame, ImageRejectedError, PipelineStoppedError, SightingPipeline
from .routes import zone_directions
from .sources.folder import (
    DEFAULT_FILENAME_PATTERN,
    POISON_ATTEMPTS,
    UPLOAD_STALL_SECONDS,
    FileTooLargeError,
    Inbox,
    InboxFile,
    holds,
    inboxes_overlap,
)
from .sources.frigate import (
    MISSED_EVENTS_MAX,
    CameraGate,
    FrigateAuthError,
    FrigateClient,
    FrigateError,
    FrigateEventTracker,
    FrigateFrameRequest,
    FrigateUnreachableError,
    MalformedEventError,
    SnapshotDownloads,
    parse_event_message,
)

_LOGGER = logging.getLogger(__name__)

MISSED_EVENTS_MAX_AGE = 24 * 3600
"""After a gap in a Frigate source's events (Home Assistant stopped, the broker
lost), events that ended up to this many seconds ago are read from Frigate's API."""
MISSED_EVENTS_LONGEST = 3600
"""Seconds before the gap to list events from: Frigate lists events by their start,
and one that started this long before the gap may have ended in it."""
MISSED_EVENTS_MARGIN = 60
"""Seconds of the stream before the gap read again: two hosts' clocks differ."""
STREAM_SAVE_DELAY = 10


def resolve_inbox(hass: HomeAssistant, inbox: str) -> Path:
    """Resolve an inbox path; a relative one is inside the configuration folder."""
    path = Path(inbox).expanduser()
    return path if path.is_absolute() else Path(hass.config.path(inbox))


def mqtt_topic_prefix(config: Mapping[str, Any]) -> str:
    """Return the MQTT topic prefix a Frigate source follows, without slashes around it."""
    return str(config.get(CONF_MQTT_PREFIX, DEFAULT_MQTT_PREFIX)).strip("/")


def frigate_client(hass: HomeAssistant, config: Mapping[str, Any]) -> FrigateClient:
    """Return a client for a Frigate source's settings (URL and optional login)."""
    return FrigateClient(
        async_get_clientsession(hass),
        config[CONF_FRIGATE_URL],
        username=config.get(CONF_USERNAME),
        password=config.get(CONF_PASSWORD),
    )


@dataclass(frozen=True, slots=True)
class SourceOverlap:
    """Two sources that would each handle the same upload or Frigate event."""

    first: ConfigSubentry
    second: ConfigSubentry
    kind: str
    """``inbox`` (one inbox is, or holds, the other) or ``mqtt_prefix``."""
    detail: str
    """The two inbox folders, or the MQTT topic prefix they share."""


def overlapping_sources(
    hass: HomeAssistant, subentries: Iterable[ConfigSubentry]
) -> list[SourceOverlap]:
    """Return the pairs of sources that double every sighting they share.

    The config flow refuses such a source (``inbox_overlaps``,
    ``prefix_in_use``); sources added by versions before that check, or
    folders that became one later (a symlink), are only found here. Touches
    the file system (resolves the inboxes): run it in an executor.
    """
    sources = [
        subentry
        for subentry in subentries
        if subentry.subentry_type == SUBENTRY_SOURCE
        and subentry.data[CONF_SOURCE] in (SOURCE_FOLDER, SOURCE_FRIGATE)
    ]
    overlaps = []
    for index, first in enumerate(sources):
        for second in sources[index + 1 :]:
            if first.data[CONF_SOURCE] != second.data[CONF_SOURCE]:
                continue
            if first.data[CONF_SOURCE] == SOURCE_FOLDER:
                first_inbox = resolve_inbox(hass, first.data[CONF_INBOX])
                second_inbox = resolve_inbox(hass, second.data[CONF_INBOX])
                try:
                    shared = inboxes_overlap(first_inbox, second_inbox)
                except (OSError, ValueError, RuntimeError):  # a symlink loop, a NUL
                    continue
                if shared:
                    overlaps.append(
                        SourceOverlap(
                            first, second, "inbox", f"{first_inbox}, {second_inbox}"
                        )
                    )
                continue
            prefix = mqtt_topic_prefix(first.data)
            if mqtt_topic_prefix(second.data) == prefix:
                overlaps.append(SourceOverlap(first, second, "mqtt_prefix", prefix))
    return overlaps


async def async_report_overlapping_sources(
    hass: HomeAssistant, entry: PlateTrackerConfigEntry
) -> None:
    """Keep one repair issue up for each pair of sources that double their sightings.

    Both sources keep running: stopping one could lose sightings only it
    reads (a nested inbox's camera, the other Frigate's cameras). The user
    removes or changes one, and the reload clears the issue.
    """
    overlaps = await hass.async_add_executor_job(
        overlapping_sources, hass, list(entry.subentries.values())
    )
    wanted = set()
    for overlap in overlaps:
        issue_id = ISSUE_SOURCES_OVERLAP.format(
            first=overlap.first.subentry_id, second=overlap.second.subentry_id
        )
        wanted.add(issue_id)
        _LOGGER.warning(
            "Sources %s and %s both handle the same %s (%s): each sighting they"
            " share is stored and announced twice until one is removed or changed",
            overlap.first.title,
            overlap.second.title,
            "uploads" if overlap.kind == "inbox" else "Frigate events",
            overlap.detail,
        )
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=f"sources_overlap_{overlap.kind}",
            translation_placeholders={
                "first": overlap.first.title,
                "second": overlap.second.title,
                "detail": overlap.detail,
            },
        )
    _forget_overlaps(hass, keep=wanted)
    entry.async_on_unload(partial(_forget_overlaps, hass))


@callback
def _forget_overlaps(
    hass: HomeAssistant, keep: set[str] | frozenset[str] = frozenset()
) -> None:
    prefix = ISSUE_SOURCES_OVERLAP.split("{", 1)[0]
    for domain, issue_id in list(ir.async_get(hass).issues):
        if domain == DOMAIN and issue_id.startswith(prefix) and issue_id not in keep:
            ir.async_delete_issue(hass, DOMAIN, issue_id)


async def async_start_sources(
    hass: HomeAssistant, entry: PlateTrackerConfigEntry, counters: Counter[str]
) -> list[asyncio.Task[None]]:
    """Start every source subentry; return their long-running tasks (none for push sources).

    Sources that double each other's sightings get a repair issue first.
    """
    await async_report_overlapping_sources(hass, entry)
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
        elif subentry.data[CONF_SOURCE] == SOURCE_ANPR:
            async_start_anpr(hass, entry, subentry, counters)
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
    if not await mqtt.async_wait_for_mqtt_client(hass):
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN, translation_key="mqtt_unavailable"
        )
    source = FrigateSource(hass, entry, subentry, pipeline, counters)
    await source.async_load_stream()
    prefix = mqtt_topic_prefix(subentry.data)
    entry.async_on_unload(
        await mqtt.async_subscribe(
            hass, f"{prefix}/events", source.message_received, encoding=None
        )
    )
    entry.async_on_unload(
        await mqtt.async_subscribe(
            hass, f"{prefix}/available", source.availability_received
        )
    )
    entry.async_on_unload(
        mqtt.async_subscribe_connection_status(hass, source.mqtt_state)
    )
    # A removed or reconfigured source must not leave its outage behind.
    entry.async_on_unload(source.monitor.async_forget_issues)
    entry.async_on_unload(source.async_save_stream)
    entry.async_on_unload(pipeline.on_engine_back(source.engine_back))
    source.mqtt_state(mqtt.is_connected(hass))
    entry.async_on_unload(
        async_track_time_interval(
            hass,
            source.probe,
            timedelta(seconds=FRIGATE_PROBE_SECONDS),
            name=f"{DOMAIN} frigate check {subentry.title}",
            cancel_on_shutdown=True,
        )
    )
    # Check at once, without holding up setup: the other sources, search and the
    # watchlist keep working while one NVR is down, and the sensors say so.
    entry.async_create_background_task(
        hass, source.probe(), name=f"{DOMAIN} frigate check {subentry.title}"
    )
    source.read_cameras_when_due()


def _stream_key(subentry_id: str) -> str:
    return f"{DOMAIN}.frigate_stream_{subentry_id}"


async def async_remove_stream_marks(
    hass: HomeAssistant, subentry_ids: list[str]
) -> None:
    """Remove the saved last-message times of these sources (the hub is being removed)."""
    for subentry_id in subentry_ids:
        await Store[dict[str, Any]](hass, 1, _stream_key(subentry_id)).async_remove()


class FrigateSource:
    """One Frigate source: its event messages in, frames for the pipeline out."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: PlateTrackerConfigEntry,
        subentry: ConfigSubentry,
        pipeline: SightingPipeline,
        counters: Counter[str],
    ) -> None:
        """Follow the source ``subentry`` of ``entry``."""
        self._hass = hass
        self._entry = entry
        self._title = subentry.title
        self._pipeline = pipeline
        self._counters = counters
        self._client = frigate_client(hass, subentry.data)
        self.monitor = FrigateConnectionMonitor(
            hass,
            entry,
            subentry,
            entry.runtime_data.source_status[subentry.subentry_id],
        )
        # The camera map's zones; a changed map reloads the entry and builds a new tracker.
        self._tracker = FrigateEventTracker(
            zone_directions=zone_directions(entry.options), counters=counters
        )
        self._downloads = SnapshotDownloads()
        # Only Frigate's own cameras are read; the list is kept across restarts.
        self._cameras = CameraGate(counters=counters)
        self._reading_cameras = False
        # Frames of one event are fetched one after another, so an ``end`` never
        # overtakes the ``update`` before it and splits the pass in two.
        self._last_fetch: dict[str, asyncio.Task[None]] = {}
        # When the last event message came, kept across restarts: after a gap in
        # the stream, the events that ended in it are asked of Frigate's API.
        self._stream_store: Store[dict[str, Any]] = Store(
            hass, 1, _stream_key(subentry.subentry_id)
        )
        self._last_message: float | None = None
        self._gaps: dict[bool, float] = {}
        """By ``again``, the earliest start of the gaps whose events are not listed yet."""
        self._listing: set[bool] = set()
        """The kinds of gap (``again``) whose events are being listed now."""
        self._missed: deque[FrigateFrameRequest] = deque()
        """Ends of missed events whose snapshots are still to be read."""
        self._missed_since: float | None = None
        """The earliest start of the gaps whose events wait in ``_missed``."""
        self._reading_missed = False
        self._frigate_offline = False
        """Frigate said ``offline`` on ``<prefix>/available``: its events do not come."""

    @property
    def _mqtt_connected(self) -> bool:
        return self.monitor.status.mqtt.available is True

    async def async_load_stream(self) -> None:
        """Load when the last event message came, and any gap still unread, before Home Assistant stopped."""
        saved = await self._stream_store.async_load() or {}
        last: Any = saved.get("last_message")
        self._last_message = float(last) if is_finite_number(last) else None
        unread: Any = saved.get("unread_since")
        if is_finite_number(unread):
            self._gaps[False] = float(unread)
        cameras: Any = saved.get("cameras")
        if isinstance(cameras, list) and all(isinstance(c, str) for c in cameras):
            self._cameras = CameraGate(cameras, counters=self._counters)

    async def async_save_stream(self) -> None:
        """Save when the last event message came, any gap still unread and Frigate's cameras, now (the source is unloaded)."""
        if self._last_message is not None or self._cameras.cameras is not None:
            await self._stream_store.async_save(self._stream_data())

    def _stream_data(self) -> dict[str, Any]:
        """Return what is kept across restarts.

        ``unread_since`` is the start of the earliest gap whose events are not
        all read (Frigate could not list them yet, or their snapshots wait):
        messages after the gap move ``last_message`` on, and a restart must
        still read that gap. After a restart no end is remembered, so the gap
        is read like one in the stream. ``cameras`` is Frigate's last camera
        list: after a restart while Frigate is down, its cameras' events are
        read at once.
        """
        data: dict[str, Any] = {"last_message": self._last_message}
        if self._cameras.cameras is not None:
            data["cameras"] = sorted(self._cameras.cameras)
        starts = [*self._gaps.values()]
        if self._missed_since is not None:
            starts.append(self._missed_since)
        if starts:
            data["unread_since"] = min(starts)
        return data

    @callback
    def _save_stream_later(self) -> None:
        self._stream_store.async_delay_save(self._stream_data, STREAM_SAVE_DELAY)

    @callback
    def message_received(self, msg: mqtt.ReceiveMessage) -> None:
        """Turn one message of ``<prefix>/events`` into a frame to read, if it brings one."""
        self._counters["mqtt_messages"] += 1
        if msg.retain:
            # Frigate never retains its event messages: a retained one (a bridge,
            # a user's test) is old, and the broker gives it at every subscribe.
            self._counters["mqtt_retained"] += 1
            _LOGGER.warning(
                "Ignored a retained message on %s: Frigate's event messages are "
                "never retained, so it is an old one (clear it on the broker)",
                msg.topic,
            )
            return
        self._last_message = time.time()
        self._save_stream_later()
        try:
            event_type, after = parse_event_message(msg.payload)
        except MalformedEventError as err:
            self._counters["mqtt_malformed"] += 1
            _LOGGER.warning("Ignored a malformed message on %s: %s", msg.topic, err)
            return
        if self._cameras.admit(event_type, after, size=len(msg.payload)):
            self._handle(event_type, after)
        else:
            self.read_cameras_when_due()

    @callback
    def _handle(self, event_type: str, after: dict[str, Any]) -> None:
        if (request := self._tracker.handle_event(event_type, after)) is not None:
            self._follow(request)

    @callback
    def read_cameras_when_due(self) -> None:
        """Read Frigate's camera list (at start, and for a camera it did not list), at its pace."""
        if self._reading_cameras or self._cameras.wait(time.time()) is None:
            return
        self._reading_cameras = True
        self._entry.async_create_background_task(
            self._hass,
            self._read_cameras(),
            name=f"{DOMAIN} frigate cameras {self._title}",
        )

    async def _read_cameras(self) -> None:
        """Read the camera list until it is read and no message waits for it.

        While Frigate does not answer, it is asked again at the list's pace;
        the messages held meanwhile wait (``CameraGate``).
        """
        try:
            while (delay := self._cameras.wait(time.time())) is not None:
                if delay:
                    await asyncio.sleep(delay)
                self._cameras.tried(time.time())
                try:
                    cameras = await self._client.camera_zones()
                except (FrigateUnreachableError, FrigateAuthError) as err:
                    self.monitor.api_failed(err)
                    _LOGGER.debug(
                        "Frigate source %s: could not read its camera list; %d "
                        "messages wait for it: %s",
                        self._title,
                        self._cameras.held,
                        err,
                    )
                    continue
                except FrigateError as err:
                    # Frigate is up (a proxy in front of it may refuse the path).
                    self.monitor.api_succeeded()
                    for message in self._cameras.unlisted(err):
                        self._handle(message.event_type, message.after)
                    continue
                self.monitor.api_succeeded()
                for message in self._cameras.listed(cameras):
                    self._handle(message.event_type, message.after)
                self._save_stream_later()
        finally:
            self._reading_cameras = False

    @callback
    def mqtt_state(self, connected: bool) -> None:
        """Show the broker's state; once connected, read what ended while it was not."""
        was_connected = self._mqtt_connected
        self.monitor.mqtt_state(connected)
        if connected and not was_connected:
            self._catch_up_stream()

    @callback
    def availability_received(self, msg: mqtt.ReceiveMessage) -> None:
        """Follow ``<prefix>/available``: Frigate back ``online`` after ``offline`` is a gap.

        Frigate's broker connection may drop while Home Assistant's stays: its
        last will says ``offline``, and the events of that time come only from
        its API. The retained ``online`` each subscription gets is no gap.
        """
        state = msg.payload
        if state == "offline":
            if not self._frigate_offline:
                _LOGGER.info(
                    "Frigate source %s says it is offline on the broker", self._title
                )
            self._frigate_offline = True
        elif state == "online":
            if self._frigate_offline:
                self._frigate_offline = False
                _LOGGER.info(
                    "Frigate source %s is online on the broker again; reading the "
                    "events it ended meanwhile",
                    self._title,
                )
                self._catch_up_stream()
        else:
            self._counters["mqtt_malformed"] += 1
            _LOGGER.warning(
                "Ignored a message on %s that is neither online nor offline: %s",
                msg.topic,
                ascii(str(state)[:40]),
            )

    @callback
    def _catch_up_stream(self) -> None:
        """Read what ended since the last message (or an earlier gap still unread)."""
        since = self._gaps.get(False, self._last_message)
        if since is not None and self._mqtt_connected:
            self._start(self._catch_up(since))

    async def probe(self, _: datetime | None = None) -> None:
        """Ask Frigate for its stats, so an outage shows even while cameras are quiet."""
        try:
            await self._client.check_access()
        except FrigateError as err:
            self._counters["frigate_probe_errors"] += 1
            self.monitor.api_failed(err)
            return
        self.monitor.api_succeeded()
        if self._mqtt_connected:
            for again, since in list(self._gaps.items()):
                if again not in self._listing:
                    self._start(self._catch_up(since, again=again))
        if self._missed and not self._reading_missed:
            self._start(self._read_missed())

    @callback
    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        self._entry.async_create_background_task(
            self._hass, work, name=f"{DOMAIN} frigate missed events {self._title}"
        )

    @callback
    def _follow(self, request: FrigateFrameRequest) -> None:
        event_id = request.event_id
        task = self._entry.async_create_background_task(
            self._hass,
            self._fetch_and_offer(request, self._last_fetch.get(event_id)),
            name=f"{DOMAIN} frigate event {event_id}",
        )
        self._last_fetch[event_id] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._last_fetch.get(event_id) is done:
                del self._last_fetch[event_id]

        task.add_done_callback(forget)

    @callback
    def engine_back(self, since: float) -> None:
        """Read again the events that ended while the engine could not read them."""
        self._start(self._catch_up(since, again=True))

    async def _catch_up(self, since: float, *, again: bool = False) -> None:
        """Read the events that ended while their messages did not come.

        ``again``: while the engine could not read them; their messages came.
        A gap of the same kind not listed yet (Frigate did not answer) is read
        with it: it starts the listing, and stays kept until the listing works.
        """
        gap = min(since, self._gaps.get(again, since))
        self._gaps[again] = gap
        self._listing.add(again)
        self._save_stream_later()
        now = time.time()
        since = max(gap - MISSED_EVENTS_MARGIN, now - MISSED_EVENTS_MAX_AGE)
        try:
            events = await self._client.ended_events(since - MISSED_EVENTS_LONGEST, now)
        except FrigateError as err:
            self._counters["missed_event_list_errors"] += 1
            self.monitor.api_failed(err)
            # Asked again when Frigate answers the next check (it may be starting too).
            _LOGGER.warning(
                "Could not ask Frigate source %s for the events whose MQTT messages "
                "did not come; asking again when it answers: %s",
                self._title,
                err,
            )
            return
        finally:
            self._listing.discard(again)
        if self._gaps.get(again) == gap:
            del self._gaps[again]
        self.monitor.api_succeeded()
        if len(events) >= MISSED_EVENTS_MAX:
            _LOGGER.warning(
                "Frigate source %s lists %d or more events since its last message; "
                "only the last %d are read",
                self._title,
                MISSED_EVENTS_MAX,
                MISSED_EVENTS_MAX,
            )
        missed = [
            event
            for event in events
            if is_finite_number(event.get("end_time"))
            and event["end_time"] >= since
            and (again or not self._tracker.ended(event["id"]))
        ]
        try:
            stored = await self._hass.async_add_executor_job(
                self._entry.runtime_data.store.stored_events,
                SOURCE_FRIGATE,
                [(event["camera"], event["id"]) for event in missed],
            )
        except (sqlite3.Error, RuntimeError):
            # The store cannot answer now: a pass read twice updates its one sighting.
            stored = set()
        requests = [
            request
            for event in missed
            if event["id"] not in stored
            and (request := self._tracker.handle_missed(event, again=again)) is not None
        ]
        if not requests:
            self._save_stream_later()
            return
        _LOGGER.info(
            "Frigate source %s: reading %d events that ended while %s",
            self._title,
            len(requests),
            "the engine could not read them"
            if again
            else "their MQTT messages did not come",
        )
        self._missed.extend(requests)
        if self._missed_since is None or gap < self._missed_since:
            self._missed_since = gap
        await self._read_missed()

    async def _read_missed(self) -> None:
        """Read the missed events' snapshots one at a time, as the engine takes them.

        Neither Frigate nor memory is given a thousand snapshots at once. While
        Frigate does not answer, the rest wait for its next answer to a check.
        """
        if self._reading_missed:
            return
        self._reading_missed = True
        try:
            while self._missed:
                request = self._missed[0]
                try:
                    image: bytes | None = await self._client.event_snapshot(
                        request.event_id
                    )
                except (FrigateUnreachableError, FrigateAuthError) as err:
                    self.monitor.api_failed(err)
                    _LOGGER.debug(
                        "Frigate source %s: %d missed events wait for Frigate: %s",
                        self._title,
                        len(self._missed),
                        err,
                    )
                    return
                except FrigateError as err:
                    # Frigate answered: this event has no snapshot (any more).
                    self.monitor.api_succeeded()
                    self._counters["snapshot_fetch_errors"] += 1
                    _LOGGER.debug(
                        "No snapshot of missed event %s: %s", request.event_id, err
                    )
                    image = None
                else:
                    self.monitor.api_succeeded()
                self._missed.popleft()
                self._counters["missed_events_read"] += 1
                # Without an image it still ends a pass seen before the gap.
                await self._pipeline.put(
                    self._frame_of(request, image, snapshot_lost=image is None)
                )
            self._missed_since = None
            self._save_stream_later()
        finally:
            self._reading_missed = False

    async def _fetch_and_offer(
        self, request: FrigateFrameRequest, previous: asyncio.Task[None] | None
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        if (frame := await self._frame(request)) is not None:
            self._pipeline.offer(frame)

    async def _frame(self, request: FrigateFrameRequest) -> Frame | None:
        """Download the request's snapshot if it is wanted; return the frame to read, if any."""
        image: bytes | None = None
        snapshot_lost = False
        if self._downloads.wanted(request):
            image = await self._download(request)
            snapshot_lost = image is None
            # Without Frigate's own read there is nothing to read; an end still closes the pass.
            if snapshot_lost and not request.final and not request.anpr_plate:
                return None
        if request.final:
            self._downloads.ended(request.event_id)
        return self._frame_of(request, image, snapshot_lost=snapshot_lost)

    @staticmethod
    def _frame_of(
        request: FrigateFrameRequest, image: bytes | None, *, snapshot_lost: bool
    ) -> Frame:
        return Frame(
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

    async def _download(self, request: FrigateFrameRequest) -> bytes | None:
        """Return the request's snapshot, or None (counted and logged) when Frigate gave none."""
        delays = iter(self._downloads.retry_delays(request))
        while True:
            try:
                image = await self._client.event_snapshot(request.event_id)
            except FrigateError as err:
                self.monitor.api_failed(err)
                delay = (
                    next(delays, None)
                    if isinstance(err, FrigateUnreachableError)
                    else None
                )
                if delay is None:
                    self._lost(request, err)
                    return None
            else:
                self.monitor.api_succeeded()
                self._downloads.downloaded(request.event_id)
                return image
            self._counters["snapshot_fetch_retries"] += 1
            try:
                await asyncio.sleep(delay)
            except asyncio.CancelledError:
                # Home Assistant stops, or the source is reloaded: say what is lost.
                self._counters["snapshot_fetch_errors"] += 1
                _LOGGER.warning(
                    "Gave up the snapshot of Frigate event %s (camera %s): Frigate "
                    "had not answered since the event ended",
                    request.event_id,
                    request.camera,
                )
                raise

    def _lost(self, request: FrigateFrameRequest, err: FrigateError) -> None:
        self._counters["snapshot_fetch_errors"] += 1
        # An outage is logged once, by the monitor; each lost frame is counted.
        outage = isinstance(err, (FrigateUnreachableError, FrigateAuthError))
        _LOGGER.log(
            logging.DEBUG if outage else logging.WARNING,
            "Could not fetch the snapshot of Frigate event %s: %s",
            request.event_id,
            err,
        )
        self._downloads.failed(request.event_id)


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
        counters=counters,
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

    def read_whole(file: InboxFile, now: float) -> bytes | None:
        """Return the file's bytes, or None while it ends before its image does (an upload under way)."""
        image = inbox.read(file)
        return None if inbox.still_arriving(file, image, now) else image

    async def read_file(file: InboxFile) -> None:
        try:
            image = await hass.async_add_executor_job(read_whole, file, time.time())
            if image is None:
                _LOGGER.debug(
                    "Inbox %s: %s ends before its image does; its upload may go on",
                    inbox.root,
                    file.path.name,
                )
                return
            await pipeline.submit(
                Frame(
                    image=image,
                    camera=file.camera,
                    seen_at=file.seen_at,
                    source=SOURCE_FOLDER,
                    direction=file.direction,
                )
            )
        except (ImageRejectedError, FileTooLargeError) as err:
            # Only the picture's own fault sets it aside. Any other error (the
            # store refusing the sighting) leaves it in the inbox, read again.
            reason = str(err)
            if (
                isinstance(err, ImageRejectedError)
                # The engine's decoder knows more formats than the inbox's check.
                and "truncated" in reason.lower()
                and inbox.wait_for_rest(file, time.time())
            ):
                return
            if inbox.broke_off(file):
                counters["inbox_incomplete"] += 1
                reason = (
                    f"the upload ended before the image did and did not go on for "
                    f"{UPLOAD_STALL_SECONDS:.0f} s: {reason}"
                )
            counters["inbox_rejected"] += 1
            await hass.async_add_executor_job(inbox.reject, file, reason)
            return
        counters["inbox_files"] += 1
        await hass.async_add_executor_job(inbox.finish, file)

    async def read_failed(file: InboxFile, err: Exception) -> None:
        """Set a file aside once reading it failed ``POISON_ATTEMPTS`` times for its own sake.

        Tried again at each poll first (the next try may work), then moved to
        ``.rejected/`` and counted: tried forever, it would fail at each poll.
        """
        counters["inbox_errors"] += 1
        attempts = await hass.async_add_executor_job(inbox.failed_attempt, file)
        if attempts == 1:
            _LOGGER.warning(
                "Inbox %s: reading %s failed; tried again up to %d times",
                inbox.root,
                file.path.name,
                POISON_ATTEMPTS - 1,
                exc_info=err,
            )
        if attempts >= POISON_ATTEMPTS:
            counters["inbox_poison"] += 1
            await hass.async_add_executor_job(
                inbox.reject,
                file,
                f"reading it failed {attempts} times: {type(err).__name__}: {err}",
            )

    async def watch() -> None:
        store_failing = False
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
                    except EngineUnavailableError as err:
                        # The engine server is down (its sensor and repair issue say
                        # so): the files wait in the inbox, read once it answers.
                        counters["inbox_engine_unavailable"] += 1
                        _LOGGER.debug(
                            "Inbox %s waits for the engine: %s", inbox.root, err
                        )
                        break
                    except (sqlite3.Error, PipelineStoppedError):
                        # The store (or the pipeline) fails for every file alike:
                        # the files stay, read again at the next poll.
                        raise
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
                    except Exception as err:  # noqa: BLE001 - whatever fails on this file alone
                        await read_failed(file, err)
            except (sqlite3.Error, PipelineStoppedError) as err:
                # The file stays in the inbox and is read again; the outage is
                # logged once (the store's own repair issue explains it).
                counters["inbox_errors"] += 1
                _LOGGER.log(
                    logging.DEBUG if store_failing else logging.WARNING,
                    "Inbox %s: the sightings store refuses writes, files wait: %s",
                    inbox.root,
                    err,
                )
                store_failing = True
            else:
                store_failing = False
            await asyncio.sleep(INBOX_POLL_SECONDS)

    return entry.async_create_background_task(
        hass, watch(), name=f"{DOMAIN} inbox {inbox.root}"
    )
