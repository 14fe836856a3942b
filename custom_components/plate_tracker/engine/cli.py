"""Command line: fetch the models, read images, evaluate on labelled photos, benchmark, serve."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
import json
import os
from pathlib import Path
import sys
from typing import Any, TextIO

import aiohttp

from .benchmark import (
    FRAME_SIZE,
    Read,
    compare,
    generated_frames,
    measure_parallel,
    peak_rss_mb,
    photo_frames,
    run_benchmark,
    run_reference,
)
from .evaluation import evaluate, floor_violations, image_file_bytes, load_manifests
from .imaging import MAX_PIXELS, ImageError
from .models import ModelsUnavailable, ensure_models
from .perturbations import Perturbation, describe_steps, parse_perturbation
from .recognizer import PlateRecognizer
from .remote import RemoteEngine
from .server import parse_regions, serve
from .types import Box

DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[3] / "models" / "cache"
"""``<repo>/models/cache``: where a checkout keeps its models (ignored by git)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except ModelsUnavailable as err:
        _say(f"models unavailable: {err.reason}", stream=sys.stderr)
        return 2
    return code


def _say(text: str, *, stream: TextIO | None = None) -> None:
    """Write one line for the person (or script) running the command (stdout by default).

    ``sys.stdout`` is looked up on each call, so a caller's redirection holds.
    """
    (stream or sys.stdout).write(text + "\n")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _frame_size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    try:
        size = int(width), int(height)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected WIDTHxHEIGHT, e.g. 3840x2160, not {text!r}"
        ) from None
    if min(size) < 64 or size[0] * size[1] > MAX_PIXELS:
        raise argparse.ArgumentTypeError(
            f"{text} is outside 64x64 to {MAX_PIXELS} pixels"
        )
    return size


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m custom_components.plate_tracker.engine",
        description="plate_tracker recognition engine",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--models", type=Path, default=DEFAULT_MODEL_DIR, help="model folder"
    )
    common.add_argument("--threads", type=int, default=2, help="inference threads")
    common.add_argument(
        "--regions",
        type=_regions,
        default="ua,eu,us,br",
        help="plate regions in priority order (default %(default)s)",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    fetch = commands.add_parser(
        "fetch", parents=[common], help="download and verify the models"
    )
    fetch.set_defaults(run=_fetch)

    read = commands.add_parser("read", parents=[common], help="read plates, print JSON")
    read.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    read.add_argument("--vehicle-box", type=_box, help="x1,y1,x2,y2 of the vehicle")
    read.set_defaults(run=_read)

    evaluate_cmd = commands.add_parser(
        "eval", parents=[common], help="accuracy and speed on manifest.csv folders"
    )
    evaluate_cmd.add_argument("data_dir", type=Path, metavar="DATA_DIR")
    evaluate_cmd.add_argument(
        "--json", action="store_true", help="end with one JSON line"
    )
    evaluate_cmd.add_argument(
        "--floor", type=_json_object_file, help="fail when below this floor file"
    )
    evaluate_cmd.add_argument("--limit", type=int, help="read at most N images")
    evaluate_cmd.add_argument(
        "--failures", action="store_true", help="list misread images"
    )
    evaluate_cmd.add_argument(
        "--perturb",
        type=_perturbation,
        metavar="NAME:VALUE[,...]",
        help="read every image changed first, to see how reads degrade: "
        + describe_steps(),
    )
    evaluate_cmd.set_defaults(run=_eval)

    bench = commands.add_parser(
        "bench",
        parents=[common],
        help="latency, throughput and memory on 1280x720 frames (or --frame-size)",
    )
    bench.add_argument(
        "data_dir",
        type=Path,
        nargs="?",
        metavar="DATA_DIR",
        help="labelled photos (manifest.csv folders); generated scenes when omitted",
    )
    bench.add_argument(
        "--images",
        type=_positive_int,
        default=40,
        help="frames to read (default %(default)s)",
    )
    bench.add_argument(
        "--rounds",
        type=_positive_int,
        default=1,
        help="read every frame this many times, each frame's median time counting:"
        " steadier figures on a busy machine (default %(default)s)",
    )
    bench.add_argument(
        "--frame-size",
        type=_frame_size,
        default=FRAME_SIZE,
        metavar="WxH",
        help="frames of this size: labelled photos of it, or scenes drawn at it"
        " (default 1280x720)",
    )
    bench.add_argument(
        "--no-plate",
        action="store_true",
        help="cover each labelled plate (draw plates without text): what a car whose"
        " plate cannot be read costs, the engine's longest search",
    )
    bench.add_argument(
        "--baseline", type=_json_object_file, help="compare with a saved bench JSON"
    )
    bench.add_argument("--save", type=Path, help="write this run's JSON here")
    bench.add_argument(
        "--reference-python",
        type=Path,
        help="python of a venv with rapidocr-onnxruntime: run RapidOCR's pipeline side by side",
    )
    bench.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="also measure frames per second with this many reads at once (as many "
        "engines of --threads threads; with --server, requests in flight)",
    )
    bench.add_argument(
        "--server",
        metavar="URL",
        help="read through this engine server (serve) instead of in this process: "
        "what the HTTP hop costs (memory is then this client's)",
    )
    bench.add_argument(
        "--token-file",
        type=_token_file,
        help="file holding the server's bearer token, with --server (default: "
        "$PLATE_TRACKER_ENGINE_TOKEN)",
    )
    bench.set_defaults(run=_bench)

    serve = commands.add_parser(
        "serve",
        parents=[common],
        help="read plates for Home Assistant over HTTP (for Home Assistant OS)",
    )
    serve.add_argument(
        "--host",
        # Home Assistant runs on another machine or container.
        default="0.0.0.0",  # noqa: S104
        help="address to listen on (default %(default)s)",
    )
    serve.add_argument(
        "--port", type=_positive_int, default=8790, help="port (default %(default)s)"
    )
    serve.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="images read at once, each by its own engine of --threads threads"
        " (about 20 MB more each; default %(default)s)",
    )
    serve.add_argument(
        "--token-file",
        type=_token_file,
        help="file holding the bearer token clients must send (default: "
        "$PLATE_TRACKER_ENGINE_TOKEN)",
    )
    serve.add_argument(
        "--no-token",
        action="store_true",
        help="serve without a token: any client that reaches the port reads plates "
        "(only on a network no one else reaches)",
    )
    serve.set_defaults(run=_serve)
    return parser


