"""One alert per vehicle pass: a cooldown per vehicle and camera.

A car waiting at a barrier is read every second; the police want one alert for
that pass, while the store still keeps every sighting.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..records import MatchKind
from .similarity import is_strong_match

DEFAULT_MAX_KEYS = 10_000
"""Vehicle and camera pairs remembered at most; far more than pass at once in a city."""


@dataclass(slots=True)
class _Pass:
    last_seen: datetime
    """The latest sighting of the pass."""
    alerted_strong: bool
    """Whether the pass has alerted on a strong match (see ``is_strong_match``)."""


class AlertCooldown:
    """Decide whether a sighting starts a new pass and deserves an alert.

    A pass lasts while the same vehicle keeps being seen at the same camera with
    gaps shorter than the cooldown; its first sighting alerts, the rest do not.
    Measuring from the latest sighting rather than the latest alert means a car
    parked in view does not re-alert every ``seconds``.

    A pass that alerted only on reads within one edit of the listed plate (which
    may be another car) alerts once more on the first strong match (exact,
    pattern or look-alike): the wanted car right behind a look-alike car must
    not be silenced by it.

    Pass ``WatchlistHit.vehicle`` as ``vehicle``: look-alike reads of one car
    share one cooldown, and each car a pattern lists has its own.
    """

    def __init__(self, seconds: float, *, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        """Create a cooldown; ``seconds`` of 0 alerts on every sighting."""
        if seconds < 0:
            raise ValueError("cooldown seconds must not be negative")
        if max_keys < 1:
            raise ValueError("max_keys must be positive")
        self._cooldown = timedelta(seconds=seconds)
        self._max_keys = max_keys
        # The pass per key, least recently seen first, so forgetting finished
        # passes only ever looks at the front.
        self._passes: OrderedDict[tuple[Hashable, str], _Pass] = OrderedDict()

    def __len__(self) -> int:
        """Return how many vehicle and camera pairs are remembered."""
        return len(self._passes)

    def should_alert(
        self,
        vehicle: Hashable,
        camera: str,
        at: datetime,
        *,
        kind: MatchKind = MatchKind.EXACT,
    ) -> bool:
        """Record a sighting matched as ``kind`` and return whether it deserves an alert."""
        key = (vehicle, camera)
        strong = is_strong_match(kind)
        current = self._passes.get(key)
        if current is None or at - current.last_seen >= self._cooldown:
            self._passes[key] = _Pass(last_seen=at, alerted_strong=strong)
            alert = True
        else:
            # A late delivery from a slow source (``at`` before the latest
            # sighting) belongs to the pass too.
            alert = strong and not current.alerted_strong
            current.alerted_strong |= strong
            if at < current.last_seen:
                return alert
            current.last_seen = at
        self._passes.move_to_end(key)
        self._forget_finished_passes(at)
        return alert

    def _forget_finished_passes(self, now: datetime) -> None:
        """Drop keys whose pass has ended; they would alert again anyway.

        Under a flood of distinct vehicles the oldest live keys go too: at worst
        one of them alerts twice, which beats unbounded memory.
        """
        while self._passes:
            key, current = next(iter(self._passes.items()))
            if (
                now - current.last_seen < self._cooldown
                and len(self._passes) <= self._max_keys
            ):
                return
            del self._passes[key]
