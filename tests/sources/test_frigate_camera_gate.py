"""Which Frigate event messages are read: only those of cameras Frigate lists (plain Python)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from custom_components.plate_tracker.sources.frigate import (
    CAMERA_LIST_INTERVAL,
    CameraGate,
    FrigateError,
)


def after(camera: str, event_id: str = "e1") -> dict[str, Any]:
    """Return the ``after`` of a message, as ``parse_event_message`` gives it."""
    return {"id": event_id, "camera": camera, "label": "car"}


def test_listed_cameras_pass_others_wait_for_the_next_list() -> None:
    """A camera the last list named is read at once; any other waits, then is read or skipped."""
    counters: Counter[str] = Counter()
    gate = CameraGate(["bridge"], counters=counters)
    assert gate.admit("new", after("bridge"))
    assert not gate.admit("new", after("yard", "e2"))
    assert not gate.admit("end", after("yard", "e2"))
    assert not gate.admit("new", after("intruder", "e3"))
    assert gate.held == 3

    admitted = gate.listed(["bridge", "yard"])
    assert [(m.event_type, m.after["id"]) for m in admitted] == [
        ("new", "e2"),
        ("end", "e2"),
    ]
    assert gate.held == 0
    assert counters["frigate_unknown_camera"] == 1
    assert gate.admit("update", after("yard", "e2"))


def test_the_list_is_read_at_start_and_then_at_most_once_a_minute() -> None:
    """A read is due at start, then only for a held message, and not sooner than the interval."""
    gate = CameraGate(["bridge"])
    assert gate.wait(1000.0) == 0.0
    gate.tried(1000.0)
    gate.listed(["bridge"])
    assert gate.wait(1001.0) is None
    gate.admit("new", after("yard"))
    assert gate.wait(1001.0) == pytest.approx(CAMERA_LIST_INTERVAL - 1.0)
    assert gate.wait(1000.0 + CAMERA_LIST_INTERVAL) == 0.0
    # A clock set back does not put the next read off.
    assert gate.wait(500.0) == 0.0


def test_before_any_list_everything_waits() -> None:
    """No message is read unchecked before Frigate listed its cameras once, none is lost."""
    gate = CameraGate()
    assert gate.cameras is None
    assert not gate.admit("end", after("bridge"))
    gate.tried(0.0)
    # Frigate did not answer: the message still waits, and the list is asked again.
    assert gate.held == 1
    assert gate.wait(1.0) == pytest.approx(CAMERA_LIST_INTERVAL - 1.0)
    assert [m.after["camera"] for m in gate.listed(["bridge"])] == ["bridge"]


def test_waiting_messages_are_bounded_by_count_and_bytes() -> None:
    """A stream of made-up cameras must not grow memory: the oldest go, counted."""
    counters: Counter[str] = Counter()
    gate = CameraGate(["bridge"], counters=counters, limit=4, byte_limit=1000)
    for index in range(6):
        gate.admit("new", after(f"cam{index}", f"e{index}"), size=10)
    assert gate.held == 4
    assert counters["frigate_unknown_camera"] == 2
    gate.admit("new", after("big", "e9"), size=990)
    assert gate.held == 2
    assert counters["frigate_unknown_camera"] == 5


def test_frigate_without_a_list_lets_everything_through_until_it_gives_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Frigate answering with no camera list is not an outage: waiting would lose every car."""
    gate = CameraGate()
    gate.admit("new", after("bridge"))
    assert [m.after["id"] for m in gate.unlisted(FrigateError("HTTP 404"))] == ["e1"]
    assert gate.admit("new", after("anything", "e2"))
    assert caplog.text.count("read, unchecked") == 1
    gate.unlisted(FrigateError("HTTP 404"))
    assert caplog.text.count("read, unchecked") == 1
    # Still asked for, at the list's pace; a list ends the exception.
    assert gate.wait(0.0) == 0.0
    gate.listed(["bridge"])
    assert not gate.admit("new", after("anything", "e3"))
