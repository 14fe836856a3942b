"""Plate-format rules: turn what the recogniser saw into plate texts that can exist.

The recogniser gives, for every character it read, a probability for each plate
character. A format says, per position, whether a letter or a digit belongs
there (and which letters). Reading a text under a format keeps, per position, the
allowed characters only; a look-alike of the wrong kind (``0`` where a letter
must be, ``B`` where a digit must be) lends part of its probability to its twin,
so ``AA1234B8`` becomes ``AA1234BB`` on a Ukrainian plate while an unambiguous
``8`` stays an ``8`` where digits belong.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
import functools
import math

import numpy as np
import numpy.typing as npt

PLATE_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
"""The characters the engine reads; probability vectors are indexed in this order."""
DIGITS = "0123456789"
LATIN_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
UA_LETTERS = "ABCEHIKMOPTX"
"""The twelve letters of Ukrainian plates (Cyrillic letters with Latin twins)."""
BR_LETTERS = LATIN_LETTERS

# Which character a wrong-kind look-alike stands for, by what the position wants.
LETTER_FOR_DIGIT = {
    "0": "O",
    "1": "I",
    "2": "Z",
    "4": "A",
    "5": "S",
    "6": "G",
    "7": "T",
    "8": "B",
}
DIGIT_FOR_LETTER = {
    "O": "0",
    "Q": "0",
    "D": "0",
    "U": "0",
    "I": "1",
    "L": "1",
    "J": "1",
    "Z": "2",
    "S": "5",
    "B": "8",
    "G": "6",
    "T": "7",
    "A": "4",
}
# Letters that do not exist on Ukrainian plates, and the plate letter they resemble.
UA_LETTER_FOR_LETTER = {
    "D": "O",
    "Q": "O",
    "G": "C",
    "R": "P",
    "Y": "X",
    "L": "I",
    "J": "I",
}

FOLD_WEIGHT = 0.35
"""Share of a look-alike's probability lent to its twin: folding is possible, not free."""
ROUND_FOLD_WEIGHT = 0.8
"""O and 0 (and Q, D) share one round glyph in many plate fonts: the recogniser
cannot tell them apart, so the position decides almost alone."""
ROUND_GLYPHS = frozenset("0OQD")
THIN_STROKES = frozenset("1ILJ")
PROBABILITY_FLOOR = 1e-6
EMBLEM_GLYPHS = "80OQDB"
"""What a round seal or a coat of arms between plate groups is read as."""
EMBLEM_DROP_COST = 0.3

type ProbabilityMatrix = npt.NDArray[np.float32]
"""Shape (characters read, len(PLATE_CHARS)): one probability vector per character."""


@dataclass(frozen=True, slots=True)
class PlateFormat:
    """One way plates of a region are written, position by position."""

    name: str
    region: str
    pattern: str
    """Per position: ``L`` letter (from ``letters``), ``D`` digit, ``N`` digit but 0,
    ``A`` any plate character."""
    letters: str = LATIN_LETTERS
    prior: float = 0.0
    """Log-odds bonus: how much more often real plates fit this format than a loose one."""
    emblem_at: int | None = None
    """Position before which the plate carries an emblem or sticker (a coat of
    arms, an inspection seal) that recognisers read as one extra character."""
    emblem_glyphs: str = EMBLEM_GLYPHS
    """What that emblem is read as: dropping one of these there costs little."""
    rows: int = 1
    """Lines of text the plate is written in: a format of two rows fits only a
    read of two stacked lines (see ``match_formats``)."""
    fallback: bool = False
    """A loose format used only when no other region set has loose formats:
    theirs fit the same texts, and every format tried costs time per read."""

    @property
    def loose(self) -> bool:
        """Whether some place allows any character (vanity plates, unknown states)."""
        return "A" in self.pattern


@dataclass(frozen=True, slots=True)
class FormatMatch:
    """A plate text under one format, with how well the recogniser's output supports it."""

    text: str
    plate_format: PlateFormat
    confidence: float
    """Product of the per-character probabilities: the chance this text is exactly right."""
    score: float
    """log(confidence) + the format's prior - the cost of characters left out; ranks matches."""


_SPECIFIC = 0.0
_KNOWN = -0.4
_LOOSE = -1.4
_LOOSE_FOUR = _LOOSE - 0.8
"""Four loose characters also fit a sticker, a piece of a date or a phone number."""

