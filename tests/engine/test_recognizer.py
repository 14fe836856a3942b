"""The real models read generated plates: detection, reading, format rules and boxes together."""

from __future__ import annotations

import io
import itertools
import logging
import math
import time

from PIL import Image, ImageEnhance
import pytest

from custom_components.plate_tracker.engine import (
    ImageError,
    PlateRecognizer,
    recognizer as recognizer_module,
)
from custom_components.plate_tracker.engine.detection import TextLine
from custom_components.plate_tracker.engine.formats import FORMATS, FormatMatch
from custom_components.plate_tracker.engine.imaging import local_contrast
from custom_components.plate_tracker.engine.recognition import LineRead
from custom_components.plate_tracker.engine.synthetic import (
    jpeg,
    render_plate,
    scene_with,
)
from custom_components.plate_tracker.engine.types import PlateRead

from .test_imaging import DAMAGED_QOI

PLATE_AT = (560, 470)


def detector_inputs(
    recognizer: PlateRecognizer, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[int, ...]]:
    """Collect the shape of every input the detector is given from now on."""
    seen: list[tuple[int, ...]] = []
    session = recognizer._detector._session
    run = session.run

    def spy(outputs: object, feeds: dict[str, object], *args: object) -> object:
        seen.append(feeds[recognizer._detector._input_name].shape)  # type: ignore[attr-defined]
        return run(outputs, feeds, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(session, "run", spy, raising=False)
    return seen


def _inside(box: tuple[int, int, int, int], plate: Image.Image) -> bool:
    """Whether the read's box lies on the pasted plate (give or take the detector's margin)."""
    x1, y1, x2, y2 = box
    slack = 12
    return (
        PLATE_AT[0] - slack <= x1 < x2 <= PLATE_AT[0] + plate.width + slack
        and PLATE_AT[1] - slack <= y1 < y2 <= PLATE_AT[1] + plate.height + slack
    )


@pytest.mark.parametrize(
    ("lines", "char_height", "ua_strip", "expected", "plate_format"),
    [
        (["AE 1455 KH"], 40, True, "AE1455KH", "ua_standard"),
        (["AE 1455 KH"], 24, True, "AE1455KH", "ua_standard"),
        (["BRA2E19"], 40, False, "BRA2E19", "br_mercosur"),
        (["10922", "BX"], 40, True, "10922BX", "ua_two_line"),
    ],
)
def test_reads_plate_in_full_frame(  # noqa: PLR0917  # pytest passes parameters by position
    recognizer: PlateRecognizer,
    lines: list[str],
    char_height: int,
    ua_strip: bool,
    expected: str,
    plate_format: str,
) -> None:
    """A plate in a 1280x720 frame is found and read exactly, in frame pixels, with evidence."""
    plate = render_plate(lines, char_height=char_height, ua_strip=ua_strip)
    result = recognizer.read(jpeg(scene_with(plate, at=PLATE_AT)))
    assert (result.width, result.height) == (1280, 720)
    best = result.plates[0]
    assert best.text == expected
    assert best.plate_format == plate_format
    assert not best.loose
    assert best.confidence > 0.5
    assert _inside(best.box, plate)
    assert best.crop_jpeg is not None
    assert Image.open(io.BytesIO(best.crop_jpeg)).format == "JPEG"
    assert all(text != expected for text, _ in best.alternatives)


def test_a_vanity_plate_is_read_and_marked_loose(recognizer: PlateRecognizer) -> None:
    """A plate that fits no plate rule is still read, marked as fitting only a loose format."""
    plate = render_plate(["JAKEMRY"], char_height=40, ua_strip=False)
    best = recognizer.read(jpeg(scene_with(plate, at=PLATE_AT))).plates[0]
    assert (best.text, best.loose) == ("JAKEMRY", True)
    assert best.plate_format is not None
    assert best.plate_format.endswith("generic_7")


def test_vehicle_box_gives_frame_coordinates(recognizer: PlateRecognizer) -> None:
    """With the NVR's vehicle box the plate is read in the crop, its box still in frame pixels."""
    plate = render_plate(["AE 1455 KH"])
    frame = jpeg(scene_with(plate, at=PLATE_AT))
    result = recognizer.read(frame, (300, 150, 1000, 700))
    assert [read.text for read in result.plates][:1] == ["AE1455KH"]
    assert _inside(result.plates[0].box, plate)


def test_vehicle_box_outside_the_plate_finds_nothing(
    recognizer: PlateRecognizer,
) -> None:
    """The vehicle box really narrows the search: a box away from the plate reads no plate there."""
    plate = render_plate(["AE 1455 KH"])
    result = recognizer.read(jpeg(scene_with(plate, at=PLATE_AT)), (0, 0, 400, 300))
    assert all(read.text != "AE1455KH" for read in result.plates)


@pytest.mark.parametrize(
    "box",
    [
        (0, 0, 15, 15),
        (2000, 1200, 2600, 1800),
        (1000, 700, 300, 150),
        (560, 470, 560, 530),
        (-400, 0, 10, 720),
        (math.nan, 150, 1000, 700),
    ],
    ids=["tiny", "beyond-the-image", "inverted", "empty", "mostly-outside", "nan"],
)
def test_a_vehicle_box_with_too_little_inside_the_image_reads_nothing(
    recognizer: PlateRecognizer,
    caplog: pytest.LogCaptureFixture,
    box: tuple[float, float, float, float],
) -> None:
    """Such a box was dropped and the whole frame read in its place.

    Another car's plate anywhere in the frame then became this vehicle's read.
    A hint at that plate does not bring it back either.
    """
    plate = render_plate(["AE 1455 KH"])
    frame = jpeg(scene_with(plate, at=PLATE_AT))
    near_the_plate = (PLATE_AT[0], PLATE_AT[1], PLATE_AT[0] + 240, PLATE_AT[1] + 60)
    with caplog.at_level(logging.DEBUG, logger=recognizer_module.__name__):
        for hint in (None, near_the_plate):
            result = recognizer.read(frame, box, hint)  # type: ignore[arg-type]
            assert result.plates == ()
            assert not result.read_at_hint
    assert "Read nothing: the vehicle box" in caplog.text


def test_a_vehicle_box_reaching_beyond_the_image_reads_the_part_inside(
    recognizer: PlateRecognizer,
) -> None:
    """A box partly outside the frame (a car at its edge) still reads the plate in it."""
    plate = render_plate(["AE 1455 KH"])
    result = recognizer.read(
        jpeg(scene_with(plate, at=PLATE_AT)), (300, 150, 5000, 5000)
    )
    assert result.plates[0].text == "AE1455KH"
    assert _inside(result.plates[0].box, plate)


def test_a_plate_hint_reads_the_region_around_it_first(
    recognizer: PlateRecognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A later frame of a pass is read where its plate was: one smaller detector input, same read."""
    plate = render_plate(["AE 1455 KH"])
    frame = jpeg(scene_with(plate, at=PLATE_AT))
    vehicle_box = (300, 150, 1000, 700)
    seen = detector_inputs(recognizer, monkeypatch)
    first = recognizer.read(frame, vehicle_box).plates[0]
    whole_box_input = seen[0]
    seen.clear()
    result = recognizer.read(frame, vehicle_box, first.box)
    assert result.read_at_hint
    hinted = result.plates[0]
    assert hinted.text == first.text == "AE1455KH"
    assert _inside(hinted.box, plate)
    assert len(seen) == 1
    assert seen[0][2] * seen[0][3] < whole_box_input[2] * whole_box_input[3] / 2


def test_a_plate_hint_stays_inside_the_vehicle_box(
    recognizer: PlateRecognizer,
) -> None:
    """Another car's plate beside this one must not become its read through a stale hint."""
    plate = render_plate(["AE 1455 KH"])
    frame = jpeg(scene_with(plate, at=PLATE_AT))
    beside = recognizer.read(frame).plates[0].box
    result = recognizer.read(frame, (0, 0, 400, 300), beside)
    assert not result.read_at_hint
    assert all(read.text != "AE1455KH" for read in result.plates)


@pytest.mark.parametrize(
    "hint",
    [
        (40, 40, 140, 70),
        (700, 400, 600, 450),
        (math.nan, 0.0, 10.0, 10.0),
        # Valid JSON and a valid query, but beyond any float.
        (0, 0, 10**400, 10**400),
    ],
    ids=["where-no-plate-is", "inverted", "not-a-number", "beyond-any-float"],
)
def test_a_plate_hint_that_finds_nothing_falls_back_to_the_whole_search(
    recognizer: PlateRecognizer, hint: tuple[float, float, float, float]
) -> None:
    """The vehicle moved or the hint is nonsense: the plate is still found in the vehicle box."""
    plate = render_plate(["AE 1455 KH"])
    frame = jpeg(scene_with(plate, at=PLATE_AT))
    vehicle_box = (300, 150, 1000, 700)
    without = recognizer.read(frame, vehicle_box).plates
    result = recognizer.read(frame, vehicle_box, hint)  # type: ignore[arg-type]
    assert not result.read_at_hint
    hinted = result.plates
    assert [read.text for read in hinted] == [read.text for read in without]
    assert hinted[0].text == "AE1455KH"
    assert hinted[0].box == without[0].box


def test_a_plate_hint_near_the_largest_float_is_not_used(
    recognizer: PlateRecognizer,
) -> None:
    """Its margins overflowed to infinity: an OverflowError came out of the read."""
    frame = jpeg(scene_with(render_plate(["AE 1455 KH"]), at=PLATE_AT))
    beyond = (-1e308, -1e308, 1e308, 1e308)
    result = recognizer.read(frame, None, beyond)  # type: ignore[arg-type]
    assert not result.read_at_hint
    assert result.plates[0].text == "AE1455KH"


def test_plain_scene_has_no_plate(recognizer: PlateRecognizer) -> None:
    """A frame without text yields no plate rather than noise."""
    scene = Image.linear_gradient("L").resize((640, 360)).convert("RGB")
    assert recognizer.read(jpeg(scene)).plates == ()


def test_no_thread_spins_once_a_read_returns(recognizer: PlateRecognizer) -> None:
    """The inference threads stop when a read returns, leaving the cores to Home Assistant.

    Left spinning after a run, ONNX Runtime's workers burn about 40 ms of CPU
    after every read; they spin only while the networks run.
    """
    recognizer.read(jpeg(scene_with(render_plate(["AE 1455 KH"]), at=PLATE_AT)))
    started = time.process_time()
    time.sleep(0.5)
    assert time.process_time() - started < 0.01


def test_plate_crop_alone(recognizer: PlateRecognizer) -> None:
    """An NVR that sends only the plate crop gets it read too."""
    crop = render_plate(["AE 1455 KH"], char_height=30)
    assert recognizer.read(jpeg(crop)).plates[0].text == "AE1455KH"


@pytest.mark.parametrize(
    "data", [b"not an image", DAMAGED_QOI], ids=["not-an-image", "damaged-qoi"]
)
def test_bad_bytes_raise_image_error(recognizer: PlateRecognizer, data: bytes) -> None:
    """Callers get one exception type for unusable images, with a message to log."""
    with pytest.raises(ImageError):
        recognizer.read(data)


def test_small_plate_found_by_the_finer_pass(
    recognizer: PlateRecognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plate too small for the quick pass is still read: frames without a good read are searched finer.

    Without the finer passes (and with the last look, for faint plates, kept
    at the quick pass's scale) it is not found.
    """
    frame = jpeg(scene_with(render_plate(["AE 1455 KH"], char_height=12), at=PLATE_AT))
    assert [read.text for read in recognizer.read(frame).plates][:1] == ["AE1455KH"]
    monkeypatch.setattr(recognizer_module, "RETRY_SCALES", ())
    monkeypatch.setattr(recognizer_module, "LOCAL_CONTRAST_SCALE", 1.0)
    assert recognizer.read(frame).plates == ()


@pytest.mark.parametrize(
    ("text", "wide", "expected"),
    [
        ("AB733BH", "AB7333BH", True),
        ("AB733BH", "AB7833BH", False),
        ("4280", "94280", False),
        ("BE7425CE", "BE7425CB", False),
    ],
)
def test_wide_read_only_restores_merged_repeats(
    text: str, wide: str, expected: bool
) -> None:
    """A wider read is trusted only for the slip it exists for: CTC merging a doubled character."""
    assert recognizer_module._restores_repeat(text, wide) is expected


@pytest.mark.parametrize(
    ("length", "tile", "overlap", "expected"),
    [(500, 640, 96, [0]), (1280, 640, 96, [0, 320, 640]), (720, 640, 96, [0, 80])],
)
def test_tiles_cover_the_region(
    length: int, tile: int, overlap: int, expected: list[int]
) -> None:
    """Fine-scale detection runs in tiles that cover every pixel with room for a plate cut by a border."""
    starts = recognizer_module._tile_starts(length, tile, overlap)
    assert starts == expected
    assert starts[-1] + tile >= length
    assert all(b - a <= tile - overlap for a, b in itertools.pairwise(starts))


def test_larger_text_ranks_first_across_places() -> None:
    """A year sticker read surely (``2008``) ranks below the plate read a little less surely.

    Plate characters are the largest text around the plate; the order matters
    because an NVR event's vehicle takes the first read as its plate.
    """
    formats = {f.name: f for f in FORMATS}
    sticker = (
        FormatMatch("2008", formats["us_generic_4"], 0.99, -2.5),
        PlateRead(text="2008", raw="2008", confidence=0.99, box=(250, 10, 300, 35)),
    )
    plate = (
        FormatMatch("DUKDAWG", formats["eu_generic_7"], 0.97, -3.0),
        PlateRead(
            text="DUKDAWG", raw="DUKDAWG", confidence=0.97, box=(20, 40, 300, 120)
        ),
    )
    kept = recognizer_module._suppress_overlaps([sticker, plate])
    assert [read.text for read in kept] == ["DUKDAWG", "2008"]


def test_a_read_inside_a_longer_one_pays_for_what_it_leaves_out() -> None:
    """``343404`` read from part of ``G343404`` must not win only because it has fewer characters."""
    formats = {f.name: f for f in FORMATS}
    short = (
        FormatMatch("343404", formats["us_123456"], 0.41, -0.9),
        PlateRead(
            text="343404", raw="343404", confidence=0.41, box=(113, 37, 320, 128)
        ),
    )
    long = (
        FormatMatch("G343404", formats["us_generic_7"], 0.21, -1.56),
        PlateRead(
            text="G343404", raw="G343404", confidence=0.21, box=(0, 33, 320, 131)
        ),
    )
    other = (
        FormatMatch("AB1234CD", formats["ua_standard"], 0.5, -0.7),
        PlateRead(
            text="AB1234CD", raw="AB1234CD", confidence=0.5, box=(400, 33, 700, 131)
        ),
    )
    kept = recognizer_module._suppress_overlaps([short, long, other])
    assert [plate.text for plate in kept] == ["AB1234CD", "G343404"]


def _piece(along: float, across: float, width: float, angle: float) -> TextLine:
    """Return a detected line centred ``along`` and ``across`` direction ``angle``."""
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    return TextLine(
        center_x=along * cos_a - across * sin_a,
        center_y=along * sin_a + across * cos_a,
        width=width,
        height=90.0,
        angle=angle,
        score=0.99,
    )


def test_overlapping_pieces_of_a_slanted_line_are_joined() -> None:
    """The detector split a plate turned 7 degrees into ``190`` and ``9024K``, overlapping.

    In axis-aligned bounds the pieces overlapped by 54 px, more than the 20 px
    allowed, so ``19024K`` was never read whole; along the line they overlap by
    40 px and sit on one baseline.
    """
    angle = -0.13
    left = _piece(70, 80, 130, angle)
    right = _piece(200, 80, 210, angle + 0.02)
    above = _piece(200, 80 - 45, 210, angle)

    assert recognizer_module._side_by_side(left, right)
    assert not recognizer_module._side_by_side(right, left)
    assert not recognizer_module._side_by_side(left, above)
    joined = recognizer_module._joined(left, right)
    start, end, across = recognizer_module._along(joined, angle + 0.01)
    assert start == pytest.approx(5, abs=1)
    assert end == pytest.approx(305, abs=1)
    assert across == pytest.approx(80, abs=1)
    assert joined.angle == pytest.approx(angle + 0.01)


def test_a_plate_seen_from_the_side_is_cut_out_upright(
    recognizer: PlateRecognizer,
) -> None:
    """A side view slopes the baseline but keeps characters upright; the sheared cut undoes exactly that."""
    plate = render_plate(["AE 1455 KH"], char_height=22).convert("RGB")
    slope = 0.45
    sheared = plate.transform(
        (plate.width, plate.height + round(slope * plate.width)),
        Image.Transform.AFFINE,
        (1, 0, 0, -slope, 1, 0),
        fillcolor=(90, 90, 90),
    )
    frame = Image.open(io.BytesIO(jpeg(scene_with(sheared, at=PLATE_AT)))).convert(
        "RGB"
    )
    (line,) = [
        line
        for line in recognizer._detector.detect(frame, max_side=640)
        if line.height >= 8
    ]
    assert recognizer_module._is_slanted(line)
    crop = recognizer_module._line_crop(frame, line, sheared=True)
    (read,) = recognizer._recognizer.read([crop])
    assert read.text == "AE1455KH"
    assert [
        plate.text
        for plate in recognizer.read(jpeg(scene_with(sheared, at=PLATE_AT))).plates
    ][:1] == ["AE1455KH"]


def test_a_squeezed_line_is_read_again_wider(recognizer: PlateRecognizer) -> None:
    """A plate seen from the side is narrow: its line is cut again wider.

    Its first read packs the characters tighter than the recogniser reads well,
    so the line is read again stretched towards ``UNSQUEEZED_PITCH``; a plate
    seen from the front is read once.
    """
    plate = render_plate(["AE 1455 KH"], char_height=30).convert("RGB")
    for squeeze, expect_wider in ((1.0, False), (0.3, True)):
        narrow = plate.resize((round(plate.width * squeeze), plate.height))
        frame = Image.open(io.BytesIO(jpeg(scene_with(narrow, at=PLATE_AT)))).convert(
            "RGB"
        )
        lines = [
            line
            for line in recognizer._detector.detect(frame, max_side=640)
            if line.height >= 8
        ]
        reads: list[dict[TextLine, LineRead]] = [{} for _ in recognizer_module._Cut]
        recognizer._read_lines(frame, lines, reads)
        (first,) = reads[recognizer_module._Cut.ROTATED].values()
        wider = list(reads[recognizer_module._Cut.ROTATED_WIDER].values())
        assert first.text == "AE1455KH"
        if not expect_wider:
            assert first.pitch >= recognizer_module.SQUEEZED_PITCH
            assert wider == []
            continue
        assert 0 < first.pitch < recognizer_module.SQUEEZED_PITCH
        (again,) = wider
        assert again.text == "AE1455KH"
        assert again.pitch > 1.3 * first.pitch


def test_a_faint_plate_is_found_with_the_local_contrast_evened_out(
    recognizer: PlateRecognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plate in a dim, flat frame is too faint for the detector at every scale.

    The last look, on the frame with its local contrast evened out, finds it,
    and the characters are read from the frame itself.
    """
    plate = render_plate(["AE 1455 KH"], char_height=28).convert("RGB")
    scene = scene_with(plate, at=PLATE_AT)
    dim = ImageEnhance.Brightness(ImageEnhance.Contrast(scene).enhance(0.08)).enhance(
        0.5
    )
    data = jpeg(dim)

    assert [read.text for read in recognizer.read(data).plates][:1] == ["AE1455KH"]
    monkeypatch.setattr(recognizer_module, "local_contrast", lambda image, **_: image)
    assert recognizer.read(data).plates == ()


def test_a_faint_plate_in_a_large_photo_is_found_on_a_smaller_evened_copy(
    recognizer: PlateRecognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 4K frame is evened out at the size the detector sees, not in full.

    The faint plate is still found, and its box lands where it is in the
    frame's own pixels (the smaller copy's lines are scaled back).
    """
    plate = render_plate(["AE 1455 KH"], char_height=56).convert("RGB")
    at = (1700, 1300)
    scene = scene_with(plate, size=(3840, 2160), at=at)
    dim = ImageEnhance.Brightness(ImageEnhance.Contrast(scene).enhance(0.08)).enhance(
        0.5
    )
    evened_sizes: list[tuple[int, int]] = []

    def spy(image: Image.Image, **kwargs: int) -> Image.Image:
        evened = local_contrast(image, **kwargs)
        evened_sizes.append(evened.size)
        return evened

    monkeypatch.setattr(recognizer_module, "local_contrast", spy)
    (read, *_) = recognizer.read(jpeg(dim)).plates

    assert read.text == "AE1455KH"
    assert evened_sizes == [(1280, 720)]
    x1, y1, x2, y2 = read.box
    assert abs(x1 - at[0]) < 0.1 * plate.width
    assert abs(x2 - (at[0] + plate.width)) < 0.1 * plate.width
    assert abs(y1 - at[1]) < 0.3 * plate.height
    assert abs(y2 - (at[1] + plate.height)) < 0.3 * plate.height


def test_a_small_vehicle_box_is_enlarged_for_the_detector(
    recognizer: PlateRecognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A distant car's box is a few dozen pixels: enlarged, its plate's characters are tall enough to find.

    Whole images are not enlarged (a plate crop's text is large already).
    """
    seen = detector_inputs(recognizer, monkeypatch)
    frame = jpeg(scene_with(render_plate(["AE 1455 KH"], char_height=14), at=PLATE_AT))
    recognizer.read(frame, (540, 450, 700, 540))
    assert max(seen[0][2:]) == 320  # a 160 px box, enlarged 2x
    seen.clear()
    small = Image.new("RGB", (200, 60), "white")
    buffer = io.BytesIO()
    small.save(buffer, format="PNG")
    recognizer.read(buffer.getvalue())
    assert (
        max(seen[0][2:]) == 192
    )  # 200 px, only rounded to the network's multiple of 32


def test_the_finest_pass_runs_in_strips_of_bounded_area(
    recognizer: PlateRecognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 1280x720 frame at full scale is seen in three full-width strips of 1280x320 pixels.

    Square 640 px tiles would need six, seeing twice the frame's area. No strip
    is larger than a square tile (detection memory grows with the area seen at once).
    The last look, with the local contrast evened out, is at the second pass's scale.
    """
    seen = detector_inputs(recognizer, monkeypatch)
    scene = Image.linear_gradient("L").resize((1280, 720)).convert("RGB")
    assert recognizer.read(jpeg(scene)).plates == ()
    sides = [shape[2:] for shape in seen]
    assert sides[:2] == [(352, 640), (448, 800)]
    assert sides[-1] == (448, 800)
    strips = sides[2:-1]
    assert len(strips) == 3
    assert all(width == 1280 for _, width in strips)
    assert all(height * width <= 640 * 640 for height, width in strips)


def test_a_small_photo_is_enlarged_when_searched_again(
    recognizer: PlateRecognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small photo's plates are small too: the finer passes enlarge it (up to 2x), plate crops excepted."""
    seen = detector_inputs(recognizer, monkeypatch)
    scene = Image.linear_gradient("L").resize((480, 360)).convert("RGB")
    assert recognizer.read(jpeg(scene)).plates == ()
    # The last look (local contrast evened out) is at the second pass's scale.
    assert [max(shape[2:]) for shape in seen] == [480, 608, 960, 608]


@pytest.mark.parametrize(
    ("text", "loose", "confidence", "settles"),
    [
        ("AE1455KH", False, 0.6, True),
        ("WG4L2M", True, 0.6, True),
        # A shop sign (САЛОН КРАСИ) read as a loose plate: a word, so search on.
        ("AN0HKPAC", True, 0.6, False),
        # Even a sure one: a plate whose last characters the coarse pass lost
        # (CCLVN for CCLVN-3) reads as a sure word too.
        ("AN0HKPAC", True, 0.9, False),
        ("CCLVN3", True, 0.9, True),
        # Four characters of a loose format: a piece of a date or a phone number.
        ("0420", True, 0.9, False),
        ("SGT5", True, 0.9, False),
        ("SGTE5", True, 0.6, True),
        ("AE1455KH", False, 0.3, False),
    ],
)
def test_what_ends_the_search_for_finer_scales(
    text: str,
    loose: bool,
    confidence: float,
    settles: bool,
) -> None:
    """A plausible plate read ends the search; a word that only fits a loose format does not."""
    read = PlateRead(
        text=text,
        raw=text,
        confidence=confidence,
        box=(0, 0, 10, 10),
        loose=loose,
    )
    assert recognizer_module._settled([read]) is settles


def test_no_part_of_a_camera_date_is_a_plate(recognizer: PlateRecognizer) -> None:
    """A burned-in date read whole (``20140514``) yields no plate, not even ``0140514``."""
    overlay = render_plate(["20140514"], char_height=28, ua_strip=False)
    frame = jpeg(scene_with(overlay, at=PLATE_AT))
    assert [read.text for read in recognizer.read(frame).plates] == []
