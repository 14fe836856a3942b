"""Watchlist hits: match every announced sighting, record the hit, alert once per pass."""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import logging
import secrets
import sqlite3
from typing import Any

from homeassistant.core import CALLBACK_TYPE, CoreState, HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.network import NoURLAvailableError, get_url
from homeassistant.helpers.start import async_at_started
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import (
    DOMAIN,
    EVENT_WATCHLIST_HIT,
    IMAGE_URL_PATH,
    SIGNAL_WATCHLIST_CHANGED,
    SIGNAL_WATCHLIST_HIT,
)
from .matching.cooldown import AlertCooldown
from .matching.signing import UrlSigner
from .matching.similarity import is_strong_match
from .matching.watchlist import (
    CompiledWatchlist,
    WatchlistHit,
    parse_plate_or_pattern,
    vehicle_of,
)
from .plate_text import is_pattern
from .records import MatchKind, Sighting, WatchlistEntry
from .store import RouteRow, SightingStore, StoreValidationError
from .store.models import ImageKind

_LOGGER = logging.getLogger(__name__)

SECRET_STORAGE_KEY = f"{DOMAIN}.url_secret"
RECENT_SIGHTINGS = 5
MAX_REMEMBERED_HITS = 10_000
"""Hit ids remembered as handled, so a correction of an older sighting does not alert again."""
EVENTS_AFTER_START = timedelta(seconds=5)
"""Automations arm their triggers only as Home Assistant finishes starting (in a
task of their own at ``homeassistant_started``, or in a startup job just before
it, depending on the version): events made before (hits and city exits of
spooled sightings replayed, early camera events) are fired this long after the
start, or no automation would hear them."""
MAX_HELD_EVENTS = 10_000
"""Beyond this many held events the oldest is fired at once (memory stays bounded)."""


async def async_load_url_signer(hass: HomeAssistant) -> UrlSigner:
    """Return the signer of image URLs; its key is made once and kept in .storage."""
    store: Store[dict[str, str]] = Store(hass, 1, SECRET_STORAGE_KEY, private=True)
    data = await store.async_load()
    if data is None or "secret" not in data:
        data = {"secret": secrets.token_hex(32)}
        await store.async_save(data)
    return UrlSigner(bytes.fromhex(data["secret"]))


@dataclass(frozen=True, slots=True, kw_only=True)
class LastHit:
    """The latest stored hit of a watchlist entry, as its sensor shows it."""

    hit_id: int
    sighting_id: int
    camera: str
    seen_at: datetime
    plate_read: str
    match_kind: str


