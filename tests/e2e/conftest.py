"""Fixtures of the end-to-end tests.

These tests drive a separate ``hass`` process over HTTP, so they must not get the in-process
Home Assistant that the unit tests use: the two autouse fixtures of ``tests/conftest.py`` that
need the ``hass`` fixture are replaced here by ones that do not. ``hass_process`` runs a plain
``hass``; a test module that needs more configured overrides it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
import os
from pathlib import Path

import pytest

from .frigate import scene
from .harness import (
    BROWSER_CDP_ENV,
    EXTERNAL_BROKER_ENV,
    HOST,
    NO_BROWSER_ENV,
    Chromium,
    FakeFrigate,
    RunningHass,
    chromium_binary,
    free_port,
    in_ci,
    mosquitto_binary,
    running_hass,
    start_mosquitto,
    write_hass_config,
)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Nothing to enable: the hass under test loads the integration from its config folder."""


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path) -> Path:
    """Give the test a configuration folder of its own, without an in-process hass."""
    return tmp_path


@pytest.fixture
async def hass_process(tmp_path: Path) -> AsyncGenerator[RunningHass]:
    """Run a real ``hass`` with the integration from this checkout, on a free port."""
    port = free_port()
    config = tmp_path / "config"
    write_hass_config(config, port)
    async with running_hass(config, port, tmp_path) as (client, process):
        yield RunningHass(client, process)


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncGenerator[tuple[str, int]]:
    """Provide a real MQTT broker: mosquitto started for this test, or the one CI started."""
    if external := os.environ.get(EXTERNAL_BROKER_ENV):
        host, _, external_port = external.rpartition(":")
        yield host, int(external_port)
        return
    binary = mosquitto_binary()
    process, port = await start_mosquitto(binary, tmp_path)
    try:
        yield HOST, port
    finally:
        await process.stop(grace=5)


@pytest.fixture
async def frigate() -> AsyncGenerator[FakeFrigate]:
    """Serve a fake Frigate whose every event snapshot shows a car with plate AE1234BK."""
    fake = FakeFrigate(snapshot=scene())
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
def chromium() -> Chromium:
    """Return the chromium to drive; skip or, under CI, fail when there is none."""
    if cdp_url := os.environ.get(BROWSER_CDP_ENV):
        return Chromium(cdp_url=cdp_url)
    if os.environ.get(NO_BROWSER_ENV):
        pytest.skip(f"{NO_BROWSER_ENV} is set: this environment has no browser")
    binary = chromium_binary()
    if binary is None:
        message = "chromium is not installed (Debian: apt-get install chromium)"
        if in_ci():
            pytest.fail(
                f"{message}; CI must run the browser test (or set {NO_BROWSER_ENV})"
            )
        pytest.skip(message)
    return Chromium(binary=binary)
