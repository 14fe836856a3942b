"""A local read given up at a stop keeps its recognizer until its thread is done with it."""

from __future__ import annotations

import asyncio
import threading

from homeassistant.core import HomeAssistant

from custom_components.plate_tracker.coordinator import LocalEngine
from custom_components.plate_tracker.engine.types import Box, FrameResult

from .helpers import wait_until

THREAD_SECONDS = 10.0
"""Longest a fake read waits to be let go: the test fails instead of hanging."""


class SlowRecognizer:
    """Reads like a recognizer in an executor thread, until the test lets it go.

    Counts how many threads use it at once: a recognizer (an ONNX session
    with its buffers) is not to be used by two at once.
    """

    def __init__(self) -> None:
        """Start with nobody using it."""
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.using = 0
        self.most_at_once = 0
        self.reads = 0

    def read(
        self, image: bytes, vehicle_box: Box | None, plate_hint: Box | None
    ) -> FrameResult:
        """Hold the recognizer until released; return an empty read."""
        with self.lock:
            self.using += 1
            self.reads += 1
            self.most_at_once = max(self.most_at_once, self.using)
        try:
            self.release.wait(THREAD_SECONDS)
        finally:
            with self.lock:
                self.using -= 1
        return FrameResult(width=64, height=48, plates=(), seconds=0.0)


async def test_a_cancelled_read_keeps_its_recognizer_until_the_thread_ends(
    hass: HomeAssistant,
) -> None:
    """Two reads must never run on one recognizer at once.

    Cancelling a read (the pipeline's worker stopping) does not stop its
    executor thread. The recognizer went back to the pool at the
    cancellation, and the next read (a service call, the pipeline of the
    reloaded entry) ran on it while the first thread still did.
    """
    recognizer = SlowRecognizer()
    engine = LocalEngine(hass, [recognizer])  # type: ignore[list-item]

    try:
        first = hass.async_create_task(engine.read(b"first"))
        await wait_until(lambda: recognizer.using == 1, THREAD_SECONDS)
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)

        second = hass.async_create_task(engine.read(b"second"))
        await asyncio.to_thread(recognizer.release.wait, 0.3)
        assert recognizer.reads == 1, "the second read began while the first ran"
    finally:
        recognizer.release.set()
    result = await asyncio.wait_for(second, THREAD_SECONDS)

    assert result.width == 64
    assert recognizer.reads == 2
    assert recognizer.most_at_once == 1