FORMATS: tuple[PlateFormat, ...] = (
    PlateFormat("ua_standard", "ua", "LLDDDDLL", UA_LETTERS, _SPECIFIC),
    # Trailers, tractors and motorcycles: digits over letters.
    PlateFormat("ua_two_line", "ua", "DDDDDLL", UA_LETTERS, _KNOWN, rows=2),
    PlateFormat("ua_two_line_short", "ua", "DDDDLL", UA_LETTERS, _KNOWN, rows=2),
    # The 1995 series, one row (``059-54 KA``), still on old cars: rare now,
    # so it ranks as low as a loose format.
    PlateFormat("ua_1995", "ua", "DDDDDLL", UA_LETTERS, _LOOSE),
    # Individual plates: four to eight letters and digits of the owner's choice
    # (the same loose fit reads a foreign visitor's plate).
    *(
        PlateFormat(
            f"ua_individual_{length}",
            "ua",
            "A" * length,
            LATIN_LETTERS,
            _LOOSE if length > 4 else _LOOSE_FOUR,
            fallback=True,
        )
        for length in range(8, 3, -1)
    ),
    # Equal priors: a round glyph in the fifth place decides between the two
    # Brazilian series by what the recogniser saw (0 or O), not by the prior.
    PlateFormat("br_mercosur", "br", "LLLDLDD", BR_LETTERS, _KNOWN),
    PlateFormat("br_standard", "br", "LLLDDDD", BR_LETTERS, _KNOWN),
    # Slovak plates carry the coat of arms between district and number.
    PlateFormat("eu_sk", "eu", "LLDDDLL", LATIN_LETTERS, _KNOWN, emblem_at=2),
    # Czech plates start with the region's series digit, never 0, and carry the
    # round inspection seals between the series and the number.
    PlateFormat("eu_cz", "eu", "NLDDDDD", LATIN_LETTERS, _KNOWN, emblem_at=3),
    PlateFormat(
        "eu_cz_two_letters", "eu", "NLLDDDD", LATIN_LETTERS, _KNOWN, emblem_at=3
    ),
    PlateFormat("eu_cs_old", "eu", "LLLDDDD", LATIN_LETTERS, _KNOWN, emblem_at=3),
    PlateFormat("eu_generic_8", "eu", "A" * 8, LATIN_LETTERS, _LOOSE),
    PlateFormat("eu_generic_7", "eu", "A" * 7, LATIN_LETTERS, _LOOSE),
    PlateFormat("eu_generic_6", "eu", "A" * 6, LATIN_LETTERS, _LOOSE),
    PlateFormat("eu_generic_5", "eu", "A" * 5, LATIN_LETTERS, _LOOSE),
    # The serial formats most US states issue; vanity plates fall to the loose ones.
    # Some states print their emblem between the groups (Georgia's peach).
    PlateFormat(
        "us_abc1234",
        "us",
        "LLLDDDD",
        LATIN_LETTERS,
        _KNOWN,
        emblem_at=3,
        emblem_glyphs="CGO0",
    ),
    PlateFormat("us_1abc234", "us", "NLLLDDD", LATIN_LETTERS, _KNOWN),
    PlateFormat("us_123abc", "us", "DDDLLL", LATIN_LETTERS, _KNOWN),
    PlateFormat("us_abc123", "us", "LLLDDD", LATIN_LETTERS, _KNOWN),
    PlateFormat("us_12ab34", "us", "DDLLDD", LATIN_LETTERS, _KNOWN),
    PlateFormat("us_1234567", "us", "DDDDDDD", LATIN_LETTERS, _KNOWN),
    PlateFormat("us_123456", "us", "DDDDDD", LATIN_LETTERS, _KNOWN),
    PlateFormat("us_generic_7", "us", "A" * 7, LATIN_LETTERS, _LOOSE),
    PlateFormat("us_generic_6", "us", "A" * 6, LATIN_LETTERS, _LOOSE),
    PlateFormat("us_generic_5", "us", "A" * 5, LATIN_LETTERS, _LOOSE),
    PlateFormat("us_generic_4", "us", "A" * 4, LATIN_LETTERS, _LOOSE_FOUR),
)
"""All known formats; ``formats_for`` picks and orders those of the configured regions."""

