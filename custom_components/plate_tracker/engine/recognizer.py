"""The engine's entry point: image bytes (and an optional vehicle box) in, plate reads out."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from .detection import TextDetector, TextLine
from .formats import FormatMatch, formats_for, match_formats
from .imaging import decode_image, encode_jpeg
from .models import ModelPaths, ensure_models
from .recognition import INPUT_HEIGHT, LineRead, TextRecognizer
from .types import Box, FrameResult, PlateRead

DETECTION_SIDE_FRAME = 640
"""Longer side the detector sees for a full frame: plates of 60+ px width stay readable."""
DETECTION_SIDE_VEHICLE = 384
"""Longer side for a vehicle box: the plate is large in it, so fewer pixels do."""
MAX_UPSCALE = 2.0
"""Small images (plate crops) are enlarged at most this much for detection."""
MIN_LINE_HEIGHT = 8.0
MIN_ASPECT, MAX_ASPECT = 1.2, 11.0
MAX_CANDIDATES = 8
"""Crops read per image at most: recognition time grows with every crop."""
MIN_CONFIDENCE = 0.05
"""Reads below this are noise (signs, stickers), not plates."""
CROP_MARGIN = 0.08
"""Share of the line height added around a line before reading it."""


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
        providers = ["CPUExecutionProvider"]
        self._detector = TextDetector(
            ort.InferenceSession(str(paths.detector), options, providers=providers)
        )
        self._recognizer = TextRecognizer(
            ort.InferenceSession(str(paths.recognizer), options, providers=providers)
        )
        self._formats = formats_for(regions)
        self.regions = tuple(regions)

    def read(self, image: bytes, vehicle_box: Box | None = None) -> FrameResult:
        """Find and read the plates in ``image``; ``vehicle_box`` narrows the search.

        Raises ``ImageError`` for bytes that are not a usable image.
        """
        started = time.perf_counter()
        frame = decode_image(image)
        plates = self._read_frame(frame, vehicle_box)
        return FrameResult(
            width=frame.width,
            height=frame.height,
            plates=tuple(plates),
            seconds=time.perf_counter() - started,
        )

    def _read_frame(self, frame: Image.Image, vehicle_box: Box | None) -> list[PlateRead]:
        region, side = frame, DETECTION_SIDE_FRAME
        offset = (0, 0)
        if vehicle_box is not None:
            x1, y1, x2, y2 = _clip_box(vehicle_box, frame.width, frame.height)
            if x2 - x1 >= 16 and y2 - y1 >= 16:
                region, side, offset = frame.crop((x1, y1, x2, y2)), DETECTION_SIDE_VEHICLE, (x1, y1)
        side = min(side, round(max(region.size) * MAX_UPSCALE))
        lines = self._detector.detect(region, max_side=side, offset=offset)
        candidates = _candidates(lines)
        if _looks_like_plate_crop(region) and vehicle_box is None:
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
        unique_lines = list(dict.fromkeys(line for c in candidates for line in c.lines))
        reads = dict(
            zip(
                unique_lines,
                self._recognizer.read([_line_crop(frame, line) for line in unique_lines]),
                strict=True,
            )
        )
        plates: list[tuple[FormatMatch, PlateRead]] = []
        for candidate in candidates:
            line_reads = [reads[line] for line in candidate.lines]
            best = self._plate_from(frame, candidate, line_reads)
            if best is not None:
                plates.append(best)
        return _suppress_overlaps(plates)

    def _plate_from(
        self, frame: Image.Image, candidate: _Candidate, line_reads: Sequence[LineRead]
    ) -> tuple[FormatMatch, PlateRead] | None:
        probabilities = np.concatenate([read.probabilities for read in line_reads])
        matches = match_formats(probabilities, self._formats)
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
            raw="".join(read.text for read in line_reads),
            confidence=round(best.confidence, 4),
            box=box,
            region=best.plate_format.region,
            plate_format=best.plate_format.name,
            alternatives=tuple(
                (match.text, round(match.confidence, 4)) for match in matches[1:6]
            ),
            crop_jpeg=encode_jpeg(frame.crop(_with_margin(box, frame, 0.15))),
        )


def _candidates(lines: Sequence[TextLine]) -> list[_Candidate]:
    """Lines shaped like plate text, and pairs stacked like a two-line plate, best first."""
    plausible = [
        line
        for line in lines
        if line.height >= MIN_LINE_HEIGHT and MIN_ASPECT <= line.aspect <= MAX_ASPECT
    ]
    plausible.sort(key=lambda line: line.score * math.sqrt(line.height), reverse=True)
    candidates = [_Candidate((line,)) for line in plausible]
    for upper in plausible:
        for lower in plausible:
            if upper is not lower and _stacked(upper, lower):
                candidates.append(_Candidate((upper, lower)))
    return candidates


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


def _line_crop(frame: Image.Image, line: TextLine) -> Image.Image:
    """The line cut out upright, with a margin, at about the recogniser's height."""
    margin = CROP_MARGIN * line.height
    grown = TextLine(
        center_x=line.center_x,
        center_y=line.center_y,
        width=line.width + 2 * margin,
        height=line.height + 2 * margin,
        angle=line.angle,
        score=line.score,
    )
    (tlx, tly), (trx, try_), (brx, bry), (blx, bly) = grown.corners()
    scale = INPUT_HEIGHT / max(grown.height, 1.0)
    size = (max(1, round(grown.width * scale)), INPUT_HEIGHT)
    source = frame
    if scale < 0.5:
        # Average pixels down first: a bilinear transform alone would alias.
        factor = int(0.5 / scale)
        x1, y1, x2, y2 = (int(v) for v in _with_margin(
            _clip_box((round(min(tlx, blx, trx, brx)), round(min(tly, try_, bly, bry)),
                       round(max(tlx, blx, trx, brx)), round(max(tly, try_, bly, bry))),
                      frame.width, frame.height), frame, 0.0))
        if x2 - x1 >= factor and y2 - y1 >= factor:
            source = frame.crop((x1, y1, x2, y2)).reduce(factor)
            shift = lambda x, y: ((x - x1) / factor, (y - y1) / factor)  # noqa: E731
            (tlx, tly), (trx, try_), (brx, bry), (blx, bly) = (
                shift(tlx, tly), shift(trx, try_), shift(brx, bry), shift(blx, bly)
            )
    return source.transform(
        size,
        Image.Transform.QUAD,
        (tlx, tly, blx, bly, brx, bry, trx, try_),
        resample=Image.Resampling.BILINEAR,
    )


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
    return _clip_box((x1 - margin, y1 - margin, x2 + margin, y2 + margin), frame.width, frame.height)


def _suppress_overlaps(plates: list[tuple[FormatMatch, PlateRead]]) -> list[PlateRead]:
    """One read per place: where candidates overlap, the best-scoring one wins."""
    plates.sort(key=lambda item: item[0].score, reverse=True)
    kept: list[PlateRead] = []
    for _, plate in plates:
        if all(_overlap(plate.box, other.box) < 0.3 for other in kept):
            kept.append(plate)
    return kept


def _overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box's area."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return width * height / max(smaller, 1)
