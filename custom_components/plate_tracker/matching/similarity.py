"""How alike two plate texts are: look-alike folding and the one-edit test.

Shared by watchlist matching and journey joining so that "this read is probably
that plate" means the same thing in an alert and in a route.
"""

from __future__ import annotations

from enum import StrEnum

from ..plate_text import LOOKALIKE_CLASSES

MIN_LOOKALIKE_LENGTH = 4
"""Plates shorter than this only match exactly: folding a 2- or 3-character
plate makes it equal to too many others."""
MIN_ONE_EDIT_LENGTH = 6
"""Plates shorter than this never match within one edit: one edit from a
5-character plate covers hundreds of real plates, and every such match would
point at the wrong car."""


class MatchKind(StrEnum):
    """How a read matched a plate, strongest first."""

    EXACT = "exact"
    PATTERN = "pattern"
    LOOKALIKE = "lookalike"
    ONE_EDIT = "one_edit"


# Built from the public classes instead of plate_text's private table because
# patterns must keep their ``*`` and ``?`` while folding, and lookalike_key()
# strips every character that is not a letter or a digit.
_LOOKALIKE_FOLD = str.maketrans(
    {ch: group[0] for group in LOOKALIKE_CLASSES for ch in group[1:]}
)


def fold_lookalikes(text: str) -> str:
    """Fold look-alike characters of canonical text (wildcards are kept as they are)."""
    return text.translate(_LOOKALIKE_FOLD)


def within_one_edit(first: str, second: str) -> bool:
    """Return whether two different texts are one insertion, deletion or substitution apart.

    Equal texts return False: "one edit" is a separate, weaker kind of match
    than equality, and callers report it as such.
    """
    if first == second:
        return False
    if len(first) > len(second):
        first, second = second, first
    if len(second) - len(first) > 1:
        return False
    # Skip the common prefix; what remains must differ only by one edit.
    prefix = 0
    for a_char, b_char in zip(first, second, strict=False):
        if a_char != b_char:
            break
        prefix += 1
    if len(first) == len(second):
        return first[prefix + 1 :] == second[prefix + 1 :]
    return first[prefix:] == second[prefix + 1 :]


def misread_kind(read: str, plate: str) -> MatchKind | None:
    """Return how a canonical read matches a canonical plate (never PATTERN), or None.

    Look-alike folding is applied before the one-edit test, so ``AEI24BK``
    (a look-alike and a dropped character) is one edit from ``AE1234BK``.
    """
    if read == plate:
        return MatchKind.EXACT
    if len(plate) < MIN_LOOKALIKE_LENGTH:
        return None
    folded_read = fold_lookalikes(read)
    folded_plate = fold_lookalikes(plate)
    if folded_read == folded_plate:
        return MatchKind.LOOKALIKE
    if len(plate) >= MIN_ONE_EDIT_LENGTH and within_one_edit(folded_read, folded_plate):
        return MatchKind.ONE_EDIT
    return None
