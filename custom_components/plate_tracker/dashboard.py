"""The dashboard card: served by the integration and loaded by the frontend on its own.

A HACS user gets the card with the integration; there is no dashboard resource to add by hand.
The URL carries a hash of the file, so a browser never keeps an old card after an update.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from homeassistant.components.frontend import add_extra_js_url
from homeassistant.components.http import StaticPathConfig
from homeassistant.core import HomeAssistant

from .const import DOMAIN

CARD_FILE = Path(__file__).parent / "frontend" / "plate-tracker-card.js"
CARD_URL = f"/{DOMAIN}/plate-tracker-card.js"


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


async def async_register_card(hass: HomeAssistant) -> None:
    """Serve the card's module and have every frontend load it.

    Without the frontend (a headless setup) nothing is registered: there is no
    dashboard to show the card on.
    """
    if "frontend" not in hass.config.components:
        return
    version = await hass.async_add_executor_job(_file_hash, CARD_FILE)
    await hass.http.async_register_static_paths(
        [StaticPathConfig(CARD_URL, str(CARD_FILE), cache_headers=False)]
    )
    add_extra_js_url(hass, f"{CARD_URL}?v={version}")
