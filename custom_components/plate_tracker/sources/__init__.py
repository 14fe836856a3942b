"""Where frames come from: Frigate, a watched folder. Plain Python, no Home Assistant imports."""

from datetime import datetime, timedelta
import logging
import re

_LOGGER = logging.getLogger(__name__)

CAMERA_NAME = re.compile(r"[a-zA-Z0-9_-]{1,128}")
"""A camera name a source may give: what Frigate accepts in its config (its
``REGEX_CAMERA_NAME``), of a sane length. Each camera gets a device and entities."""

MAX_CLOCK_AHEAD = timedelta(minutes=15)
"""How far after its arrival a source may date a picture (clocks drift; uploads take time)."""
MAX_CLOCK_BEHIND = timedelta(days=7)
"""How long before its arrival a source may date a picture (a camera uploading a backlog,
a Frigate event that ends hours after its best snapshot)."""


def storable_text(text: str) -> bool:
    r"""Whether ``text`` can be written as UTF-8, as the sightings store and its spool write it.

    Valid JSON such as ``"AE1234BK\ud800"`` decodes to a lone surrogate, which
    UTF-8 cannot write: SQLite refuses the sighting, and a sighting spooled for
    a later try blocks every one after it. A source refuses such text on arrival.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class SourceClock:
    """Dates pictures by their source's clock unless it is far off; names such a camera once.

    Outside MAX_CLOCK_BEHIND..MAX_CLOCK_AHEAD of a picture's arrival the
    source's clock is wrong (reset to 2000 by a power cut, set to local time
    east of UTC) and the arrival stands in: a sighting dated years back would
    be purged by the next nightly retention run, and one dated ahead would
    stay the "latest" of its camera.
    """

    def __init__(self, remedy: str) -> None:
        """``remedy`` ends the warning: what the user should set right."""
        self._remedy = remedy
        self._doubted: set[str] = set()

    def date(
        self, camera: str, told: datetime | None, arrived: datetime, *, what: str
    ) -> datetime:
        """Return when ``camera``'s picture ``what`` was taken: ``told``, or ``arrived``."""
        if told is None:
            return arrived
        if arrived - MAX_CLOCK_BEHIND <= told <= arrived + MAX_CLOCK_AHEAD:
            return told
        if camera not in self._doubted:
            self._doubted.add(camera)
            _LOGGER.warning(
                "Camera %s dates its pictures far from when they arrive (%s at %s, "
                "arrived %s): its clock looks wrong, so its sightings are dated by "
                "arrival. %s",
                camera,
                what,
                told.isoformat(timespec="seconds"),
                arrived.isoformat(timespec="seconds"),
                self._remedy,
            )
        return arrived
