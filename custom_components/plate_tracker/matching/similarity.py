"""How alike two plate texts are: look-alike folding and the one-edit test.

Shared by watchlist matching and journey joining so that "this read is probably
that plate" means the same thing in an alert and in a route.
"""

from __future__ import annotations

from ..plate_text import LOOKALIKE_CLASSES

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


def is_probable_misread(read: str, plate: str, *, min_length: int) -> bool:
    """Return whether ``read`` differs from ``plate`` only by look-alikes or one edit.

    Plates shorter than ``min_length`` never qualify: one edit away from a
    short plate is a large share of all plates.
    """
    if read == plate or len(plate) < min_length:
        return False
    folded_read = fold_lookalikes(read)
    folded_plate = fold_lookalikes(plate)
    return folded_read == folded_plate or within_one_edit(folded_read, folded_plate)
