"""The engine's entry point: image bytes (and an optional vehicle box) in, plate reads out."""

from __future__ import annotations

from collections.abc import Sequence
import copy
from dataclasses import dataclass, replace
from enum import IntEnum
import logging
import math
from pathlib import Path
import time

import numpy as np
import onnxruntime as ort
from PIL import Image

from .detection import TextDetector, TextLine
from .formats import FormatMatch, formats_for, looks_like_timestamp, match_formats
from .imaging import decode_image, encode_jpeg, local_contrast
from .models import ModelPaths, ensure_models
from .recognition import INPUT_HEIGHT, LineRead, TextRecognizer
from .types import Box, FrameResult, PlateRead, is_finite_number

_LOGGER = logging.getLogger(__name__)

DETECTION_SIDE_FRAME = 640
"""Longer side the detector sees for a frame up to 1280 px: plates of 60+ px width stay findable."""
DETECTION_SIDE_LARGE_FRAME = 960
"""Longer side for larger frames (1080p, photos): plates are smaller relative to the frame."""
LARGE_FRAME_SIDE = 1280
DETECTION_SIDE_VEHICLE = 384
"""Longer side for a vehicle box: the plate is large in it, so fewer pixels do."""
VEHICLE_UPSCALE = 2.0
"""A vehicle box smaller than its detection side is enlarged up to this many times."""
RETRY_SCALES = (1.25, 2.0)
LOCAL_CONTRAST_SCALE = 1.25
"""Times the first side at which a frame still without a plausible read is
looked at once more, with its local contrast evened out (``local_contrast``)."""
RETRY_BELOW_CONFIDENCE = 0.5
"""Without a read at least this confident that is no word (see ``_settled``),
the region is searched again at the next of RETRY_SCALES times the first side."""
NONZERO_DIGITS = frozenset("123456789")
SETTLING_LOOSE_LENGTH = 5
"""Characters a read that fits only a loose format needs to end the search."""
RETRY_UPSCALE = 2.0
"""A whole frame searched again may be enlarged up to this many times: the
plates of a small photo are small too."""
MAX_DETECTION_SIDE = 1280
TILE_SIDE = 640
"""Scales finer than DETECTION_SIDE_LARGE_FRAME are detected in tiles of at most
this side squared (detector pixels): detection memory grows with the area seen."""
TILE_OVERLAP = 96
"""Detector pixels shared by neighbouring tiles: a plate cut by one lies whole in the other."""
MIN_REGION_SIDE = 16
"""Pixels a vehicle box, or the region around a plate hint, must span each way
inside the image to be read: a smaller one holds no readable plate."""
MIN_DETECTION_SIDE = 320
"""Small images (plate crops) are enlarged to this for detection, not more: their text is large."""
MIN_LINE_HEIGHT = 8.0
JOIN_OVERLAP = 0.5
"""Line heights two pieces of one line may overlap by and still be joined."""
MIN_ASPECT, MAX_ASPECT = 1.2, 11.0
MAX_CANDIDATES = 5
"""Crops read per image at most: recognition time grows with every crop."""
FIRST_STAGE = 2
"""Candidates read before deciding whether the others are worth reading."""
SURE_CONFIDENCE = 0.85
"""A plate of a specific format read this confidently ends the search."""
MIN_CONFIDENCE = 0.05
"""Reads below this are noise (signs, stickers), not plates."""
READ_STRETCH = 1.4
"""Crops are widened by this before reading: more CTC time steps per character keep
repeated characters (``7333``) apart instead of collapsing them into one."""
WIDE_STRETCH = 2.2
WIDE_REREADS = 2
"""Unsure reads reread at WIDE_STRETCH, best first."""
MERGE_SUSPECT_RUN = 2
"""Time steps one character must hold for its read to be reread wider: a
character that comes and goes in one step hides no merged repeat."""
SHEAR_MIN_ANGLE, SHEAR_MAX_ANGLE = 0.15, 0.8
"""Radians of slope between which a line is also read sheared (see ``_line_crop``)."""
SQUEEZED_PITCH = 1.6
"""Time steps per character (``LineRead.pitch``) below which a line is read again
wider: a plate seen from the side is narrow, and packed that tightly the
recogniser drops and confuses characters (``BE7425CB`` read ``BE7450``)."""
UNSQUEEZED_PITCH = 2.4
MAX_UNSQUEEZE = 2.2
"""A squeezed line is read again stretched towards UNSQUEEZED_PITCH, at most this
many times wider than the first read."""
OVERLAP = 0.3
"""Share of the smaller box two reads must share to be of one place."""
MISSING_CHARACTER_COST = 1.0
PROMINENCE_WEIGHT = 2.0
"""Score lost per e-fold a read's box is shorter than the frame's tallest read:
a plate's characters are the largest text around it (stickers, slogans,
dealer frames and phone numbers on the car are smaller)."""
HINT_MARGIN_X = 1.0
HINT_MARGIN_Y = 1.5
"""Around a plate's place in an earlier frame of the same pass, shares of its
width and height each way that a later frame is read in first: a small region
reads faster than the vehicle box, and the vehicle box is searched only when
no plate settles there."""
CROP_MARGIN_Y = 0.08
CROP_MARGIN_X = 0.5
"""Shares of the line height added around a line before reading it: the detector's
boxes often clip a plate's first or last character, and a stray extra character
costs less (format matching drops it) than a lost one."""


