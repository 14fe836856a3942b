"""Read text-line crops with the PP-OCRv4 CTC recogniser, restricted to plate characters.

The model knows 6623 characters (mostly Chinese). Plates use 36: the engine
folds lower case, full-width and Cyrillic twins into them, treats punctuation
and spaces as CTC blanks (a dash or a dot between plate groups is not a
character), and ignores the rest, so the decoder can only ever output plate
characters, each with a probability vector for the format rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import unicodedata

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from PIL import Image

from ..plate_text import CYRILLIC_TO_LATIN
from .formats import PLATE_CHARS, ProbabilityMatrix
from .imaging import model_input

INPUT_HEIGHT = 48
"""The recogniser's input height: crops are scaled to it."""
MAX_BATCH = 8
_BLANK = 0
GAP_EMIT = 0.5
"""A character whose chance of being emitted somewhere in a run of blank time
steps reaches this (and beats that of the run emitting nothing) is read there:
see ``ctc_decode``."""


class RecognizerModelError(RuntimeError):
    """The recognition model lacks what the engine needs (its alphabet)."""


@dataclass(frozen=True, slots=True)
class LineRead:
    """What the recogniser read in one crop."""

    text: str
    probabilities: ProbabilityMatrix
    """One row per character of ``text`` over ``PLATE_CHARS``."""
    longest_run: int = 0
    """Most time steps one emitted character held without a blank: a character
    held over several steps may hide a repeat (``33``) that CTC merged."""
    pitch: float = 0.0
    """Mean time steps from one emitted character to the next (0 for fewer than
    two): below about 1.6 the characters are squeezed (a plate seen from the
    side) and the recogniser starts to drop and confuse them."""

    @property
    def confidence(self) -> float:
        """Product of the characters' top probabilities (0 for an empty read)."""
        if not self.text:
            return 0.0
        return float(np.prod(self.probabilities.max(axis=1)))