MATCH_SCORE_RANGE = 6.0
"""Matches scoring this much below the best are not worth keeping as alternatives."""
ALL_DIGIT_PENALTY = 0.5
ALL_LETTER_PENALTY = 1.5
"""All-letter loose reads are mostly words, but vanity plates (``DELIGRL``) are
all letters too; slogans and state names also rank below the plate for their
smaller text (see the recogniser's PROMINENCE_WEIGHT)."""
WORDS_ON_PLATES = frozenset(
    [
        "ALABAMA",
        "ALASKA",
        "ARIZONA",
        "ARKANSAS",
        "CALIFORNIA",
        "COLORADO",
        "CONNECTICUT",
        "DELAWARE",
        "FLORIDA",
        "GEORGIA",
        "HAWAII",
        "IDAHO",
        "ILLINOIS",
        "INDIANA",
        "IOWA",
        "KANSAS",
        "KENTUCKY",
        "LOUISIANA",
        "MAINE",
        "MARYLAND",
        "MASSACHUSETTS",
        "MICHIGAN",
        "MINNESOTA",
        "MISSISSIPPI",
        "MISSOURI",
        "MONTANA",
        "NEBRASKA",
        "NEVADA",
        "OHIO",
        "OKLAHOMA",
        "OREGON",
        "PENNSYLVANIA",
        "TENNESSEE",
        "TEXAS",
        "UTAH",
        "VERMONT",
        "VIRGINIA",
        "WASHINGTON",
        "WISCONSIN",
        "WYOMING",
        "ALOHA",
        "DEALER",
        "SAMPLE",
    ]
)
"""All-letter words printed on plates that are not the registration."""

REGION_ORDER_COST = 0.15
"""Score lost per place a region stands behind the first configured one (Ukraine first)."""


def formats_for(regions: Sequence[str]) -> tuple[PlateFormat, ...]:
    """Return the formats of ``regions``, their priors lowered by the region's rank.

    Fallback formats are left out when another region brings loose formats.
    """
    chosen = [
        replace(plate_format, prior=plate_format.prior - REGION_ORDER_COST * rank)
        for rank, region in enumerate(regions)
        for plate_format in FORMATS
        if plate_format.region == region
    ]
    loose_elsewhere = any(f.loose and not f.fallback for f in chosen)
    return tuple(f for f in chosen if not (f.fallback and loose_elsewhere))


def _position_matrix(kind: str, letters: str) -> npt.NDArray[np.float32]:
    """Map a read probability vector to the probabilities allowed at one position."""
    size = len(PLATE_CHARS)
    matrix = np.zeros((size, size), dtype=np.float32)
    index = {char: i for i, char in enumerate(PLATE_CHARS)}
    allowed = _allowed(kind, letters)
    for char in allowed:
        matrix[index[char], index[char]] = 1.0
    if kind == "L":
        folds = dict(LETTER_FOR_DIGIT)
        if letters == UA_LETTERS:
            folds |= UA_LETTER_FOR_LETTER
        for source, target in folds.items():
            if target in allowed:
                matrix[index[target], index[source]] = _fold_weight(source, target)
    elif kind in "DN":
        for source, target in DIGIT_FOR_LETTER.items():
            if target in allowed:
                matrix[index[target], index[source]] = _fold_weight(source, target)
    return matrix


def _allowed(kind: str, letters: str) -> str:
    """Characters a position of ``kind`` (see ``PlateFormat.pattern``) accepts."""
    return {"D": DIGITS, "N": DIGITS[1:], "L": letters}.get(kind, PLATE_CHARS)


def _fold_weight(source: str, target: str) -> float:
    if source in ROUND_GLYPHS and target in ROUND_GLYPHS:
        return ROUND_FOLD_WEIGHT
    return FOLD_WEIGHT


_MATRICES: dict[tuple[str, str], npt.NDArray[np.float32]] = {}


def _matrix(kind: str, letters: str) -> npt.NDArray[np.float32]:
    key = (kind, letters)
    if key not in _MATRICES:
        _MATRICES[key] = _position_matrix(kind, letters)
    return _MATRICES[key]


