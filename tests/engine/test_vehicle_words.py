"""Which reads are a vehicle's make, model or badge rather than its plate."""

from __future__ import annotations

import pytest

from custom_components.plate_tracker.engine.vehicle_words import (
    VEHICLE_WORDS,
    is_vehicle_word,
)


@pytest.mark.parametrize(
    "text",
    [
        "QUEST",  # exact
        "LINC0LN",  # a digit read for its look-alike letter
        "MAXMA",  # MAXIMA with a letter left out
        "CHEVRDLE",  # CHEVROLET: one letter wrong, one left out
        "PASSATT",  # one added
        "octavia",
    ],
)
def test_badges_and_their_misreads_are_vehicle_words(text: str) -> None:
    """What the engine read on the covered-plate photos, and near misses of the list."""
    assert is_vehicle_word(text)


@pytest.mark.parametrize(
    "text",
    [
        "AE1455KH",  # Ukrainian plate
        "7ABC123",  # US serial
        "DUKDAWG",  # vanity plates of the photo set
        "C0UGAR",
        "SC0TT",
        "QUESTS",  # a five-letter word matches only exactly
        "MAXIMA12",  # more than one digit: a plate's characters
        "JEEP",  # four letters: left out, too close to real plates
        "KIA",
        "CHEVXXLE",  # three edits from CHEVROLET
        "",
    ],
)
def test_plates_and_other_words_are_not(text: str) -> None:
    """Plates, vanity plates and words too short or too far from the list stay plates."""
    assert not is_vehicle_word(text)


def test_the_words_are_upper_case_letters_long_enough_to_match() -> None:
    """Reads are folded to upper-case letters before the lookup; four letters are too few."""
    assert all(word.isalpha() and word.isupper() for word in VEHICLE_WORDS)
    assert min(map(len, VEHICLE_WORDS)) >= 5
