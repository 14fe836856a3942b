"""Scoring rules of ``eval``: what counts as a hit, and when CI must fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from custom_components.plate_tracker.engine.evaluation import (
    LabelledImage,
    box_found,
    evaluate,
    floor_violations,
    load_manifests,
    plates_equal,
    region_group,
)
from custom_components.plate_tracker.engine.types import FrameResult


@pytest.mark.parametrize(
    ("read", "truth", "region", "equal"),
    [
        ("RK099AN", "RKO99AN", "eu", True),
        ("RK099AN", "RKO99AN", "us", False),
        ("AE1455KH", "AE1455KH", "ua", True),
        ("AE1455KB", "AE1455KH", "ua", False),
    ],
)
def test_plates_equal(read: str, truth: str, region: str, equal: bool) -> None:
    """Only openalpr's eu labels get O == 0; everywhere else a plate must match exactly."""
    assert plates_equal(read, truth, region) is equal


@pytest.mark.parametrize(
    ("found", "hit"),
    [
        ((100, 100, 200, 140), True),
        ((150, 110, 400, 400), False),
        ((90, 95, 120, 150), True),
        ((300, 300, 400, 400), False),
    ],
)
def test_box_found(found: tuple[int, int, int, int], hit: bool) -> None:
    """A found box counts when its centre is on the plate or it overlaps enough (IoU >= 0.3)."""
    assert box_found((100, 100, 200, 140), found) is hit


def test_us_states_group_as_us() -> None:
    """The segocr crops are labelled per state; reports group them as one US region."""
    assert region_group("us-ca") == "us"
    assert region_group("ua") == "ua"


def test_floor_violations_name_each_shortfall() -> None:
    """CI fails with a message per region below its floor, and for a floored region with no images."""
    summary = {
        "overall": {"accuracy": 0.70},
        "regions": {"ua": {"accuracy": 0.74}, "us": {"accuracy": 0.60}},
    }
    floor = {"overall": 0.72, "regions": {"ua": 0.70, "us": 0.62, "br": 0.8}}
    problems = floor_violations(summary, floor)
    assert len(problems) == 3
    assert any(problem.startswith("overall") for problem in problems)
    assert any(problem.startswith("us") for problem in problems)
    assert any("br" in problem and "no images" in problem for problem in problems)
    assert floor_violations(summary, {"overall": 0.7, "regions": {"ua": 0.74}}) == []


def test_floor_holds_the_watchlist_recall_and_caps_false_alerts() -> None:
    """The police's figures gate CI too: recall from below, false alerts from above."""
    summary = {
        "overall": {
            "accuracy": 0.85,
            "watchlist_recall": 0.93,
            "watchlist_false_alert_rate": 0.02,
        },
        "regions": {},
    }
    assert floor_violations(
        summary, {"watchlist_recall": 0.94, "watchlist_false_alert_rate_max": 0.015}
    ) == [
        "watchlist recall 0.930 is below the floor 0.94",
        "watchlist false alert rate 0.020 is above the ceiling 0.015",
    ]
    assert (
        floor_violations(
            summary, {"watchlist_recall": 0.93, "watchlist_false_alert_rate_max": 0.02}
        )
        == []
    )


def test_manifest_rows(tmp_path: Path) -> None:
    """Manifest rows become labelled images: path, upper-case plate, region group, box, size."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "manifest.csv").write_text(
        "image,plate_text,region,x1,y1,x2,y2,img_w,img_h,notes\n"
        "a.jpg,ab123cd,us-ca,1,2,3,4,1280,720,\n"
        "b.png,AE1455KH,ua,,,,,,,crop\n",
        encoding="utf-8",
    )
    first, second = load_manifests(tmp_path)
    assert (first.source, first.plate, first.region, first.box, first.size) == (
        "src",
        "AB123CD",
        "us",
        (1, 2, 3, 4),
        (1280, 720),
    )
    assert first.path == tmp_path / "src" / "a.jpg"
    assert (second.box, second.size) == (None, None)


def test_manifest_rows_written_loosely(tmp_path: Path) -> None:
    """Manifests as people write them: a byte-order mark, spaced or Cyrillic labels, empty rows.

    An empty row is left out and said; a letter the engine cannot read is kept,
    so a read without it never counts as right.
    """
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "manifest.csv").write_text(
        "\ufeffimage,plate_text,region,x1,y1,x2,y2,img_w,img_h,notes\n"
        "a.jpg,АЕ 1455-КН,UA,1.0,2,3,x,1280,720,\n"
        ",,,,,,,,,\n"
        "b.jpg,7686ЖЦ,ua,1,2,3,4,nan,720,\n",
        encoding="utf-8",
    )
    skipped: list[str] = []
    first, second = load_manifests(tmp_path, skipped)
    assert (first.plate, first.region, first.box, first.size) == (
        "AE1455KH",
        "ua",
        None,
        (1280, 720),
    )
    assert (second.plate, second.box, second.size) == ("7686ЖЦ", (1, 2, 3, 4), None)
    assert not plates_equal("7686", second.plate, second.region)
    assert skipped == [f"{tmp_path / 'src' / 'manifest.csv'}:3: no image or plate text"]


def test_evaluate_reads_no_file_past_the_image_limit(tmp_path: Path) -> None:
    """A manifest naming /dev/zero or a video must not be read whole: it is skipped, not scored.

    The engine is never handed more than ``max_image_bytes``; the images
    within it are read and scored as usual.
    """
    small = tmp_path / "small.jpg"
    small.write_bytes(b"j" * 100)
    large = tmp_path / "large.jpg"
    large.write_bytes(b"j" * 101)
    endless = tmp_path / "endless.jpg"
    endless.symlink_to("/dev/zero")
    items = [
        LabelledImage("street", path, "AE1455KH", "ua", None, None)
        for path in (small, large, endless)
    ]
    handed: list[int] = []

    def read(data: bytes) -> FrameResult:
        handed.append(len(data))
        return FrameResult(width=64, height=64, plates=(), seconds=0.01)

    evaluation = evaluate(iter(items), read, max_image_bytes=100)

    assert handed == [100]
    assert [(item.path, reason) for item, reason in evaluation.skipped] == [
        (large, "file is larger than the 100 bytes an image may be"),
        (endless, "file is larger than the 100 bytes an image may be"),
    ]
    assert evaluation.overall.n == 1
    assert evaluation.unreadable == []
