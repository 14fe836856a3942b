"""Plate-format rules: which texts can be plates, and how look-alikes fold by position."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from custom_components.plate_tracker.engine.formats import (
    FORMATS,
    PLATE_CHARS,
    PROBABILITY_FLOOR,
    fold_to_format,
    formats_for,
    looks_like_timestamp,
    match_formats,
    one_hot,
    top_texts,
)

FORMAT_BY_NAME = {plate_format.name: plate_format for plate_format in FORMATS}


@pytest.mark.parametrize(
    ("raw", "format_name", "expected"),
    [
        # A digit where a Ukrainian plate needs a letter becomes the letter it resembles.
        ("AA1234B8", "ua_standard", "AA1234BB"),
        ("0O1234KX", "ua_standard", "OO1234KX"),
        # A letter where a digit belongs becomes the digit it resembles.
        ("AAO2B4KX", "ua_standard", "AA0284KX"),
        ("AEI455KH", "ua_standard", "AE1455KH"),
        # Latin letters that Ukrainian plates never use fold to the plate letter they resemble.
        ("DA1234KX", "ua_standard", "OA1234KX"),
        # Letters with no look-alike of the needed kind cannot fit.
        ("AW1234KX", "ua_standard", None),
        ("AA12W4KX", "ua_standard", None),
        ("AA1234K", "ua_standard", None),
        ("ABC1D23", "br_mercosur", "ABC1D23"),
        ("A8C1D23", "br_mercosur", "ABC1D23"),
        ("ABC1023", "br_mercosur", "ABC1O23"),
        ("RKO99AN", "eu_sk", "RK099AN"),
        # Czech series digits start at 1: a leading round glyph cannot be a Czech 0.
        ("0KK7448", "eu_cz_two_letters", None),
        ("5AU5341", "eu_cz_two_letters", "5AU5341"),
        # Where any character may stand, the round glyph is written 0.
        ("CUSTOM", "us_generic_6", "CUST0M"),
        ("OLDCAR", "eu_generic_6", "0LDCAR"),
    ],
)
def test_fold_to_format(raw: str, format_name: str, expected: str | None) -> None:
    """Position folding is what turns an OCR look-alike slip into the real plate."""
    assert fold_to_format(raw, FORMAT_BY_NAME[format_name]) == expected


@pytest.mark.parametrize(
    ("raw", "regions", "expected_text", "expected_format"),
    [
        ("AE1455KH", ("ua", "eu", "us", "br"), "AE1455KH", "ua_standard"),
        # Ukraine first: an 8 in the last letter place is read as B.
        ("AE1455K8", ("ua", "eu", "us", "br"), "AE1455KB", "ua_standard"),
        ("BRA2E19", ("ua", "eu", "us", "br"), "BRA2E19", "br_mercosur"),
        ("UAAE1455KH", ("ua", "eu", "us", "br"), "AE1455KH", "ua_standard"),
        ("FUW999", ("ua", "eu", "us", "br"), "FUW999", "us_abc123"),
        # A US serial format ranks above the loose six-character one.
        ("FUW999", ("us",), "FUW999", "us_abc123"),
        # Illinois-style all-digit serial: a doubtful I in a digit place is a 1.
        ("4I41119", ("us",), "4141119", "us_1234567"),
        # The round seals between a Czech plate's series and number read as an 8.
        ("4B389376", ("ua", "eu", "us", "br"), "4B39376", "eu_cz"),
        ("BSE85579", ("ua", "eu", "us", "br"), "BSE5579", "eu_cs_old"),
        # A confident digit is not folded into a Brazilian letter just because it could be.
        ("6WAW786", ("ua", "eu", "us", "br"), "6WAW786", "us_1abc234"),
        # The round glyph O/0 is decided by position: the old Czechoslovak series
        # (like Brazil's) starts with three letters.
        ("0KK7448", ("ua", "eu", "us", "br"), "OKK7448", "eu_cs_old"),
        # A loose read writes the round glyph 0 (US states print one glyph for both)...
        ("CUSTOM", ("us",), "CUST0M", "us_generic_6"),
        # ...but a letter place of a serial format keeps its O.
        ("NOX218", ("us",), "NOX218", "us_abc123"),
        # Georgia's peach between the groups is read as a C and left out.
        ("BMNC2079", ("us",), "BMN2079", "us_abc1234"),
        # A confident all-letter vanity plate is not folded into a serial
        # (DE116RL, FZR012) just because look-alikes would allow it.
        ("DELIGRL", ("ua", "eu", "us", "br"), "DELIGRL", "eu_generic_7"),
        ("FZRULZ", ("ua", "eu", "us", "br"), "FZRULZ", "eu_generic_6"),
    ],
)
def test_best_match(
    raw: str, regions: tuple[str, ...], expected_text: str, expected_format: str
) -> None:
    """The best reading respects format and region priority, dropping stray characters."""
    matches = match_formats(one_hot(raw, 0.7), formats_for(regions))
    assert matches[0].text == expected_text
    assert matches[0].plate_format.name == expected_format


def test_emblem_is_dropped_only_at_its_place() -> None:
    """A seal is left out between a plate's groups, not anywhere a character fits better."""
    texts = [
        match.text
        for match in match_formats(one_hot("4B39376", 0.9), formats_for(("eu",)))
    ]
    assert texts[0] == "4B39376"
    # An eight in a Czech plate's number stays: it is not at the seal's place.
    matches = match_formats(one_hot("4B38376", 0.9), formats_for(("eu",)))
    assert matches[0].text == "4B38376"


