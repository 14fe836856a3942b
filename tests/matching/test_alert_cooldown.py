"""Tests of the per vehicle and camera alert cooldown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custom_components.plate_tracker.matching.cooldown import AlertCooldown
from custom_components.plate_tracker.records import MatchKind

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def seconds(value: float) -> datetime:
    """Return the time ``value`` seconds after START."""
    return START + timedelta(seconds=value)


def test_one_alert_per_pass() -> None:
    """A car read every few seconds at a barrier must page the police once, not twenty times."""
    cooldown = AlertCooldown(60)
    alerts = [
        cooldown.should_alert("AE1234BK", "gate", seconds(s)) for s in range(0, 300, 5)
    ]
    assert alerts == [True] + [False] * (len(alerts) - 1)


def test_new_pass_after_a_quiet_cooldown() -> None:
    """When the car comes back after the cooldown it is a new pass and must alert again."""
    cooldown = AlertCooldown(60)
    assert cooldown.should_alert("AE1234BK", "gate", seconds(0))
    assert not cooldown.should_alert("AE1234BK", "gate", seconds(59))
    assert not cooldown.should_alert("AE1234BK", "gate", seconds(118))
    assert cooldown.should_alert("AE1234BK", "gate", seconds(178))


def test_other_camera_or_plate_alerts_at_once() -> None:
    """The same car at the next camera is news (it is moving); so is another wanted car."""
    cooldown = AlertCooldown(60)
    assert cooldown.should_alert("AE1234BK", "gate", seconds(0))
    assert cooldown.should_alert("AE1234BK", "bridge", seconds(1))
    assert cooldown.should_alert("KA0001AA", "gate", seconds(2))


def test_late_delivery_does_not_alert_twice() -> None:
    """A slow source may deliver an older read after a newer one; it is the same pass."""
    cooldown = AlertCooldown(60)
    assert cooldown.should_alert("AE1234BK", "gate", seconds(100))
    assert not cooldown.should_alert("AE1234BK", "gate", seconds(10))
    assert not cooldown.should_alert("AE1234BK", "gate", seconds(150))


def test_a_strong_match_after_a_one_edit_alert_alerts_once_more() -> None:
    """A look-alike car (one edit off) must not silence the wanted car right behind it.

    A read within one edit may be another car, so the first exact or look-alike
    read in the same pass is news; after that the pass is quiet again, whatever
    the kind, and a late delivery of a strong read counts the same.
    """
    cooldown = AlertCooldown(300)
    one_edit, exact = MatchKind.ONE_EDIT, MatchKind.EXACT
    assert cooldown.should_alert("AE1234BK", "gate", seconds(0), kind=one_edit)
    assert not cooldown.should_alert("AE1234BK", "gate", seconds(5), kind=one_edit)
    assert cooldown.should_alert("AE1234BK", "gate", seconds(60), kind=exact)
    assert not cooldown.should_alert("AE1234BK", "gate", seconds(61), kind=exact)
    assert not cooldown.should_alert(
        "AE1234BK", "gate", seconds(62), kind=MatchKind.LOOKALIKE
    )
    assert not cooldown.should_alert("AE1234BK", "gate", seconds(63), kind=one_edit)

    assert cooldown.should_alert("AE1234BK", "bridge", seconds(100), kind=one_edit)
    assert cooldown.should_alert("AE1234BK", "bridge", seconds(90), kind=exact)
    assert not cooldown.should_alert("AE1234BK", "bridge", seconds(101), kind=exact)


def test_a_strong_first_alert_is_not_repeated_for_a_one_edit_read() -> None:
    """After an exact alert, a one-edit read in the same pass is nothing new."""
    cooldown = AlertCooldown(60)
    assert cooldown.should_alert("AE1234BK", "gate", seconds(0))
    assert not cooldown.should_alert(
        "AE1234BK", "gate", seconds(10), kind=MatchKind.ONE_EDIT
    )


def test_zero_cooldown_alerts_every_sighting() -> None:
    """An operator who turns the cooldown off must get every sighting."""
    cooldown = AlertCooldown(0)
    assert all(cooldown.should_alert("AE1234BK", "gate", seconds(s)) for s in range(3))


def test_memory_is_bounded() -> None:
    """A busy road sees thousands of plates a day; finished passes must be forgotten."""
    cooldown = AlertCooldown(60, max_keys=100)
    for number in range(1000):
        cooldown.should_alert(f"AA{number:04}AA", "gate", seconds(number))
    assert len(cooldown) <= 60
    for number in range(1000):
        cooldown.should_alert(f"BB{number:04}BB", "gate", seconds(1000))
    assert len(cooldown) == 100


def test_negative_cooldown_is_refused() -> None:
    """A negative cooldown is a configuration mistake, not a meaningful setting."""
    with pytest.raises(ValueError, match="negative"):
        AlertCooldown(-1)
    with pytest.raises(ValueError, match="max_keys"):
        AlertCooldown(60, max_keys=0)
