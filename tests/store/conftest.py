"""Fixtures for the sightings store tests: real SQLite files in ``tmp_path``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from custom_components.plate_tracker.records import NewSighting
from custom_components.plate_tracker.store import SightingStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def sighting(**changes: Any) -> NewSighting:
    """Return a plausible new sighting with the given fields changed."""
    base = NewSighting(
        camera="bridge",
        seen_at=T0,
        plate="AE1234BK",
        raw="AE 1234 BK",
        confidence=0.9,
        source="folder",
    )
    return replace(base, **changes)


def minutes(count: float) -> timedelta:
    """Return a duration in minutes, to keep test timelines readable."""
    return timedelta(minutes=count)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Return where the test database lives."""
    return tmp_path / "plate_tracker" / "sightings.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SightingStore]:
    """Return an open store on a fresh file, closed after the test."""
    with SightingStore.open(db_path) as opened:
        yield opened