@dataclass(frozen=True, slots=True)
class _Candidate:
    """One place that may hold a plate: one text line, or two stacked ones."""

    lines: tuple[TextLine, ...]

    def bounds(self) -> tuple[float, float, float, float]:
        boxes = [line.bounds() for line in self.lines]
        return (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )


class PlateRecognizer:
    """Reads license plates with the PP-OCRv4 models; one instance per worker thread."""

    def __init__(
        self,
        model_dir: Path,
        *,
        threads: int = 2,
        regions: Sequence[str] = ("ua", "eu", "us", "br"),
    ) -> None:
        """Load verified models from ``model_dir`` (see ``ensure_models``, no download here)."""
        paths: ModelPaths = ensure_models(model_dir, download=False)
        options = ort.SessionOptions()
        # One image at a time: parallelism inside an operator, none across them,
        # so two threads really mean two busy cores and no more.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Worker threads spin between the operators of a run (parking and
        # waking one for each of the networks' small operators costs time:
        # on the folded models, a detector run at 640x352 takes 24.1 against
        # 25.9 ms, a recogniser line 9.5 against 11.1 ms), and stop when the run ends:
        # left spinning after it, the detector's and the recogniser's pools
        # took the cores from each other (and from Home Assistant's event
        # loop), which doubled the time per frame.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1")
        options.add_session_config_entry("session.force_spinning_stop", "1")
        providers = ["CPUExecutionProvider"]
        self._detector = TextDetector(
            ort.InferenceSession(str(paths.detector), options, providers=providers)
        )
        self._recognizer = TextRecognizer(
            ort.InferenceSession(str(paths.recognizer), options, providers=providers)
        )
        self._formats = formats_for(regions)
        self.regions = tuple(regions)

    def for_regions(self, regions: Sequence[str]) -> PlateRecognizer:
        """Return a twin on the same loaded models that reads the formats of ``regions``.

        Shares the inference sessions: use it from the same thread as this one.
        """
        twin = copy.copy(self)
        twin._formats = formats_for(regions)  # noqa: SLF001 - its own class
        twin.regions = tuple(regions)
        return twin

    def read(
        self,
        image: bytes,
        vehicle_box: Box | None = None,
        plate_hint: Box | None = None,
    ) -> FrameResult:
        """Find and read the plates in ``image``; ``vehicle_box`` narrows the search.

        A ``vehicle_box`` that leaves less than MIN_REGION_SIDE pixels of itself
        inside the image each way (inverted, beyond the image, tiny) reads
        nothing: the whole frame read in its place would give another car's
        plate as this vehicle's.

        ``plate_hint`` is where this vehicle's plate is likely to be (its place
        in an earlier frame of the pass, in this frame's pixels): the region
        around it is read first, and the usual search runs only when no plate
        settles there. Raises ``ImageError`` for bytes that are not a usable image.
        """
        started = time.perf_counter()
        frame = decode_image(image)
        region = None if vehicle_box is None else _inside(vehicle_box, frame)
        hinted = None
        if vehicle_box is not None and region is None:
            _LOGGER.debug(
                "Read nothing: the vehicle box %s leaves less than %s pixels "
                "each way inside the %sx%s image",
                vehicle_box,
                MIN_REGION_SIDE,
                frame.width,
                frame.height,
            )
            plates: list[PlateRead] = []
        else:
            if plate_hint is not None:
                hinted = self._read_hint(frame, plate_hint, region)
            plates = self._read_frame(frame, region) if hinted is None else hinted
        return FrameResult(
            width=frame.width,
            height=frame.height,
            # Only the plates kept carry their picture, encoded once here: a
            # frame's search scores many candidate reads that are dropped.
            plates=tuple(
                replace(
                    plate,
                    crop_jpeg=encode_jpeg(
                        frame.crop(_with_margin(plate.box, frame, 0.15))
                    ),
                )
                for plate in plates
            ),
            seconds=time.perf_counter() - started,
            read_at_hint=hinted is not None,
        )

    def _read_hint(
        self, frame: Image.Image, hint: Box, vehicle_region: Box | None
    ) -> list[PlateRead] | None:
        """Return the plates around ``hint`` if one settles there, else None.

        The region stays inside the vehicle's (``vehicle_region``, as ``_inside``
        gives it): another car's plate beside it must not become this one's.
        """
        if not all(is_finite_number(value) for value in hint):
            return None
        # In floats: the margins of a hint near the largest float (±1e308)
        # overflow to infinity instead of raising, and such a region is no
        # place in the frame (``_inside``) unless the vehicle's box bounds it.
        x1, y1, x2, y2 = (float(value) for value in hint)
        width, height = x2 - x1, y2 - y1
        if width <= 0 or height <= 0:
            return None
        around = (
            x1 - HINT_MARGIN_X * width,
            y1 - HINT_MARGIN_Y * height,
            x2 + HINT_MARGIN_X * width,
            y2 + HINT_MARGIN_Y * height,
        )
        if vehicle_region is not None:
            vx1, vy1, vx2, vy2 = vehicle_region
            around = (
                max(around[0], vx1),
                max(around[1], vy1),
                min(around[2], vx2),
                min(around[3], vy2),
            )
        region = _inside(around, frame)
        if region is None:
            return None
        # Looked at as a vehicle box is at first, without the finer passes.
        plates = self._read_frame(frame, region, first_look_only=True)
        return plates if _settled(plates) else None

    def _read_frame(
        self,
        frame: Image.Image,
        box: Box | None,
        *,
        first_look_only: bool = False,
    ) -> list[PlateRead]:
        """Return the plates in ``box`` (a region as ``_inside`` gives it), or in the whole frame."""
        region = frame
        side = (
            DETECTION_SIDE_LARGE_FRAME
            if max(frame.size) > LARGE_FRAME_SIDE
            else DETECTION_SIDE_FRAME
        )
        offset = (0, 0)
        if box is not None:
            region, side, offset = (
                frame.crop(box),
                DETECTION_SIDE_VEHICLE,
                (box[0], box[1]),
            )
        whole = region is frame
        side = min(side, max(MIN_DETECTION_SIDE, *region.size))
        # A vehicle box is often small (a distant car): enlarged, its plate's
        # characters are tall enough for the detector. A whole frame is first
        # read as it is; a small photo is enlarged only when searched again.
        upscale = 1.0 if whole else VEHICLE_UPSCALE
        retry_upscale = (
            (1.0 if _looks_like_plate_crop(region) else RETRY_UPSCALE)
            if whole
            else VEHICLE_UPSCALE
        )

        def look(
            at_side: int, max_upscale: float, seen: Image.Image | None = None
        ) -> list[PlateRead]:
            return _suppress_overlaps(
                self._read_region(
                    frame,
                    region,
                    at_side,
                    offset,
                    whole_is_line=whole,
                    max_upscale=max_upscale,
                    seen=seen,
                )
            )

        def retry_side_at(scale: float) -> int:
            # Capped: detection memory grows with the square of the side.
            return min(
                round(side * scale),
                MAX_DETECTION_SIDE,
                round(max(region.size) * retry_upscale),
            )

        plates = look(side, upscale)
        if first_look_only:
            return plates
        searched = side
        for scale in RETRY_SCALES:
            if _settled(plates):
                break
            retry_side = retry_side_at(scale)
            if retry_side <= searched:
                break
            # Coarse to fine: a small, slanted or dim plate the quick pass missed
            # often shows at a finer scale; only frames without a good read pay for it.
            retried = look(retry_side, retry_upscale)
            searched = retry_side
            if _rank(retried) >= _rank(plates):
                plates = retried
        if not _settled(plates):
            # A dim plate in a dark rear, or a hazy one in glare, is too faint
            # for the detector at any scale: look once more with the local
            # contrast evened out, and read what it finds from the frame itself.
            # Evened out at the size the detector sees it (no smaller than a
            # 1280 px frame's, which is evened out as it is): a large photo's
            # float arrays at full size cost far more memory and time.
            contrast_side = retry_side_at(LOCAL_CONTRAST_SCALE)
            retried = look(
                contrast_side,
                retry_upscale,
                local_contrast(region, max_side=max(contrast_side, MAX_DETECTION_SIDE)),
            )
            if _rank(retried) > _rank(plates):
                plates = retried
        return plates

    def _read_region(
        self,
        frame: Image.Image,
        region: Image.Image,
        side: int,
        offset: tuple[int, int],
        *,
        whole_is_line: bool,
        max_upscale: float,
        seen: Image.Image | None = None,
    ) -> list[tuple[FormatMatch, PlateRead]]:
        """Every plate read in ``region`` seen at ``side``, with its format match.

        The detector looks at ``seen`` instead where given: a copy of the
        region, perhaps smaller; the characters are read from ``frame``.
        """
        seen = region if seen is None else seen
        lines = self._detect(
            seen,
            side,
            offset,
            max_upscale=max_upscale * region.width / seen.width,
            frame_scale=(region.width / seen.width, region.height / seen.height),
        )
        candidates = _candidates(lines)
        if whole_is_line and _looks_like_plate_crop(region):
            # A plate crop fills the image: the whole image is a line too, which
            # also covers crops too small for the detector.
            whole = TextLine(
                center_x=region.width / 2,
                center_y=region.height / 2,
                width=float(region.width),
                height=float(region.height),
                angle=0.0,
                score=1.0,
            )
            candidates.insert(0, _Candidate((whole,)))
        candidates = candidates[:MAX_CANDIDATES]
        # Each line is read as a rotated rectangle; a slanted one also sheared
        # upright; a squeezed read again wider. A candidate's plate is the best
        # of these ways of reading its lines.
        reads: list[dict[TextLine, LineRead]] = [{} for _ in _Cut]
        found: list[tuple[_Candidate, tuple[FormatMatch, PlateRead]]] = []
        # Most frames hold one plate among the first candidates: read those
        # first, and the rest only when no sure plate came out of them.
        for stage in (candidates[:FIRST_STAGE], candidates[FIRST_STAGE:]):
            new_lines = list(
                dict.fromkeys(
                    line
                    for c in stage
                    for line in c.lines
                    if line not in reads[_Cut.ROTATED]
                )
            )
            if new_lines:
                self._read_lines(frame, new_lines, reads)
            for candidate in stage:
                best = self._best_plate_from(frame, candidate, reads)
                if best is not None:
                    found.append((candidate, best))
            if any(_is_sure(match) for _, (match, _) in found):
                return [read for _, read in found]
        # No sure plate: the likeliest ones may have lost a repeated character
        # (``7333`` read ``733``) where CTC merged it, which shows as a character
        # held over several time steps. Read those stretched wider and keep that
        # read only when it restores a doubled character.
        found.sort(key=lambda item: item[1][0].score, reverse=True)
        for index, (candidate, best) in enumerate(found[:WIDE_REREADS]):
            if all(
                reads[_Cut.ROTATED][line].longest_run < MERGE_SUSPECT_RUN
                for line in candidate.lines
            ):
                continue
            wide = self._plate_from(
                frame,
                candidate,
                self._recognizer.read(
                    [_line_crop(frame, line, WIDE_STRETCH) for line in candidate.lines]
                ),
            )
            if wide is not None and _restores_repeat(best[0].text, wide[0].text):
                found[index] = (candidate, wide)
        return [read for _, read in found]

    def _detect(
        self,
        region: Image.Image,
        side: int,
        offset: tuple[int, int],
        *,
        max_upscale: float,
        frame_scale: tuple[float, float] = (1.0, 1.0),
    ) -> list[TextLine]:
        """Text lines of ``region`` seen at ``side``; in overlapping tiles above DETECTION_SIDE_LARGE_FRAME.

        ``frame_scale`` is the frame pixels per pixel of ``region`` (see
        ``TextDetector.detect``).

        Detection memory grows with the area seen at once, so the finest scale
        is reached tile by tile, each of at most TILE_SIDE squared detector
        pixels. Tiles are full-width strips where such a strip is still tall
        enough: they overlap less than square tiles (less is seen twice), and
        a horizontal cut leaves a plate, wider than tall, whole in one strip.
        """
        if side <= DETECTION_SIDE_LARGE_FRAME:
            return self._detector.detect(
                region,
                max_side=side,
                offset=offset,
                max_upscale=max_upscale,
                frame_scale=frame_scale,
            )
        scale = side / max(region.size)
        strip_height = TILE_SIDE * TILE_SIDE / (region.width * scale)
        if strip_height >= 3 * TILE_OVERLAP:
            tile_width, tile_height = region.width, round(strip_height / scale)
        else:
            tile_width = tile_height = round(TILE_SIDE / scale)
        overlap = round(TILE_OVERLAP / scale)
        lines: list[TextLine] = []
        for left in _tile_starts(region.width, tile_width, overlap):
            for top in _tile_starts(region.height, tile_height, overlap):
                box = (
                    left,
                    top,
                    min(region.width, left + tile_width),
                    min(region.height, top + tile_height),
                )
                lines.extend(
                    self._detector.detect(
                        region.crop(box),
                        max_side=round(max(box[2] - left, box[3] - top) * scale),
                        offset=(
                            offset[0] + left * frame_scale[0],
                            offset[1] + top * frame_scale[1],
                        ),
                        max_upscale=max_upscale,
                        frame_scale=frame_scale,
                    )
                )
        return lines

    def _read_lines(
        self,
        frame: Image.Image,
        lines: Sequence[TextLine],
        reads: list[dict[TextLine, LineRead]],
    ) -> None:
        """Read ``lines`` every way that fits them into ``reads`` (one dict per ``_Cut``)."""
        cuts = [(_Cut.ROTATED, line) for line in lines] + [
            (_Cut.SHEARED, line) for line in lines if _is_slanted(line)
        ]
        first = self._recognizer.read(
            [_line_crop(frame, line, sheared=cut is _Cut.SHEARED) for cut, line in cuts]
        )
        squeezed: list[tuple[_Cut, TextLine, float]] = []
        for (cut, line), read in zip(cuts, first, strict=True):
            reads[cut][line] = read
            if 0 < read.pitch < SQUEEZED_PITCH:
                widen = min(MAX_UNSQUEEZE, UNSQUEEZED_PITCH / read.pitch)
                squeezed.append((_WIDER[cut], line, READ_STRETCH * widen))
        if not squeezed:
            return
        wider = self._recognizer.read(
            [
                _line_crop(frame, line, stretch, sheared=cut is _Cut.SHEARED_WIDER)
                for cut, line, stretch in squeezed
            ]
        )
        for (cut, line, _), read in zip(squeezed, wider, strict=True):
            reads[cut][line] = read

    def _best_plate_from(
        self,
        frame: Image.Image,
        candidate: _Candidate,
        reads: list[dict[TextLine, LineRead]],
    ) -> tuple[FormatMatch, PlateRead] | None:
        """Return the best plate of the candidate's lines read each way they were cut."""
        rotated = reads[_Cut.ROTATED]
        plates = [
            self._plate_from(
                frame,
                candidate,
                [cut_reads.get(line, rotated[line]) for line in candidate.lines],
            )
            for cut_reads in reads
            if cut_reads is rotated
            or any(line in cut_reads for line in candidate.lines)
        ]
        found = [plate for plate in plates if plate is not None]
        return max(found, key=lambda plate: plate[0].score, default=None)

    def _plate_from(
        self, frame: Image.Image, candidate: _Candidate, line_reads: Sequence[LineRead]
    ) -> tuple[FormatMatch, PlateRead] | None:
        raw = "".join(read.text for read in line_reads)
        if looks_like_timestamp(raw):
            # The camera's clock: no part of it is a plate (``0140514`` out of
            # ``20140514`` fits a US serial as well as a whole date fits nothing).
            return None
        probabilities = np.concatenate([read.probabilities for read in line_reads])
        matches = match_formats(probabilities, self._formats, rows=len(candidate.lines))
        if not matches or matches[0].confidence < MIN_CONFIDENCE:
            return None
        best = matches[0]
        box = _clip_box(
            tuple(round(v) for v in candidate.bounds()),  # type: ignore[arg-type]
            frame.width,
            frame.height,
        )
        return best, PlateRead(
            text=best.text,
            raw=raw,
            confidence=round(best.confidence, 4),
            box=box,
            region=best.plate_format.region,
            plate_format=best.plate_format.name,
            loose=best.plate_format.loose,
            # Alternatives are scaled by how far their score trails the best
            # (format prior and left-out characters included), so a fragment
            # of the plate never looks likelier than the plate itself.
            alternatives=tuple(
                (
                    match.text,
                    round(best.confidence * math.exp(match.score - best.score), 4),
                )
                for match in matches[1:6]
            ),
        )


