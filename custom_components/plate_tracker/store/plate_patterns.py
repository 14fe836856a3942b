"""Plate patterns and the one-edit neighbourhood used by search and fuzzy lookups.

Plain Python, no Home Assistant imports.
"""

from __future__ import annotations

import re

from ..plate_text import WILDCARDS, normalize_plate, to_latin_upper
from .errors import StoreValidationError

MAX_PLATE_LENGTH = 16
_PATTERN_CHARS = re.compile(r"^[0-9A-Z*?]+$")
_SEPARATORS = re.compile(r"[\s\-_.]")


def normalize_pattern(text: str) -> str:
    """Return a pattern in canonical plate form, wildcards kept.

    Raises ``StoreValidationError("invalid_plate_pattern")`` for characters that
    cannot be on a plate, an empty pattern, or one that is only wildcards.
    """
    pattern = _SEPARATORS.sub("", to_latin_upper(text))
    pattern = re.sub(r"\*+", "*", pattern)
    if (
        not pattern
        or not _PATTERN_CHARS.match(pattern)
        or not set(pattern) - WILDCARDS
        or len(pattern.replace("*", "")) > MAX_PLATE_LENGTH
    ):
        raise StoreValidationError("invalid_plate_pattern", pattern=text)
    return pattern


def longest_literal_run(pattern: str) -> int:
    """Return the length of the longest run of non-wildcard characters."""
    return max((len(run) for run in re.split(r"[*?]", pattern)), default=0)


def canonical_plate(text: str) -> str:
    """Return the canonical plate or raise ``invalid_plate`` when nothing is left.

    A pattern is refused, not read as the plate its letters spell: stripped of
    its wildcards, ``AE?234BK`` would name another car (``AE234BK``).
    """
    plate = normalize_plate(text)
    if (
        not plate
        or len(plate) > MAX_PLATE_LENGTH
        or not WILDCARDS.isdisjoint(to_latin_upper(text))
    ):
        raise StoreValidationError("invalid_plate", plate=text)
    return plate
