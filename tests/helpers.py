"""Small helpers shared by the Home Assistant tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import time
from typing import Any

from homeassistant.auth.models import User
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.core import Context, HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
    AiohttpClientMockResponse,
)
from yarl import URL

from custom_components.plate_tracker.const import DOMAIN
from custom_components.plate_tracker.records import NewSighting, Sighting

WAIT_SECONDS = 30.0
POLL_SECONDS = 0.05


async def wait_until(
    condition: Callable[[], bool], seconds: float = WAIT_SECONDS
) -> None:
    """Wait for work in executor threads (real inference, real SQLite) to show its effect.

    The pause between checks is slept in a worker thread, not on the event loop's
    timers: under ``freezer`` the loop's clock stands still and a timer never fires.
    """
    for _ in range(round(seconds / POLL_SECONDS)):
        if condition():
            return
        await asyncio.to_thread(time.sleep, POLL_SECONDS)
    if not condition():
        raise TimeoutError(f"still not true after {seconds} s")


async def record_and_announce(
    hass: HomeAssistant, entry: MockConfigEntry, new: NewSighting
) -> Sighting:
    """Store ``new`` in the hub's store and announce it, as the pipeline does with a read."""
    sighting, _ = await hass.async_add_executor_job(
        entry.runtime_data.store.record, new
    )
    entry.runtime_data.hub.async_publish(sighting)
    await hass.async_block_till_done()
    return sighting


def fake_authenticated_frigate(
    aioclient_mock: AiohttpClientMocker, frigate_url: str, accepted: str
) -> None:
    """Answer like Frigate's port 8971: the version for anyone, a token for user ``police`` with ``accepted``."""

    async def login(method: str, url: URL, data: Any) -> AiohttpClientMockResponse:
        if data == {"user": "police", "password": accepted}:
            return AiohttpClientMockResponse(
                method, url, cookies={"frigate_token": "jwt-1"}
            )
        return AiohttpClientMockResponse(method, url, status=401)

    aioclient_mock.get(f"{frigate_url}/api/version", text="0.16.2")
    aioclient_mock.post(f"{frigate_url}/api/login", side_effect=login)
    aioclient_mock.get(f"{frigate_url}/api/stats", json={})


def reauth_flows(hass: HomeAssistant) -> list[dict[str, Any]]:
    """Return the re-authentication flows the hub waits in, as Home Assistant lists them."""
    return [
        dict(flow)
        for flow in hass.config_entries.flow.async_progress_by_handler(
            DOMAIN, match_context={"source": SOURCE_REAUTH}
        )
    ]


async def call(
    hass: HomeAssistant,
    service: str,
    data: dict[str, Any],
    user: User | None = None,
    *,
    response: bool = True,
) -> Any:
    """Call a service of the integration as ``user`` (None: Home Assistant itself); return its response."""
    return await hass.services.async_call(
        DOMAIN,
        service,
        data,
        blocking=True,
        return_response=response,
        context=Context(user_id=user.id if user else None),
    )


def as_stored(new: NewSighting, sighting_id: int) -> Sighting:
    """Return ``new`` as a store that gave it ``sighting_id`` hands it back."""
    return Sighting(
        id=sighting_id,
        camera=new.camera,
        seen_at=new.seen_at,
        plate=new.plate,
        raw=new.raw,
        confidence=new.confidence,
        source=new.source,
        event_id=new.event_id,
        region=new.region,
        box=new.box,
        direction=new.direction,
        alternatives=new.alternatives,
        has_crop=new.crop_jpeg is not None,
        has_snapshot=new.snapshot_jpeg is not None,
    )
