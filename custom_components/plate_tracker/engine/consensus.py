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

MAX_ALTERNATIVES = 5
MAX_PLATES = 8
"""Different plates told apart in one pass: two cars, a sign or a sticker read too.
Reads of none of them (the least confident, when this many are told apart)
only count as alternatives, so a pass of garbled frames costs no more than this."""


def combine_reads(reads: Sequence[PlateRead]) -> PlateRead | None:
    """Return the character-by-character consensus of ``reads`` (None when nothing to combine).

    The reads are first told apart by plate: two reads of one length that agree
    in most places read the same plate. A second car in the same NVR event is
    another plate, and voting its reads with this car's would make a plate
    neither carries. The plate with most confidence behind it is combined; the
    others only count as alternatives. Reads one character longer (a stray
    character at either end) are that plate's too when, aligned on the
    placement that agrees best, they agree with it in most places.
    """
    usable = [read for read in reads if read.text]
    if not usable:
        return None
    if len(usable) == 1:
        return usable[0]
    voters = max(
        (_with_stray_reads(plate, usable) for plate in _plates(usable)),
        key=lambda plate: (
            math.fsum(_weight(read) for read, _ in plate),
            -abs(len(plate[0][1]) - 7),
        ),
    )
    length = len(voters[0][1])

    votes: list[dict[str, float]] = [defaultdict(float) for _ in range(length)]
    for read, text in voters:
        for position, char in enumerate(text):
            votes[position][char] += _weight(read)

    chosen: list[str] = []
    least_share = 1.0
    for position_votes in votes:
        char, weight = max(position_votes.items(), key=lambda item: item[1])
        chosen.append(char)
        least_share = min(least_share, weight / math.fsum(position_votes.values()))
    text = "".join(chosen)
    # How sure the pass is, on the scale of one frame's read (which the store
    # and the minimum confidence compare it with): the chance that not every
    # frame that voted is wrong, times the least share of the vote the chosen
    # character got at any place. Agreeing frames raise it (two of 0.9 give
    # 0.99; one gives its own 0.9); a place where they disagree lowers it.
    # The same read repeated (an NVR's own read, sent again with each of its
    # event's messages) is one piece of evidence, not several.
    evidence_reads = {(read.text, read.confidence, read.box) for read, _ in voters}
    all_wrong = math.prod(1.0 - min(conf, 1.0) for _, conf, _ in evidence_reads)
    confidence = (1.0 - all_wrong) * least_share
    of_length = [read for read, _ in voters if len(read.text) == length]
    # Per-position votes can mix look-alikes from reads of different formats;
    # fold the result back into the format the reads agree on.
    formats = {read.plate_format for read in of_length}
    if len(formats) == 1 and (name := formats.pop()) in _FORMAT_BY_NAME:
        text = fold_to_format(text, _FORMAT_BY_NAME[name]) or text

    # The box, crop, format and raw text shown for the consensus come from the
    # read of this plate closest to it, never from another plate's read. The
    # plate's first read has the consensus length, and one that read the
    # consensus text itself agrees at every place.
    evidence = max(
        of_length, key=lambda read: (_agreement(read.text, text), read.confidence)
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


def _same_plate(text: str, reference: str) -> bool:
    """Whether two texts of one length agree in most places: reads of one plate."""
    return 2 * _agreement(text, reference) > len(reference)


def _plates(reads: Sequence[PlateRead]) -> list[list[PlateRead]]:
    """Group ``reads`` by plate, each group led by its most confident read.

    A read joins the first group whose leader it reads the same as; reads are
    taken most confident first (ties in the order given), so a group is led by
    its surest read, not by whichever frame came first.
    """
    plates: list[list[PlateRead]] = []
    for read in sorted(reads, key=_weight, reverse=True):
        for plate in plates:
            if len(read.text) == len(plate[0].text) and _same_plate(
                read.text, plate[0].text
            ):
                plate.append(read)
                break
        else:
            if len(plates) < MAX_PLATES:
                plates.append([read])
    return plates


def _with_stray_reads(
    plate: Sequence[PlateRead], reads: Sequence[PlateRead]
) -> list[tuple[PlateRead, str]]:
    """Return the plate's reads with the text each votes: longer ones trimmed, if they fit."""
    leader = plate[0].text
    voters = [(read, read.text) for read in plate]
    for read in reads:
        if len(read.text) == len(leader) + 1:
            trimmed = _best_trim(read.text, leader)
            if _same_plate(trimmed, leader):
                voters.append((read, trimmed))
    return voters


def _best_trim(text: str, reference: str) -> str:
    """Drop the first or the last character, whichever agrees better with ``reference``."""
    return max((text[1:], text[:-1]), key=lambda option: _agreement(option, reference))


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
