"""Fixtures of the end-to-end tests.

These tests drive a separate ``hass`` process over HTTP, so they must not get the in-process
Home Assistant that the unit tests use: the two autouse fixtures of ``tests/conftest.py`` that
need the ``hass`` fixture are replaced here by ones that do not. ``hass_process`` runs a plain
``hass``; a test module that needs more configured overrides it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from pathlib import Path

import pytest

from .harness import RunningHass, free_port, running_hass, write_hass_config


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
