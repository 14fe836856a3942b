"""Text lines out of hand-made detector probability maps: the rotated and the upright fit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from custom_components.plate_tracker.engine.detection import (
    TextLine,
    _in_frame,
    _runs,
    lines_from_probability,
)


def _parallelogram(slope: float, width: int, height: int) -> np.ndarray:
    """Draw a map with one region: vertical sides ``width`` apart, ``height`` tall, baseline ``slope``."""
    probability = np.zeros((200, 200), dtype=np.float32)
    left, top = 40, 80
    for column in range(left, left + width):
        upper = top + round(slope * (column - left))
        probability[upper : upper + height, column] = 0.9
    return probability


@pytest.mark.parametrize(
    ("slope", "width", "height"), [(0.0, 100, 20), (-0.4, 100, 20), (0.9, 60, 40)]
)
def test_a_sheared_region_gets_its_baseline_and_upright_extent(
    slope: float, width: int, height: int
) -> None:
    """The upright fit recovers the slope, and the width and height before the unclip growth.

    The rotated rectangle of a steep, short parallelogram leans away from its
    baseline towards its diagonal, which is why the sheared cut needs the upright fit.
    """
    probability = _parallelogram(slope, width, height)
    (line,) = lines_from_probability(probability)
    shear = line.shear
    assert shear is not None
    assert math.tan(shear.angle) == pytest.approx(slope, abs=0.02)
    across, upright = shear.upright_extent()
    grow = (across - width) / 2
    assert grow > 0
    assert upright - 2 * grow * math.hypot(1.0, slope) == pytest.approx(height, abs=1.5)
    # The fit's centre is the parallelogram's: halfway along, on the middle of the band.
    assert shear.center_x == pytest.approx(40 + width / 2, abs=1.0)
    assert shear.center_y == pytest.approx(
        80 + slope * (width - 1) / 2 + height / 2, abs=1.0
    )
    if slope == 0.9:
        assert abs(line.angle - shear.angle) > 0.1


def test_an_uneven_map_scale_carries_the_upright_fit_into_the_frame() -> None:
    """A map squeezed 2x across and 1.5x down: widths, heights and slope scale apart."""
    (line,) = lines_from_probability(_parallelogram(0.5, 80, 16))
    assert line.shear is not None
    across, upright = line.shear.upright_extent()
    framed = _in_frame(line, 2.0, 1.5, (10, 20))
    assert framed.shear is not None
    assert framed.shear.center_x == pytest.approx(line.shear.center_x * 2.0 + 10)
    assert framed.shear.center_y == pytest.approx(line.shear.center_y * 1.5 + 20)
    assert math.tan(framed.shear.angle) == pytest.approx(
        math.tan(line.shear.angle) * 1.5 / 2.0
    )
    assert framed.shear.upright_extent() == pytest.approx((across * 2.0, upright * 1.5))
    plain = TextLine(10.0, 10.0, 30.0, 8.0, 0.0, 0.9)
    assert _in_frame(plain, 2.0, 1.5, (0, 0)).shear is None


def _runs_by_scanning(mask: np.ndarray) -> list[tuple[int, int, int]]:
    """Row, first column and column after the last of every run, found pixel by pixel."""
    found = []
    for row, pixels in enumerate(mask.tolist()):
        start = None
        for column, pixel in enumerate([*pixels, False]):
            if pixel and start is None:
                start = column
            elif not pixel and start is not None:
                found.append((row, start, column))
                start = None
    return found


@pytest.mark.parametrize("density", [0.0, 0.05, 0.5, 0.95, 1.0])
def test_runs_are_every_horizontal_run_of_set_pixels(density: float) -> None:
    """Runs touching either edge, single pixels and full rows all come out, in reading order."""
    rng = np.random.default_rng(3)
    mask = rng.random((37, 53)) < density
    mask[5, :] = True
    mask[6, 0] = mask[6, -1] = True
    runs = _runs(mask)
    assert list(
        zip(runs.rows.tolist(), runs.starts.tolist(), runs.ends.tolist(), strict=True)
    ) == _runs_by_scanning(mask)


def test_a_region_scores_its_mean_probability() -> None:
    """A line's score is the mean probability over its pixels above the threshold."""
    probability = np.zeros((40, 90), np.float32)
    probability[10:20, 10:70] = np.linspace(0.4, 1.0, 60, dtype=np.float32)
    probability[10:20, 70:72] = 0.2  # below the threshold: not part of the region
    (line,) = lines_from_probability(probability)
    assert line.score == pytest.approx(
        float(probability[10:20, 10:70].mean()), abs=1e-6
    )
