"""Latency, throughput and memory of the engine on full frames and on vehicle boxes.

Wall time on a shared machine swings with other load, so every figure comes
with the CPU seconds the process spent and the load average around the run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
import json
import os
from pathlib import Path
import queue
import resource
import statistics
import subprocess
import tempfile
import time
from typing import Any

from PIL import ImageDraw, ImageStat

from ..plate_text import normalize_plate
from .evaluation import (
    ImageTooLargeError,
    image_file_bytes,
    load_manifests,
    plates_equal,
)
from .formats import formats_for, match_formats, one_hot
from .imaging import decode_image
from .synthetic import jpeg, render_plate, scene_with, vehicle_box_around
from .types import Box, FrameResult

type Read = Callable[[bytes, Box | None, Box | None], FrameResult]
"""Read an image: its bytes, a vehicle box, a plate hint (as ``PlateRecognizer.read``)."""

REFERENCE_SCRIPT = (
    Path(__file__).resolve().parents[3] / "scripts" / "bench_engine_reference.py"
)
"""Runs RapidOCR's own pipeline; only present in a checkout, not in an installed integration."""

FRAME_SIZE = (1280, 720)


@dataclass(frozen=True, slots=True)
class BenchImage:
    """One frame to read, with the vehicle box an NVR would send along."""

    data: bytes
    vehicle_box: Box
    plate: str
    """The plate to read; empty where the frame shows none (``plate_hidden``)."""
    region: str


PLATE_COVER_MARGIN = 0.25
"""Share of a labelled plate's height its cover reaches beyond the box on
every side: labelled boxes are drawn tight, some a pixel inside the plate."""


def photo_frames(
    data_dir: Path,
    limit: int,
    *,
    size: tuple[int, int] = FRAME_SIZE,
    plate_hidden: bool = False,
    skipped: list[str] | None = None,
) -> list[BenchImage]:
    """Labelled photos of ``size`` with a plate box (vehicle boxes derived from it).

    With ``plate_hidden`` the plate is covered by its own mean colour: the same
    scene and car without a readable plate, the engine's longest search. A
    file larger than an image may be (the engine server's limit, as ``eval``
    holds photos to) is left unread and said in ``skipped`` (``path: why``)
    when a list is given: a video a manifest names is not read whole into
    memory, nor timed as a frame.
    """
    frames: list[BenchImage] = []
    for item in load_manifests(data_dir):
        if len(frames) >= limit:
            break
        if item.box is None or item.size != size:
            continue
        try:
            data = image_file_bytes(item.path)
        except ImageTooLargeError as err:
            if skipped is not None:
                skipped.append(f"{item.path}: {err}")
            continue
        if plate_hidden:
            data = _plate_covered(data, item.box)
        frames.append(
            BenchImage(
                data,
                vehicle_box_around(item.box, size, item.region),
                "" if plate_hidden else item.plate,
                item.region,
            )
        )
    return frames


def _plate_covered(data: bytes, box: Box) -> bytes:
    """Return the photo re-encoded with ``box`` (grown by PLATE_COVER_MARGIN) painted over."""
    image = decode_image(data)
    x1, y1, x2, y2 = box
    margin = PLATE_COVER_MARGIN * (y2 - y1)
    mean = ImageStat.Stat(image.crop(box)).mean
    ImageDraw.Draw(image).rectangle(
        (x1 - margin, y1 - margin, x2 + margin, y2 + margin),
        fill=(round(mean[0]), round(mean[1]), round(mean[2])),
    )
    return jpeg(image, quality=90)


def generated_frames(
    count: int, *, size: tuple[int, int] = FRAME_SIZE, plate_hidden: bool = False
) -> list[BenchImage]:
    """Generate scenes of ``size`` (plates scaled with it), for machines without the photo set.

    With ``plate_hidden`` the plates carry no text: a car whose plate cannot be read.
    """
    scale_x, scale_y = size[0] / FRAME_SIZE[0], size[1] / FRAME_SIZE[1]
    frames = []
    for index in range(count):
        text = f"AE{1000 + 37 * index:04d}KH"
        plate = render_plate(
            [" " if plate_hidden else f"{text[:2]} {text[2:6]} {text[6:]}"],
            char_height=round((28 + index % 12) * scale_x),
        )
        at = (
            round((200 + (index * 97) % 800) * scale_x),
            round((380 + (index * 53) % 240) * scale_y),
        )
        box = (at[0], at[1], at[0] + plate.width, at[1] + plate.height)
        scene = scene_with(plate, size=size, at=at, seed=index)
        frames.append(
            BenchImage(
                jpeg(scene),
                vehicle_box_around(box, size, "ua"),
                "" if plate_hidden else text,
                "ua",
            )
        )
    return frames