def _box(text: str) -> Box:
    try:
        x1, y1, x2, y2 = (int(part) for part in text.split(","))
    except ValueError as err:
        raise argparse.ArgumentTypeError("expected x1,y1,x2,y2 in pixels") from err
    return (x1, y1, x2, y2)


def _json_object_file(text: str) -> dict[str, Any]:
    """Read an option's JSON file when the command starts, not after a run of minutes."""
    try:
        content = json.loads(Path(text).read_text(encoding="utf-8"))
    except OSError as err:
        raise argparse.ArgumentTypeError(f"cannot read {text}: {err}") from err
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text} is not JSON: {err}") from err
    if not isinstance(content, dict):
        raise argparse.ArgumentTypeError(f"{text} is not a JSON object")
    return content


def _token_file(text: str) -> str:
    """Return the token a ``--token-file`` holds, read when the command starts.

    An empty file is refused: it would otherwise mean "no token", an open
    server, by a slip (a file not written yet, a wrong path to an empty one).
    """
    try:
        token = Path(text).read_text(encoding="utf-8").strip()
    except (OSError, ValueError) as err:
        raise argparse.ArgumentTypeError(f"cannot read {text}: {err}") from err
    if not token:
        raise argparse.ArgumentTypeError(f"{text} holds no token")
    return token