def top_texts(allowed: ProbabilityMatrix, count: int) -> list[tuple[str, float]]:
    """Return the ``count`` most probable texts, positions taken as independent, best first.

    Every text is the best one with some positions changed to lower-ranked
    characters. One changed to ranks r1, r2, ... is beaten by each text with
    some of those changes lowered or undone, (r1 + 1)(r2 + 1)... - 1 of them, so
    only the patterns of ranks whose product is within ``count`` can place:
    for five, the best text, one position changed to its 2nd to 5th character,
    or two positions to their 2nd. All are scored at once; ties go to the
    later text in ``PLATE_CHARS`` order.
    """
    log_p = np.log(np.maximum(allowed, PROBABILITY_FLOOR))
    positions, columns = log_p.shape
    if positions == 0:
        return [("", 1.0)]
    ranks = _rank_patterns(positions, min(count, columns))
    # Ranked best first and, among equals, later character first, so that a
    # text's lower-ranked twins never precede it even in a tie.
    by_later = np.argsort(-log_p[:, ::-1], axis=1, kind="stable")
    order = (columns - 1 - by_later)[:, : int(ranks.max(initial=0)) + 1]
    rows = np.arange(positions)
    chosen = order[rows, ranks]
    values = log_p[rows, chosen].astype(np.float64)
    scores = np.zeros(len(ranks))
    for position in range(positions):
        # Added up in reading order: the same float as summing one text alone.
        scores = scores + values[:, position]
    best = np.lexsort((*chosen.T[::-1], scores))[::-1][:count]
    # One row of characters viewed as one string of ``positions`` characters.
    texts = _CHAR_ARRAY[chosen[best]].view(f"<U{positions}").ravel().tolist()
    return [
        (text, math.exp(score))
        for text, score in zip(texts, scores[best].tolist(), strict=True)
    ]


_CHAR_ARRAY = np.array(list(PLATE_CHARS), dtype="<U1")


@functools.lru_cache(maxsize=64)
def _rank_patterns(positions: int, count: int) -> npt.NDArray[np.intp]:
    """Return every pattern of ranks (0 = best) over ``positions`` whose (rank + 1) product is within ``count``."""
    patterns: list[tuple[int, ...]] = []

    def extend(prefix: tuple[int, ...], product: int) -> None:
        if len(prefix) == positions:
            patterns.append(prefix)
            return
        rank = 0
        while product * (rank + 1) <= count:
            extend((*prefix, rank), product * (rank + 1))
            rank += 1

    extend((), 1)
    return np.array(patterns, dtype=np.intp).reshape(len(patterns), positions)


def match_formats(
    probabilities: ProbabilityMatrix,
    formats: Sequence[PlateFormat],
    *,
    rows: int = 1,
    alternatives: int = 5,
) -> list[FormatMatch]:
    """Every reading of ``probabilities`` under ``formats``, best first.

    ``rows`` is the number of stacked lines the characters were read from;
    formats written in more rows than that are left out: a one-line read of
    four digits and two letters is a US plate (``5812HJ``), not a Ukrainian
    trailer's two rows with its ``J`` folded into an ``I``.

    When more characters were read than a format has, the format is tried on
    every contiguous window; characters left out cost their confidence (a
    confident extra character is more likely a misfit than stray text such as a
    country code or a frame screw).
    """
    # Every window of every format, with the score its best text could reach
    # (each position's likeliest allowed character), best first: a window
    # that cannot come within MATCH_SCORE_RANGE of a text already scored is
    # not read further, nor is any after it. The order changes no result: a
    # text that ranks was never below the bound that skips a window.
    # Formats of one shape (``LLLDDDD`` in Europe and the US, the loose ones)
    # see the same characters the same way in a window: read them once.
    read = _Read(probabilities)
    shapes: dict[_Shape, tuple[ProbabilityMatrix, float]] = {}
    windows: list[tuple[float, int, PlateFormat, _Shape, float]] = []
    for plate_format in formats:
        if plate_format.rows > rows:
            continue
        for kept, drop_cost in _windows(read, plate_format):
            shape = (plate_format.pattern, plate_format.letters, tuple(kept))
            if shape not in shapes:
                allowed = read.constrained(kept, plate_format)
                shapes[shape] = (
                    allowed,
                    float(
                        np.sum(
                            np.log(np.maximum(allowed.max(axis=1), PROBABILITY_FLOOR))
                        )
                    ),
                )
            bound = shapes[shape][1] + plate_format.prior - drop_cost
            windows.append((bound, len(windows), plate_format, shape, drop_cost))
    # Ties keep the formats' order, as reading them one by one did.
    windows.sort(key=lambda window: (-window[0], window[1]))
    texts: dict[_Shape, list[tuple[str, float]]] = {}
    found: dict[str, tuple[float, int, PlateFormat, float]] = {}
    best_score = -math.inf
    for bound, order, plate_format, shape, drop_cost in windows:
        if bound < best_score - MATCH_SCORE_RANGE:
            break
        if shape not in texts:
            texts[shape] = top_texts(shapes[shape][0], alternatives)
        for text, confidence in texts[shape]:
            penalty = _text_penalty(text, plate_format)
            if penalty is None:
                continue
            text = written_as(text, plate_format)
            score = (
                math.log(max(confidence, 1e-12))
                + plate_format.prior
                - drop_cost
                - penalty
            )
            best_score = max(best_score, score)
            known = found.get(text)
            # Equal scores: the window read first in the formats' order wins.
            if known is None or (known[0], -known[1]) < (score, -order):
                found[text] = (score, order, plate_format, confidence)
    ranked = sorted(
        (
            (score, order, text, plate_format, confidence)
            for text, (score, order, plate_format, confidence) in found.items()
            if score >= best_score - MATCH_SCORE_RANGE
        ),
        key=lambda item: (-item[0], item[1]),
    )
    return [
        FormatMatch(text, plate_format, confidence, score)
        for score, _, text, plate_format, confidence in ranked
    ]