def test_formats_of_one_shape_keep_their_own_priors() -> None:
    """Europe's ``LLLDDDD`` and the US one are read once, but each scores with its own prior.

    The region listed first wins; with equal priors the format listed first
    does, as when every format was read on its own.
    """
    read = one_hot("ABC1234", 0.8)
    us_first = match_formats(read, formats_for(("us", "eu")))
    eu_first = match_formats(read, formats_for(("eu", "us")))
    assert (us_first[0].text, us_first[0].plate_format.name) == (
        "ABC1234",
        "us_abc1234",
    )
    assert (eu_first[0].text, eu_first[0].plate_format.name) == ("ABC1234", "eu_cs_old")
    # The same characters under the same prior: the same score, whichever region leads.
    assert us_first[0].score == eu_first[0].score
    twins = (FORMAT_BY_NAME["eu_cs_old"], FORMAT_BY_NAME["us_abc1234"])
    assert twins[0].prior == twins[1].prior
    for order in (twins, twins[::-1]):
        (best, *_) = match_formats(read, order)
        assert best.plate_format is order[0]


def test_a_dropped_character_costs_the_same_in_every_window() -> None:
    """Stray characters on either side of the plate are charged once each, whatever the format."""
    formats = formats_for(("ua",))
    (alone, *_) = match_formats(one_hot("AE1234BK", 0.9), formats)
    framed = {
        match.text: match
        for match in match_formats(one_hot("7AE1234BK1", 0.9), formats)
    }["AE1234BK"]
    # A confident 7 costs 0.4 + 1.2 * 0.9; a thin 1 costs 0.4 * 0.5 / 1.2 + 0.5 * 0.9.
    dropped = (0.4 + 1.2 * 0.9) + (0.4 * 0.5 / 1.2 + 0.5 * 0.9)
    assert framed.plate_format is alone.plate_format
    # 0.9 is held as float32 in the read.
    assert framed.score == pytest.approx(alone.score - dropped, abs=1e-6)


def test_words_are_not_plates() -> None:
    """A state name or a dealer's word fits a loose format's length but is no plate."""
    matches = match_formats(one_hot("ALASKA", 0.99), formats_for(("us", "eu")))
    assert "ALASKA" not in [match.text for match in matches]


def test_vanity_letters_rank_below_mixed_text() -> None:
    """All-letter plates exist, but a read mixing letters and digits is the likelier plate."""
    formats = formats_for(("us",))
    vanity = match_formats(one_hot("DUKDAWG", 0.95), formats)[0]
    mixed = match_formats(one_hot("7DUK123", 0.95), formats)[0]
    assert vanity.text == "DUKDAWG"
    assert vanity.score < mixed.score


def test_confident_digit_stays_where_any_character_may_stand() -> None:
    """Folding only applies where the format demands a kind: loose formats keep the read."""
    matches = match_formats(one_hot("7ABC123", 0.95), formats_for(("us",)))
    assert matches[0].text == "7ABC123"


@pytest.mark.parametrize(
    ("raw", "rows", "expected_text", "expected_format"),
    [
        # One line of four digits and two letters is a US plate: its J stays a J.
        ("5812HJ", 1, "5812HJ", "us_generic_6"),
        ("8249AG", 1, "8249AG", "us_generic_6"),
        # Read from two stacked lines, it is a Ukrainian trailer's plate.
        ("6808XO", 2, "6808XO", "ua_two_line_short"),
        ("10922BX", 2, "10922BX", "ua_two_line"),
        # One row of five digits and two letters is still Ukrainian: the 1995 series.
        ("05954KA", 1, "05954KA", "ua_1995"),
        # One-row formats still fit a read of two rows.
        ("AE1455KH", 2, "AE1455KH", "ua_standard"),
    ],
)
def test_two_row_formats_fit_only_two_row_reads(
    raw: str, rows: int, expected_text: str, expected_format: str
) -> None:
    """A format written in two rows is not tried on a read of one line."""
    matches = match_formats(one_hot(raw, 0.9), formats_for(("ua", "us")), rows=rows)
    assert (matches[0].text, matches[0].plate_format.name) == (
        expected_text,
        expected_format,
    )


