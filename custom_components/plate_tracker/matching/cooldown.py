"""One alert per vehicle pass: a cooldown per plate and camera.

A car waiting at a barrier is read every second; the police want one alert for
that pass, while the store still keeps every sighting.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta

DEFAULT_MAX_KEYS = 10_000
"""Plate and camera pairs remembered at most; far more than pass at once in a city."""


class AlertCooldown:
    """Decide whether a sighting starts a new pass and deserves an alert.

    A pass lasts while the same plate keeps being seen at the same camera with
    gaps shorter than the cooldown; its first sighting alerts, the rest do not.
    Measuring from the latest sighting rather than the latest alert means a car
    parked in view does not re-alert every ``seconds``.

    Pass the listed plate (``WatchlistHit.listed_plate``) as ``plate`` so that
    look-alike reads of one pass share one cooldown.
    """

    def __init__(self, seconds: float, *, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        """Create a cooldown; ``seconds`` of 0 alerts on every sighting."""
        if seconds < 0:
            raise ValueError("cooldown seconds must not be negative")
        if max_keys < 1:
            raise ValueError("max_keys must be positive")
        self._cooldown = timedelta(seconds=seconds)
        self._max_keys = max_keys
        # Latest sighting per key, least recently seen first, so forgetting
        # finished passes only ever looks at the front.
        self._last_seen: OrderedDict[tuple[str, str], datetime] = OrderedDict()

    def __len__(self) -> int:
        """Return how many plate and camera pairs are remembered."""
        return len(self._last_seen)

    def should_alert(self, plate: str, camera: str, at: datetime) -> bool:
        """Record a sighting and return whether it starts a new pass."""
        key = (plate, camera)
        last = self._last_seen.get(key)
        if last is not None and at < last:
            # A late delivery from a slow source belongs to a pass already seen.
            return False
        alert = last is None or at - last >= self._cooldown
        self._last_seen[key] = at
        self._last_seen.move_to_end(key)
        self._forget_finished_passes(at)
        return alert

    def _forget_finished_passes(self, now: datetime) -> None:
        """Drop keys whose pass has ended; they would alert again anyway.

        Under a flood of distinct plates the oldest live keys go too: at worst
        one of them alerts twice, which beats unbounded memory.
        """
        while self._last_seen:
            key, last = next(iter(self._last_seen.items()))
            if now - last < self._cooldown and len(self._last_seen) <= self._max_keys:
                return
            del self._last_seen[key]
