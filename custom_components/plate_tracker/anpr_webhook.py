"""Home Assistant glue for cameras that read plates themselves: a webhook per source.

The camera (or its NVR, or a script) POSTs each read to
``/api/webhook/<webhook_id>``; the parsing is ``sources/anpr.py``. The answer
tells the sender whether to send again:

- 200 ``{"stored": n}`` once the read is stored (or, the database refusing it,
  kept in the spool, whence it is stored later): the sender may forget it;
- 200 ``{"ignored": ...}`` for a heartbeat or another alarm of the camera;

  both 200 answers carry ``"Result": true`` too, the acknowledgement a Dahua
  camera waits for before it stops sending the same read;
- 202 ``{"queued": true}`` when the engine is too busy to finish within
  ``ACK_SECONDS``: the read waits in the queue and is stored after;
- 400 ``{"error": ...}`` for a request that is not a read (counted, logged once
  a minute at most): sending it again would not help;
- 503 ``{"error": ...}`` when the read could not be stored or spooled, or when
  ``MAX_PENDING_READS`` of the camera's reads still wait: send again.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime
from http import HTTPStatus
import logging
import time

from aiohttp import web
from homeassistant.components import webhook
from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import CONF_WEBHOOK_ID
from homeassistant.core import HomeAssistant
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util import dt as dt_util

from .const import (
    CONF_ALLOW_REMOTE,
    CONF_ANPR_CAMERA,
    CONF_READ_PICTURES,
    DOMAIN,
    SIGNAL_SOURCE_HEALTH,
    SOURCE_ANPR,
)
from .coordinator import PlateTrackerConfigEntry
from .engine.remote import EngineUnavailableError
from .pipeline import Frame, ImageRejectedError, PipelineStoppedError
from .sources import SourceClock
from .sources.anpr import (
    MAX_BODY_BYTES,
    AnprRead,
    MalformedAnprError,
    parse_anpr_request,
)

_LOGGER = logging.getLogger(__name__)

ACK_SECONDS = 20.0
"""How long a camera's request waits for its read to be stored before the answer
says it is queued (cameras give up after 30-60 s and send again)."""
ACKNOWLEDGED = {"Result": True}
"""What Dahua's ITSAPI push waits for in a 200 answer; without it, it sends the read again."""
MALFORMED_LOG_SECONDS = 60.0
MAX_PENDING_READS = 64
"""Reads of one webhook waiting to be stored, answered or not, before more are refused
with 503: each holds its pictures until stored, and a camera that sends faster than
the engine reads (or resends every read it did not hear 200 for) must not fill memory."""


