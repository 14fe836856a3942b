"""The image view behind the signed URLs in alerts and search results.

A phone notification or an e-mail cannot carry a Home Assistant login, so this
view accepts a signature instead of a login: it opens exactly the one image a
link was signed for, until the link expires, and nothing else.
"""

from __future__ import annotations

from http import HTTPStatus
import logging
import sqlite3
from typing import Any

from aiohttp import web
from homeassistant.components.http import HomeAssistantView
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from .const import DOMAIN, IMAGE_URL_PATH
from .database import async_store_failed

_LOGGER = logging.getLogger(__name__)

IMAGE_KINDS = ("crop", "snapshot")
SQLITE_MAX_INTEGER = 2**63 - 1
"""The largest rowid SQLite can hand out: no sighting has a larger id."""


def _sighting_id(digits: str) -> int | None:
    """Return the id a path's digits name, or None when no SQLite row can have it.

    SQLite refuses larger integers with an OverflowError, and Python refuses to
    read digit strings past 4300 digits: both would answer the link with a 500.
    """
    significant = digits.lstrip("0") or "0"
    if len(significant) > len(str(SQLITE_MAX_INTEGER)):
        return None
    number = int(significant)
    return number if number <= SQLITE_MAX_INTEGER else None


class SightingImageView(HomeAssistantView):
    """Serve a sighting's plate crop or snapshot to whoever holds a valid signed link."""

    url = IMAGE_URL_PATH.replace("{sighting_id}", "{sighting_id:[0-9]+}").replace(
        "{kind}", "{kind:crop|snapshot}"
    )
    name = f"api:{DOMAIN}:sighting_image"
    requires_auth = False

    def __init__(self, hass: HomeAssistant) -> None:
        """Serve images of the loaded Plate Tracker hub."""
        self.hass = hass

    async def get(
        self, request: web.Request, sighting_id: str, kind: str
    ) -> web.StreamResponse:
        """Return the JPEG, or 403 for a missing, forged or expired signature.

        404 for an image not (or no longer) stored, an id past SQLite's integers
        included, whatever its signature; 503 while the hub is not loaded or its
        database fails to read.
        """
        entries = [
            entry
            for entry in self.hass.config_entries.async_entries(DOMAIN)
            if entry.state is ConfigEntryState.LOADED
        ]
        if not entries:
            return web.Response(status=HTTPStatus.SERVICE_UNAVAILABLE)
        runtime: Any = entries[0].runtime_data
        if not runtime.alerts.signer.verify(
            request.path, request.query, dt_util.utcnow()
        ):
            return web.Response(status=HTTPStatus.FORBIDDEN)
        if (number := _sighting_id(sighting_id)) is None:
            return web.Response(status=HTTPStatus.NOT_FOUND)
        try:
            image = await self.hass.async_add_executor_job(
                runtime.store.image, number, kind
            )
        except sqlite3.Error as err:
            # Damage gets the file checked; the link works again once it is mended.
            async_store_failed(self.hass, entries[0].entry_id, err)
            _LOGGER.warning(
                "The %s of sighting %s could not be read: %s", kind, sighting_id, err
            )
            return web.Response(
                status=HTTPStatus.SERVICE_UNAVAILABLE,
                text="The sightings database failed to read this image; try again later.",
            )
        if image is None:
            return web.Response(status=HTTPStatus.NOT_FOUND)
        # Not stored anywhere on the way: a purged or expired sighting's picture must be
        # gone, not kept in the cache of whichever phone or desk computer opened it.
        # Revalidating (no-cache and an ETag) would still leave the JPEG on that disk,
        # and would spare only a LAN transfer: the image is read to answer either way.
        return web.Response(
            body=image,
            content_type="image/jpeg",
            headers={
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )
