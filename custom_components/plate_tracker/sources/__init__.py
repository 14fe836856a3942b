"""Where frames come from: Frigate, a watched folder. Plain Python, no Home Assistant imports."""

from datetime import datetime, timedelta

MAX_CLOCK_AHEAD = timedelta(minutes=15)
"""How far after its arrival a source may date a picture (clocks drift; uploads take time)."""
MAX_CLOCK_BEHIND = timedelta(days=7)
"""How long before its arrival a source may date a picture (a camera uploading a backlog,
a Frigate event that ends hours after its best snapshot)."""


def plausible_time(told: datetime, arrived: datetime) -> bool:
    """Whether the time a source gives a picture fits when the picture reached us.

    Outside that window the source's clock is wrong (reset to 2000 by a power
    cut, set to local time east of UTC) and the arrival time must stand in: a
    sighting dated years back would be purged by the next nightly retention
    run, and one dated ahead would stay the "latest" of its camera.
    """
    return arrived - MAX_CLOCK_BEHIND <= told <= arrived + MAX_CLOCK_AHEAD
