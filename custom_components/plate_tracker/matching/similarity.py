"""How alike two plate texts are: look-alike folding and the one-edit test.

Shared by watchlist matching and journey joining so that "this read is probably
that plate" means the same thing in an alert and in a route.
"""

from __future__ import annotations

from ..plate_text import fold_lookalikes, within_one_edit
from ..records import MatchKind

MIN_LOOKALIKE_LENGTH = 4
"""Plates shorter than this only match exactly: folding a 2- or 3-character
plate makes it equal to too many others."""
MIN_ONE_EDIT_LENGTH = 6
"""Plates shorter than this never match within one edit: one edit from a
5-character plate covers hundreds of real plates, and every such match would
point at the wrong car."""


def is_strong_match(kind: MatchKind) -> bool:
    """Return whether a match kind says the read is of a listed vehicle itself.

    Exact, pattern and look-alike matches do: they differ from the listed text
    only where OCR confuses characters. A read within one edit is also how the
    plates of other cars match, so it is weaker evidence than any of them.
    """
    return kind is not MatchKind.ONE_EDIT


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
