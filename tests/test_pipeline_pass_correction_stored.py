"""A pass's plate corrected by its later frames is the plate the store keeps."""

from __future__ import annotations

from pathlib import Path

from custom_components.plate_tracker.store import SightingStore

from .test_pipeline_event_ids import Engine, frame, read, running, settle

BOX = (300, 400, 420, 440)


async def test_the_store_keeps_the_plate_the_frames_agree_on(tmp_path: Path) -> None:
    """A confident misread in the first frame must not stay the stored plate.

    Three later frames agree on another character; the pass's vote announces
    the corrected plate, and a search or the watchlist must find the car by
    it. The stored sighting is what routes and searches read.
    """
    with SightingStore.open(tmp_path / "sightings.db") as store:
        engine = Engine(store)
        engine.script[b"f1"] = [read("AE1234BX", 0.9, BOX)]
        for image in (b"f2", b"f3", b"f4"):
            engine.script[image] = [read("AE1234BK", 0.85, BOX)]
        async with running(engine) as pipeline:
            for at, image in enumerate((b"f1", b"f2", b"f3", b"f4")):
                pipeline.offer(frame(image, at=at))
            pipeline.offer(frame(None, at=5, final=True))
            await settle(lambda: pipeline.queue_depth == 0 and bool(engine.announced))
        stored = [s.plate for s in store.latest_per_camera().values()]
        announced = [s.plate for s in engine.announced]
    assert stored == ["AE1234BK"]
    assert announced[-1] == "AE1234BK"
