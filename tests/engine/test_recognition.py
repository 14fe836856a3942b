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
