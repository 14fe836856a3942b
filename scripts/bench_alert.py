"""Benchmark the time from a car at a Frigate camera to the police alert, through real processes.

What the police wait for: the pass starts (Frigate's ``new`` event), Frigate sends its updates and
the ``end``, and an automation hears ``plate_tracker_watchlist_hit``. Everything on the way runs
for real, as in the end-to-end tests: mosquitto, a ``hass`` process with this checkout's
integration and models, a fake Frigate serving a generated street scene per pass, and the
automation's view of the bus through the websocket API.

    .venv/bin/python scripts/bench_alert.py                      # 12 passes
    .venv/bin/python scripts/bench_alert.py --passes 30 --save alert.json
    .venv/bin/python scripts/bench_alert.py --baseline alert.json

Each pass shows another watched plate (an alert per plate and camera has a cooldown), and its
messages come as Frigate 0.16 sends them: ``new``, an ``update`` with a better snapshot after
``--update-after`` s, the ``end`` after ``--end-after`` s. Printed per pass and as p50/p90/max:
``new → alert`` (what the police wait after the car appears) and ``end → alert`` (what is left
once the car is gone). A pass is announced when it ends or ``announce after`` (3 s) after its
first read, whichever comes first, so ``new → alert`` carries that choice; ``end → alert`` is the
integration's own time. Needs mosquitto (Debian: ``apt-get install mosquitto``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
import random
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any

from paho.mqtt import publish

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.frigate import (
    CAMERA,
    MQTT_PREFIX,
    SUBSCRIBE_SETTLE,
    frigate_event,
    set_up_frigate_source,
)
from tests.e2e.harness import (
    HOST,
    EventSubscription,
    FakeFrigate,
    RunningHass,
    free_port,
    load_demo_feed,
    running_hass,
    start_mosquitto,
    write_hass_config,
)

ALERT_TIMEOUT = 60.0


def _plates(count: int) -> list[str]:
    """Return ``count`` Ukrainian plates, all different."""
    letters = "ABCEHIKMOPTX"
    rng = random.Random(2026)
    plates: set[str] = set()
    while len(plates) < count:
        plates.add(
            rng.choice(letters)
            + rng.choice(letters)
            + f"{rng.randrange(10000):04d}"
            + rng.choice(letters)
            + rng.choice(letters)
        )
    return sorted(plates)


def _publish(port: int, event_type: str, event_id: str, start: float) -> None:
    publish.single(
        f"{MQTT_PREFIX}/events",
        frigate_event(event_type, event_id, start, time.time()),
        hostname=HOST,
        port=port,
    )


async def _one_pass(
    port: int,
    alerts: EventSubscription,
    plate: str,
    update_after: float,
    end_after: float,
) -> dict[str, float]:
    """Send one pass's messages; return its times in seconds (``inf`` when no alert came)."""
    event_id = f"{time.time():.6f}-bench"
    start = time.time()
    new_at = time.monotonic()
    await asyncio.to_thread(_publish, port, "new", event_id, start)
    await asyncio.sleep(update_after)
    await asyncio.to_thread(_publish, port, "update", event_id, start)
    await asyncio.sleep(max(0.0, end_after - update_after))
    end_at = time.monotonic()
    await asyncio.to_thread(_publish, port, "end", event_id, start)
    deadline = new_at + ALERT_TIMEOUT
    while (left := deadline - time.monotonic()) > 0:
        hit = await alerts.next_event(left)
        if hit is None:
            break
        if hit.get("plate") == plate:
            alert_at = time.monotonic()
            return {
                "new_to_alert": alert_at - new_at,
                "end_to_alert": alert_at - end_at,
            }
    return {"new_to_alert": float("inf"), "end_to_alert": float("inf")}


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": statistics.median(ordered),
        "p90": ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))],
        "max": ordered[-1],
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start the parts, send the passes, return the figures."""
    binary = args.mosquitto
    plates = _plates(args.passes)
    demo_feed = load_demo_feed()
    scenes = [
        demo_feed.render_scene(
            demo_feed.plate_from_text(plate), camera=CAMERA, rng=random.Random(number)
        )
        for number, plate in enumerate(plates)
    ]
    with tempfile.TemporaryDirectory(prefix="bench_alert_") as folder:
        work = Path(folder)
        broker, port = await start_mosquitto(binary, work)
        frigate = FakeFrigate(snapshot=scenes[0])
        await frigate.start()
        http_port = free_port()
        config = work / "config"
        write_hass_config(config, http_port)
        try:
            async with running_hass(config, http_port, work) as (client, process):
                hass = RunningHass(client, process)
                await set_up_frigate_source(hass, (HOST, port), frigate)
                for plate in plates:
                    await client.call_service(
                        "plate_tracker",
                        "watchlist_add",
                        {"plate": plate, "label": "bench", "priority": "high"},
                    )
                alerts = EventSubscription(client)
                await alerts.subscribe("plate_tracker_watchlist_hit")
                await asyncio.sleep(SUBSCRIBE_SETTLE)
                passes = []
                try:
                    for number, plate in enumerate(plates):
                        frigate.snapshot = scenes[number]
                        figures = await _one_pass(
                            port, alerts, plate, args.update_after, args.end_after
                        )
                        passes.append({"plate": plate, **figures})
                        print(
                            f"{number + 1:3} {plate}  new → alert {figures['new_to_alert']:6.2f} s"
                            f"  end → alert {figures['end_to_alert']:6.2f} s",
                            flush=True,
                        )
                finally:
                    await alerts.close()
        finally:
            await frigate.stop()
            await broker.stop(grace=5)
    missed = sum(1 for figures in passes if figures["new_to_alert"] == float("inf"))
    alerted = [figures for figures in passes if figures["new_to_alert"] != float("inf")]
    if not alerted:
        raise SystemExit("no pass raised an alert")
    return {
        "passes": len(passes),
        "missed": missed,
        "update_after_s": args.update_after,
        "end_after_s": args.end_after,
        "new_to_alert_s": _summary([figures["new_to_alert"] for figures in alerted]),
        "end_to_alert_s": _summary([figures["end_to_alert"] for figures in alerted]),
    }


def main() -> None:
    """Run the passes, print the figures, save or compare them."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passes", type=int, default=12)
    parser.add_argument(
        "--update-after", type=float, default=0.5, help="s from new to the update"
    )
    parser.add_argument(
        "--end-after", type=float, default=1.5, help="s from new to end"
    )
    parser.add_argument("--save", type=Path, help="write the figures as JSON")
    parser.add_argument("--baseline", type=Path, help="compare with a saved JSON")
    args = parser.parse_args()
    args.mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(args.mosquitto).is_file():
        raise SystemExit(
            "mosquitto is not installed (Debian: apt-get install mosquitto)"
        )
    figures = asyncio.run(run(args))
    print(json.dumps(figures))
    for key in ("new_to_alert_s", "end_to_alert_s"):
        summary = figures[key]
        print(
            f"{key:16} p50 {summary['p50']:.2f}  p90 {summary['p90']:.2f}"
            f"  max {summary['max']:.2f}"
        )
    if figures["missed"]:
        print(f"{figures['missed']} of {figures['passes']} passes raised no alert")
    if args.baseline:
        baseline = json.loads(args.baseline.read_text())
        for key in ("new_to_alert_s", "end_to_alert_s"):
            before, now = baseline[key]["p50"], figures[key]["p50"]
            print(f"{key:16} p50 {before:.2f} -> {now:.2f} s ({now / before:.2f}x)")
        print(f"passes without an alert: {baseline['missed']} -> {figures['missed']}")
    if args.save:
        args.save.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
