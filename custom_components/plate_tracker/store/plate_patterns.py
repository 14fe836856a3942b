"""Plate patterns and the one-edit neighbourhood used by search and fuzzy lookups.

Plain Python, no Home Assistant imports.
"""

from __future__ import annotations

import re

from ..plate_text import CYRILLIC_TO_LATIN, lookalike_key, normalize_plate
from .errors import StoreValidationError

WILDCARDS = frozenset("*?")
MAX_PLATE_LENGTH = 16
_PATTERN_CHARS = re.compile(r"^[0-9A-Z*?]+$")
_SEPARATORS = re.compile(r"[\s\-_.]")


def normalize_pattern(text: str) -> str:
    """Return a pattern in canonical plate form, wildcards kept.

    Raises ``StoreValidationError("invalid_plate_pattern")`` for characters that
    cannot be on a plate, an empty pattern, or one that is only wildcards.
    """
    pattern = _SEPARATORS.sub("", text.translate(CYRILLIC_TO_LATIN).upper())
    pattern = re.sub(r"\*+", "*", pattern)
    if (
        not pattern
        or not _PATTERN_CHARS.match(pattern)
        or not set(pattern) - WILDCARDS
        or len(pattern.replace("*", "")) > MAX_PLATE_LENGTH
    ):
        raise StoreValidationError("invalid_plate_pattern", pattern=text)
    return pattern


def is_pattern(plate: str) -> bool:
    """Return whether the text holds a ``*`` or ``?`` wildcard."""
    return not WILDCARDS.isdisjoint(plate)


def lookalike_pattern(pattern: str) -> str:
    """Fold the literal characters of a pattern as ``lookalike_key`` folds plates."""
    return "".join(ch if ch in WILDCARDS else lookalike_key(ch) for ch in pattern)


def longest_literal_run(pattern: str) -> int:
    """Return the length of the longest run of non-wildcard characters."""
    return max((len(run) for run in re.split(r"[*?]", pattern)), default=0)


def deletion_variants(key: str) -> set[str]:
    """Return the key and every string made by deleting one of its characters.

    Two keys are within one edit (insert, delete or replace) only if their
    variant sets share a member, which lets an index of variants find them.
    """
    return {key} | {key[:i] + key[i + 1 :] for i in range(len(key))}


def within_one_edit(left: str, right: str) -> bool:
    """Return whether two strings differ by at most one insert, delete or replace."""
    if left == right:
        return True
    if abs(len(left) - len(right)) > 1:
        return False
    if len(left) > len(right):
        left, right = right, left
    prefix = 0
    while prefix < len(left) and left[prefix] == right[prefix]:
        prefix += 1
    if len(left) == len(right):
        return left[prefix + 1 :] == right[prefix + 1 :]
    return left[prefix:] == right[prefix + 1 :]


def canonical_plate(text: str) -> str:
    """Return the canonical plate or raise ``invalid_plate`` when nothing is left."""
    plate = normalize_plate(text)
    if not plate or len(plate) > MAX_PLATE_LENGTH:
        raise StoreValidationError("invalid_plate", plate=text)
    return plate