def _perturbation(text: str) -> Perturbation:
    try:
        return parse_perturbation(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def _regions(text: str) -> tuple[str, ...]:
    try:
        regions = parse_regions(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err
    if regions is None:
        # An engine without formats reads no plate at all.
        raise argparse.ArgumentTypeError("names no region")
    return regions


def _recognizer(args: argparse.Namespace) -> PlateRecognizer:
    ensure_models(args.models)
    return PlateRecognizer(args.models, threads=args.threads, regions=args.regions)


def _token(args: argparse.Namespace) -> str | None:
    """Return the bearer token from ``--token-file`` or the environment, None without one."""
    if args.token_file is not None:
        token = args.token_file
    else:
        token = os.environ.get("PLATE_TRACKER_ENGINE_TOKEN", "").strip()
    return token or None


def _serve(args: argparse.Namespace) -> int:
    token = _token(args)
    if token and args.no_token:
        _say("--no-token and a token cannot go together", stream=sys.stderr)
        return 2
    if not token and not args.no_token:
        # The server reads plates of people's cars for whoever asks: it is open
        # only when someone chose so, never because a token was forgotten.
        _say(
            "no token: give --token-file (or $PLATE_TRACKER_ENGINE_TOKEN), or "
            "--no-token to serve any client that reaches this port",
            stream=sys.stderr,
        )
        return 2
    recognizers = [_recognizer(args) for _ in range(args.workers)]
    if not token:
        _say(
            "no token: any client that reaches this port may read plates",
            stream=sys.stderr,
        )
    serve(recognizers, host=args.host, port=args.port, token=token, print_fn=_say)
    return 0


def _fetch(args: argparse.Namespace) -> int:
    paths = ensure_models(args.models)
    _say(
        json.dumps(
            {"detector": str(paths.detector), "recognizer": str(paths.recognizer)}
        )
    )
    return 0


def _read(args: argparse.Namespace) -> int:
    recognizer = _recognizer(args)
    code = 0
    for image in args.images:
        try:
            result = recognizer.read(image_file_bytes(image), args.vehicle_box)
        except (ImageError, OSError) as err:
            _say(json.dumps({"image": str(image), "error": str(err)}))
            code = 1
            continue
        _say(json.dumps({"image": str(image), **result.to_dict()}, ensure_ascii=False))
    return code


def _eval(args: argparse.Namespace) -> int:
    if args.floor is not None and args.perturb is not None:
        # The floors hold the engine to the photos as they are.
        _say("--floor and --perturb cannot be combined", stream=sys.stderr)
        return 2
    recognizer = _recognizer(args)
    rows_skipped: list[str] = []
    evaluation = evaluate(
        load_manifests(args.data_dir, rows_skipped),
        recognizer.read,
        limit=args.limit,
        change=args.perturb,
    )
    summary = evaluation.summary()
    for item, reason in evaluation.skipped:
        _say(f"SKIPPED {item.path}: {reason}", stream=sys.stderr)
    if evaluation.skipped:
        _say(
            f"{len(evaluation.skipped)} images skipped unread, not scored",
            stream=sys.stderr,
        )
    if not evaluation.overall.n:
        _say(
            f"no labelled images (manifest.csv) under {args.data_dir}",
            stream=sys.stderr,
        )
        return 1
    _say(
        f"{'source:region':<48} {'n':>4} {'acc':>6} {'top1':>6} {'watch':>6} {'recall':>6} {'p50 s':>6} {'p90 s':>6}"
    )
    rows = [
        *summary["sources"].items(),
        *(("region " + k, v) for k, v in summary["regions"].items()),
    ]
    for name, figures in [*rows, ("overall", summary["overall"])]:
        recall, p50, p90 = (
            "" if figures.get(key) is None else f"{figures[key]:.3f}"
            for key in ("detection_recall", "p50_s", "p90_s")
        )
        _say(
            f"{name:<48} {figures['n']:>4} {figures['accuracy']:>6.3f} {figures['top1_accuracy']:>6.3f} "
            f"{figures['watchlist_recall']:>6.3f} {recall:>6} {p50:>6} {p90:>6}"
        )
    for where in rows_skipped:
        _say(f"SKIPPED {where}", stream=sys.stderr)
    for item, reason in evaluation.unreadable:
        _say(f"UNREADABLE {item.path}: {reason}", stream=sys.stderr)
    if args.failures:
        for item, read in evaluation.failures:
            _say(f"MISS {item.path} truth={item.plate} read={read}")
    problems: list[str] = []
    if args.floor is not None:
        problems = floor_violations(summary, args.floor)
        for problem in problems:
            _say(f"BELOW FLOOR: {problem}", stream=sys.stderr)
    if args.json:
        _say(
            json.dumps(
                {
                    "regions": summary["regions"],
                    "overall": summary["overall"],
                    "images_skipped": len(evaluation.skipped),
                }
            )
        )
    return 1 if problems else 0


def _bench(args: argparse.Namespace) -> int:
    # What the process held before the engine: 76 MB of Python and numpy
    # under scripts/engine; 158 MB under `python -m`, which loads Home
    # Assistant through the integration's package first (both measured).
    before_engine = peak_rss_mb()
    with ExitStack() as stack:
        if args.server is not None:
            reads = [
                stack.enter_context(_remote_reads(args)) for _ in range(args.workers)
            ]
        else:
            reads = [_recognizer(args).read for _ in range(args.workers)]
        return _run_bench(args, reads, before_engine)


@contextmanager
def _remote_reads(
    args: argparse.Namespace,
) -> Iterator[Read]:
    """Blocking reads through an engine server, on a loop of their own."""
    token = _token(args)
    loop = asyncio.new_event_loop()
    session = loop.run_until_complete(_open_session())
    remote = RemoteEngine(session, args.server, token=token, regions=args.regions)
    try:
        yield lambda image, box, hint: loop.run_until_complete(
            remote.read(image, box, hint)
        )
    finally:
        loop.run_until_complete(session.close())
        loop.close()


async def _open_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession()


def _run_bench(
    args: argparse.Namespace,
    reads: Sequence[Read],
    before_engine: float,
) -> int:
    size, hidden = args.frame_size, args.no_plate
    skipped: list[str] = []
    if args.data_dir is not None:
        frames = photo_frames(
            args.data_dir, args.images, size=size, plate_hidden=hidden, skipped=skipped
        )
        source = str(args.data_dir)
        for where in skipped:
            _say(f"SKIPPED {where}", stream=sys.stderr)
    else:
        frames = generated_frames(args.images, size=size, plate_hidden=hidden)
        source = "generated"
    width, height = size
    if not frames:
        _say(
            f"no {width}x{height} labelled frames under {args.data_dir}",
            stream=sys.stderr,
        )
        return 1
    result = {
        "source": source,
        "frame_size": f"{width}x{height}",
        "plates": "hidden" if hidden else "shown",
        "threads": args.threads,
        **({"server": args.server} if args.server is not None else {}),
        **run_benchmark(reads[0], frames, rounds=args.rounds),
        "rss_before_engine_mb": before_engine,
        "images_skipped": len(skipped),
    }
    if len(reads) > 1:
        result["parallel"] = measure_parallel(reads, frames, rounds=args.rounds)
    if args.reference_python is not None:
        reference = run_reference(
            args.reference_python, frames, args.regions, rounds=args.rounds
        )
        result["reference_rapidocr"] = reference
        ours = result["full_frame"]
        _say(
            f"engine p50 {ours['p50_s']} s, accuracy {ours['accuracy']}; "
            f"RapidOCR p50 {reference['p50_s']} s, accuracy {reference['accuracy']}; "
            f"speed ratio x{reference['p50_s'] / ours['p50_s']:.2f}"
        )
    if args.baseline is not None:
        for line in compare(result, args.baseline):
            _say(line)
    if args.save is not None:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    _say(json.dumps(result))
    return 0