class _Cut(IntEnum):
    """How a line is cut out for the recogniser (an index into the reads)."""

    ROTATED = 0
    SHEARED = 1
    ROTATED_WIDER = 2
    SHEARED_WIDER = 3


_WIDER = {_Cut.ROTATED: _Cut.ROTATED_WIDER, _Cut.SHEARED: _Cut.SHEARED_WIDER}


def _is_word(plate: PlateRead) -> bool:
    """Whether a read fits only a loose format and has no digit but 0: a sign's word."""
    return plate.loose and not any(char in NONZERO_DIGITS for char in plate.text)


def _settled(plates: Sequence[PlateRead]) -> bool:
    """Whether a read is good enough to stop searching at finer scales.

    A plausible read settles it, unless it fits only a loose format and
    is a word (letters, perhaps with round glyphs written 0): shop signs
    and slogans read like that, plates rarely, and a plate whose last
    characters the coarse pass lost does too (``CCLVN`` for ``CCLVN-3``),
    however sure the recogniser is of the letters it saw. A loose read
    shorter than SETTLING_LOOSE_LENGTH does not settle it either: a piece
    of a date or a phone number in a corner reads like that (``0420``)
    while the plate is still too small to be seen.
    """
    return any(
        plate.confidence >= RETRY_BELOW_CONFIDENCE
        and not _is_word(plate)
        and (not plate.loose or len(plate.text) >= SETTLING_LOOSE_LENGTH)
        for plate in plates
    )