type _Shape = tuple[str, str, tuple[int, ...]]
"""A window as formats see it: their pattern and letters, and the characters it keeps."""


class _Read:
    """One read's characters, with what every format's windows share worked out once.

    Windows of different formats overlap on the same characters: the cost of
    leaving a character out and a position's constrained probabilities are
    computed once per character, with the same arithmetic as for one window
    alone, so every window scores exactly as it would on its own.
    """

    def __init__(self, probabilities: ProbabilityMatrix) -> None:
        self.probabilities = probabilities
        self.length = probabilities.shape[0]
        self.columns = [int(row.argmax()) for row in probabilities]
        self.drop_costs = [
            _drop_term(row, column)
            for row, column in zip(probabilities, self.columns, strict=True)
        ]
        self._constrained: dict[tuple[str, str, int], npt.NDArray[np.float32]] = {}

    def drop_cost(self, *dropped: Iterable[int]) -> float:
        """Cost of leaving the characters at ``dropped`` out (see ``_drop_term``)."""
        cost = 0.0
        for indices in dropped:
            for index in indices:
                cost += self.drop_costs[index]
        return cost

    def constrained(
        self, kept: Sequence[int], plate_format: PlateFormat
    ) -> ProbabilityMatrix:
        """Per position of ``plate_format``, the probability of each character it allows there.

        The characters are those at ``kept``, one per position.
        """
        rows = []
        for kind, index in zip(plate_format.pattern, kept, strict=True):
            key = (kind, plate_format.letters, index)
            row = self._constrained.get(key)
            if row is None:
                row = _matrix(kind, plate_format.letters) @ self.probabilities[index]
                self._constrained[key] = row
            rows.append(row)
        return np.asarray(rows, dtype=np.float32)


def _windows(
    read: _Read, plate_format: PlateFormat
) -> Iterator[tuple[list[int], float]]:
    """Yield the runs of read characters that may be this plate, and the cost of the rest.

    Every contiguous window of the format's length; for formats with an emblem,
    also every window one longer whose character at the emblem's place is left
    out (cheaply when it has the emblem's round shape). Windows are given as
    the indices of the characters they keep.
    """
    read_length = read.length
    length = len(plate_format.pattern)
    for start in range(read_length - length + 1):
        yield (
            list(range(start, start + length)),
            read.drop_cost(range(start), range(start + length, read_length)),
        )
    emblem_at = plate_format.emblem_at
    if emblem_at is None:
        return
    for start in range(read_length - length):
        emblem = start + emblem_at
        glyph = PLATE_CHARS[read.columns[emblem]]
        yield (
            [index for index in range(start, start + length + 1) if index != emblem],
            read.drop_cost(range(start), range(start + length + 1, read_length))
            + (
                EMBLEM_DROP_COST
                if glyph in plate_format.emblem_glyphs
                else read.drop_cost([emblem])
            ),
        )


