"""Benchmark the sightings store at city scale.

Generates (once) a database of ``--sightings`` sightings over ``--plates``
distinct plates, one of which (the "heavy" plate) has ``--heavy`` sightings,
then times the query mix the integration runs and prints p50/p95 per kind.

    .venv/bin/python scripts/bench_store.py /var/tmp/bench.db
    .venv/bin/python scripts/bench_store.py /var/tmp/bench.db --save bench/results/now.json
    .venv/bin/python scripts/bench_store.py /var/tmp/bench.db --baseline bench/results/now.json

The generated file is reused when its parameters match (they are kept in
``<db>.bench.json``), so reruns only run the queries. Targets (issues 5 and 6):
exact plate < 10 ms, pattern and fuzzy < 200 ms p95, route of a plate with
100,000 sightings < 50 ms.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import random
import shutil
import statistics
import sys
import threading
import time

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from custom_components.plate_tracker.records import Direction, NewSighting
from custom_components.plate_tracker.store import SearchQuery, SearchSort, SightingStore

UA_LETTERS = "ABCEHIKMOPTX"
LOOKALIKE_SWAPS = {"0": "O", "O": "0", "1": "I", "I": "1", "8": "B", "B": "8", "5": "S"}
START = datetime(2026, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=30)
CAMERAS = [f"camera_{n:02d}" for n in range(50)]
BATCH = 100_000
MISREAD_RATE = 0.005
HEAVY_PLATE = "AA0001AA"


def ua_plate(rng: random.Random) -> str:
    """Return a random plate in the Ukrainian ``LLDDDDLL`` format."""
    return (
        "".join(rng.choices(UA_LETTERS, k=2))
        + "".join(rng.choices("0123456789", k=4))
        + "".join(rng.choices(UA_LETTERS, k=2))
    )


def plate_pool(count: int, seed: int) -> list[str]:
    """Return ``count`` distinct plates, the same for the same seed."""
    rng = random.Random(seed)
    plates = {HEAVY_PLATE}
    while len(plates) < count:
        plates.add(ua_plate(rng))
    plates.discard(HEAVY_PLATE)
    return sorted(plates)


def misread(plate: str, rng: random.Random) -> str:
    """Return the plate with one look-alike swap or one wrong character, as OCR does."""
    position = rng.randrange(len(plate))
    char = plate[position]
    replacement = LOOKALIKE_SWAPS.get(char) or rng.choice(UA_LETTERS + "0123456789")
    return plate[:position] + replacement + plate[position + 1 :]


def generate(args: argparse.Namespace, plates: list[str]) -> None:
    """Fill the database in batches through ``record_many``."""
    rng = random.Random(args.seed + 1)
    step = SPAN / args.sightings
    heavy_every = max(1, args.sightings // args.heavy)

    def sightings(start: int, stop: int) -> Iterator[NewSighting]:
        for n in range(start, stop):
            plate = HEAVY_PLATE if n % heavy_every == 0 else rng.choice(plates)
            read = misread(plate, rng) if rng.random() < MISREAD_RATE else plate
            yield NewSighting(
                camera=rng.choice(CAMERAS),
                seen_at=START + step * n,
                plate=read,
                raw=read,
                confidence=round(rng.uniform(0.5, 1.0), 3),
                source="frigate",
                event_id=f"{n:x}",
                direction=rng.choice(list(Direction)),
            )

    began = time.perf_counter()
    with SightingStore.open(args.db, cache_mib=args.cache_mib) as store:
        for start in range(0, args.sightings, BATCH):
            store.record_many(sightings(start, min(start + BATCH, args.sightings)))
            done = min(start + BATCH, args.sightings)
            rate = done / (time.perf_counter() - began)
            print(f"  {done:,} sightings, {rate:,.0f}/s", flush=True)
    print(f"generated in {time.perf_counter() - began:,.0f} s")


def timed(runs: int, query: Callable[[int], object]) -> tuple[list[float], list[float]]:
    """Return wall and CPU time in ms of ``runs`` calls of ``query(run_number)``.

    CPU time (of this thread) shows the cost when other work shares the cores.
    """
    wall, cpu = [], []
    for run in range(runs):
        began, began_cpu = time.perf_counter(), time.thread_time()
        query(run)
        wall.append((time.perf_counter() - began) * 1000)
        cpu.append((time.thread_time() - began_cpu) * 1000)
    return wall, cpu


def p95(times: list[float]) -> float:
    """Return the 95th percentile, never above the largest value."""
    return statistics.quantiles(times, n=20, method="inclusive")[18]


def query_mix(
    store: SightingStore, plates: list[str], runs: int, seed: int
) -> dict[str, Callable[[int], object]]:
    """Return the query kinds to time, each a function of the run number."""
    rng = random.Random(seed + 2)
    targets = [rng.choice(plates) for _ in range(runs)]
    windows = [START + SPAN * rng.random() for _ in range(runs)]

    def search(**fields: object) -> SearchQuery:
        return SearchQuery(**fields)  # type: ignore[arg-type]

    return {
        "exact": lambda n: store.search(search(plate=targets[n])),
        "exact_heavy_plate": lambda _: store.search(search(plate=HEAVY_PLATE)),
        "pattern_suffix *DDLL": lambda n: store.search(
            search(plate="*" + targets[n][-4:])
        ),
        "pattern_ends LL*LL": lambda n: store.search(
            search(plate=targets[n][:2] + "*" + targets[n][-2:])
        ),
        "pattern_middle *DDDD*": lambda n: store.search(
            search(plate="*" + targets[n][2:6] + "*")
        ),
        "pattern_unknown LLDD??LL": lambda n: store.search(
            search(plate=targets[n][:4] + "??" + targets[n][6:])
        ),
        "pattern_sparse ?LD*": lambda n: store.search(
            search(plate="?" + targets[n][1:3] + "*")
        ),
        "pattern_by_confidence *DDLL": lambda n: store.search(
            search(plate="*" + targets[n][-4:], sort=SearchSort.CONFIDENCE)
        ),
        "fuzzy (one edit)": lambda n: store.search(
            search(plate=misread(targets[n], rng), fuzzy=True)
        ),
        "camera_and_hour": lambda n: store.search(
            search(
                cameras=(CAMERAS[n % len(CAMERAS)],),
                since=windows[n],
                until=windows[n] + timedelta(hours=1),
            )
        ),
        "newest_min_confidence": lambda _: store.search(search(min_confidence=0.95)),
        "sightings_for_plate heavy (1000)": lambda n: store.sightings_for_plate(
            HEAVY_PLATE, since=windows[n] - SPAN, limit=1000
        ),
        "route_for heavy (100k points)": lambda _: store.route_for(HEAVY_PLATE),
        "route_for (one week)": lambda n: store.route_for(
            targets[n], since=windows[n] - timedelta(days=7), until=windows[n]
        ),
    }


def purge_check(db: Path, cache_mib: int) -> dict[str, float]:
    """Purge one day of sightings from a copy while a thread keeps recording.

    The daily purge must not stall Home Assistant: what matters is how long a
    ``record`` waits for the write lock while the purge runs.
    """
    copy = db.with_name(db.name + ".purge-copy")
    shutil.copyfile(db, copy)
    latencies: list[float] = []
    stop = threading.Event()
    try:
        with SightingStore.open(copy, cache_mib=cache_mib) as store:

            def keep_recording() -> None:
                n = 0
                while not stop.is_set():
                    began = time.perf_counter()
                    store.record(
                        NewSighting(
                            camera=CAMERAS[0],
                            seen_at=START + SPAN,
                            plate=f"KA{n % 10_000:04d}XX",
                            raw="",
                            confidence=0.9,
                            source="bench",
                        )
                    )
                    latencies.append((time.perf_counter() - began) * 1000)
                    n += 1
                    time.sleep(0.005)

            recorder = threading.Thread(target=keep_recording)
            recorder.start()
            began = time.perf_counter()
            report = store.purge_expired(START + SPAN + timedelta(days=1), keep_days=30)
            seconds = time.perf_counter() - began
            stop.set()
            recorder.join()
    finally:
        for path in (copy, Path(f"{copy}-wal"), Path(f"{copy}-shm")):
            path.unlink(missing_ok=True)
    figures = {
        "purge_s": seconds,
        "purged_sightings": report.sightings,
        "purged_plates": report.plates,
        "record_p50_ms": statistics.median(latencies),
        "record_p95_ms": p95(latencies),
        "record_max_ms": max(latencies),
    }
    print("purge of one day while recording:", json.dumps(figures, indent=1))
    return figures


def main() -> None:
    """Generate the database if needed, run the queries, print and compare."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("db", type=Path, help="database file, generated when missing")
    parser.add_argument("--sightings", type=int, default=10_000_000)
    parser.add_argument("--plates", type=int, default=1_000_000)
    parser.add_argument(
        "--heavy", type=int, default=100_000, help="sightings of one plate"
    )
    parser.add_argument("--runs", type=int, default=100, help="runs per query kind")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--cache-mib", type=int, default=256)
    parser.add_argument("--save", type=Path, help="write the figures as JSON")
    parser.add_argument("--baseline", type=Path, help="compare with a saved JSON")
    parser.add_argument(
        "--purge-check",
        action="store_true",
        help="also purge one day from a copy of the database while recording",
    )
    args = parser.parse_args()

    params = {k: vars(args)[k] for k in ("sightings", "plates", "heavy", "seed")}
    meta_path = args.db.with_name(args.db.name + ".bench.json")
    plates = plate_pool(args.plates, args.seed)
    if not (meta_path.exists() and json.loads(meta_path.read_text()) == params):
        for stale in (
            args.db,
            meta_path,
            Path(f"{args.db}-wal"),
            Path(f"{args.db}-shm"),
        ):
            stale.unlink(missing_ok=True)
        print(f"generating {args.db} with {params}", flush=True)
        generate(args, plates)
        meta_path.write_text(json.dumps(params))

    with SightingStore.open(args.db, cache_mib=args.cache_mib) as store:
        size_mib = args.db.stat().st_size / 2**20
        print(f"{args.db}: {size_mib:,.0f} MiB, {params}")
        kinds = query_mix(store, plates, args.runs, args.seed)
        for query in kinds.values():  # warm the page cache once per kind
            query(0)
        results = {}
        print(
            f"{'query':36} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"
            f" {'cpu p50':>8} {'cpu p95':>8}"
        )
        for name, query in kinds.items():
            wall, cpu = timed(args.runs, query)
            results[name] = figures = {
                "p50": statistics.median(wall),
                "p95": p95(wall),
                "max": max(wall),
                "cpu_p50": statistics.median(cpu),
                "cpu_p95": p95(cpu),
            }
            print(
                f"{name:36} {figures['p50']:8.2f} {figures['p95']:8.2f} {figures['max']:8.2f}"
                f" {figures['cpu_p50']:8.2f} {figures['cpu_p95']:8.2f}",
                flush=True,
            )

    purge = purge_check(args.db, args.cache_mib) if args.purge_check else None

    if args.baseline:
        baseline = json.loads(args.baseline.read_text())["results"]
        print(f"\nagainst {args.baseline} (p95 ms)")
        for name, figures in results.items():
            if name in baseline:
                before = baseline[name]["p95"]
                print(f"{name:36} {before:8.2f} -> {figures['p95']:8.2f}")
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(
            json.dumps(
                {
                    "params": params,
                    "db_mib": size_mib,
                    "results": results,
                    "purge": purge,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