def _rank(plates: Sequence[PlateRead]) -> tuple[bool, float]:
    """Order of two passes' reads: a settled one first, then the more confident."""
    return _settled(plates), max((plate.confidence for plate in plates), default=0.0)


def _restores_repeat(text: str, wide: str) -> bool:
    """Whether ``wide`` is ``text`` with one character doubled, as CTC merges them."""
    return len(wide) == len(text) + 1 and any(
        wide[index] == wide[index + 1] and wide[:index] + wide[index + 1 :] == text
        for index in range(len(text))
    )


def _tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Offsets of tiles of ``tile`` pixels covering ``length`` with ``overlap``."""
    if length <= tile:
        return [0]
    count = math.ceil((length - overlap) / (tile - overlap))
    step = (length - tile) / (count - 1)
    return [round(index * step) for index in range(count)]


def _is_slanted(line: TextLine) -> bool:
    return SHEAR_MIN_ANGLE <= abs((line.shear or line).angle) <= SHEAR_MAX_ANGLE


def _is_sure(match: FormatMatch) -> bool:
    """Whether a read is good enough to stop looking at further candidates."""
    plate_format = match.plate_format
    # Loose and digit-only formats also fit signs, phone numbers and dates.
    return (
        match.confidence >= SURE_CONFIDENCE
        and not plate_format.loose
        and "L" in plate_format.pattern
    )


def _candidates(lines: Sequence[TextLine]) -> list[_Candidate]:
    """Places that may hold a plate, most plate-like first.

    A plate is one line shaped like plate text, two lines side by side that the
    detector split at a gap (``AA 1234 BB``), or two stacked lines (two-line plates).
    """
    tall_enough = [line for line in lines if line.height >= MIN_LINE_HEIGHT]
    joined = [
        _joined(left, right)
        for left in tall_enough
        for right in tall_enough
        if left is not right and _side_by_side(left, right)
    ]
    singles = [
        (_plate_likeness(line), _Candidate((line,)))
        for line in [*tall_enough, *joined]
        if MIN_ASPECT <= line.aspect <= MAX_ASPECT
    ]
    stacked = [
        (
            0.9 * min(_plate_likeness(upper), _plate_likeness(lower)),
            _Candidate((upper, lower)),
        )
        for upper in tall_enough
        for lower in tall_enough
        if upper is not lower and _stacked(upper, lower)
    ]
    ranked = sorted([*singles, *stacked], key=lambda item: item[0], reverse=True)
    return [candidate for _, candidate in ranked]


def _plate_likeness(line: TextLine) -> float:
    """Rank of a line as a plate: confident, not tiny, shaped like a plate's text."""
    shape = 1.0 if 2.0 <= line.aspect <= 7.0 else 0.6
    return line.score * min(1.0, line.height / 24.0) * shape


