"""The limit on open passes ends the passes that went quiet, not a car still in view."""

from __future__ import annotations

import asyncio

import pytest

from custom_components.plate_tracker import pipeline as pipeline_module
from custom_components.plate_tracker.pipeline import SightingPipeline

from .helpers import wait_until
from .test_pipeline import Harness, _stop, frame, read


async def test_a_pass_still_sending_frames_is_not_ended_by_the_open_pass_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A car in view must stay one announced sighting however many events lost their end.

    Frigate events whose end message was lost (an MQTT reconnect) stay open
    until the limit ends them. Ending instead the oldest *started* pass, a car
    parked in view that keeps sending frames, started its pass again: its
    sighting was announced a second time (a second watchlist alert) and its
    plate was voted again from the later frames alone.
    """
    monkeypatch.setattr(pipeline_module, "MAX_OPEN_PASSES", 2)
    h = Harness()
    h.script[b"parked 1"] = [read("AE1234BK", 0.9)]
    h.script[b"parked 2"] = [read("AE1234BK", 0.8)]
    h.script[b"parked 3"] = [read("AE1234BX", 0.85)]
    h.script[b"lost end"] = [read("KA7777OO", 0.9)]
    h.script[b"other"] = [read("BC5512HP", 0.9)]
    pipeline = SightingPipeline(
        read_frame=h.read_frame, record=h.record, publish=h.publish, publish_after=0.1
    )
    worker = asyncio.get_running_loop().create_task(pipeline.run())
    pipeline.offer(frame(b"parked 1", event="parked", at=0))
    pipeline.offer(frame(b"lost end", event="lost", at=1))
    pipeline.offer(frame(b"parked 2", event="parked", at=2))
    await wait_until(lambda: len(h.published) == 2, 5)
    # A third pass opens: one of the two open ones must end.
    pipeline.offer(frame(b"other", event="other", at=3))
    pipeline.offer(frame(b"parked 3", event="parked", at=4, final=True))
    await wait_until(lambda: len(h.stored) == 3 and pipeline.queue_depth == 0, 5)
    await asyncio.sleep(0.3)
    await _stop(worker)

    parked = [s for s in h.announced if s.event_id == "parked"]
    assert [s.plate for s in parked] == ["AE1234BK"]
    # Voted from all three frames of the pass, not from its last one alone.
    assert h.stored[1].plate == "AE1234BK"