class AnprWebhook:
    """Receives one source's reads and turns each into a frame of the pipeline."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: PlateTrackerConfigEntry,
        subentry: ConfigSubentry,
        counters: Counter[str],
    ) -> None:
        """Serve ``subentry``'s webhook into the entry's pipeline."""
        self._hass = hass
        self._pipeline = entry.runtime_data.pipeline
        self._counters = counters
        self._status = entry.runtime_data.source_status[subentry.subentry_id]
        self._health_signal = SIGNAL_SOURCE_HEALTH.format(entry_id=entry.entry_id)
        self._subentry_id = subentry.subentry_id
        self._camera: str = subentry.data[CONF_ANPR_CAMERA]
        self._read_pictures: bool = subentry.data.get(CONF_READ_PICTURES, False)
        self._clock = SourceClock(
            "Set the camera's clock (NTP) and its time zone, so that it sends its offset."
        )
        self._last_malformed_log = -MALFORMED_LOG_SECONDS
        self._last_busy_log = -MALFORMED_LOG_SECONDS
        self._pending: set[asyncio.Task[int]] = set()

    async def handle(
        self, hass: HomeAssistant, webhook_id: str, request: web.Request
    ) -> web.Response:
        """Answer one request of the camera (Home Assistant's webhook handler)."""
        del hass, webhook_id
        arrived = dt_util.utcnow()
        # Any request shows the camera is alive, a refused one too (its count says more).
        self._status.last_request = arrived
        try:
            read = await self._parse(request)
        except MalformedAnprError as err:
            self._health_changed()
            return self._refused(request, str(err))
        if read is None:
            self._health_changed()
            self._counters["anpr_ignored"] += 1
            return web.json_response({"ignored": "not an ANPR read", **ACKNOWLEDGED})
        self._status.last_read = arrived
        self._health_changed()
        if len(self._pending) >= MAX_PENDING_READS:
            return self._busy()
        self._counters["anpr_reads"] += 1
        self._counters["anpr_pictures_dropped"] += read.pictures_dropped
        if read.pictures_dropped:
            _LOGGER.debug(
                "ANPR camera %s sent %s pictures that are not JPEG or PNG",
                self._camera,
                read.pictures_dropped,
            )
        frame = self._frame(read, arrived)
        work = self._hass.async_create_task(
            self._store(frame),
            f"{DOMAIN} ANPR read of {frame.camera}",
            eager_start=True,
        )
        if not work.done():
            self._pending.add(work)
            work.add_done_callback(self._pending.discard)
        try:
            stored = await asyncio.wait_for(asyncio.shield(work), ACK_SECONDS)
        except TimeoutError:
            self._counters["anpr_queued"] += 1
            # Answered already: a read that fails later is counted and logged here.
            work.add_done_callback(self._queued_done)
            return web.json_response({"queued": True}, status=HTTPStatus.ACCEPTED)
        except PipelineStoppedError:
            # Plate Tracker is unloading: nothing is wrong with the read.
            self._counters["anpr_errors"] += 1
            return web.json_response(
                {"error": "plate recognition is stopping, send it again"},
                status=HTTPStatus.SERVICE_UNAVAILABLE,
            )
        except EngineUnavailableError:
            # A picture without the camera's read, and no engine to read it (the
            # outage is logged once by the pipeline): the camera keeps it and
            # sends it again.
            self._counters["anpr_errors"] += 1
            return web.json_response(
                {"error": "the engine is unavailable, send it again"},
                status=HTTPStatus.SERVICE_UNAVAILABLE,
            )
        except Exception:
            # Not stored: the camera must send it again, not hear that all is well.
            self._counters["anpr_errors"] += 1
            _LOGGER.exception("Could not store a read of ANPR camera %s", frame.camera)
            return web.json_response(
                {"error": "not stored, send it again"},
                status=HTTPStatus.SERVICE_UNAVAILABLE,
            )
        return web.json_response({"stored": stored, **ACKNOWLEDGED})

    async def _parse(self, request: web.Request) -> AnprRead | None:
        """Return the request's read (None: a heartbeat); raise MalformedAnprError."""
        too_large = f"the request is larger than {MAX_BODY_BYTES} bytes"
        if (request.content_length or 0) > MAX_BODY_BYTES:
            raise MalformedAnprError(too_large)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge as err:
            raise MalformedAnprError(too_large) from err
        return await self._hass.async_add_executor_job(
            parse_anpr_request, request.headers.get("Content-Type", ""), body
        )

    def _frame(self, read: AnprRead, arrived: datetime) -> Frame:
        camera = read.camera or self._camera
        picture = read.picture or read.plate_picture
        return Frame(
            image=picture,
            camera=camera,
            seen_at=self._clock.date(camera, read.seen_at, arrived, what="a read"),
            source=SOURCE_ANPR,
            event_id=read.event_id,
            direction=read.direction,
            anpr_plate=read.plate,
            anpr_score=read.confidence,
            # The camera's read stands as it is unless the engine is to read too;
            # a picture without a read is always read.
            read_image=self._read_pictures or read.plate is None,
            plate_image=read.plate_picture,
        )

    async def _store(self, frame: Frame) -> int:
        """Store the frame's sightings (spooled if the database refuses); return how many."""
        try:
            return len(await self._pipeline.submit(frame, may_spool=True))
        except ImageRejectedError:
            # A picture without the camera's read that the engine cannot open
            # (counted and logged by the pipeline); with one, the read is stored.
            return 0

    def _queued_done(self, work: asyncio.Task[int]) -> None:
        """Count and log a queued read that was not stored after its 202 answer."""
        if work.cancelled() or (err := work.exception()) is None:
            return
        self._counters["anpr_errors"] += 1
        if isinstance(err, PipelineStoppedError):
            _LOGGER.warning(
                "A queued read of ANPR camera %s was not read: %s", self._camera, err
            )
        else:
            _LOGGER.error(
                "Could not store a queued read of ANPR camera %s",
                self._camera,
                exc_info=err,
            )

    def _busy(self) -> web.Response:
        """Refuse a read for now: too many of this camera's reads wait (see MAX_PENDING_READS)."""
        self._counters["anpr_busy"] += 1
        now = time.monotonic()
        if now - self._last_busy_log >= MALFORMED_LOG_SECONDS:
            self._last_busy_log = now
            _LOGGER.warning(
                "ANPR camera %s sends reads faster than they are stored: %s wait, "
                "so it is told to send again later",
                self._camera,
                len(self._pending),
            )
        return web.json_response(
            {"error": "too many reads waiting, send it again"},
            status=HTTPStatus.SERVICE_UNAVAILABLE,
        )

    def _health_changed(self) -> None:
        async_dispatcher_send(self._hass, self._health_signal, self._subentry_id)

    def _refused(self, request: web.Request, reason: str) -> web.Response:
        self._counters["anpr_malformed"] += 1
        now = time.monotonic()
        # A misconfigured camera sends the same thing every few seconds.
        quiet = now - self._last_malformed_log < MALFORMED_LOG_SECONDS
        if not quiet:
            self._last_malformed_log = now
        _LOGGER.log(
            logging.DEBUG if quiet else logging.WARNING,
            "Refused a request to ANPR camera %s's webhook from %s: %s",
            self._camera,
            request.remote,
            reason,
        )
        return web.json_response({"error": reason}, status=HTTPStatus.BAD_REQUEST)


def async_start_anpr(
    hass: HomeAssistant,
    entry: PlateTrackerConfigEntry,
    subentry: ConfigSubentry,
    counters: Counter[str],
) -> None:
    """Register the source's webhook until the entry unloads."""
    receiver = AnprWebhook(hass, entry, subentry, counters)
    webhook_id = subentry.data[CONF_WEBHOOK_ID]
    webhook.async_register(
        hass,
        DOMAIN,
        subentry.title,
        webhook_id,
        receiver.handle,
        local_only=not subentry.data.get(CONF_ALLOW_REMOTE, False),
        allowed_methods=["POST", "PUT"],
    )
    entry.async_on_unload(lambda: webhook.async_unregister(hass, webhook_id))
