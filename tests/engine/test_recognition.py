"""CTC decoding of the recogniser's output, on hand-made probability rows."""

from __future__ import annotations

import numpy as np

from custom_components.plate_tracker.engine.formats import PLATE_CHARS
from custom_components.plate_tracker.engine.recognition import ctc_decode


def _steps(columns: list[str]) -> np.ndarray:
    """One time step per entry: ``-`` is the CTC blank, anything else a plate character."""
    steps = np.full((len(columns), 1 + len(PLATE_CHARS)), 0.01, dtype=np.float32)
    for step, column in enumerate(columns):
        steps[step, 0 if column == "-" else 1 + PLATE_CHARS.index(column)] = 0.9
    return steps


def test_blanks_separate_repeats_and_held_characters_collapse() -> None:
    """``3-3`` is two threes, ``33`` held without a blank is one (CTC's rule)."""
    read = ctc_decode(_steps(list("A-B-3-3-H")))
    assert read.text == "AB33H"
    assert read.longest_run == 1
    merged = ctc_decode(_steps(list("A-B-333-H")))
    assert merged.text == "AB3H"
    assert merged.longest_run == 3


def test_empty_output_reads_nothing() -> None:
    """Only blanks: no text, no confidence."""
    read = ctc_decode(_steps(list("----")))
    assert read.text == ""
    assert read.confidence == 0.0
    assert read.longest_run == 0


def test_pitch_is_the_mean_step_from_one_character_to_the_next() -> None:
    """Characters emitted at steps 0, 2, 5 and 6: pitch (6 - 0) / 3; one character has none."""
    assert ctc_decode(_steps(list("A-B--CD"))).pitch == 2.0
    assert ctc_decode(_steps(list("--A--"))).pitch == 0.0


def test_a_character_spread_over_blank_steps_is_read() -> None:
    """A wide W at 0.47 and 0.39 loses each step to the blank, but is likelier there than not."""
    steps = _steps(list("AN--2529"))
    w = 1 + PLATE_CHARS.index("W")
    steps[2, 0], steps[2, w] = 0.49, 0.47
    steps[3, 0], steps[3, w] = 0.6, 0.39
    read = ctc_decode(steps)
    assert read.text == "ANW2529"
    assert PLATE_CHARS[int(read.probabilities[2].argmax())] == "W"
    # Greedy best path alone would read AN2529.
    assert [PLATE_CHARS[c - 1] for c in steps.argmax(axis=1) if c] == list("AN2529")


def test_faint_or_scattered_strokes_in_blank_steps_stay_out() -> None:
    """One faint step, or mass scattered over different characters, is no character."""
    faint = _steps(list("AB-C"))
    faint[2, 1 + PLATE_CHARS.index("8")] = 0.13
    faint[2, 0] = 0.86
    assert ctc_decode(faint).text == "ABC"
    scattered = _steps(list("AB--C"))
    scattered[2, 0], scattered[2, 1 + PLATE_CHARS.index("N")] = 0.44, 0.15
    scattered[3, 0], scattered[3, 1 + PLATE_CHARS.index("O")] = 0.25, 0.17
    assert ctc_decode(scattered).text == "ABC"
