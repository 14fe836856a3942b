"""Home Assistant stopping while the hub is busy: nothing it accepted is lost."""

from __future__ import annotations

from datetime import timedelta

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.plate_tracker.pipeline import Frame
from custom_components.plate_tracker.store import SightingStore

from .synthetic import scene_jpeg


async def test_stopping_home_assistant_reads_the_frames_already_accepted(
    hass: HomeAssistant, init_folder: MockConfigEntry
) -> None:
    """Frames a camera pushed just before Home Assistant stops are read and stored.

    Home Assistant cancels every background task as it stops, before any
    integration hears of it: without a shutdown job the pipeline's worker was
    cut off and the pushed frames (a Frigate event nobody sends again) were
    counted as dropped. A restart must lose no sighting the hub had accepted.
    """
    pipeline = init_folder.runtime_data.pipeline
    store_path = init_folder.runtime_data.store.path
    for index, plate in enumerate(("AE1234BK", "KA0001AA")):
        assert pipeline.offer(
            Frame(
                image=scene_jpeg(plate, seed=index),
                camera="bridge",
                seen_at=dt_util.utcnow() - timedelta(seconds=index),
                source="folder",
            )
        )
    await hass.async_stop()
    assert (pipeline.counters.frames_read, pipeline.counters.frames_dropped) == (2, 0)
    with SightingStore.open(store_path) as store:
        assert {found.plate for found in store.recent(limit=10)} == {
            "AE1234BK",
            "KA0001AA",
        }
