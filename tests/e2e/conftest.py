"""Fixtures of the end-to-end tests.

These tests drive a separate ``hass`` process over HTTP, so they must not get the in-process
Home Assistant that the unit tests use: the two autouse fixtures of ``tests/conftest.py`` that
need the ``hass`` fixture are replaced here by ones that do not.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Nothing to enable: the hass under test loads the integration from its config folder."""


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path) -> Path:
    """Give the test a configuration folder of its own, without an in-process hass."""
    return tmp_path
