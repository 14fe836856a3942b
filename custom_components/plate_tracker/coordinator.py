"""Runtime data of a plate_tracker entry and the hub that tells Home Assistant about sightings."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.storage import Store

from .alerts import WatchlistAlerts
from .const import (
    DOMAIN,
    EVENT_SIGHTING,
    SIGNAL_NEW_CAMERA,
    SIGNAL_SIGHTING,
    SIGNAL_SIGHTINGS_REMOVED,
)
from .engine.types import Box, FrameResult
from .pipeline import SightingPipeline
from .records import Sighting
from .sources.health import ConnectionHealth
from .store import PurgeReport, SightingStore

if TYPE_CHECKING:
    from .engine.recognizer import PlateRecognizer
    from .routes import RouteTracker

type PlateTrackerConfigEntry = ConfigEntry[PlateTrackerRuntimeData]


class Engine(Protocol):
    """Reads plates: in Home Assistant's executor, or on an engine server.

    ``read`` raises ``ValueError`` for an image the engine refuses and
    ``EngineUnavailableError`` when an engine server gives no usable answer.
    """

    async def read(
        self,
        image: bytes,
        vehicle_box: Box | None = None,
        plate_hint: Box | None = None,
    ) -> FrameResult:
        """Return the plates read in ``image`` (see ``PlateRecognizer.read``)."""
        ...


class LocalEngine:
    """The engine in this process: reads run in Home Assistant's executor.

    Each recognizer reads one image at a time; with several, as many images
    are read at once (the pipeline's parallel reads, and a service call beside
    them), each on a free one.
    """

    def __init__(
        self, hass: HomeAssistant, recognizers: Sequence[PlateRecognizer]
    ) -> None:
        """Wrap loaded recognizers (at least one)."""
        self._hass = hass
        self.workers = len(recognizers)
        """How many images it reads at once."""
        self._free: asyncio.Queue[PlateRecognizer] = asyncio.Queue()
        for recognizer in recognizers:
            self._free.put_nowait(recognizer)

    async def read(
        self,
        image: bytes,
        vehicle_box: Box | None = None,
        plate_hint: Box | None = None,
    ) -> FrameResult:
        """Return the plates read in ``image``.

        Cancelled (the pipeline stopping), the read's executor thread runs
        on: its recognizer goes back to the pool only once the thread is done
        with it, or a next read would use it at the same time.
        """
        recognizer = await self._free.get()
        try:
            reading = self._hass.async_add_executor_job(
                recognizer.read, image, vehicle_box, plate_hint
            )
        except BaseException:
            self._free.put_nowait(recognizer)
            raise
        reading.add_done_callback(lambda _: self._free.put_nowait(recognizer))
        return await asyncio.shield(reading)


def sighting_payload(sighting: Sighting) -> dict[str, Any]:
    """Return the JSON-able form of a sighting used in events and service responses."""
    return {
        "sighting_id": sighting.id,
        "plate": sighting.plate,
        "raw": sighting.raw,
        "confidence": round(sighting.confidence, 4),
        "camera": sighting.camera,
        "seen_at": sighting.seen_at.isoformat(),
        "source": sighting.source,
        "event_id": sighting.event_id,
        "region": sighting.region,
        "direction": sighting.direction.value,
        "reader": sighting.reader.value,
        "box": list(sighting.box) if sighting.box else None,
        "alternatives": [
            {"plate": text, "confidence": round(score, 4)}
            for text, score in sighting.alternatives
        ],
    }


def loaded_hub(hass: HomeAssistant) -> PlateTrackerConfigEntry | None:
    """Return the loaded Plate Tracker hub (one config entry at most), or None."""
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.state is ConfigEntryState.LOADED:
            return entry
    return None


@callback
def async_abort_reauth(hass: HomeAssistant, entry: ConfigEntry, step_id: str) -> None:
    """End the hub's reauth flow at ``step_id``: the credential it asks for works again.

    A login refused for a moment (Frigate restarting, a server restarted with
    its old token) must not leave a prompt behind once everything works.
    ``step_id`` is the flow's step: ``reauth_engine`` or ``reauth_frigate``.
    """
    for flow in hass.config_entries.flow.async_progress_by_handler(
        DOMAIN, match_context={"source": SOURCE_REAUTH, "entry_id": entry.entry_id}
    ):
        if flow["step_id"] == step_id:
            hass.config_entries.flow.async_abort(flow["flow_id"])


def sighting_with_links(
    entry: PlateTrackerConfigEntry, sighting: Sighting
) -> dict[str, Any]:
    """Return a sighting as services and the dashboard card show it.

    With signed image links, and the camera's name from the camera map (its id
    when the camera is not on the map).
    """
    alerts = entry.runtime_data.alerts
    return {
        **sighting_payload(sighting),
        "camera_name": alerts.camera_names.get(sighting.camera, sighting.camera),
        "legal_hold": sighting.legal_hold,
        "crop_url": alerts.image_url(sighting.id, "crop")
        if sighting.has_crop
        else None,
        "snapshot_url": alerts.image_url(sighting.id, "snapshot")
        if sighting.has_snapshot
        else None,
    }


@dataclass(slots=True)
class SightingHub:
    """Keeps the last sighting per camera and announces new ones.

    Entities subscribe to the dispatcher signals; automations get the bus event.
    """

    hass: HomeAssistant
    entry_id: str
    alerts: WatchlistAlerts
    listeners: list[Callable[[Sighting], Coroutine[Any, Any, None]]] = field(
        default_factory=list
    )
    """Coroutines run for every announced sighting (watchlist matching, routes)."""
    last_by_camera: dict[str, Sighting] = field(default_factory=dict)
    known_cameras: set[str] = field(default_factory=set)
    retired_cameras: dict[str, str] = field(default_factory=dict)
    """Cameras whose device the user deleted, with when (ISO time): not recreated
    at start-up from old sightings, only when the camera reports again."""
    retired_store: Store[dict[str, Any]] | None = None
    retired_unsaved: bool = False
    """Whether ``retired_cameras`` changed since it was last written at once."""
    pending: set[asyncio.Task[Any]] = field(default_factory=set)
    """Listener runs not finished yet; unloading waits for them before closing the store."""

    def signal(self, template: str) -> str:
        """Return the dispatcher signal of this entry for a SIGNAL_* template."""
        return template.format(entry_id=self.entry_id)

    @callback
    def async_add_camera(self, camera: str) -> None:
        """Make a device and entities for a camera seen for the first time."""
        if camera not in self.known_cameras:
            self.known_cameras.add(camera)
            if self.retired_cameras.pop(camera, None) is not None:
                self._async_save_retired()
            async_dispatcher_send(self.hass, self.signal(SIGNAL_NEW_CAMERA), camera)

    @callback
    def async_retire_camera(self, camera: str, when: datetime) -> None:
        """Forget a camera the user deleted the device of (it returns if it reports again)."""
        self.known_cameras.discard(camera)
        self.retired_cameras[camera] = when.isoformat()
        self._async_save_retired()

    @callback
    def _async_save_retired(self) -> None:
        if self.retired_store is not None:
            self.retired_unsaved = True
            self.retired_store.async_delay_save(self._retired_data, 1)

    def _retired_data(self) -> dict[str, Any]:
        return {"cameras": dict(self.retired_cameras)}

    async def async_save_retired_now(self) -> None:
        """Write a change of the retired cameras still waiting for its delayed save.

        The entry unloads: the next setup reads the file, maybe before the delay ends.
        """
        if self.retired_store is not None and self.retired_unsaved:
            self.retired_unsaved = False
            await self.retired_store.async_save(self._retired_data())

    async def async_sightings_removed(self, store: SightingStore) -> None:
        """Show what the store still holds once a purge erased sightings.

        Each camera's latest sighting is read again (a camera whose sightings
        are all gone shows none), and each watchlist entry's last hit where
        its sighting is gone; then entities and the route tracker are told,
        so no state keeps showing an erased sighting until a restart.
        """
        latest = await self.hass.async_add_executor_job(store.latest_per_camera)
        for camera in set(self.last_by_camera) - set(latest):
            del self.last_by_camera[camera]
        self.last_by_camera.update(latest)
        await self.alerts.async_forget_erased_hits()
        async_dispatcher_send(self.hass, self.signal(SIGNAL_SIGHTINGS_REMOVED))

    @callback
    def async_publish(self, sighting: Sighting) -> None:
        """Announce a finished sighting to entities and to the event bus."""
        self.async_add_camera(sighting.camera)
        self.last_by_camera[sighting.camera] = sighting
        async_dispatcher_send(self.hass, self.signal(SIGNAL_SIGHTING), sighting)
        self.alerts.async_fire_event(
            EVENT_SIGHTING,
            {"config_entry_id": self.entry_id, **sighting_payload(sighting)},
        )
        for listener in (self.alerts.async_handle_sighting, *self.listeners):
            self.async_run_tracked(
                listener(sighting), f"{DOMAIN} sighting {sighting.id}"
            )

    @callback
    def async_run_tracked(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        """Run work that uses the store; unloading waits for it before closing the store."""
        task = self.hass.async_create_task(work, name, eager_start=True)
        if not task.done():
            self.pending.add(task)
            task.add_done_callback(self.pending.discard)


@dataclass(slots=True)
class SourceStatus:
    """What is known about the connections of one source.

    A Frigate source uses ``api`` and ``mqtt``, an inbox-folder source ``inbox``,
    an ANPR camera's webhook ``last_request`` and ``last_read``.
    """

    title: str
    kind: str
    """``frigate``, ``folder`` or ``anpr``."""
    api: ConnectionHealth = field(default_factory=ConnectionHealth)
    """Frigate's HTTP API: snapshot downloads and the periodic check."""
    mqtt: ConnectionHealth = field(default_factory=ConnectionHealth)
    """Home Assistant's MQTT client, which brings Frigate's events."""
    inbox: ConnectionHealth = field(default_factory=ConnectionHealth)
    """The inbox folder: present and readable at the last polls."""
    last_request: datetime | None = None
    """When the ANPR camera last sent anything (a heartbeat, a refused request too)."""
    last_read: datetime | None = None
    """When the ANPR camera last sent a read."""


@dataclass(slots=True)
class PlateTrackerRuntimeData:
    """What a loaded entry holds."""

    store: SightingStore
    engine: Engine
    pipeline: SightingPipeline
    hub: SightingHub
    alerts: WatchlistAlerts
    source_counters: Counter[str]
    """What the source counted: messages, malformed payloads, fetch errors, files."""
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    """The sources' background work, stopped first when the entry unloads."""
    pipeline_task: asyncio.Task[None] | None = None
    """The pipeline's worker: stopped once it has read what the sources sent."""
    routes: RouteTracker | None = None
    """Routes and city status; set once the camera map is loaded."""
    engine_device_id: str | None = None
    """Device registry id of the engine's device, the parent of the cameras' devices."""
    last_purge: tuple[datetime, PurgeReport] | None = None
    """When the retention purge last ran and what it removed."""
    source_status: dict[str, SourceStatus] = field(default_factory=dict)
    """By source subentry id, the connections of each source."""
