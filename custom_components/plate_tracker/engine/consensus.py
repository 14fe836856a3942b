"""Combine the reads of several frames of one vehicle pass into the best single read.

Frames of one pass disagree in a character or two (motion blur, glare, a
look-alike). Voting per position, weighted by each frame's confidence, beats
picking the single most confident frame: a confident misread in one frame is
outvoted by the agreeing others.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
import dataclasses
import math

from .formats import FORMATS, fold_to_format
from .types import PlateRead

_FORMAT_BY_NAME = {plate_format.name: plate_format for plate_format in FORMATS}

PRIOR_WEIGHT = 0.5
"""Pseudo-weight of "something else" at every position: one frame never means certainty."""
MAX_ALTERNATIVES = 5


def combine_reads(reads: Sequence[PlateRead]) -> PlateRead | None:
    """Return the character-by-character consensus of ``reads`` (None when nothing to combine).

    The consensus length is the one with most confidence behind it. Reads one
    character longer (a stray character at either end) join the vote aligned on
    the placement that agrees best; other lengths only count as alternatives.
    """
    usable = [read for read in reads if read.text]
    if not usable:
        return None
    if len(usable) == 1:
        return usable[0]
    weight_by_length: dict[int, float] = defaultdict(float)
    for read in usable:
        weight_by_length[len(read.text)] += _weight(read)
    length = max(weight_by_length, key=lambda n: (weight_by_length[n], -abs(n - 7)))

    votes: list[dict[str, float]] = [defaultdict(float) for _ in range(length)]
    for read in usable:
        text = read.text
        if len(text) == length + 1:
            text = _best_trim(
                text, [read.text for read in usable if len(read.text) == length]
            )
        if len(text) != length:
            continue
        for position, char in enumerate(text):
            votes[position][char] += _weight(read)

    chosen: list[str] = []
    confidence = 1.0
    for position_votes in votes:
        char, weight = max(position_votes.items(), key=lambda item: item[1])
        chosen.append(char)
        confidence *= weight / (sum(position_votes.values()) + PRIOR_WEIGHT)
    text = "".join(chosen)
    # Per-position votes can mix look-alikes from reads of different formats;
    # fold the result back into the format the reads agree on.
    formats = {read.plate_format for read in usable if len(read.text) == length}
    if len(formats) == 1 and (name := formats.pop()) in _FORMAT_BY_NAME:
        text = fold_to_format(text, _FORMAT_BY_NAME[name]) or text

    # The box, crop, format and raw text shown for the consensus come from the
    # read closest to it: the most confident read of any length may be another
    # car's plate (a frame whose vehicle box held two). Reads of the consensus
    # length always exist (it is the length of some), and one that read the
    # consensus text itself agrees at every place.
    evidence = max(
        (read for read in usable if len(read.text) == length),
        key=lambda read: (_agreement(read.text, text), read.confidence),
    )
    return dataclasses.replace(
        evidence,
        text=text,
        confidence=round(confidence, 4),
        alternatives=_alternatives(usable, text),
    )


def _weight(read: PlateRead) -> float:
    # A floor keeps a low-confidence frame a (small) voter rather than none.
    return max(read.confidence, 0.01)


def _agreement(text: str, other: str) -> int:
    """Places at which two texts of one length hold the same character."""
    return sum(a == b for a, b in zip(text, other, strict=True))


def _best_trim(text: str, references: Sequence[str]) -> str:
    """Drop the first or the last character, whichever agrees better with ``references``."""
    options = (text[1:], text[:-1])

    def agreement(option: str) -> int:
        return sum(_agreement(option, reference) for reference in references)

    return max(options, key=agreement)


def _alternatives(
    reads: Sequence[PlateRead], chosen: str
) -> tuple[tuple[str, float], ...]:
    """Other texts seen in the pass, with their share of the total confidence."""
    totals: dict[str, float] = defaultdict(float)
    for read in reads:
        totals[read.text] += _weight(read)
        for text, confidence in read.alternatives:
            totals[text] += confidence * _weight(read)
    grand_total = math.fsum(totals.values())
    ranked = sorted(
        ((text, weight) for text, weight in totals.items() if text != chosen),
        key=lambda item: item[1],
        reverse=True,
    )
    return tuple(
        (text, round(weight / grand_total, 4))
        for text, weight in ranked[:MAX_ALTERNATIVES]
    )
