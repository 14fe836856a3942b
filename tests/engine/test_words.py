"""Which reads are a word known not to be a plate: a make, model, badge or sign."""

from __future__ import annotations

import pytest

from custom_components.plate_tracker.engine.words import KNOWN_WORDS, is_known_word


@pytest.mark.parametrize(
    "text",
    [
        "QUEST",  # exact
        "LINC0LN",  # a digit read for its look-alike letter
        "MAXMA",  # MAXIMA with a letter left out
        "CHEVRDLE",  # CHEVROLET: one letter wrong, one left out
        "PASSATT",  # one added
        "octavia",
        "PRIVATE",  # signs
        "0NLY",
        "EXIT0NLY",  # a sign's line read as one
        "FORD",  # four-letter makes, exactly
        "NAULT",  # long makes cut at either end of the line
        "IKSWAGEN",
    ],
)
def test_badges_signs_and_their_misreads_are_known_words(text: str) -> None:
    """What the engine read on the covered-plate photos, and near misses of the list."""
    assert is_known_word(text)


@pytest.mark.parametrize(
    "text",
    [
        "AE1455KH",  # Ukrainian plate
        "7ABC123",  # US serial
        "DUKDAWG",  # vanity plates of the photo set
        "C0UGAR",
        "SC0TT",
        "QUESTS",  # a five-letter word matches only exactly
        "FORDS",
        "CUST0M",  # a vanity plate two edits from the sign word CUSTOMER
        "PETER",  # the start of PETERBILT, but a name
        "NAUL",  # too short a cut
        "PRIVATES",  # signs' words match only exactly
        "MAXIMA12",  # more than one digit: a plate's characters
        "KIA",  # three letters: too close to real plates
        "CHEVXXLE",  # three edits from CHEVROLET
        "STOPSTOPSTOPSTOP",  # more words than a sign's line
        "",
    ],
)
def test_plates_and_other_words_are_not(text: str) -> None:
    """Plates, vanity plates and words too short or too far from the list stay plates."""
    assert not is_known_word(text)


def test_the_words_are_upper_case_letters_long_enough_to_match() -> None:
    """Reads are folded to upper-case letters before the lookup; three letters are too few."""
    assert all(word.isalpha() and word.isupper() for word in KNOWN_WORDS)
    assert min(map(len, KNOWN_WORDS)) >= 4