def _along(line: TextLine, angle: float) -> tuple[float, float, float]:
    """Where ``line`` starts and ends along direction ``angle``, and its centre across it."""
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    along = line.center_x * cos_a + line.center_y * sin_a
    across = line.center_y * cos_a - line.center_x * sin_a
    return along - line.width / 2, along + line.width / 2, across


def _side_by_side(left: TextLine, right: TextLine) -> bool:
    """Whether ``right`` continues ``left`` on the same line, after a small gap.

    Measured along the lines' direction, not in axis-aligned bounds: a slanted
    line's bounds grow by its height times the slope at each end, and the
    detector sometimes splits a slanted line into two overlapping pieces
    (``190`` and ``9024K`` out of ``19024K``).
    """
    if abs(left.angle - right.angle) >= 0.2:
        return False
    angle = (left.angle + right.angle) / 2
    l_start, l_end, l_across = _along(left, angle)
    r_start, r_end, r_across = _along(right, angle)
    height = max(left.height, right.height)
    return (
        l_start < r_start
        and l_end < r_end
        and -JOIN_OVERLAP * height < r_start - l_end < 1.2 * height
        and abs(l_across - r_across) < 0.3 * height
        and 0.7 < left.height / right.height < 1.4
    )


def _joined(left: TextLine, right: TextLine) -> TextLine:
    """One line spanning two side-by-side lines, along their mean direction."""
    angle = (left.angle + right.angle) / 2
    start, _, l_across = _along(left, angle)
    _, end, r_across = _along(right, angle)
    along, across = (start + end) / 2, (l_across + r_across) / 2
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    return TextLine(
        center_x=along * cos_a - across * sin_a,
        center_y=along * sin_a + across * cos_a,
        width=end - start,
        height=(left.height + right.height) / 2,
        angle=angle,
        score=min(left.score, right.score),
    )


