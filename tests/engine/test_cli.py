"""The engine's command line: what `read`, `eval`, `bench` and `fetch` print and exit with.

CI gates on these exit codes and parses these JSON lines, so both are tested on generated
images with the real models (never the photo set, which a user's clone does not have).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
import contextlib
import io
import json
from pathlib import Path
import re
import subprocess
import sys
import threading
from typing import Any
from unittest.mock import patch
import urllib.error
import urllib.request

from aiohttp import web
from PIL import ImageStat
import pytest

from custom_components.plate_tracker.engine import PlateRecognizer, cli
from custom_components.plate_tracker.engine.benchmark import (
    REFERENCE_SCRIPT,
    compare,
    generated_frames,
    photo_frames,
)
from custom_components.plate_tracker.engine.fusion import FUSION_VERSION
from custom_components.plate_tracker.engine.imaging import decode_image
from custom_components.plate_tracker.engine.server import MAX_IMAGE_BYTES, create_app
from custom_components.plate_tracker.engine.synthetic import (
    jpeg,
    render_plate,
    scene_with,
)

from .conftest import MODEL_CACHE

PLATE_AT = (560, 470)
MANIFEST_HEADER = "image,plate_text,region,x1,y1,x2,y2,img_w,img_h,notes\n"


@pytest.fixture
def model_dir(recognizer: PlateRecognizer) -> Path:
    """Return the real models' folder; skip, as the `recognizer` fixture does, when they cannot be had."""
    return MODEL_CACHE


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Block the network: a test that passes must not have downloaded anything."""

    def unreachable(*_: Any, **__: Any) -> None:
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)


def scene(lines: list[str], *, ua_strip: bool = True, seed: int = 1) -> bytes:
    """Return a 1280x720 JPEG with the plate at ``PLATE_AT``, sized as the engine reads it reliably."""
    plate = render_plate(lines, char_height=40, ua_strip=ua_strip)
    return jpeg(scene_with(plate, at=PLATE_AT, seed=seed))


def plate_box(lines: list[str], *, ua_strip: bool = True) -> tuple[int, int, int, int]:
    """Where ``scene`` pastes that plate, in frame pixels."""
    plate = render_plate(lines, char_height=40, ua_strip=ua_strip)
    return (
        PLATE_AT[0],
        PLATE_AT[1],
        PLATE_AT[0] + plate.width,
        PLATE_AT[1] + plate.height,
    )


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every printed line parsed as JSON (the commands print nothing else there)."""
    return [json.loads(line) for line in text.splitlines()]


def eval_json(
    data_dir: Path, model_dir: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, dict[str, Any]]:
    """Run `eval DATA_DIR --json` with ``extra`` arguments: its exit code and last line."""
    code = cli.main(
        ["eval", str(data_dir), "--json", *extra, "--models", str(model_dir)]
    )
    return code, json.loads(capsys.readouterr().out.splitlines()[-1])


@pytest.fixture
def labelled_dir(tmp_path: Path) -> Path:
    """Build a data folder like the photo set's: one source, three generated scenes, one mislabelled.

    The KA7316CB scene is labelled KA7316CE, so the engine's correct read counts as a miss
    and ua accuracy is exactly 0.5; the br scene has no box, so br has no detection recall.
    """
    source = tmp_path / "data" / "street"
    source.mkdir(parents=True)
    (source / "ua_good.jpg").write_bytes(scene(["AE 1455 KH"]))
    (source / "ua_mislabelled.jpg").write_bytes(scene(["KA 7316 CB"], seed=2))
    (source / "br.jpg").write_bytes(scene(["BRA2E19"], ua_strip=False, seed=3))
    ua_box = ",".join(map(str, plate_box(["AE 1455 KH"])))
    mislabelled_box = ",".join(map(str, plate_box(["KA 7316 CB"])))
    (source / "manifest.csv").write_text(
        MANIFEST_HEADER
        + f"ua_good.jpg,AE1455KH,ua,{ua_box},1280,720,\n"
        + f"ua_mislabelled.jpg,KA7316CE,ua,{mislabelled_box},1280,720,wrong on purpose\n"
        + "br.jpg,BRA2E19,br,,,,,1280,720,\n",
        encoding="utf-8",
    )
    return tmp_path / "data"


# --- read ---------------------------------------------------------------------------------


