"""Validators the services' schemas share, for data that passes its type but not its use."""

from __future__ import annotations

from typing import Any

import voluptuous as vol

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


ROW_ID = vol.All(whole_number, vol.Range(min=1, max=SQLITE_MAX_INTEGER))
"""A sighting's, hit's or watchlist entry's id."""