def _stacked(upper: TextLine, lower: TextLine) -> bool:
    """Whether ``lower`` sits right under ``upper`` like the second line of a plate."""
    ux1, _, ux2, _ = upper.bounds()
    lx1, _, lx2, _ = lower.bounds()
    overlap = min(ux2, lx2) - max(ux1, lx1)
    gap = lower.center_y - upper.center_y
    return (
        overlap > 0.5 * min(ux2 - ux1, lx2 - lx1)
        and 0.6 * upper.height < gap < 1.6 * max(upper.height, lower.height)
        and 0.5 < lower.height / upper.height < 2.0
    )


def _looks_like_plate_crop(image: Image.Image) -> bool:
    return 1.5 <= image.width / image.height <= 6.0 and image.height <= 200


def _line_crop(
    frame: Image.Image,
    line: TextLine,
    stretch: float = READ_STRETCH,
    *,
    sheared: bool = False,
) -> Image.Image:
    """Cut the line out upright, with a margin, at about the recogniser's height.

    ``sheared`` cuts a parallelogram with vertical sides instead of the rotated
    rectangle (the detector's upright fit where it has one): a plate seen from
    the side has a sloping baseline but upright characters, which rotating
    would slant.
    """
    if sheared and line.shear is not None:
        line = line.shear
    width = line.width + 2 * CROP_MARGIN_X * line.height
    height = line.height * (1 + 2 * CROP_MARGIN_Y)
    if sheared:
        cos_a, sin_a = math.cos(line.angle), math.sin(line.angle)
        half_w, half_v = width / 2, height / (2 * cos_a)
        start = (line.center_x - half_w * cos_a, line.center_y - half_w * sin_a)
        end = (line.center_x + half_w * cos_a, line.center_y + half_w * sin_a)
        corners: tuple[tuple[float, float], ...] = (
            (start[0], start[1] - half_v),
            (end[0], end[1] - half_v),
            (end[0], end[1] + half_v),
            (start[0], start[1] + half_v),
        )
        height = 2 * half_v
    else:
        corners = TextLine(
            center_x=line.center_x,
            center_y=line.center_y,
            width=width,
            height=height,
            angle=line.angle,
            score=line.score,
        ).corners()
    scale = INPUT_HEIGHT / max(height, 1.0)
    size = (max(1, round(width * scale * stretch)), INPUT_HEIGHT)
    source, factor = frame, int(0.5 / scale)
    origin_x = origin_y = 0
    if factor >= 2:
        # Average pixels down first: a bilinear transform alone would alias.
        xs, ys = [x for x, _ in corners], [y for _, y in corners]
        origin_x, origin_y, right, bottom = _clip_box(
            (
                math.floor(min(xs)),
                math.floor(min(ys)),
                math.ceil(max(xs)),
                math.ceil(max(ys)),
            ),
            frame.width,
            frame.height,
        )
        if right - origin_x >= factor and bottom - origin_y >= factor:
            source = frame.crop((origin_x, origin_y, right, bottom)).reduce(factor)
        else:
            factor, origin_x, origin_y = 1, 0, 0
    else:
        factor = 1
    (tlx, tly), (trx, try_), (brx, bry), (blx, bly) = (
        ((x - origin_x) / factor, (y - origin_y) / factor) for x, y in corners
    )
    return source.transform(
        size,
        Image.Transform.QUAD,
        (tlx, tly, blx, bly, brx, bry, trx, try_),
        resample=Image.Resampling.BILINEAR,
    )