def test_read_prints_one_json_line_per_image(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Scripts pipe `read` line by line: a bad file gets its own error line and exit 1, the rest are still read."""
    good = tmp_path / "good.jpg"
    good.write_bytes(scene(["AE 1455 KH"]))
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8 not really a jpeg")
    missing = tmp_path / "missing.jpg"

    code = cli.main(
        ["read", str(good), str(corrupt), str(missing), "--models", str(model_dir)]
    )

    out = capsys.readouterr().out
    good_line, corrupt_line, missing_line = json_lines(out)
    assert code == 1
    assert good_line["image"] == str(good)
    assert (good_line["width"], good_line["height"]) == (1280, 720)
    best = good_line["plates"][0]
    assert (best["plate"], best["format"], best["region"]) == (
        "AE1455KH",
        "ua_standard",
        "ua",
    )
    x1, y1, x2, y2 = best["box"]
    box = plate_box(["AE 1455 KH"])
    assert box[0] - 12 <= x1 < x2 <= box[2] + 12
    assert box[1] - 12 <= y1 < y2 <= box[3] + 12
    assert corrupt_line["image"] == str(corrupt)
    assert corrupt_line["error"]
    assert "plates" not in corrupt_line
    assert missing_line["image"] == str(missing)
    assert "No such file" in missing_line["error"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ([], ["AE1455KH"]),
        (["--vehicle-box", "400,300,1100,650"], ["AE1455KH"]),
        (["--vehicle-box", "0,0,300,200"], []),
        (["--regions", "br"], []),
    ],
)
def test_read_options_reach_the_engine(
    model_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    expected: list[str],
) -> None:
    """`--vehicle-box` narrows the search and `--regions` picks the formats; ignoring either changes the read."""
    image = tmp_path / "scene.jpg"
    image.write_bytes(scene(["AE 1455 KH"]))

    code = cli.main(["read", str(image), "--models", str(model_dir), *options])

    (line,) = json_lines(capsys.readouterr().out)
    assert code == 0
    assert [plate["plate"] for plate in line["plates"]] == expected


def test_read_rejects_a_malformed_vehicle_box(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A box with three numbers is a usage error (exit 2) that says the expected form."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["read", str(tmp_path / "a.jpg"), "--vehicle-box", "1,2,3"])
    assert exit_info.value.code == 2
    assert "expected x1,y1,x2,y2 in pixels" in capsys.readouterr().err


def test_read_refuses_a_file_larger_than_an_image_may_be(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A glob that catches a video, or a path like /dev/zero, must not be read whole into memory.

    Images are held to the engine server's limit: the file is read no further
    than that, and gets its error line like any other unreadable file.
    """
    padded = tmp_path / "padded.jpg"
    padded.write_bytes(scene(["AE 1455 KH"]))
    with padded.open("r+b") as stream:
        stream.truncate(MAX_IMAGE_BYTES + 1)

    code = cli.main(["read", str(padded), "--models", str(model_dir)])

    (line,) = json_lines(capsys.readouterr().out)
    assert code == 1
    assert line == {
        "image": str(padded),
        "error": f"file is larger than the {MAX_IMAGE_BYTES} bytes an image may be",
    }


def test_module_exits_with_the_code_main_returns(
    model_dir: Path, tmp_path: Path
) -> None:
    """`python -m ...engine` is what CI and people run: its exit status must be main's code."""
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"not an image")

    completed = subprocess.run(  # noqa: S603  # this interpreter, our module
        [
            sys.executable,
            "-m",
            "custom_components.plate_tracker.engine",
            "read",
            str(corrupt),
            "--models",
            str(model_dir),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
    )

    assert completed.returncode == 1
    (line,) = json_lines(completed.stdout)
    assert line["image"] == str(corrupt)
    assert line["error"]


def test_engine_script_reads_without_loading_home_assistant(
    model_dir: Path, tmp_path: Path
) -> None:
    """scripts/engine is the same CLI without Home Assistant (5 s and 160 MB saved)."""
    image = tmp_path / "scene.jpg"
    image.write_bytes(scene(["AE1234KH"]))
    repo = Path(__file__).resolve().parents[2]

    completed = subprocess.run(  # noqa: S603  # our script, this interpreter's environment
        [repo / "scripts" / "engine", "read", image, "--models", model_dir],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        # Every module imported is listed on stderr.
        env={
            "VENV": sys.prefix,
            "PYTHONPROFILEIMPORTTIME": "1",
            "PATH": "/usr/bin:/bin",
        },
        timeout=60,
    )

    assert completed.returncode == 0, completed.stderr[-2000:]
    (line,) = json_lines(completed.stdout)
    assert [plate["plate"] for plate in line["plates"]] == ["AE1234KH"]
    assert "custom_components.plate_tracker.engine.cli" in completed.stderr
    assert "homeassistant" not in completed.stderr


def test_results_go_to_the_current_stdout(model_dir: Path) -> None:
    """A script embedding main() captures its results with redirect_stdout, as it already can its errors."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = cli.main(["fetch", "--models", str(model_dir)])

    assert code == 0
    assert json.loads(buffer.getvalue())["detector"].endswith(".onnx")


# --- eval ---------------------------------------------------------------------------------


def test_eval_json_scores_each_region(
    model_dir: Path, labelled_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """CI reads the last line of `eval --json`: counts, accuracy and recall per region must be exact."""
    code = cli.main(["eval", str(labelled_dir), "--json", "--models", str(model_dir)])

    out = capsys.readouterr().out
    report = json.loads(out.splitlines()[-1])
    assert code == 0
    assert set(report) == {"regions", "overall", "images_skipped"}
    assert report["images_skipped"] == 0
    ua, br, overall = (
        report["regions"]["ua"],
        report["regions"]["br"],
        report["overall"],
    )
    assert (ua["n"], ua["accuracy"], ua["top1_accuracy"], ua["detection_recall"]) == (
        2,
        0.5,
        0.5,
        1.0,
    )
    # The police's view: a watchlist entry for KA7316CE still alerts on the KA7316CB read,
    # one character off, but not by an exact or look-alike match.
    assert (ua["watchlist_recall"], ua["watchlist_strong_recall"]) == (1.0, 0.5)
    assert overall["watchlist_false_alert_rate"] == 0.0
    assert (br["n"], br["accuracy"], br["top1_accuracy"]) == (1, 1.0, 1.0)
    assert "detection_recall" not in br
    assert (overall["n"], overall["accuracy"], overall["top1_accuracy"]) == (
        3,
        0.6667,
        0.6667,
    )
    assert overall["detection_recall"] == 1.0
    assert 0 < overall["p50_s"] <= overall["p90_s"]
    table = {line.split()[0]: line.split()[1:5] for line in out.splitlines()[1:-1]}
    assert table["street:ua"] == ["2", "0.500", "0.500", "1.000"]
    assert table["street:br"] == ["1", "1.000", "1.000", "1.000"]
    assert table["overall"] == ["3", "0.667", "0.667", "1.000"]


def test_eval_perturbed_reads_changed_photos_without_their_boxes(
    model_dir: Path, labelled_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`eval --perturb rotate:5` reads turned photos; their labelled boxes no longer hold."""
    code, report = eval_json(labelled_dir, model_dir, capsys, "--perturb", "rotate:5")

    assert code == 0
    ua, overall = report["regions"]["ua"], report["overall"]
    # Turned 5 degrees, the generated plates still read; the mislabelled one still misses.
    assert (ua["n"], ua["accuracy"]) == (2, 0.5)
    assert (overall["n"], overall["accuracy"]) == (3, 0.6667)
    assert "detection_recall" not in ua
    assert "detection_recall" not in overall


def test_eval_perturbed_keeps_boxes_when_pixels_stay(
    model_dir: Path, labelled_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A change of colour or quality leaves the plates where they were: recall is still scored."""
    code, report = eval_json(
        labelled_dir, model_dir, capsys, "--perturb", "gray,jpeg:60"
    )

    assert code == 0
    assert report["overall"]["detection_recall"] == 1.0


def test_eval_perturb_and_floor_do_not_combine(
    labelled_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The floors hold the engine to the photos as they are, not to changed ones."""
    floor = tmp_path / "floor.json"
    floor.write_text('{"overall": 0.5}', encoding="utf-8")

    code = cli.main(
        ["eval", str(labelled_dir), "--perturb", "gray", "--floor", str(floor)]
    )

    assert code == 2
    assert "--floor and --perturb cannot be combined" in capsys.readouterr().err


def test_eval_rejects_an_unknown_perturbation(
    labelled_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The parser exits 2 with its reason, before any model is loaded."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["eval", str(labelled_dir), "--perturb", "rotate:90"])

    assert exit_info.value.code == 2
    assert "rotate:90 is outside -45..45" in capsys.readouterr().err


def test_eval_below_floor_fails_and_names_the_region(
    model_dir: Path,
    labelled_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The accuracy gate: a region under its floor fails the run and says which one; misses are listed."""
    floor = tmp_path / "floor.json"
    floor.write_text(
        json.dumps({"overall": 0.6, "regions": {"ua": 0.75, "br": 0.9}}),
        encoding="utf-8",
    )

    code = cli.main(
        [
            "eval",
            str(labelled_dir),
            "--json",
            "--failures",
            "--floor",
            str(floor),
            "--models",
            str(model_dir),
        ]
    )

    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.splitlines() == [
        "BELOW FLOOR: ua accuracy 0.500 is below the floor 0.75"
    ]
    misses = [line for line in captured.out.splitlines() if line.startswith("MISS")]
    assert misses == [
        f"MISS {labelled_dir / 'street' / 'ua_mislabelled.jpg'} truth=KA7316CE read=KA7316CB"
    ]
    assert json.loads(captured.out.splitlines()[-1])["overall"]["n"] == 3


def test_eval_at_the_floor_passes(
    model_dir: Path,
    labelled_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A floor equal to the measured accuracy holds: the gate fails only strictly below it."""
    floor = tmp_path / "floor.json"
    floor.write_text(
        json.dumps({"overall": 0.6667, "regions": {"ua": 0.5, "br": 1.0}}),
        encoding="utf-8",
    )

    code = cli.main(
        ["eval", str(labelled_dir), "--floor", str(floor), "--models", str(model_dir)]
    )

    captured = capsys.readouterr()
    assert code == 0
    assert captured.err == ""
    assert "MISS" not in captured.out


@pytest.mark.parametrize(
    "case",
    [
        (["eval", "{data}"], "--floor", None, "No such file"),
        (["eval", "{data}"], "--floor", "{overall: 0.5", "not JSON"),
        (["eval", "{data}"], "--floor", "[0.5]", "not a JSON object"),
        (["bench", "--images", "1"], "--baseline", None, "No such file"),
        (["serve", "--port", "1"], "--token-file", None, "No such file"),
        (["serve", "--port", "1"], "--token-file", "\n", "holds no token"),
    ],
    ids=[
        "floor-missing",
        "floor-not-json",
        "floor-a-list",
        "baseline",
        "token",
        "token-empty",
    ],
)
def test_an_option_file_that_cannot_be_used_stops_the_command_first(
    model_dir: Path,
    labelled_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: tuple[list[str], str, str | None, str],
) -> None:
    """A mistyped --floor path failed with a traceback after the whole evaluation had run.

    CI reads exit 1 as "below the floor": a usage error exits 2 with its
    reason, before any image is read.
    """
    command, option, content, reason = case
    option_file = tmp_path / "option.json"
    if content is not None:
        option_file.write_text(content, encoding="utf-8")
    arguments = [part.format(data=labelled_dir) for part in command]

    with pytest.raises(SystemExit) as exit_info:
        cli.main([*arguments, option, str(option_file), "--models", str(model_dir)])

    captured = capsys.readouterr()
    assert exit_info.value.code == 2
    assert captured.out == ""
    assert f"argument {option}: " in captured.err
    assert reason in captured.err


@pytest.mark.parametrize(
    "case",
    [
        ([], None, "no token: give --token-file"),
        ([], "", "no token: give --token-file"),
        (["--no-token"], "s3cret", "--no-token and a token cannot go together"),
    ],
    ids=["no-token", "empty-environment", "both"],
)
def test_the_engine_server_is_open_only_when_asked_to_be(
    model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    case: tuple[list[str], str | None, str],
) -> None:
    """`serve` without a token read plates for any client, with a warning only.

    A forgotten token file or variable made an open server. It now refuses to
    start unless ``--no-token`` says so, before any model is loaded.
    """
    arguments, environment, reason = case
    if environment is None:
        monkeypatch.delenv("PLATE_TRACKER_ENGINE_TOKEN", raising=False)
    else:
        monkeypatch.setenv("PLATE_TRACKER_ENGINE_TOKEN", environment)

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the server started")

    monkeypatch.setattr(cli, "serve", never)
    monkeypatch.setattr(cli, "_recognizer", never)

    code = cli.main(["serve", "--port", "1", "--models", str(model_dir), *arguments])

    captured = capsys.readouterr()
    assert code == 2
    assert reason in captured.err


def test_the_engine_server_serves_open_with_no_token(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--no-token`` runs it open, as chosen, and says so."""
    monkeypatch.delenv("PLATE_TRACKER_ENGINE_TOKEN", raising=False)
    served: list[str | None] = []
    monkeypatch.setattr(cli, "_recognizer", lambda args: object())
    monkeypatch.setattr(
        cli, "serve", lambda recognizers, **kwargs: served.append(kwargs["token"])
    )

    code = cli.main(["serve", "--port", "1", "--models", str(model_dir), "--no-token"])

    assert code == 0
    assert served == [None]
    assert "any client that reaches this port" in capsys.readouterr().err


def test_eval_limit_reads_only_the_first_images(
    model_dir: Path, labelled_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--limit` gives a quick look: only the first N manifest rows are read and counted."""
    code, report = eval_json(labelled_dir, model_dir, capsys, "--limit", "1")

    assert code == 0
    assert report["overall"]["n"] == 1
    assert report["overall"]["accuracy"] == 1.0
    assert list(report["regions"]) == ["ua"]


def test_eval_counts_an_unreadable_image_as_a_miss_and_goes_on(
    model_dir: Path, labelled_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing or corrupt photo in a manifest is named on stderr and scored as a miss, not a crash."""
    source = labelled_dir / "street"
    (source / "corrupt.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    with (source / "manifest.csv").open("a", encoding="utf-8") as manifest:
        manifest.write("corrupt.jpg,AE0001KH,ua,,,,,1280,720,\n")
        manifest.write("gone.jpg,AE0002KH,ua,,,,,1280,720,\n")
        # A region with no readable image at all: no times to summarise.
        manifest.write("gone.jpg,ABC1234,us,,,,,1280,720,\n")

    code = cli.main(["eval", str(labelled_dir), "--models", str(model_dir), "--json"])

    captured = capsys.readouterr()
    assert code == 0
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary["regions"]["ua"]["n"] == 4
    assert summary["regions"]["ua"]["accuracy"] == 0.25
    assert summary["overall"]["n"] == 6
    assert summary["regions"]["us"] == {
        "n": 1,
        "accuracy": 0.0,
        "top1_accuracy": 0.0,
        "watchlist_recall": 0.0,
        "watchlist_strong_recall": 0.0,
        "watchlist_false_alert_rate": 0.0,
        "p50_s": None,
        "p90_s": None,
    }
    unreadable = [
        line for line in captured.err.splitlines() if line.startswith("UNREADABLE")
    ]
    assert len(unreadable) == 3
    assert any("corrupt.jpg" in line for line in unreadable)
    assert any("gone.jpg" in line for line in unreadable)


def test_eval_skips_a_file_larger_than_an_image_may_be_and_says_so(
    model_dir: Path, labelled_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`eval` holds photos to `read`'s limit: a video in a manifest is not read whole.

    It was read into memory, however large (a path can be /dev/zero), and
    scored. Now it is skipped unread, named on stderr and counted in the
    JSON line; the other images are scored as before.
    """
    source = labelled_dir / "street"
    padded = source / "padded.jpg"
    padded.write_bytes(scene(["AE 1455 KH"]))
    with padded.open("r+b") as stream:
        stream.truncate(MAX_IMAGE_BYTES + 1)
    with (source / "manifest.csv").open("a", encoding="utf-8") as manifest:
        manifest.write("padded.jpg,AE1455KH,ua,,,,,1280,720,\n")

    code = cli.main(["eval", str(labelled_dir), "--models", str(model_dir), "--json"])

    captured = capsys.readouterr()
    assert code == 0
    report = json.loads(captured.out.splitlines()[-1])
    assert report["images_skipped"] == 1
    assert (report["overall"]["n"], report["regions"]["ua"]["n"]) == (3, 2)
    assert (
        f"SKIPPED {padded}: file is larger than the {MAX_IMAGE_BYTES} bytes"
        " an image may be"
    ) in captured.err.splitlines()
    assert "1 images skipped unread, not scored" in captured.err.splitlines()


def test_eval_without_manifests_fails(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong data path must not pass the gate with zero images measured."""
    code = cli.main(["eval", str(tmp_path), "--json", "--models", str(model_dir)])

    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    assert captured.err == f"no labelled images (manifest.csv) under {tmp_path}\n"


# --- bench --------------------------------------------------------------------------------


def test_bench_saves_a_run_and_compares_with_it(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A saved bench is the baseline of the next one: both modes measured, then each figure compared."""
    saved = tmp_path / "runs" / "bench.json"

    code = cli.main(
        ["bench", "--images", "2", "--save", str(saved), "--models", str(model_dir)]
    )

    first = json.loads(saved.read_text(encoding="utf-8"))
    assert code == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == first
    assert (first["source"], first["threads"]) == ("generated", 2)
    for mode in ("full_frame", "vehicle_box", "pass_frame"):
        figures = first[mode]
        assert figures["n"] == 2
        assert 0 < figures["p50_s"] <= figures["p90_s"]
        assert figures["cpu_p50_s"] > 0
        assert figures["throughput_per_s"] > 0
        assert figures["accuracy"] == 1.0
    assert 0 < first["rss_before_engine_mb"] <= first["peak_rss_mb"]

    code = cli.main(
        ["bench", "--images", "2", "--baseline", str(saved), "--models", str(model_dir)]
    )

    out = capsys.readouterr().out.splitlines()
    second = json.loads(out[-1])
    assert code == 0
    comparisons = out[:-1]
    assert len(comparisons) == 13
    for line in comparisons[:12]:
        match = re.fullmatch(r"(\w+)\.(\w+): (\S+) vs (\S+) \(x(\S+)\)", line)
        assert match is not None, line
        mode, key, now, before, ratio = match.groups()
        assert float(now) == second[mode][key]
        assert float(before) == first[mode][key]
        assert ratio == f"{second[mode][key] / first[mode][key]:.2f}"
    assert (
        comparisons[12]
        == f"peak_rss_mb: {second['peak_rss_mb']} vs {first['peak_rss_mb']}"
    )


@pytest.mark.enable_socket
@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.parametrize("token_in_file", [True, False], ids=["file", "environment"])
def test_bench_reads_through_an_engine_server(
    recognizer: PlateRecognizer,
    model_dir: Path,
    tmp_path: Path,
    *,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    token_in_file: bool,
) -> None:
    """`bench --server` measures the HTTP hop Home Assistant OS pays, with the same reads.

    The token comes as `serve` takes it: from `--token-file`, else the environment.
    """
    token_args: list[str] = []
    if token_in_file:
        token = tmp_path / "engine.token"
        token.write_text("bench-token\n", encoding="utf-8")
        token_args = ["--token-file", str(token)]
        monkeypatch.setenv("PLATE_TRACKER_ENGINE_TOKEN", "not-this-one")
    else:
        monkeypatch.setenv("PLATE_TRACKER_ENGINE_TOKEN", " bench-token\n")
    with _serving(recognizer, "bench-token") as url:
        code = cli.main(
            [
                "bench",
                "--images",
                "2",
                "--server",
                url,
                *token_args,
                "--models",
                str(model_dir),
            ]
        )
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert code == 0
    assert result["server"] == url
    for mode in ("full_frame", "vehicle_box", "pass_frame"):
        assert result[mode]["n"] == 2
        assert result[mode]["accuracy"] == 1.0
        assert 0 < result[mode]["p50_s"] <= result[mode]["p90_s"]


@contextlib.contextmanager
def _serving(recognizer: PlateRecognizer, token: str) -> Iterator[str]:
    """Serve the engine on loopback from a thread of its own; the CLI runs its own loop."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="engine-server-test")
    thread.start()
    runner = web.AppRunner(create_app(recognizer, token=token))

    async def start() -> int:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return int(runner.addresses[0][1])

    try:
        port = asyncio.run_coroutine_threadsafe(start(), loop).result(30)
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


def test_bench_workers_measure_frames_per_second_at_once(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--workers 2` adds the throughput of two engines reading at once, compared like the rest."""
    saved = tmp_path / "bench.json"
    argv = ["bench", "--images", "3", "--workers", "2", "--models", str(model_dir)]
    assert cli.main([*argv, "--save", str(saved)]) == 0
    first = json.loads(capsys.readouterr().out.splitlines()[-1])
    parallel = first["parallel"]
    assert parallel["workers"] == 2
    assert parallel["full_frame_per_s"] > 0
    assert parallel["vehicle_box_per_s"] > 0
    assert first["full_frame"]["accuracy"] == 1.0

    assert cli.main([*argv, "--baseline", str(saved)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith("parallel.full_frame_per_s: ") for line in out[:-1])


@pytest.mark.parametrize("command", ["read", "eval", "bench", "serve"])
@pytest.mark.parametrize(
    ("regions", "message"), [("", "names no region"), ("ua,xx", "use some of")]
)
def test_commands_refuse_regions_they_cannot_read(
    command: str, regions: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An engine with no readable region would answer every frame with nothing."""
    positional = {"read": ["frame.jpg"], "eval": ["data"]}.get(command, [])
    with pytest.raises(SystemExit) as exited:
        cli.main([command, *positional, "--regions", regions])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_compare_skips_figures_the_baseline_lacks() -> None:
    """An older or partial baseline is compared on what it has, never divided by zero."""
    current = {
        "full_frame": {
            "p50_s": 0.1,
            "p90_s": 0.2,
            "cpu_p50_s": 0.15,
            "throughput_per_s": 8.0,
        },
        "vehicle_box": {
            "p50_s": 0.05,
            "p90_s": 0.06,
            "cpu_p50_s": 0.07,
            "throughput_per_s": 16.0,
        },
        "peak_rss_mb": 300.0,
    }
    baseline = {"full_frame": {"p50_s": 0.2, "p90_s": 0}, "peak_rss_mb": 0}

    assert compare(current, baseline) == ["full_frame.p50_s: 0.1 vs 0.2 (x0.50)"]


def test_compare_says_when_the_baseline_read_other_frames() -> None:
    """A run without plates or at another size is not the same measure as the baseline's."""
    current = {"frame_size": "3840x2160", "plates": "hidden"}

    assert compare(current, {"peak_rss_mb": 0}) == [
        (
            "baseline read other frames: 1280x720 with plates shown"
            " against 3840x2160 with plates hidden"
        )
    ]
    assert compare(current, dict(current)) == []


def test_bench_on_labelled_photos_uses_full_hd_frames_and_their_boxes(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bench figures are comparable only on 1280x720 frames, and the vehicle-box mode must search there.

    The second plate's box is labelled in the wrong corner: its vehicle box misses the
    plate, so only the vehicle-box mode (which really uses the box) loses it.
    """
    source = tmp_path / "data" / "cams"
    source.mkdir(parents=True)
    (source / "plate.jpg").write_bytes(scene(["AE 1455 KH"]))
    (source / "elsewhere.jpg").write_bytes(scene(["KA 7316 CB"], seed=2))
    box = ",".join(map(str, plate_box(["AE 1455 KH"])))
    (source / "manifest.csv").write_text(
        MANIFEST_HEADER
        + "small.jpg,AE1455KH,ua,10,10,90,30,640,360,\n"
        + "crop.jpg,AE1455KH,ua,,,,,1280,720,\n"
        + f"plate.jpg,AE1455KH,ua,{box},1280,720,\n"
        + "elsewhere.jpg,KA7316CB,ua,20,20,345,83,1280,720,box in the wrong corner\n",
        encoding="utf-8",
    )
    data = tmp_path / "data"

    code = cli.main(["bench", str(data), "--images", "5", "--models", str(model_dir)])

    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert code == 0
    assert result["source"] == str(data)
    assert (result["full_frame"]["n"], result["full_frame"]["accuracy"]) == (2, 1.0)
    assert (result["vehicle_box"]["n"], result["vehicle_box"]["accuracy"]) == (2, 0.5)


def test_bench_skips_a_file_larger_than_an_image_may_be_and_says_so(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bench` holds photos to `eval`'s limit and says which it left out, and how many."""
    source = tmp_path / "data" / "cams"
    source.mkdir(parents=True)
    box = ",".join(map(str, plate_box(["AE 1455 KH"])))
    (source / "plate.jpg").write_bytes(scene(["AE 1455 KH"]))
    padded = source / "padded.jpg"
    padded.write_bytes(scene(["AE 1455 KH"]))
    with padded.open("r+b") as stream:
        stream.truncate(MAX_IMAGE_BYTES + 1)
    (source / "manifest.csv").write_text(
        MANIFEST_HEADER
        + f"plate.jpg,AE1455KH,ua,{box},1280,720,\n"
        + f"padded.jpg,AE1455KH,ua,{box},1280,720,\n",
        encoding="utf-8",
    )

    code = cli.main(
        ["bench", str(tmp_path / "data"), "--images", "5", "--models", str(model_dir)]
    )

    captured = capsys.readouterr()
    result = json.loads(captured.out.splitlines()[-1])
    assert code == 0
    assert result["images_skipped"] == 1
    assert result["full_frame"]["n"] == 1
    assert (
        f"SKIPPED {padded}: file is larger than the {MAX_IMAGE_BYTES} bytes"
        " an image may be"
    ) in captured.err.splitlines()


def test_bench_without_plates_counts_every_read_as_false(
    model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--no-plate`` draws plates without text at ``--frame-size``: right is reading nothing."""
    code = cli.main(
        [
            "bench",
            "--images",
            "2",
            "--no-plate",
            "--frame-size",
            "1920x1080",
            "--models",
            str(model_dir),
        ]
    )

    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert code == 0
    assert (result["frame_size"], result["plates"]) == ("1920x1080", "hidden")
    for mode in ("full_frame", "vehicle_box", "pass_frame"):
        figures = result[mode]
        assert figures["n"] == 2
        assert figures["accuracy"] == pytest.approx(1 - figures["read_share"])


def test_generated_frames_scale_with_the_frame_and_can_hide_the_plate() -> None:
    """A 4K scene's plate is three times as large; a hidden plate is drawn without its text."""
    (shown,) = generated_frames(1, size=(3840, 2160))
    (hidden,) = generated_frames(1, size=(3840, 2160), plate_hidden=True)
    (small,) = generated_frames(1)

    assert decode_image(shown.data).size == (3840, 2160)
    assert (shown.plate, hidden.plate) == ("AE1000KH", "")
    x1, y1, x2, y2 = shown.vehicle_box
    sx1, sy1, sx2, sy2 = small.vehicle_box
    assert (x2 - x1) == pytest.approx(3 * (sx2 - sx1), rel=0.1)
    assert (y2 - y1) == pytest.approx(3 * (sy2 - sy1), rel=0.1)


def test_photo_frames_can_cover_the_labelled_plate(tmp_path: Path) -> None:
    """The plate's box is painted over in one colour; the rest of the photo stays."""
    (tmp_path / "plate.jpg").write_bytes(scene(["AE 1455 KH"]))
    box = plate_box(["AE 1455 KH"])
    (tmp_path / "manifest.csv").write_text(
        MANIFEST_HEADER
        + f"plate.jpg,AE1455KH,ua,{','.join(map(str, box))},1280,720,\n",
        encoding="utf-8",
    )

    (shown,) = photo_frames(tmp_path, 1)
    (covered,) = photo_frames(tmp_path, 1, plate_hidden=True)

    assert (shown.plate, covered.plate) == ("AE1455KH", "")
    assert covered.vehicle_box == shown.vehicle_box
    before, after = decode_image(shown.data), decode_image(covered.data)
    assert max(ImageStat.Stat(before.crop(box).convert("L")).stddev) > 30
    assert max(ImageStat.Stat(after.crop(box).convert("L")).stddev) < 3
    corner = (0, 0, 200, 200)
    assert ImageStat.Stat(after.crop(corner)).mean == pytest.approx(
        ImageStat.Stat(before.crop(corner)).mean, abs=2
    )


def test_photo_frames_stop_at_the_limit(tmp_path: Path) -> None:
    """`--images N` bounds the run time on a large photo set."""
    (tmp_path / "manifest.csv").write_text(
        MANIFEST_HEADER
        + "".join(
            f"{name}.jpg,AE1455KH,ua,560,470,885,533,1280,720,\n" for name in "abc"
        ),
        encoding="utf-8",
    )
    for name in "abc":
        (tmp_path / f"{name}.jpg").write_bytes(name.encode())

    frames = photo_frames(tmp_path, 2)

    assert [frame.data for frame in frames] == [b"a", b"b"]
    x1, _, x2, _ = frames[0].vehicle_box
    assert x1 < 560
    assert x2 > 885


def test_bench_without_frames_fails(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A data folder with nothing to bench fails instead of printing empty figures."""
    code = cli.main(["bench", str(tmp_path), "--models", str(model_dir)])

    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    assert captured.err == f"no 1280x720 labelled frames under {tmp_path}\n"


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--images", "0", "must be at least 1, not 0"),
        ("--images", "-3", "must be at least 1, not -3"),
        ("--frame-size", "1920", "expected WIDTHxHEIGHT, e.g. 3840x2160, not '1920'"),
        ("--frame-size", "axb", "expected WIDTHxHEIGHT"),
        ("--frame-size", "10x10", "10x10 is outside 64x64 to 50000000 pixels"),
        ("--frame-size", "10000x10000", "is outside 64x64"),
    ],
)
def test_bench_refuses_an_option_value_it_cannot_use(
    model_dir: Path,
    option: str,
    value: str,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Too few frames or a malformed frame size: refused by the parser, before any model is loaded."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bench", option, value, "--models", str(model_dir)])

    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_photo_frames_with_a_zero_limit_is_empty(tmp_path: Path) -> None:
    """`--images 0` must read nothing, as it does for generated frames."""
    (tmp_path / "manifest.csv").write_text(
        MANIFEST_HEADER + "a.jpg,AE1455KH,ua,560,470,885,533,1280,720,\n",
        encoding="utf-8",
    )
    (tmp_path / "a.jpg").write_bytes(b"a")

    assert photo_frames(tmp_path, 0) == []


def test_bench_runs_the_reference_pipeline_side_by_side(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """RapidOCR's texts are scored by our format rules, and its best-scoring text is its plate.

    A plate after other text counts once; no text misses; a right text that
    scores below a wrong one misses too, as the engine's own second read would.
    A stand-in interpreter answers for RapidOCR's script, so only our side is under test.
    """
    calls = tmp_path / "calls.json"
    stand_in = tmp_path / "python"
    stand_in.write_text(
        f"#!{sys.executable}\n"
        "import json, pathlib, sys\n"
        "paths = json.load(sys.stdin)\n"
        f"pathlib.Path({str(calls)!r}).write_text(json.dumps("
        "{'argv': sys.argv[1:], 'sizes': [pathlib.Path(p).stat().st_size for p in paths]}))\n"
        "print(json.dumps({'seconds': 0.5, 'texts': "
        "[['SALE', 0.9], ['AE 1000 KH', 0.95], ['ae-1000-kh', 0.9]]}))\n"
        "print(json.dumps({'seconds': 0.3, 'texts': []}))\n"
        "print(json.dumps({'seconds': 0.4, 'texts': "
        "[['AE 1074 KH', 0.3], ['BX 2000 AA', 0.99]]}))\n",
        encoding="utf-8",
    )
    stand_in.chmod(0o755)

    code = cli.main(
        [
            "bench",
            "--images",
            "3",
            "--reference-python",
            str(stand_in),
            "--models",
            str(model_dir),
        ]
    )

    out = capsys.readouterr().out.splitlines()
    result = json.loads(out[-1])
    assert code == 0
    assert result["reference_rapidocr"] == {
        "n": 3,
        "p50_s": 0.4,
        "accuracy": 0.3333,
        "read_share": 0.6667,
    }
    ours = result["full_frame"]
    assert out[0] == (
        f"engine p50 {ours['p50_s']} s, accuracy {ours['accuracy']}; "
        f"RapidOCR p50 0.4 s, accuracy 0.3333; speed ratio x{0.4 / ours['p50_s']:.2f}"
    )
    called = json.loads(calls.read_text(encoding="utf-8"))
    assert called["argv"] == [str(REFERENCE_SCRIPT)]
    assert len(called["sizes"]) == 3
    assert all(size > 10_000 for size in called["sizes"])


def test_bench_rounds_take_each_frames_median_on_both_sides(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --rounds every frame is read that often, by the engine and the reference alike.

    The stand-in for RapidOCR's script answers 0.1 s, 0.2 s, then 0.9 s a frame
    on its three runs: the median, 0.2 s, is its figure, not the slow run.
    """
    calls = tmp_path / "calls"
    stand_in = tmp_path / "python"
    stand_in.write_text(
        f"#!{sys.executable}\n"
        "import json, pathlib, sys\n"
        "paths = json.load(sys.stdin)\n"
        f"calls = pathlib.Path({str(calls)!r})\n"
        "count = len(calls.read_text().split()) if calls.exists() else 0\n"
        "calls.write_text('x ' * (count + 1))\n"
        "for _ in paths:\n"
        "    print(json.dumps({'seconds': [0.1, 0.2, 0.9][count], 'texts': []}))\n",
        encoding="utf-8",
    )
    stand_in.chmod(0o755)
    reads: list[tuple[tuple[Any, ...], Any]] = []
    read = PlateRecognizer.read

    def counted(self: PlateRecognizer, *args: Any) -> Any:
        result = read(self, *args)
        reads.append((args, result))
        return result

    with patch.object(PlateRecognizer, "read", counted):
        code = cli.main(
            [
                "bench",
                "--images",
                "2",
                "--rounds",
                "3",
                "--reference-python",
                str(stand_in),
                "--models",
                str(model_dir),
            ]
        )

    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert code == 0
    assert result["rounds"] == 3
    assert result["reference_rapidocr"]["p50_s"] == 0.2
    assert calls.read_text().split() == ["x", "x", "x"]
    # Per mode (full frame, vehicle box, later frame of a pass) one warm-up
    # read and two frames three times.
    assert len(reads) == 3 * (1 + 2 * 3)
    full_frame, vehicle_box, pass_frame = reads[:7], reads[7:14], reads[14:]
    assert all(args[1:] == (None, None) for args, _ in full_frame)
    assert all(args[1] is not None and args[2] is None for args, _ in vehicle_box)
    # A later frame's hint is where the vehicle box's first round found the plate.
    first_round = [result.plates[0].box for _, result in vehicle_box[1:3]]
    assert [args[2] for args, _ in pass_frame[1:]] == first_round * 3
    assert result["full_frame"]["n"] == result["vehicle_box"]["n"] == 2


# --- models -------------------------------------------------------------------------------


def test_fetch_prints_the_verified_model_paths(
    model_dir: Path, offline: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Models already on disk are verified, folded and used without the network."""
    code = cli.main(["fetch", "--models", str(model_dir)])

    (line,) = json_lines(capsys.readouterr().out)
    assert code == 0
    folded = f"folded-{FUSION_VERSION}.onnx"
    assert line == {
        "detector": str(model_dir / f"ch_PP-OCRv4_det_infer.{folded}"),
        "recognizer": str(model_dir / f"ch_PP-OCRv4_rec_infer.{folded}"),
    }


@pytest.mark.parametrize(
    "command",
    [["fetch"], ["read", "scene.jpg"], ["eval", "data"], ["bench"]],
    ids=["fetch", "read", "eval", "bench"],
)
def test_without_models_or_network_every_command_says_why(
    command: list[str],
    tmp_path: Path,
    offline: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No traceback when the models cannot be had: exit 2 and the reason on stderr, nothing on stdout."""
    empty = tmp_path / "models"
    empty.mkdir()

    code = cli.main([*command, "--models", str(empty)])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.startswith("models unavailable: cannot reach the package index")
    assert "no route to host" in captured.err
    assert list(empty.iterdir()) == []


def test_eval_counts_alerts_for_another_cars_plate(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two cars one character apart: each one's read alerts for the other's watchlist entry too."""
    source = tmp_path / "data" / "street"
    source.mkdir(parents=True)
    (source / "first.jpg").write_bytes(scene(["AE 1455 KH"]))
    (source / "second.jpg").write_bytes(scene(["AE 1455 KX"], seed=4))
    (source / "manifest.csv").write_text(
        MANIFEST_HEADER
        + "first.jpg,AE1455KH,ua,,,,,1280,720,\n"
        + "second.jpg,AE1455KX,ua,,,,,1280,720,\n",
        encoding="utf-8",
    )

    code = cli.main(
        ["eval", str(tmp_path / "data"), "--json", "--models", str(model_dir)]
    )

    report = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert code == 0
    overall = report["overall"]
    assert (overall["accuracy"], overall["watchlist_strong_recall"]) == (1.0, 1.0)
    assert overall["watchlist_false_alert_rate"] == 1.0
