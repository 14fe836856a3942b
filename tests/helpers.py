"""Small helpers shared by the Home Assistant tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

WAIT_SECONDS = 30.0


async def wait_until(
    condition: Callable[[], bool], seconds: float = WAIT_SECONDS
) -> None:
    """Wait for work in executor threads (real inference, real SQLite) to show its effect."""
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - the work runs in threads that set no event
            await asyncio.sleep(0.05)