class TextRecognizer:
    """One reusable recogniser session; call from one thread at a time."""

    def __init__(self, session: ort.InferenceSession) -> None:
        """Wrap a loaded session; the caller sets its threading options."""
        self._session = session
        self._input_name = session.get_inputs()[0].name
        metadata = session.get_modelmeta().custom_metadata_map
        if "character" not in metadata:
            raise RecognizerModelError("recognition model has no 'character' metadata")
        # Output columns: CTC blank, the alphabet in metadata order, then a space.
        alphabet = ["", *metadata["character"].splitlines(), " "]
        self._source_columns, self._reduction = plate_reduction(alphabet)

    def read(self, crops: Sequence[Image.Image]) -> list[LineRead]:
        """Read each crop (RGB, any size; scaled to the model's height here)."""
        scaled = [_scale_to_height(crop) for crop in crops]
        results: list[LineRead | None] = [None] * len(scaled)
        # Batches of similar widths waste little work on padding.
        order = sorted(range(len(scaled)), key=lambda index: scaled[index].width)
        for begin in range(0, len(order), MAX_BATCH):
            indices = order[begin : begin + MAX_BATCH]
            width = max(scaled[index].width for index in indices)
            # Zero after normalisation is mid grey, the padding PP-OCR trained with.
            batch = np.zeros((len(indices), 3, INPUT_HEIGHT, width), dtype=np.float32)
            for slot, index in enumerate(indices):
                model_input(scaled[index], batch[slot, :, :, : scaled[index].width])
            output = self._session.run(None, {self._input_name: batch})[0]
            reduced = output[:, :, self._source_columns] @ self._reduction
            reduced /= np.maximum(reduced.sum(axis=2, keepdims=True), 1e-9)
            for slot, index in enumerate(indices):
                # Time steps beyond a crop's own width only saw padding.
                steps = max(1, -(-scaled[index].width * output.shape[1] // width))
                results[index] = ctc_decode(reduced[slot, :steps])
        return [result for result in results if result is not None]


def ctc_decode(steps: npt.NDArray[np.float32]) -> LineRead:
    """CTC decoding of (time, 1 + len(PLATE_CHARS)) probabilities.

    Greedy (best path), plus one correction: a character whose probability is
    spread over a run of time steps where the blank wins each step on its own
    (a wide ``W`` at 0.47 and 0.39 against blanks of 0.49 and 0.60) is still
    more likely emitted there than not, as CTC's sum over paths says (1 -
    0.53 * 0.61 = 0.68 against 0.49 * 0.60 = 0.29). Best-path decoding drops
    it; here it is read when that chance reaches GAP_EMIT. A faint stroke on
    one step (0.15 against a blank's 0.85) stays out.

    Each emitted character keeps the probability vector of its most confident
    time step, renormalised over the plate characters.
    """
    best = steps.argmax(axis=1)
    # (time step, column, probability row) of each character read, in time order.
    emitted: list[tuple[int, int, npt.NDArray[np.float32]]] = []
    previous = _BLANK
    run = longest_run = 0
    blank_from = 0
    for step, column in enumerate(best.tolist()):
        if column != _BLANK:
            row = steps[step, 1:]
            if column != previous:
                emitted.extend(_spread_character(steps, blank_from, step))
                emitted.append((step, column, row))
                run = 0
            elif row[column - 1] > emitted[-1][2][column - 1]:
                emitted[-1] = (emitted[-1][0], column, row)
            run += 1
            longest_run = max(longest_run, run)
            blank_from = step + 1
        previous = column
    emitted.extend(_spread_character(steps, blank_from, len(best)))
    if not emitted:
        return LineRead("", np.zeros((0, len(PLATE_CHARS)), dtype=np.float32))
    matrix = np.asarray([row for _, _, row in emitted], dtype=np.float32)
    matrix /= np.maximum(matrix.sum(axis=1, keepdims=True), 1e-9)
    starts = [step for step, _, _ in emitted]
    pitch = (starts[-1] - starts[0]) / (len(starts) - 1) if len(starts) > 1 else 0.0
    return LineRead(
        "".join(PLATE_CHARS[column - 1] for _, column, _ in emitted),
        matrix,
        longest_run,
        pitch,
    )


def _spread_character(
    steps: npt.NDArray[np.float32], start: int, end: int
) -> list[tuple[int, int, npt.NDArray[np.float32]]]:
    """Return the character spread over the blank steps ``start:end``, if likelier there than not."""
    if end <= start:
        return []
    run = steps[start:end]
    emitted = 1.0 - np.prod(1.0 - run[:, 1:], axis=0)
    char = int(emitted.argmax())
    if emitted[char] < GAP_EMIT or emitted[char] <= float(np.prod(run[:, _BLANK])):
        return []
    step = start + int(run[:, 1 + char].argmax())
    return [(step, char + 1, steps[step, 1:])]


def plate_reduction(
    alphabet: Sequence[str],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
    """Columns to keep, and the matrix summing them into blank + ``PLATE_CHARS``."""
    targets: list[tuple[int, int]] = []
    for column, symbol in enumerate(alphabet):
        if column == _BLANK:
            targets.append((column, _BLANK))
            continue
        # Only the Cyrillic twins and compatibility forms (full-width, NFKC)
        # fold in: the model's accented Latin letters (É, Ü) stay out, as they
        # did when the models were measured (see models/README.md).
        folded = "".join(
            char
            for char in unicodedata.normalize("NFKC", symbol)
            .translate(CYRILLIC_TO_LATIN)
            .upper()
            if char in PLATE_CHARS
        )
        if len(folded) == 1 and folded in PLATE_CHARS:
            targets.append((column, 1 + PLATE_CHARS.index(folded)))
        elif all(unicodedata.category(char)[0] in "PZS" for char in symbol):
            targets.append((column, _BLANK))
    columns = np.array([column for column, _ in targets], dtype=np.intp)
    reduction = np.zeros((len(targets), 1 + len(PLATE_CHARS)), dtype=np.float32)
    for row, (_, target) in enumerate(targets):
        reduction[row, target] = 1.0
    return columns, reduction


def _scale_to_height(crop: Image.Image) -> Image.Image:
    width = max(
        INPUT_HEIGHT // 2, round(crop.width * INPUT_HEIGHT / max(crop.height, 1))
    )
    return crop.resize((width, INPUT_HEIGHT), Image.Resampling.BILINEAR)
