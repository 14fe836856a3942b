"""Tests of the plate text rules shared by the engine, the store and the matcher."""

from __future__ import annotations

import pytest

from custom_components.plate_tracker.plate_text import lookalike_key, normalize_plate
from custom_components.plate_tracker.store.errors import StoreValidationError
from custom_components.plate_tracker.store.plate_patterns import (
    canonical_plate,
    normalize_pattern,
)


@pytest.mark.parametrize(
    "text",
    [
        "ＡＥ１２３４ＢＫ",
        "ａｅ　１２３４　ｂｋ",
        "AE１２３４BK",
        "АЕ－1234－ВК",
    ],
)
def test_full_width_read_is_the_plate_it_shows(text: str) -> None:
    """Cameras and input methods set for East Asian markets write full-width characters.

    ``ＡＥ１２３４ＢＫ`` shows the plate ``AE1234BK``; dropping the characters
    as "not on a plate" left nothing (or a fragment), so the sighting was lost
    and a wanted car passed without an alert.
    """
    assert normalize_plate(text) == "AE1234BK"
    assert lookalike_key(text) == lookalike_key("AE1234BK")


def test_full_width_pattern_is_the_pattern_it_shows() -> None:
    """A search typed with a full-width keyboard must find what it shows, not be refused."""
    assert normalize_pattern("ＡＥ＊ＢＫ") == "AE*BK"
    assert canonical_plate("ＡＥ１２３４ＢＫ") == "AE1234BK"


@pytest.mark.parametrize("text", ["AE？234BK", "ＡＥ＊３４ＢＫ"])
def test_full_width_wildcard_is_not_read_as_a_plate(text: str) -> None:
    """A full-width ``？`` or ``＊`` is still a wildcard, so a plate look-up must refuse it.

    Stripped of it, ``AE？234BK`` would look up another car (``AE234BK``) and
    show that car's route as the wanted one's.
    """
    with pytest.raises(StoreValidationError):
        canonical_plate(text)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("MÜ-X 42", "MUX42"), ("GÖ AB 123", "GOAB123"), ("TÖL-ä 7", "TOLA7")],
)
def test_letter_with_diacritics_is_its_base_letter(text: str, canonical: str) -> None:
    """German plates carry umlauts (``MÜ`` Mühldorf, ``GÖ`` Göttingen).

    Dropped as "not on a plate", ``MÜ-X 42`` became ``MX42``, which is Munich's
    ``M-X 42``: an exact watchlist hit on the wrong car. The base letter is
    what an OCR model reads and what keeps the plate apart from others.
    """
    assert normalize_plate(text) == canonical