@pytest.mark.parametrize(
    ("regions", "expected_format"),
    [
        (("ua",), "ua_individual_7"),
        (("ua", "br"), "ua_individual_7"),
        (("ua", "eu", "us"), "eu_generic_7"),
    ],
)
def test_individual_plates(regions: tuple[str, ...], expected_format: str) -> None:
    """Ukraine alone still reads an owner's chosen plate; other regions' loose formats take over."""
    formats = formats_for(regions)
    matches = match_formats(one_hot("KYIV777", 0.95), formats)
    assert (matches[0].text, matches[0].plate_format.name) == (
        "KYIV777",
        expected_format,
    )
    assert any(f.fallback for f in formats) is expected_format.startswith("ua")


def test_alternatives_rank_the_second_guess() -> None:
    """An uncertain character yields the runner-up text as an alternative for fuzzy matching."""
    probabilities = one_hot("AE1455KH", 0.95)
    probabilities[3] = 0.0
    probabilities[3, PLATE_CHARS.index("4")] = 0.6
    probabilities[3, PLATE_CHARS.index("1")] = 0.4
    matches = match_formats(probabilities, formats_for(("ua",)))
    texts = [match.text for match in matches]
    assert texts[0] == "AE1455KH"
    assert "AE1155KH" in texts[1:]
    assert matches[0].confidence > matches[texts.index("AE1155KH")].confidence


def test_region_order_lowers_later_regions() -> None:
    """The region listed first in the options wins ties."""
    first = formats_for(("ua", "br"))
    assert [f.region for f in first][:3] == ["ua", "ua", "ua"]
    assert all(
        f.prior < FORMAT_BY_NAME[f.name].prior for f in first if f.region == "br"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20140514", True),
        ("2O14051", True),
        ("201404", True),
        ("198606", False),
        ("201499", False),
        ("4141119", False),
        ("20145", False),
    ],
)
def test_timestamps(text: str, expected: bool) -> None:
    """A camera's burned-in date is the commonest confident digit string in a frame."""
    assert looks_like_timestamp(text) is expected


def test_timestamp_is_no_digit_only_plate() -> None:
    """An overlay date never becomes a sighting, while a digit-only serial does."""
    texts = [
        m.text for m in match_formats(one_hot("20140514", 0.95), formats_for(("us",)))
    ]
    assert "20140514" not in texts
    assert (
        match_formats(one_hot("4141119", 0.95), formats_for(("us",)))[0].text
        == "4141119"
    )


def test_timestamp_read_with_a_letter_is_no_plate() -> None:
    """``2O14050`` (a date with its 0 read as O) fits the Czech format but is the camera's clock."""
    texts = [
        m.text for m in match_formats(one_hot("2O14050", 0.9), formats_for(("eu",)))
    ]
    assert "2O14050" not in texts
    # A plate that starts with letters is never taken for a date.
    assert (
        match_formats(one_hot("ZOI4051", 0.9), formats_for(("br",)))[0].text
        == "ZOI4051"
    )


def _every_text_ranked(allowed: np.ndarray) -> list[tuple[str, float]]:
    """Every text with its probability, best first; ties to the later text."""
    texts = [
        (
            "".join(chars),
            math.prod(
                float(allowed[i, PLATE_CHARS.index(c)]) for i, c in enumerate(chars)
            ),
        )
        for chars in itertools.product(PLATE_CHARS, repeat=allowed.shape[0])
    ]
    return sorted(texts, key=lambda item: (item[1], item[0]), reverse=True)


@pytest.mark.parametrize("positions", [0, 1, 2, 3])
@pytest.mark.parametrize("count", [1, 2, 5, 8])
def test_top_texts_are_the_most_probable_texts(positions: int, count: int) -> None:
    """The texts kept are exactly the ``count`` likeliest of all, in order, with their probabilities."""
    rng = np.random.default_rng(positions * 10 + count)
    for _ in range(5):
        allowed = rng.dirichlet(np.full(len(PLATE_CHARS), 0.3), size=positions)
        # Tied and impossible characters too, as a format's rules make them.
        if positions:
            allowed[:, rng.integers(0, len(PLATE_CHARS), 12)] = 0.0
            allowed[0, 3] = allowed[0, 4] = allowed[0].max()
        found = top_texts(allowed.astype(np.float32), count)
        expected = _every_text_ranked(
            np.maximum(allowed.astype(np.float32), PROBABILITY_FLOOR)
        )[:count]
        assert [text for text, _ in found] == [text for text, _ in expected]
        for (_, probability), (_, truth) in zip(found, expected, strict=True):
            assert probability == pytest.approx(truth, rel=1e-5)


def test_top_texts_keep_close_runners_up_of_a_long_plate() -> None:
    """Two doubtful places of an eight-character plate give the three texts that change them."""
    probabilities = one_hot("AE1455KH", 0.97)
    probabilities[2] = probabilities[5] = 0.0
    probabilities[2, PLATE_CHARS.index("1")] = 0.7
    probabilities[2, PLATE_CHARS.index("I")] = 0.3
    probabilities[5, PLATE_CHARS.index("5")] = 0.6
    probabilities[5, PLATE_CHARS.index("S")] = 0.4
    texts = [text for text, _ in top_texts(probabilities, 4)]
    assert texts == ["AE1455KH", "AE145SKH", "AEI455KH", "AEI45SKH"]
