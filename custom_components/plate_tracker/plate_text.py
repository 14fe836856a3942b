"""Plate text rules shared by the engine, the store and the matcher.

One place for them, so that search, watchlist matching and routes agree on
what counts as the same plate, a look-alike misread or one edit.

Plain Python, no Home Assistant imports. A plate is stored in one canonical form:
upper case, no spaces or dashes, Ukrainian Cyrillic letters replaced by the Latin
letters they look like (the form Ukrainian registries publish, e.g. ``AE1455KH``).
"""

from __future__ import annotations

import re
import unicodedata

# The twelve Cyrillic letters used on Ukrainian plates and their Latin twins.
CYRILLIC_TO_LATIN = str.maketrans(
    {
        "А": "A",
        "В": "B",
        "С": "C",
        "Е": "E",
        "Н": "H",
        "І": "I",
        "К": "K",
        "М": "M",
        "О": "O",
        "Р": "P",
        "Т": "T",
        "Х": "X",
        "а": "A",
        "в": "B",
        "с": "C",
        "е": "E",
        "н": "H",
        "і": "I",
        "к": "K",
        "м": "M",
        "о": "O",
        "р": "P",
        "т": "T",
        "х": "X",
    }
)

# Other characters that show a plate's Latin letters and digits, to be read as
# them: full-width forms (U+FF01-U+FF5E) and the ideographic space, which
# cameras and input methods set for East Asian markets write (``ＡＥ１２３４ＢＫ``;
# ``？`` is still a wildcard), and Latin letters with diacritics, which German
# plates carry (``MÜ`` Mühldorf): dropped, ``MÜ-X 42`` would be Munich's ``MX42``.
# Typographic dashes (en dash, minus, non-breaking hyphen...) that a plate pasted
# from a document carries are the hyphen a person would type.
_TO_LATIN = (
    CYRILLIC_TO_LATIN
    | str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"))
    | str.maketrans(
        {chr(code): chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)}
        | {"\u3000": " "}
    )
    | str.maketrans(
        {
            char: decomposed[0]
            for char in map(chr, range(0xC0, 0x250))
            if len(decomposed := unicodedata.normalize("NFD", char)) > 1
            and decomposed[0].isascii()
            and decomposed[0].isalpha()
            and all(unicodedata.combining(mark) for mark in decomposed[1:])
        }
    )
)

# Characters an OCR model confuses on plates, grouped into classes. Every member
# of a class folds to the class's first character, so two reads that differ only
# by look-alikes get the same key.
LOOKALIKE_CLASSES: tuple[str, ...] = ("0OQD", "1I", "8B", "5S", "2Z", "6G", "7T", "4A")
_FOLD = str.maketrans({ch: group[0] for group in LOOKALIKE_CLASSES for ch in group[1:]})
_NOT_PLATE_CHARS = re.compile(r"[^0-9A-Z]")

WILDCARDS = frozenset("*?")
"""``*`` stands for any run of characters, ``?`` for exactly one."""


def to_latin_upper(text: str) -> str:
    """Return text in upper case, with characters that show Latin letters or digits as them.

    Ukrainian Cyrillic letters, full-width forms, Latin letters with diacritics
    and typographic dashes become the plain Latin letters, digits and hyphens
    they show. Other characters are kept, so that a caller can still refuse or
    strip them.
    """
    return text.translate(_TO_LATIN).upper()


def normalize_plate(text: str) -> str:
    """Return the canonical form of a plate as a person or an OCR model wrote it."""
    return _NOT_PLATE_CHARS.sub("", to_latin_upper(text))


def fold_lookalikes(text: str) -> str:
    """Fold the look-alike characters of canonical text; wildcards stay as they are."""
    return text.translate(_FOLD)


def lookalike_key(plate: str) -> str:
    """Return a key equal for all plates that differ only by look-alike characters."""
    return fold_lookalikes(normalize_plate(plate))


def is_pattern(text: str) -> bool:
    """Return whether canonical text holds a ``*`` or ``?`` wildcard."""
    return not WILDCARDS.isdisjoint(text)


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


def deletion_variants(key: str) -> set[str]:
    """Return the key and every string made by deleting one of its characters.

    Two keys are within one edit (insert, delete or replace) only if their
    variant sets share a member, which lets an index of variants find them.
    """
    return {key} | {key[:i] + key[i + 1 :] for i in range(len(key))}
