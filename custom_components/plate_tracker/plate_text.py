"""Plate text rules shared by the engine, the store and the matcher.

Plain Python, no Home Assistant imports. A plate is stored in one canonical form:
upper case, no spaces or dashes, Ukrainian Cyrillic letters replaced by the Latin
letters they look like (the form Ukrainian registries publish, e.g. ``AE1455KH``).
"""

from __future__ import annotations

import re

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

# Characters an OCR model confuses on plates, grouped into classes. Every member
# of a class folds to the class's first character, so two reads that differ only
# by look-alikes get the same key.
LOOKALIKE_CLASSES: tuple[str, ...] = ("0OQD", "1I", "8B", "5S", "2Z", "6G", "7T", "4A")
_FOLD = str.maketrans({ch: group[0] for group in LOOKALIKE_CLASSES for ch in group[1:]})
_NOT_PLATE_CHARS = re.compile(r"[^0-9A-Z]")


def normalize_plate(text: str) -> str:
    """Return the canonical form of a plate as a person or an OCR model wrote it."""
    return _NOT_PLATE_CHARS.sub("", text.translate(CYRILLIC_TO_LATIN).upper())


def lookalike_key(plate: str) -> str:
    """Return a key equal for all plates that differ only by look-alike characters."""
    return normalize_plate(plate).translate(_FOLD)