def peak_rss_mb() -> float:
    """Most resident memory this process has held so far, in MiB."""
    # ru_maxrss is in KiB on Linux.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(
    read: Read,
    frames: Sequence[BenchImage],
    *,
    use_vehicle_box: bool,
    rounds: int = 1,
    hints: Sequence[Box | None] | None = None,
) -> dict[str, Any]:
    """Read every frame ``rounds`` times (after one warm-up read) and summarise the timings.

    A frame's time is its median over the rounds: a moment when the machine
    was busy with something else then moves the figures less. ``hints`` gives
    each frame a plate hint (as a pass's later frames have).
    """
    figures, _ = _measure(
        read, frames, use_vehicle_box=use_vehicle_box, rounds=rounds, hints=hints
    )
    return figures


def _measure(
    read: Read,
    frames: Sequence[BenchImage],
    *,
    use_vehicle_box: bool,
    rounds: int,
    hints: Sequence[Box | None] | None,
) -> tuple[dict[str, Any], list[FrameResult]]:
    """``measure``'s figures, and each frame's read of the first round."""

    def one(index: int) -> FrameResult:
        frame = frames[index]
        return read(
            frame.data,
            frame.vehicle_box if use_vehicle_box else None,
            hints[index] if hints is not None else None,
        )

    one(0)
    walls: list[list[float]] = [[] for _ in frames]
    cpus: list[list[float]] = [[] for _ in frames]
    firsts: list[FrameResult] = []
    correct = with_read = 0
    started = time.perf_counter()
    for round_index in range(rounds):
        for index, frame in enumerate(frames):
            cpu_before, wall_before = _cpu_seconds(), time.perf_counter()
            result = one(index)
            walls[index].append(time.perf_counter() - wall_before)
            cpus[index].append(_cpu_seconds() - cpu_before)
            if round_index == 0:
                firsts.append(result)
                with_read += bool(result.plates)
                # The first read is the one a sighting takes as its plate.
                correct += _read_right(
                    result.plates[0].text if result.plates else None, frame
                )
    elapsed = time.perf_counter() - started
    latencies = [statistics.median(times) for times in walls]
    ordered = sorted(latencies)
    figures = {
        "n": len(frames),
        "p50_s": round(statistics.median(latencies), 4),
        "p90_s": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 4),
        "mean_s": round(statistics.fmean(latencies), 4),
        "cpu_p50_s": round(statistics.median(map(statistics.median, cpus)), 4),
        "throughput_per_s": round(len(frames) * rounds / elapsed, 2),
        "accuracy": round(correct / len(frames), 4),
        # Frames where anything was read: without a plate, each is a false read.
        "read_share": round(with_read / len(frames), 4),
    }
    return figures, firsts


def _read_right(text: str | None, frame: BenchImage) -> bool:
    """Whether a frame's plate (None: nothing read) is right; without a plate, nothing is."""
    if text is None:
        return not frame.plate
    return plates_equal(text, frame.plate, frame.region)


def run_benchmark(
    read: Read,
    frames: Sequence[BenchImage],
    *,
    rounds: int = 1,
) -> dict[str, Any]:
    """Full frames, vehicle boxes, and later frames of a pass; with peak memory and load.

    A later frame of a pass is the same vehicle box with the place the first
    read found its plate at as the hint: the pipeline's second and later
    frames of a Frigate event are read so.
    """
    load_before = os.getloadavg()[0]
    full_frame = measure(read, frames, use_vehicle_box=False, rounds=rounds)
    vehicle_box, firsts = _measure(
        read, frames, use_vehicle_box=True, rounds=rounds, hints=None
    )
    # The plate the vehicle box's read found is where a later frame looks first.
    hints = [first.plates[0].box if first.plates else None for first in firsts]
    return {
        "rounds": rounds,
        "full_frame": full_frame,
        "vehicle_box": vehicle_box,
        "pass_frame": measure(
            read, frames, use_vehicle_box=True, rounds=rounds, hints=hints
        ),
        "peak_rss_mb": peak_rss_mb(),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "cpu_count": os.cpu_count(),
    }


