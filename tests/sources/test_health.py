"""A connection's health: when it counts as down, and when the user must act."""

from __future__ import annotations

from custom_components.plate_tracker.sources.health import ConnectionHealth


def test_three_failures_make_an_outage_and_one_success_ends_it() -> None:
    """Single failures are noise; the third in a row is an outage, reported once."""
    health = ConnectionHealth()
    assert [health.failed("timeout") for _ in range(4)] == [False, False, True, False]
    assert health.available is False
    assert health.consecutive_failures == 4
    assert health.succeeded() is True
    assert (health.available, health.consecutive_failures, health.last_error) == (
        True,
        0,
        None,
    )
    assert health.succeeded() is False


def test_a_refused_login_is_an_outage_at_once() -> None:
    """Waiting cannot fix a password: the first refusal already counts."""
    health = ConnectionHealth()
    assert health.failed("HTTP 401", auth=True) is True
    assert health.auth_failed is True
    assert health.failed("HTTP 401", auth=True) is False


def test_a_connection_down_that_starts_refusing_the_login_is_news() -> None:
    """A server back with a new token after an outage needs the user, not more waiting."""
    health = ConnectionHealth()
    for _ in range(3):
        health.failed("unreachable")
    assert health.available is False
    assert health.auth_failed is False
    assert health.failed("HTTP 401", auth=True) is True
    assert (health.auth_failed, health.last_error) == (True, "HTTP 401")
    assert health.failed("HTTP 401", auth=True) is False
    # Down again for another reason: still down, nothing new to ask of the user.
    assert health.failed("unreachable") is False
    assert health.auth_failed is False