def _drop_term(row: npt.NDArray[np.float32], column: int) -> float:
    """Cost of leaving one character out of a plate read.

    A confident character costs more than a doubtful one. Thin strokes (1, I, L,
    J) are what plate frames, screws and edges are most often read as, so
    leaving them out costs less.
    """
    weight = 0.5 if PLATE_CHARS[column] in THIN_STROKES else 1.2
    return 0.4 * weight / 1.2 + weight * float(row[column])


def _text_penalty(text: str, plate_format: PlateFormat) -> float | None:
    """Extra cost of a text under a format; None when it is no plate at all."""
    # A date overlay read with a letter in it (``2O14050``) still starts with
    # digits; plates that start with letters are never taken for one.
    if ("L" not in plate_format.pattern or text[:1] in DIGITS) and looks_like_timestamp(
        text
    ):
        return None
    if plate_format.loose:
        return _loose_text_penalty(text)
    return 0.0


_DIGIT_TRANSLATION = str.maketrans(DIGIT_FOR_LETTER)


def looks_like_timestamp(text: str) -> bool:
    """Whether ``text`` reads like a date a camera burns into its picture (``20140514``).

    Camera overlays are the commonest confident digit strings in a frame; a
    digit-only plate that starts with a year and a month is rare by comparison.
    Only this century's dates count: a camera's clock is never set decades back.
    """
    if len(text) < 6:
        return False
    digits = text.translate(_DIGIT_TRANSLATION)
    return digits.isdigit() and digits[:2] == "20" and "01" <= digits[4:6] <= "12"


_DIGIT_SET, _LETTER_SET = frozenset(DIGITS), frozenset(LATIN_LETTERS)


def _loose_text_penalty(text: str) -> float | None:
    """Extra cost of a text under a loose format; None when it is no plate at all.

    Most plates mix letters and digits; all-digit plates exist (US, older
    series). All-letter texts are mostly words around a plate (state names,
    slogans, dealer frames), so they are kept only as a poor last resort.
    """
    has_digit = not _DIGIT_SET.isdisjoint(text)
    has_letter = not _LETTER_SET.isdisjoint(text)
    if has_digit and has_letter:
        return 0.0
    if has_digit:
        return ALL_DIGIT_PENALTY
    if text in WORDS_ON_PLATES:
        return None
    return ALL_LETTER_PENALTY


def fold_to_format(text: str, plate_format: PlateFormat) -> str | None:
    """Fold look-alikes in ``text`` to fit ``plate_format``; None when it cannot fit."""
    if len(text) != len(plate_format.pattern):
        return None
    folded = []
    for char, kind in zip(text, plate_format.pattern, strict=True):
        if kind in "DN" and char not in DIGITS:
            char = DIGIT_FOR_LETTER.get(char, char)
        elif kind == "L":
            if char not in LATIN_LETTERS:
                char = LETTER_FOR_DIGIT.get(char, char)
            if plate_format.letters == UA_LETTERS and char not in UA_LETTERS:
                char = UA_LETTER_FOR_LETTER.get(char, char)
        if char not in _allowed(kind, plate_format.letters):
            return None
        folded.append(char)
    return written_as("".join(folded), plate_format)


def written_as(text: str, plate_format: PlateFormat) -> str:
    """Return ``text`` as a plate of ``plate_format`` is written.

    Where the pattern allows any character (``A``), a round glyph is written 0:
    there is no position to tell O from 0 by, US states print one glyph for
    both, and registries (and the publishers of US ground truth) write it 0.
    Watchlist matching folds O and 0 anyway; this only fixes the spelling.
    """
    if "O" not in text or not plate_format.loose:
        return text
    return "".join(
        "0" if char == "O" and kind == "A" else char
        for char, kind in zip(text, plate_format.pattern, strict=True)
    )


def one_hot(text: str, confidence: float = 1.0) -> ProbabilityMatrix:
    """Build a probability matrix that read ``text`` with ``confidence`` per character.

    The remaining probability is spread evenly, as an uncertain reader would.
    """
    size = len(PLATE_CHARS)
    matrix = np.full(
        (len(text), size), (1.0 - confidence) / (size - 1), dtype=np.float32
    )
    for position, char in enumerate(text):
        matrix[position, PLATE_CHARS.index(char)] = confidence
    return matrix