def _inside(box: tuple[float, float, float, float], frame: Image.Image) -> Box | None:
    """Return the part of ``box`` inside ``frame``, in whole pixels.

    None when a coordinate is no finite number, or when less than
    MIN_REGION_SIDE pixels of the box lie inside the frame each way.
    """
    if not all(is_finite_number(value) for value in box):
        return None
    x1, y1, x2, y2 = _clip_box(
        (round(box[0]), round(box[1]), round(box[2]), round(box[3])),
        frame.width,
        frame.height,
    )
    if x2 - x1 < MIN_REGION_SIDE or y2 - y1 < MIN_REGION_SIDE:
        return None
    return (x1, y1, x2, y2)


def _clip_box(box: Box, width: int, height: int) -> Box:
    x1, y1, x2, y2 = box
    return (
        max(0, min(width, x1)),
        max(0, min(height, y1)),
        max(0, min(width, x2)),
        max(0, min(height, y2)),
    )


def _with_margin(box: Box, frame: Image.Image, share: float) -> Box:
    x1, y1, x2, y2 = box
    margin = round(share * (y2 - y1))
    return _clip_box(
        (x1 - margin, y1 - margin, x2 + margin, y2 + margin), frame.width, frame.height
    )


def _suppress_overlaps(plates: list[tuple[FormatMatch, PlateRead]]) -> list[PlateRead]:
    """One read per place, places in order of how likely each is the plate.

    Where candidates overlap, the best-scoring one wins. A read that is part of
    an overlapping longer read (``343404`` inside ``G343404``) scores as if it
    had left the longer read's extra characters out: otherwise the fewer
    characters a read has, the likelier it looks. Across places, a read also
    loses score the smaller its text is than the largest read's (see
    PROMINENCE_WEIGHT).
    """

    def ranked(item: tuple[FormatMatch, PlateRead]) -> float:
        match, plate = item
        missing = max(
            (
                len(other.text) - len(plate.text)
                for _, other in plates
                if len(other.text) > len(plate.text)
                and plate.text in other.text
                and _overlap(plate.box, other.box) >= OVERLAP
            ),
            default=0,
        )
        return match.score - MISSING_CHARACTER_COST * missing

    kept: list[tuple[float, PlateRead]] = []
    for score, plate in sorted(
        ((ranked(item), item[1]) for item in plates),
        key=lambda scored: scored[0],
        reverse=True,
    ):
        if all(_overlap(plate.box, other.box) < OVERLAP for _, other in kept):
            kept.append((score, plate))
    tallest = max((_height(plate) for _, plate in kept), default=1)
    return [
        plate
        for _, plate in sorted(
            kept,
            key=lambda item: (
                item[0] + PROMINENCE_WEIGHT * math.log(_height(item[1]) / tallest)
            ),
            reverse=True,
        )
    ]


def _height(plate: PlateRead) -> int:
    return max(1, plate.box[3] - plate.box[1])


def _overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box's area."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return width * height / max(smaller, 1)