@dataclass(slots=True)
class WatchlistAlerts:
    """Matches sightings against the watchlist and announces the hits."""

    hass: HomeAssistant
    entry_id: str
    store: SightingStore
    signer: UrlSigner
    cooldown: AlertCooldown
    url_lifetime: timedelta
    camera_names: dict[str, str] = field(default_factory=dict)
    entries: list[WatchlistEntry] = field(default_factory=list)
    last_hit_by_entry: dict[int, LastHit] = field(default_factory=dict)
    city_status: Callable[[str], Awaitable[str]] | None = None
    """Returns a plate's city status (inside, left, entered, unknown) for the alert."""
    _compiled: CompiledWatchlist = field(default_factory=lambda: CompiledWatchlist(()))
    _watchlist_reads: int = 0
    """Reads of the watchlist started; each takes the next number."""
    _watchlist_shown: int = 0
    """The number of the read the index holds: an older read that ends later is dropped."""
    _handled_hits: OrderedDict[int, None] = field(default_factory=OrderedDict)
    _sightings_handled: int = 0
    _unfinished: dict[int, asyncio.Event] = field(default_factory=dict)
    """Sightings being handled, by their number in announcement order."""
    _held: deque[tuple[str, dict[str, Any]]] | None = None
    """Bus events held while Home Assistant starts, in order; None once fired."""

    @callback
    def async_hold_until_started(self) -> CALLBACK_TYPE:
        """Hold bus events until automations listen (``EVENTS_AFTER_START`` after the start).

        Returns the callback that stops waiting and fires what is held (at unload).
        """
        if self.hass.state is CoreState.running:
            return lambda: None
        self._held = deque()
        cancel_timer: CALLBACK_TYPE | None = None

        @callback
        def release(_now: datetime | None = None) -> None:
            held, self._held = self._held or deque(), None
            for event_type, data in held:
                self.hass.bus.async_fire(event_type, data)

        @callback
        def started(_hass: HomeAssistant) -> None:
            nonlocal cancel_timer
            cancel_timer = async_call_later(self.hass, EVENTS_AFTER_START, release)

        stop_waiting = async_at_started(self.hass, started)

        @callback
        def unload() -> None:
            stop_waiting()
            if cancel_timer is not None:
                cancel_timer()
            release()

        return unload

    @callback
    def async_fire_event(self, event_type: str, data: dict[str, Any]) -> None:
        """Fire a bus event for automations (sightings, hits, city exits), held at startup."""
        if self._held is None:
            self.hass.bus.async_fire(event_type, data)
            return
        # Behind the events held before it: automations hear them in order.
        self._held.append((event_type, data))
        if len(self._held) > MAX_HELD_EVENTS:
            self.hass.bus.async_fire(*self._held.popleft())

    async def async_reload_watchlist(self) -> None:
        """Read the watchlist from the store and index it; tell entities it changed."""
        self._watchlist_reads += 1
        read = self._watchlist_reads
        entries = await self.hass.async_add_executor_job(self.store.watchlist)
        if read < self._watchlist_shown:
            # A read started later (after a later change) was indexed already.
            return
        self._async_index_watchlist(entries, read)

    @callback
    def async_set_watchlist(self, entries: list[WatchlistEntry]) -> None:
        """Index the watchlist as the store now holds it; tell entities it changed."""
        self._watchlist_reads += 1
        self._async_index_watchlist(entries, self._watchlist_reads)

    @callback
    def _async_index_watchlist(self, entries: list[WatchlistEntry], read: int) -> None:
        self._watchlist_shown = read
        self.entries = entries
        self._compiled = CompiledWatchlist(entries)
        # The last hit of an entry taken off the list is shown nowhere; a list
        # replaced day after day would otherwise grow this for ever.
        listed = {entry.id for entry in entries}
        for entry_id in set(self.last_hit_by_entry) - listed:
            del self.last_hit_by_entry[entry_id]
        async_dispatcher_send(
            self.hass, SIGNAL_WATCHLIST_CHANGED.format(entry_id=self.entry_id)
        )

    def image_url(self, sighting_id: int, kind: ImageKind) -> str:
        """Return a signed, expiring URL that opens one image of one sighting."""
        path = IMAGE_URL_PATH.format(sighting_id=sighting_id, kind=kind)
        query = self.signer.sign(path, dt_util.utcnow() + self.url_lifetime)
        try:
            base = get_url(self.hass, prefer_external=True)
        except NoURLAvailableError:
            base = ""
        return f"{base}{path}?{query}"

    def _hits(
        self,
        plate: str,
        alternatives: Sequence[tuple[str, float]],
        camera: str,
        at: datetime,
    ) -> list[WatchlistHit]:
        """Match one read against the watchlist, in Home Assistant's time zone."""
        return self._compiled.match(
            plate=plate,
            alternatives=alternatives,
            camera=camera,
            at=at,
            tz=dt_util.get_default_time_zone(),
        )

    def is_watched(
        self,
        plate: str,
        alternatives: Sequence[tuple[str, float]],
        camera: str,
        at: datetime,
    ) -> bool:
        """Whether a read matches a watched plate exactly, by pattern or by look-alikes.

        The best read or any alternative may match. A match by one edit does
        not count: it is how reads of other cars match.
        """
        return any(
            is_strong_match(hit.kind)
            for hit in self._hits(plate, alternatives, camera, at)
        )

    async def async_handle_sighting(self, sighting: Sighting) -> None:
        """Record every hit of a sighting; alert for those that start a new pass."""
        self._sightings_handled += 1
        number = self._sightings_handled
        finished = self._unfinished[number] = asyncio.Event()
        try:
            await self._async_handle_sighting(sighting, number)
        finally:
            del self._unfinished[number]
            finished.set()

    async def _async_after_earlier_sightings(self, number: int) -> None:
        """Wait until the sightings announced before sighting ``number`` are handled.

        Their hits are recorded in executor threads and may finish later: alerts
        must still reach the bus in the order the sightings were announced.
        """
        for earlier in [
            finished for other, finished in self._unfinished.items() if other < number
        ]:
            await earlier.wait()

    async def _async_handle_sighting(self, sighting: Sighting, number: int) -> None:
        hits = self._hits(
            sighting.plate, sighting.alternatives, sighting.camera, sighting.seen_at
        )
        for hit in hits:
            if hit.entry.id is None:  # only stored entries (with ids) are ever compiled
                continue
            try:
                hit_id, recorded_before = await self.hass.async_add_executor_job(
                    self._record_hit, sighting.id, hit.entry.id, hit
                )
            except StoreValidationError as err:
                if err.translation_key != "watchlist_entry_not_found":
                    raise
                # Removed (or dropped by an import) after this sighting was
                # matched; the index is being rebuilt. The other entries' hits
                # still count.
                _LOGGER.debug(
                    "Watchlist entry %s was removed while sighting %s was matched",
                    hit.entry.id,
                    sighting.id,
                )
                continue
            # A correction that only adds what was learnt later (the direction
            # at the event's end) matches as the hit already recorded: it was
            # alerted (or not) the first time and must not alert again, also
            # when that time was before a restart.
            previous = self.last_hit_by_entry.get(hit.entry.id)
            repeated = (
                recorded_before
                or hit_id in self._handled_hits
                or (previous is not None and previous.hit_id == hit_id)
            )
            self._handled_hits[hit_id] = None
            self._handled_hits.move_to_end(hit_id)
            while len(self._handled_hits) > MAX_REMEMBERED_HITS:
                self._handled_hits.popitem(last=False)
            # A slow source may deliver an older sighting after a newer one:
            # "last seen" never moves back in time, but a correction of the
            # sighting on show replaces it.
            if (
                previous is None
                or previous.sighting_id == sighting.id
                or sighting.seen_at >= previous.seen_at
            ):
                self.last_hit_by_entry[hit.entry.id] = LastHit(
                    hit_id=hit_id,
                    sighting_id=sighting.id,
                    camera=sighting.camera,
                    seen_at=sighting.seen_at,
                    plate_read=hit.read_plate,
                    match_kind=hit.kind.value,
                )
            payload: dict[str, Any] | None = None
            if repeated:
                _LOGGER.debug("Hit %s was announced already", hit_id)
            else:
                await self._async_after_earlier_sightings(number)
                if self.cooldown.should_alert(
                    hit.vehicle, sighting.camera, sighting.seen_at, kind=hit.kind
                ):
                    payload = await self._payload(hit_id, sighting, hit)
                    self.async_fire_event(EVENT_WATCHLIST_HIT, payload)
                else:
                    _LOGGER.debug("Hit %s belongs to a pass already alerted", hit_id)
            # Entities update for every hit; the camera's event entity fires only with a payload.
            async_dispatcher_send(
                self.hass,
                SIGNAL_WATCHLIST_HIT.format(entry_id=self.entry_id),
                hit.entry.id,
                sighting.camera,
                payload,
            )

    def _record_hit(
        self, sighting_id: int, entry_id: int, hit: WatchlistHit
    ) -> tuple[int, bool]:
        """Record a hit; return its id and whether it was recorded before (blocking).

        The store keeps one hit per sighting, entry, kind and read: one found
        there was handled when it was recorded, possibly before a restart that
        emptied the memory of handled hits.
        """
        recorded = {
            stored.id
            for stored in self.store.hits_for_sighting(sighting_id)
            if stored.entry_id == entry_id
        }
        hit_id = self.store.record_hit(
            sighting_id,
            entry_id,
            hit.kind.value,
            hit.read_plate,
            dt_util.utcnow(),
        )
        return hit_id, hit_id in recorded

    async def async_load_last_hits(self) -> None:
        """Restore each entry's last hit from the store (after a restart or a reload).

        Each last hit also resumes its vehicle's pass in the cooldown: a car
        still in view when an option change reloads the hub was alerted
        already and must not page the police again.
        """
        restored = await self.hass.async_add_executor_job(self._stored_last_hits)
        self.last_hit_by_entry.update(restored)
        for entry_id, last in sorted(
            restored.items(), key=lambda item: item[1].seen_at
        ):
            if (listed := self.entry_by_id(entry_id)) is None:
                continue
            try:
                vehicle = vehicle_of(
                    parse_plate_or_pattern(listed.plate), last.plate_read
                )
                kind = MatchKind(last.match_kind)
            except ValueError:
                continue  # stored data that bypassed validation never matches
            self.cooldown.should_alert(vehicle, last.camera, last.seen_at, kind=kind)

    async def async_forget_erased_hits(self) -> None:
        """Show, where a purge erased an entry's last sighting, the latest one left.

        Entries whose shown sighting is still stored keep it, and so does one
        that a new hit replaced while this ran.
        """
        shown = {
            entry_id: last.sighting_id
            for entry_id, last in self.last_hit_by_entry.items()
        }

        def find() -> tuple[dict[int, int], dict[int, LastHit]]:
            erased = {
                entry_id: sighting_id
                for entry_id, sighting_id in shown.items()
                if self.store.get(sighting_id) is None
            }
            return erased, self._stored_last_hits() if erased else {}

        erased, stored = await self.hass.async_add_executor_job(find)
        for entry_id, sighting_id in erased.items():
            last = self.last_hit_by_entry.get(entry_id)
            if last is None or last.sighting_id != sighting_id:
                continue
            if (left := stored.get(entry_id)) is not None:
                self.last_hit_by_entry[entry_id] = left
            else:
                del self.last_hit_by_entry[entry_id]

    def _stored_last_hits(self) -> dict[int, LastHit]:
        """Return each entry's last hit as the store has it (blocking)."""
        restored: dict[int, LastHit] = {}
        for entry_id, hit in self.store.last_hit_per_entry().items():
            if (sighting := self.store.get(hit.sighting_id)) is not None:
                restored[entry_id] = LastHit(
                    hit_id=hit.id,
                    sighting_id=hit.sighting_id,
                    camera=sighting.camera,
                    seen_at=sighting.seen_at,
                    plate_read=hit.plate_read,
                    match_kind=hit.match_kind,
                )
        return restored

    def _recent_sightings(self, plate: str, sighting: Sighting) -> list[RouteRow]:
        """Return the latest sightings of the vehicle ``plate``, newest first (blocking).

        ``plate`` is the listed plate, or for a pattern the read that matched,
        with its look-alike misreads, as a route joins them; reads within one
        edit may be other cars and are left out. ``sighting`` (the one alerted
        on) is among them even when it is not one of those reads (an
        alternative or a one-edit hit), unless the list is full of newer ones.
        """
        # Read again should a purge erase part of the route between its two reads.
        rows = {
            row[0]: row
            for row in self.store.read_route_columns(
                plate,
                lambda route: route.load_rows(route.ids[-RECENT_SIGHTINGS:].tolist()),
                include_lookalikes=True,
            )
        }
        rows.setdefault(
            sighting.id,
            (
                sighting.id,
                sighting.camera,
                sighting.seen_at.timestamp(),
                sighting.plate,
                sighting.confidence,
                sighting.direction.value,
                sighting.event_id,
            ),
        )
        return sorted(rows.values(), key=lambda row: (row[2], row[0]), reverse=True)[
            :RECENT_SIGHTINGS
        ]

    def _evidence(self, sighting: Sighting, recent: list[RouteRow]) -> dict[str, Any]:
        """Return a sighting's signed picture links and the vehicle's recent sightings."""
        return {
            "crop_url": self.image_url(sighting.id, "crop")
            if sighting.has_crop
            else None,
            "snapshot_url": (
                self.image_url(sighting.id, "snapshot")
                if sighting.has_snapshot
                else None
            ),
            "recent_sightings": [
                {
                    "camera": camera,
                    "camera_name": self.camera_names.get(camera, camera),
                    "seen_at": datetime.fromtimestamp(seen_at, UTC).isoformat(),
                    "direction": direction,
                    "confidence": round(confidence, 4),
                }
                for _, camera, seen_at, _, confidence, direction, _ in recent
            ],
        }

    async def async_evidence(self, plate: str, sighting_id: int) -> dict[str, Any]:
        """Return what a hit carries besides the hit: the read, its pictures, the recent route.

        For a city exit or entry (the sighting that decided it, of the vehicle
        ``plate``), so that the police get it with the picture and the route a
        hit has, without a lookup of their own. A store that cannot be read
        costs the evidence, never the event.
        """

        def read() -> tuple[Sighting, list[RouteRow]] | None:
            if (sighting := self.store.get(sighting_id)) is None:
                return None  # purged since it decided
            return sighting, self._recent_sightings(plate, sighting)

        try:
            found = await self.hass.async_add_executor_job(read)
        except (sqlite3.Error, StoreValidationError) as err:
            _LOGGER.warning(
                "The pictures and recent sightings of %s could not be read for its "
                "city event, which goes out without them: %s",
                plate,
                err,
            )
            return {}
        if found is None:
            return {}
        sighting, recent = found
        return {
            "sighting_id": sighting.id,
            "read_plate": sighting.plate,
            "confidence": round(sighting.confidence, 4),
            **self._evidence(sighting, recent),
        }

    async def _payload(
        self, hit_id: int, sighting: Sighting, hit: WatchlistHit
    ) -> dict[str, Any]:
        plate = hit.read_plate if is_pattern(hit.listed_plate) else hit.listed_plate
        recent = await self.hass.async_add_executor_job(
            self._recent_sightings, plate, sighting
        )
        return {
            "config_entry_id": self.entry_id,
            "hit_id": hit_id,
            "sighting_id": sighting.id,
            **hit.to_dict(),
            "plate": sighting.plate,
            "camera": sighting.camera,
            "camera_name": self.camera_names.get(sighting.camera, sighting.camera),
            "seen_at": sighting.seen_at.isoformat(),
            "direction": sighting.direction.value,
            "confidence": round(sighting.confidence, 4),
            "city_status": (
                await self.city_status(sighting.plate)
                if self.city_status
                else "unknown"
            ),
            **self._evidence(sighting, recent),
        }

    @callback
    def entry_by_id(self, entry_id: int) -> WatchlistEntry | None:
        """Return a watchlist entry by id."""
        return next((entry for entry in self.entries if entry.id == entry_id), None)
