"""Per-vehicle consensus over several frames' reads."""

from __future__ import annotations

import random
import time

from custom_components.plate_tracker.engine.consensus import combine_reads
from custom_components.plate_tracker.engine.types import PlateRead


def _read(
    text: str, confidence: float, box: tuple[int, int, int, int] = (0, 0, 10, 5)
) -> PlateRead:
    return PlateRead(text=text, raw=text, confidence=confidence, box=box, region="ua")


def test_nothing_to_combine() -> None:
    """No reads (or only empty ones) give no plate rather than an empty one."""
    assert combine_reads([]) is None
    assert combine_reads([_read("", 0.5)]) is None


def test_single_read_is_kept_as_is() -> None:
    """One frame is its own consensus."""
    read = _read("AE1455KH", 0.8)
    assert combine_reads([read]) is read


def test_majority_outvotes_a_confident_misread() -> None:
    """Three frames agreeing beat one more confident frame with a look-alike slip."""
    reads = [
        _read("AE1455KH", 0.6),
        _read("AE1455KH", 0.55),
        _read("AE1456KH", 0.9),
        _read("AE1455KH", 0.5),
    ]
    combined = combine_reads(reads)
    assert combined is not None
    assert combined.text == "AE1455KH"
    assert ("AE1456KH", combined.alternatives[0][1]) == combined.alternatives[0]


def test_characters_combine_across_frames() -> None:
    """Each frame misreads a different character; the vote recovers every position."""
    reads = [
        _read("XE1455KH", 0.7),
        _read("AE1855KH", 0.7),
        _read("AE1455KB", 0.7),
        _read("AE1455KH", 0.3),
    ]
    combined = combine_reads(reads)
    assert combined is not None
    assert combined.text == "AE1455KH"


def test_agreement_raises_confidence() -> None:
    """More agreeing frames mean more confidence, never above 1."""
    frames = [_read("AE1455KH", 0.7, box=(10 * n, 0, 10 * n + 10, 5)) for n in range(5)]
    two = combine_reads(frames[:2])
    five = combine_reads(frames)
    assert two is not None
    assert five is not None
    assert two.confidence < five.confidence <= 1.0


def test_a_pass_is_surer_than_one_of_its_frames_on_the_same_scale() -> None:
    """The vote's confidence compares with one frame's, as the store and thresholds do.

    It was a product of per-place shares: two frames agreeing at 0.9 gave
    0.14, lower than either frame, so the store kept the first frame's read
    over the pass's vote, and a pass of several agreeing frames showed 14 %.
    """
    one = combine_reads([_read("AE1234BK", 0.9)])
    assert one is not None
    assert one.confidence == 0.9
    # Frames at other places of the picture (the car moved) are evidence each.
    two = combine_reads(
        [_read("AE1234BK", 0.9), _read("AE1234BK", 0.9, box=(40, 20, 50, 25))]
    )
    assert two is not None
    assert two.confidence == 0.99
    # The same read sent again (an NVR's own, with each event message) is not.
    repeated = combine_reads([_read("AE1234BK", 0.9)] * 3)
    assert repeated is not None
    assert repeated.confidence == 0.9
    split = combine_reads([_read("AE1234BX", 0.9), _read("AE1234BK", 0.85)])
    later = (40, 20, 50, 25)
    outvoted = combine_reads(
        [
            _read("AE1234BX", 0.9),
            _read("AE1234BK", 0.85),
            _read("AE1234BK", 0.85, box=later),
        ]
    )
    assert split is not None
    assert outvoted is not None
    assert (split.text, outvoted.text) == ("AE1234BX", "AE1234BK")
    # A place the frames disagree on costs its share of the vote.
    assert split.confidence < 0.6 < outvoted.confidence < one.confidence


def test_stray_extra_character_is_aligned() -> None:
    """A frame that also read a frame screw as a character still votes on the right places."""
    reads = [
        _read("AE1455KH", 0.5),
        _read("AE1455KH", 0.4),
        _read("IAE1456KH", 0.95),
        _read("AE1465KH", 0.45),
    ]
    combined = combine_reads(reads)
    assert combined is not None
    assert combined.text == "AE1455KH"


def test_evidence_comes_from_a_frame_with_the_chosen_text() -> None:
    """The box and crop shown as evidence belong to a frame that read the winning text."""
    reads = [
        _read("AE1455KH", 0.6, (1, 1, 5, 5)),
        _read("AE1455KH", 0.7, (2, 2, 6, 6)),
        _read("AE1456KH", 0.9, (3, 3, 7, 7)),
    ]
    combined = combine_reads(reads)
    assert combined is not None
    assert combined.box == (2, 2, 6, 6)


