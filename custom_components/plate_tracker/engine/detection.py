"""Find text lines with the PP-OCR DB detector; box extraction done in numpy.

The detector outputs a per-pixel text probability. The lines are the connected
regions above a threshold; each becomes a rotated rectangle (from the region's
second moments, so slanted plates are deskewed later), grown back by the DB
"unclip" distance because the network is trained to predict shrunk text cores.
Each line also carries the region fitted as a parallelogram with vertical
sides (its baseline from a regression of row on column): how a plate seen
from the side looks, with a sloping baseline and upright characters.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from PIL import Image

from .imaging import model_input

BINARY_THRESHOLD = 0.3
"""Pixel probability above which a pixel is text (PP-OCR's default)."""
MIN_LINE_SCORE = 0.5
"""Mean probability a region needs to count as a line (PP-OCR's box_thresh)."""
UNCLIP_RATIO = 1.6
MIN_REGION_PIXELS = 6


@dataclass(frozen=True, slots=True)
class TextLine:
    """A detected text line as a rotated rectangle in frame pixels."""

    center_x: float
    center_y: float
    width: float
    """Along the line's direction (the longer side)."""
    height: float
    angle: float
    """Radians of the line's direction from the x axis, within (-pi/2, pi/2]."""
    score: float
    shear: TextLine | None = None
    """The same region as a parallelogram with vertical sides, in the same
    terms: ``angle`` is the baseline's slope, ``width`` runs along it and
    ``height`` across it (see ``upright_extent``). ``None`` where not fitted."""

    @property
    def aspect(self) -> float:
        """Width over height."""
        return self.width / max(self.height, 1e-6)

    def corners(self) -> tuple[tuple[float, float], ...]:
        """Top-left, top-right, bottom-right, bottom-left corners in the frame."""
        ux, uy = math.cos(self.angle), math.sin(self.angle)
        vx, vy = -uy, ux
        half_w, half_h = self.width / 2, self.height / 2
        return tuple(
            (
                self.center_x + sw * half_w * ux + sh * half_h * vx,
                self.center_y + sw * half_w * uy + sh * half_h * vy,
            )
            for sw, sh in ((-1, -1), (1, -1), (1, 1), (-1, 1))
        )

    def upright_extent(self) -> tuple[float, float]:
        """Return the width across and the height upright of the parallelogram.

        That is the parallelogram with vertical sides whose baseline runs in
        this line's direction.
        """
        cos_a = max(math.cos(self.angle), 1e-6)
        return self.width * cos_a, self.height / cos_a

    def bounds(self) -> tuple[float, float, float, float]:
        """Axis-aligned x1, y1, x2, y2 around the rectangle."""
        xs, ys = zip(*self.corners(), strict=True)
        return min(xs), min(ys), max(xs), max(ys)


class TextDetector:
    """One reusable DB detector session; call from one thread at a time."""

    def __init__(self, session: ort.InferenceSession) -> None:
        """Wrap a loaded session; the caller sets its threading options."""
        self._session = session
        self._input_name = session.get_inputs()[0].name

    def detect(
        self,
        image: Image.Image,
        *,
        max_side: int,
        offset: tuple[float, float] = (0, 0),
        max_upscale: float = 1.0,
        frame_scale: tuple[float, float] = (1.0, 1.0),
    ) -> list[TextLine]:
        """Text lines in ``image`` (read scaled so its longer side is at most ``max_side``).

        A smaller image is enlarged towards ``max_side`` by at most ``max_upscale``.
        ``offset`` is added to every line so boxes found in a crop land in frame
        pixels; ``frame_scale`` is the frame pixels per pixel of ``image`` where
        it is a smaller copy standing for the frame's pixels.
        """
        scale = min(max_upscale, max_side / max(image.size))
        # The network downsamples by 32: pick the nearest multiple per side.
        width = max(32, round(image.width * scale / 32) * 32)
        height = max(32, round(image.height * scale / 32) * 32)
        # Halving a 1280x720 frame by an exact reduce() first and resampling
        # the rest takes 2.7 ms instead of 7 for one bilinear pass.
        resized = image.resize(
            (width, height), Image.Resampling.BILINEAR, reducing_gap=1.0
        )
        batch = model_input(resized)[np.newaxis]
        probability = self._session.run(None, {self._input_name: batch})[0][0, 0]
        scale_x = image.width * frame_scale[0] / width
        scale_y = image.height * frame_scale[1] / height
        return [
            _in_frame(line, scale_x, scale_y, offset)
            for line in lines_from_probability(probability)
        ]


def _in_frame(
    line: TextLine, scale_x: float, scale_y: float, offset: tuple[float, float]
) -> TextLine:
    """Return a line of the detector's map in frame pixels (the map may be scaled unevenly)."""
    shear = None
    if line.shear is not None:
        across, upright = line.shear.upright_extent()
        shear = _upright_line(
            line.shear.center_x * scale_x + offset[0],
            line.shear.center_y * scale_y + offset[1],
            across * scale_x,
            upright * scale_y,
            slope=math.tan(line.shear.angle) * scale_y / scale_x,
            score=line.score,
        )
    return TextLine(
        center_x=line.center_x * scale_x + offset[0],
        center_y=line.center_y * scale_y + offset[1],
        width=line.width
        * math.hypot(scale_x * math.cos(line.angle), scale_y * math.sin(line.angle)),
        height=line.height
        * math.hypot(scale_x * math.sin(line.angle), scale_y * math.cos(line.angle)),
        angle=math.atan2(
            scale_y * math.sin(line.angle), scale_x * math.cos(line.angle)
        ),
        score=line.score,
        shear=shear,
    )


def _upright_line(
    center_x: float,
    center_y: float,
    across: float,
    upright: float,
    *,
    slope: float,
    score: float,
) -> TextLine:
    """Describe the parallelogram with vertical sides ``across`` wide and ``upright`` high."""
    stretch = math.hypot(1.0, slope)
    return TextLine(
        center_x=center_x,
        center_y=center_y,
        width=across * stretch,
        height=upright / stretch,
        angle=math.atan(slope),
        score=score,
    )


def lines_from_probability(probability: npt.NDArray[np.float32]) -> list[TextLine]:
    """Rotated rectangles of the text regions of a DB probability map (map pixels)."""
    mask = probability > BINARY_THRESHOLD
    runs = _runs(mask)
    if runs.rows.size == 0:
        return []
    labels, count = _label_runs(runs)
    # Running sums along the rows that hold runs only (text covers few rows).
    text_rows, row_of_run = np.unique(runs.rows, return_inverse=True)
    row_sums: npt.NDArray[np.float64] = np.concatenate(
        (
            np.zeros((text_rows.size, 1), np.float64),
            np.cumsum(probability[text_rows], axis=1),
        ),
        axis=1,
    )
    lengths = (runs.ends - runs.starts).astype(np.float64)
    prob_sums: npt.NDArray[np.float64] = (
        row_sums[row_of_run, runs.ends] - row_sums[row_of_run, runs.starts]
    )
    first, last = runs.starts.astype(np.float64), (runs.ends - 1).astype(np.float64)
    rows = runs.rows.astype(np.float64)
    sum_x = (first + last) * lengths / 2
    # Sum of x^2 over first..last, by the closed form of sums of squares.
    sum_xx = (
        last * (last + 1) * (2 * last + 1) - (first - 1) * first * (2 * first - 1)
    ) / 6

    def per_label(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.bincount(labels, weights=values, minlength=count).astype(np.float64)

    n = per_label(lengths)
    mean_x = per_label(sum_x) / n
    mean_y = per_label(rows * lengths) / n
    var_x = per_label(sum_xx) / n - mean_x**2 + 1 / 12
    var_y = per_label(rows**2 * lengths) / n - mean_y**2 + 1 / 12
    cov_xy = per_label(rows * sum_x) / n - mean_x * mean_y
    score = per_label(prob_sums) / n
    angle = 0.5 * np.arctan2(2 * cov_xy, var_x - var_y)
    # Baseline of the upright fit: least squares of row on column.
    slope = cov_xy / var_x

    # Extent along each region's own axes, from the run end points.
    ux, uy = np.cos(angle)[labels], np.sin(angle)[labels]
    extents = []
    for xs in (first - 0.5, last + 0.5):
        dx, dy = xs - mean_x[labels], rows - mean_y[labels]
        extents.append((dx * ux + dy * uy, -dx * uy + dy * ux))
    along = np.stack([e[0] for e in extents])
    across = np.stack([e[1] for e in extents])
    lo_u, hi_u = np.full(count, np.inf), np.full(count, -np.inf)
    lo_v, hi_v = np.full(count, np.inf), np.full(count, -np.inf)
    for k in range(2):
        np.minimum.at(lo_u, labels, along[k])
        np.maximum.at(hi_u, labels, along[k])
        np.minimum.at(lo_v, labels, across[k] - 0.5)
        np.maximum.at(hi_v, labels, across[k] + 0.5)
    # The upright fit's extent: columns, and rows off the baseline.
    lo_x, hi_x = np.full(count, np.inf), np.full(count, -np.inf)
    lo_r, hi_r = np.full(count, np.inf), np.full(count, -np.inf)
    np.minimum.at(lo_x, labels, first - 0.5)
    np.maximum.at(hi_x, labels, last + 0.5)
    for xs in (first, last):
        off = rows - mean_y[labels] - slope[labels] * (xs - mean_x[labels])
        np.minimum.at(lo_r, labels, off - 0.5)
        np.maximum.at(hi_r, labels, off + 0.5)

    lines = []
    for label in range(count):
        if n[label] < MIN_REGION_PIXELS or score[label] < MIN_LINE_SCORE:
            continue
        width, height = hi_u[label] - lo_u[label], hi_v[label] - lo_v[label]
        # DB's unclip: grow by area * ratio / perimeter on every side.
        grow = width * height * UNCLIP_RATIO / (2 * (width + height))
        mid_u, mid_v = (hi_u[label] + lo_u[label]) / 2, (hi_v[label] + lo_v[label]) / 2
        cos_a, sin_a = math.cos(angle[label]), math.sin(angle[label])
        width, height = width + 2 * grow, height + 2 * grow
        line_angle = float(angle[label])
        if height > width:
            width, height = height, width
            line_angle = (
                line_angle + math.pi / 2
                if line_angle <= 0
                else line_angle - math.pi / 2
            )
        mid_x, mid_r = (hi_x[label] + lo_x[label]) / 2, (hi_r[label] + lo_r[label]) / 2
        line_slope = float(slope[label])
        shear = _upright_line(
            float(mid_x + 0.5),
            float(mean_y[label] + line_slope * (mid_x - mean_x[label]) + mid_r + 0.5),
            float(hi_x[label] - lo_x[label] + 2 * grow),
            float(hi_r[label] - lo_r[label] + 2 * grow * math.hypot(1.0, line_slope)),
            slope=line_slope,
            score=float(score[label]),
        )
        lines.append(
            TextLine(
                center_x=float(mean_x[label] + mid_u * cos_a - mid_v * sin_a + 0.5),
                center_y=float(mean_y[label] + mid_u * sin_a + mid_v * cos_a + 0.5),
                width=float(width),
                height=float(height),
                angle=line_angle,
                score=float(score[label]),
                shear=shear,
            )
        )
    return lines


@dataclass(frozen=True, slots=True)
class _Runs:
    """Horizontal runs of set pixels: row, first column, column after the last."""

    rows: npt.NDArray[np.intp]
    starts: npt.NDArray[np.intp]
    ends: npt.NDArray[np.intp]


def _runs(mask: npt.NDArray[np.bool_]) -> _Runs:
    padded = np.pad(mask, ((0, 0), (1, 1))).astype(np.int8)
    edges = np.diff(padded, axis=1)
    # One pass over the map for both edges: a run starts at +1 and ends at -1,
    # and along each row they alternate, starting with a start.
    at = np.flatnonzero(edges)
    rows, columns = np.divmod(at, edges.shape[1])
    return _Runs(rows[::2], columns[::2], columns[1::2])


def _label_runs(runs: _Runs) -> tuple[npt.NDArray[np.intp], int]:
    """Label 8-connected runs with union-find; returns a label per run and the count."""
    total = runs.rows.size
    parent = list(range(total))

    def find(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    row_first = np.searchsorted(runs.rows, np.arange(runs.rows.max() + 2))
    starts, ends = runs.starts.tolist(), runs.ends.tolist()
    for row in range(1, len(row_first) - 1):
        above, above_end = int(row_first[row - 1]), int(row_first[row])
        here, here_end = above_end, int(row_first[row + 1])
        if above == above_end:
            continue
        # Two pointers over the sorted runs of adjacent rows.
        i, j = above, here
        while i < above_end and j < here_end:
            if starts[i] <= ends[j] and starts[j] <= ends[i]:
                root_a, root_b = find(i), find(j)
                if root_a != root_b:
                    parent[max(root_a, root_b)] = min(root_a, root_b)
            if ends[i] < ends[j]:
                i += 1
            else:
                j += 1
    roots = np.fromiter(
        (find(node) for node in range(total)), dtype=np.intp, count=total
    )
    _, labels = np.unique(roots, return_inverse=True)
    return labels.astype(np.intp), int(labels.max()) + 1