def run_reference(
    python: Path,
    frames: Sequence[BenchImage],
    regions: Sequence[str],
    *,
    rounds: int = 1,
) -> dict[str, Any]:
    """Read the frames with RapidOCR's own pipeline (in ``python``'s venv) and score it.

    Each text RapidOCR finds is scored by the same plate-format rules as the
    engine's reads, so the comparison is of the pipelines, not of the rules;
    the best-scoring text is RapidOCR's plate, as the engine's first read is
    the engine's (neither side may pick the right text knowing the answer).
    Its script runs ``rounds`` times, a frame's time being its median, as
    the engine's are.
    """
    formats = formats_for(regions)
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for index, frame in enumerate(frames):
            path = Path(folder) / f"{index}.jpg"
            path.write_bytes(frame.data)
            paths.append(str(path))
        runs = [
            [
                json.loads(line)
                for line in subprocess.run(  # noqa: S603  # our script, the interpreter the user named
                    [str(python), str(REFERENCE_SCRIPT)],
                    input=json.dumps(paths),
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.splitlines()
            ]
            for _ in range(rounds)
        ]
    latencies = [
        statistics.median(run[index]["seconds"] for run in runs)
        for index in range(len(frames))
    ]
    correct = with_read = 0
    for report, frame in zip(runs[0], frames, strict=True):
        best = max(
            (
                matches[0]
                for text, score in report["texts"]
                if (plate := normalize_plate(text))
                and (matches := match_formats(one_hot(plate, score), formats))
            ),
            key=lambda match: match.score,
            default=None,
        )
        with_read += best is not None
        correct += _read_right(best.text if best is not None else None, frame)
    return {
        "n": len(frames),
        "p50_s": round(statistics.median(latencies), 4),
        "accuracy": round(correct / len(frames), 4),
        # Frames where anything was read: without a plate, each is a false read.
        "read_share": round(with_read / len(frames), 4),
    }


def measure_parallel(
    reads: Sequence[Read],
    frames: Sequence[BenchImage],
    *,
    rounds: int = 1,
) -> dict[str, Any]:
    """Frames per second with ``len(reads)`` readers at once (each used by one thread).

    What a busy city's cameras need is throughput: readers of fewer threads
    each keep both cores busier than one reader of more threads.
    """
    free: queue.SimpleQueue[Read] = queue.SimpleQueue()
    for read in reads:
        free.put(read)

    def one(frame: BenchImage, box: Box | None) -> None:
        read = free.get()
        try:
            read(frame.data, box, None)
        finally:
            free.put(read)

    figures: dict[str, Any] = {"workers": len(reads)}
    with ThreadPoolExecutor(len(reads)) as pool:
        for mode, use_box in (("full_frame", False), ("vehicle_box", True)):
            jobs = [(frame, frame.vehicle_box if use_box else None) for frame in frames]
            list(pool.map(lambda job: one(*job), jobs[: len(reads)]))
            started = time.perf_counter()
            for _ in range(rounds):
                list(pool.map(lambda job: one(*job), jobs))
            elapsed = time.perf_counter() - started
            figures[f"{mode}_per_s"] = round(len(jobs) * rounds / elapsed, 2)
    return figures


def compare(current: dict[str, Any], baseline: dict[str, Any]) -> list[str]:
    """Lines comparing the headline figures with a saved run (ratio < 1 means faster now)."""
    lines = []
    # Runs saved before these keys existed were of 1280x720 frames with plates.
    frames_now, frames_before = (
        (run.get("frame_size", "1280x720"), run.get("plates", "shown"))
        for run in (current, baseline)
    )
    if frames_now != frames_before:
        lines.append(
            "baseline read other frames: {} with plates {} against {} with plates {}".format(
                *frames_before, *frames_now
            )
        )
    for mode in ("full_frame", "vehicle_box", "pass_frame"):
        for key in ("p50_s", "p90_s", "cpu_p50_s", "throughput_per_s"):
            now = current.get(mode, {}).get(key)
            before = baseline.get(mode, {}).get(key)
            if now is not None and before:
                lines.append(f"{mode}.{key}: {now} vs {before} (x{now / before:.2f})")
    for key in ("full_frame_per_s", "vehicle_box_per_s"):
        now, before = (
            current.get("parallel", {}).get(key),
            baseline.get("parallel", {}).get(key),
        )
        if now is not None and before:
            lines.append(f"parallel.{key}: {now} vs {before} (x{now / before:.2f})")
    before_rss = baseline.get("peak_rss_mb")
    if before_rss:
        lines.append(f"peak_rss_mb: {current['peak_rss_mb']} vs {before_rss}")
    return lines
