"""Validators the services' schemas share, for data that passes its type but not its use."""

from __future__ import annotations

import math
from typing import Any

from homeassistant.helpers import config_validation as cv
import voluptuous as vol

from .sources import storable_text
from .store import SQLITE_MAX_INTEGER


def whole_number(value: Any) -> int:
    """Coerce to int as ``vol.Coerce(int)`` does, refusing infinity too.

    A script's YAML can pass ``.inf``; ``int(inf)`` raises OverflowError,
    which ``vol.Coerce`` lets through as an unknown error instead of naming
    the field.
    """
    try:
        return int(value)
    except (OverflowError, TypeError, ValueError) as err:
        raise vol.Invalid("expected a whole number") from err


def real_number(value: Any) -> float:
    """Coerce to float as ``vol.Coerce(float)`` does, refusing NaN and what no float holds.

    An integer of 400 digits is valid YAML and JSON; ``float()`` raises
    OverflowError for it, which ``vol.Coerce`` lets through. NaN is refused
    here too, so no field relies on a ``vol.Range`` after it to do so.
    """
    try:
        number = float(value)
    except (OverflowError, TypeError, ValueError) as err:
        raise vol.Invalid("expected a number") from err
    if math.isnan(number):
        raise vol.Invalid("expected a number, not NaN")
    return number


def _row_id(value: Any) -> int:
    """Coerce to an id as ``whole_number`` does, refusing ``true`` and fractions.

    ``int(1.5)`` and ``int(True)`` are 1: a legal hold or an acknowledgement
    would act on a row nobody named.
    """
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise vol.Invalid("expected a whole number")
    return whole_number(value)


ROW_ID = vol.All(_row_id, vol.Range(min=1, max=SQLITE_MAX_INTEGER))
"""A sighting's, hit's or watchlist entry's id."""


def utf8_string(value: Any) -> str:
    r"""Coerce to a string as ``cv.string`` does, refusing what UTF-8 cannot write.

    JSON from the websocket API can carry a lone surrogate (``"\ud800"``);
    SQLite refuses it when the sighting, watchlist entry or audit line is
    written, long after the schema could have named the field.
    """
    string: str = cv.string(value)
    if not storable_text(string):
        raise vol.Invalid("expected text without lone surrogates (not UTF-8)")
    return string


REASON = vol.All(utf8_string, vol.Strip, vol.Length(min=3, max=500))
"""Why personal data is read or changed: kept in the audit log for good.

Searches, exports and route lookups (where one car went, where it is now,
as personal as a search for it) require one.
"""