def test_generated_passes_recover_the_plate() -> None:
    """Over many noisy generated passes, consensus is right more often than the best single frame."""
    rng = random.Random(7)
    letters = "ABCEHIKMOPTX"
    consensus_right = best_frame_right = 0
    for _ in range(200):
        truth = (
            "".join(rng.choice(letters) for _ in range(2))
            + "".join(rng.choice("0123456789") for _ in range(4))
            + "".join(rng.choice(letters) for _ in range(2))
        )
        reads = []
        for _ in range(5):
            text = list(truth)
            if rng.random() < 0.5:
                text[rng.randrange(8)] = rng.choice(letters + "0123456789")
            reads.append(_read("".join(text), rng.uniform(0.3, 0.9)))
        combined = combine_reads(reads)
        assert combined is not None
        consensus_right += combined.text == truth
        best_frame_right += max(reads, key=lambda r: r.confidence).text == truth
    assert consensus_right > best_frame_right
    assert consensus_right >= 190


def test_votes_fold_back_into_the_agreed_format() -> None:
    """A digit that wins a letter place by vote is folded to its letter, as the format requires."""
    reads = [
        PlateRead(
            text=text,
            raw=text,
            confidence=c,
            box=(0, 0, 1, 1),
            region="ua",
            plate_format="ua_standard",
        )
        for text, c in (("AE1455KB", 0.5), ("AE1455K8", 0.9), ("AE1455KH", 0.3))
    ]
    combined = combine_reads(reads)
    assert combined is not None
    assert combined.text == "AE1455KB"


def test_evidence_of_a_voted_text_comes_from_a_read_of_this_plate() -> None:
    """A text no frame read whole takes its box and crop from a read like it, not the surest read.

    The surest read of the pass may be another car's plate inside the vehicle
    box: shown as the evidence, it would put that car at the scene.
    """

    def read(text: str, confidence: float, box: tuple[int, int, int, int]) -> PlateRead:
        return PlateRead(
            text=text,
            raw=text,
            confidence=confidence,
            box=box,
            region="us" if len(text) == 7 else "ua",
            plate_format="us_serial_7" if len(text) == 7 else "ua_standard",
            crop_jpeg=text.encode(),
        )

    combined = combine_reads(
        [
            read("AE1455KX", 0.4, (100, 300, 220, 330)),
            read("AX1455KH", 0.4, (110, 300, 230, 330)),
            read("XE1455KH", 0.4, (120, 300, 240, 330)),
            read("7ABC123", 0.95, (900, 500, 1000, 530)),
        ]
    )
    assert combined is not None
    assert combined.text == "AE1455KH"
    assert combined.box == (100, 300, 220, 330)
    assert combined.crop_jpeg == b"AE1455KX"
    assert (combined.region, combined.plate_format) == ("ua", "ua_standard")


def test_evidence_is_the_read_closest_to_the_voted_text() -> None:
    """Another car's plate of the same length, read more surely, is still not the evidence."""
    combined = combine_reads(
        [
            _read("AE1455KX", 0.45, (1, 1, 5, 5)),
            _read("AX1455KH", 0.45, (2, 2, 6, 6)),
            _read("XE1455KH", 0.45, (3, 3, 7, 7)),
            _read("BC7788PT", 0.6, (4, 4, 8, 8)),
        ]
    )
    assert combined is not None
    assert combined.text == "AE1455KH"
    assert combined.box == (1, 1, 5, 5)


def test_two_cars_in_one_pass_are_not_blended_into_a_third_plate() -> None:
    """A second car in the same NVR event gives reads of another plate of the same length.

    Voted on together, place by place, the two plates made one that neither car
    carries (``KX5278CE`` here): a sighting, and a watchlist check, of a plate
    that was never there. The reads of the plate with most confidence behind it
    are combined; the other plate stays an alternative.
    """
    reads = [
        _read("AA1234BB", 0.9),
        _read("KX5678CE", 0.6),
        _read("AA1234BB", 0.2),
        _read("KX5078CE", 0.55),
    ]
    combined = combine_reads(reads)
    assert combined is not None
    assert combined.text == "KX5678CE"
    assert "AA1234BB" in [text for text, _ in combined.alternatives]


def test_another_cars_read_with_a_stray_character_stays_out_of_the_vote() -> None:
    """A read one character longer joins the vote only when it is a read of the chosen plate.

    Aligned against any read of the consensus length, the other car's read
    tipped the place where this car's frames disagree (``KX5278CE``).
    """
    reads = [
        _read("KX5678CE", 0.6),
        _read("KX5078CE", 0.5),
        _read("AA1234BB", 0.3),
        _read("1AA1234BB", 0.35),
    ]
    combined = combine_reads(reads)
    assert combined is not None
    assert combined.text == "KX5678CE"


def test_a_long_pass_is_combined_quickly() -> None:
    """A car standing in view for minutes gives thousands of frames, combined on the event loop.

    Each read one character longer was aligned against every other read, so
    the cost grew with the square of the frames: 2000 frames took seconds.
    """
    reads = [
        _read("IAE1455KH" if index % 2 else "AE1455KH", 0.5 + (index % 7) / 20)
        for index in range(2000)
    ]
    started = time.perf_counter()
    combined = combine_reads(reads)
    elapsed = time.perf_counter() - started
    assert combined is not None
    assert combined.text == "AE1455KH"
    assert elapsed < 0.5
