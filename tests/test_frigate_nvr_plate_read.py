"""Frigate 0.16's own plate read on the events topic keeps a pass whose snapshot is lost."""

# The fixtures of test_frigate_source.py are imported, and named as test arguments.
# ruff: noqa: F811

from __future__ import annotations

import time

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import (
    async_capture_events,
    async_fire_mqtt_message,
)

from custom_components.plate_tracker.const import EVENT_SIGHTING

from .helpers import wait_until
from .test_frigate_source import (  # noqa: F401  # fixtures
    EVENT_ID,
    StartFrigate,
    frigate_event,
    frigate_event_list,
    no_retry_waits,
    start_frigate,
)

pytestmark = pytest.mark.parametrize("expected_lingering_timers", [True])


async def test_frigate_0_16_plate_read_survives_a_lost_snapshot(
    hass: HomeAssistant, start_frigate: StartFrigate
) -> None:
    """Frigate 0.16+ sends its read as ``"recognized_license_plate": [plate, score]``.

    Only a plain string was taken, so with the snapshot gone (the event
    deleted, Frigate busy) the pass was lost although Frigate had read the
    plate: the police never heard of a listed car that passed.
    """
    await start_frigate(status=404)
    events = async_capture_events(hass, EVENT_SIGHTING)
    plate = {"recognized_license_plate": ["KA 7777 OO", 0.91]}
    for kind in ("new", "end"):
        async_fire_mqtt_message(
            hass,
            "frigate/events",
            frigate_event(kind, frame_time=time.time(), **plate),
        )
    await wait_until(lambda: bool(events), 10)

    assert [
        (event.data["plate"], event.data["confidence"], event.data["reader"])
        for event in events
    ] == [("KA7777OO", 0.91, "nvr")]
    assert events[0].data["event_id"] == EVENT_ID
