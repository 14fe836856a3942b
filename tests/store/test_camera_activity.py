"""What each camera recorded after a moment: the evidence that an exit was working."""

from __future__ import annotations

import pytest

from custom_components.plate_tracker.store import CameraActivity, SightingStore

from .conftest import T0, minutes, sighting


def test_counts_after_the_moment_and_the_last_time(store: SightingStore) -> None:
    """Only sightings after ``since`` count; the last time is of any sighting."""
    store.record_many(
        sighting(camera="exit", plate=f"AA{n:04d}AA", seen_at=T0 + minutes(n))
        for n in range(5)
    )
    store.record(sighting(camera="quiet", seen_at=T0))

    activity = store.camera_activity(["exit", "quiet", "never"], T0 + minutes(2))

    assert activity == {
        "exit": CameraActivity(sightings_since=2, last_seen_at=T0 + minutes(4)),
        "quiet": CameraActivity(sightings_since=0, last_seen_at=T0),
        # A camera the store never heard of recorded nothing.
        "never": CameraActivity(sightings_since=0, last_seen_at=None),
    }


def test_count_is_bounded(
    store: SightingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A busy exit costs a bounded scan: the count stops at the limit."""
    monkeypatch.setattr(
        "custom_components.plate_tracker.store.sighting_store.ACTIVITY_COUNT_LIMIT", 3
    )
    store.record_many(
        sighting(camera="exit", plate=f"AA{n:04d}AA", seen_at=T0 + minutes(n))
        for n in range(10)
    )
    (activity,) = store.camera_activity(["exit"], T0 - minutes(1)).values()
    assert activity.sightings_since == 3
