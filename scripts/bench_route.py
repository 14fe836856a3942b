"""Benchmark ``get_route`` and ``where_is`` end to end on one plate with 100,000 sightings.

Times what ``get_route`` does for one call: the store's ``route_columns`` (with
look-alike misreads, as the service does by default), ``route_response`` on the
city's camera map with ``max_sightings=500``, and the audit line every route
query writes. Prints p50/p95/max per stage and for the whole, wall and CPU,
and checks the answer against the straightforward path (``route_for``,
``build_route``, ``Route.to_dict``), timed once.

Then times ``where_is`` (and so the watchlist tracker's refresh, which is its
``locate``) before and after it moved to the packed columns: the old
``route_for`` + ``build_route`` + ``city_status`` against ``routes.locate``,
each followed by the service's read of the last sighting and its audit line.
Twice: a moment just after the plate's last sighting (the last month decides)
and a year later (the last month is empty, the whole history is read). Both
answers are checked equal.

    .venv/bin/python scripts/bench_route.py /var/tmp/route.db
    .venv/bin/python scripts/bench_route.py /var/tmp/route.db --others 10000000
    .venv/bin/python scripts/bench_route.py city.db --existing --plate AA0001AA --cameras 50

The database is generated once per parameter set (kept in ``<db>.bench.json``)
and reused. ``--others`` adds sightings of other plates, so the figure can be
taken on a store of city size (issue 5: 100,000 sightings of one plate in a
store of 10 million, under 50 ms).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import random
import statistics
import sys
import time
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from custom_components.plate_tracker.matching.journeys import (
    CameraInfo,
    CameraRole,
    CityState,
    SightingColumns,
    build_route,
    city_status,
    haversine_km,
    route_response,
)
from custom_components.plate_tracker.records import Direction, NewSighting
from custom_components.plate_tracker.routes import (
    DEFAULT_MAX_SPEED_KMH,
    RECENT_WINDOW,
    Whereabouts,
    locate,
)
from custom_components.plate_tracker.store import SightingStore

PLATE = "AE1234BK"
LOOKALIKE = "AEI234BK"
START = datetime(2026, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=4 * 365)
BATCH = 100_000
MISREAD_RATE = 0.01
DRIVING_KMH = 40
UA_LETTERS = "ABCEHIKMOPTX"
DIRECTIONS = list(Direction)
TRIP_GAP = timedelta(minutes=30)


def camera_map(count: int) -> dict[str, CameraInfo]:
    """Return ``count`` cameras spread over a city, every fifth an exit."""
    rng = random.Random(7)
    return {
        f"camera_{n:02d}": CameraInfo(
            id=f"camera_{n:02d}",
            name=f"Camera {n}",
            latitude=50.40 + rng.random() * 0.1,
            longitude=30.45 + rng.random() * 0.15,
            role=CameraRole.EXIT if n % 5 == 0 else CameraRole.INSIDE,
            leaving_direction=Direction.RECEDING if n % 5 == 0 else None,
        )
        for n in range(count)
    }


def drive(
    rng: random.Random, cameras: dict[str, CameraInfo], count: int
) -> Iterator[NewSighting]:
    """Yield ``count`` sightings of a car driving trips through the city.

    Trips of 3 to 10 camera passes at 40 km/h with 1 to 4 reads per pass,
    hours between trips, and a look-alike misread in about 1 % of passes.
    """
    names = list(cameras)
    at = START
    made = 0
    while made < count:
        camera = cameras[rng.choice(names)]
        for _ in range(rng.randint(3, 10)):
            plate = LOOKALIKE if rng.random() < MISREAD_RATE else PLATE
            direction = rng.choice(DIRECTIONS)
            for read in range(rng.randint(1, 4)):
                yield NewSighting(
                    camera=camera.id,
                    seen_at=at,
                    plate=plate if read == 1 else PLATE,
                    raw=plate,
                    confidence=0.6 + rng.random() * 0.4,
                    source="bench",
                    direction=direction if read else Direction.UNKNOWN,
                )
                at += timedelta(seconds=2)
                made += 1
                if made == count:
                    return
            following = cameras[rng.choice(names)]
            distance = haversine_km(
                camera.latitude,
                camera.longitude,
                following.latitude,
                following.longitude,
            )
            at += timedelta(hours=distance / DRIVING_KMH, seconds=30)
            camera = following
        at += timedelta(hours=rng.uniform(1, 12))


def generate(args: argparse.Namespace, cameras: dict[str, CameraInfo]) -> None:
    """Fill the database through ``record_many``: the plate's drives, then the others'."""
    rng = random.Random(args.seed)

    names = list(cameras)

    def others(start: int, stop: int) -> Iterator[NewSighting]:
        step = SPAN / max(args.others, 1)
        for n in range(start, stop):
            plate = (
                "".join(rng.choices(UA_LETTERS, k=2))
                + f"{rng.randrange(10000):04d}"
                + "".join(rng.choices(UA_LETTERS, k=2))
            )
            yield NewSighting(
                camera=rng.choice(names),
                seen_at=START + step * n,
                plate=plate,
                raw=plate,
                confidence=0.9,
                source="bench",
            )

    with SightingStore.open(args.db) as store:
        store.record_many(drive(rng, cameras, args.sightings))
        for start in range(0, args.others, BATCH):
            store.record_many(others(start, min(start + BATCH, args.others)))
            print(f"  {start + BATCH:,} other sightings stored", file=sys.stderr)


def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    """Return the milliseconds ``func`` took and its result."""
    started = time.perf_counter()
    result = func()
    return (time.perf_counter() - started) * 1000, result


def cpu_timed(func: Callable[[], Any]) -> tuple[float, Any]:
    """Return the CPU milliseconds ``func`` took (immune to a loaded machine) and its result."""
    started = time.process_time()
    result = func()
    return (time.process_time() - started) * 1000, result


def summary(name: str, samples: list[float]) -> str:
    """Return one line with p50, p95 and max of ``samples`` in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"{name:<24} p50 {statistics.median(ordered):7.1f} ms"
        f"   p95 {p95:7.1f} ms   max {ordered[-1]:7.1f} ms"
    )


def locate_before(
    store: SightingStore,
    plate: str,
    cameras: dict[str, CameraInfo],
    now: datetime,
) -> Whereabouts:
    """Return a plate's whereabouts as ``routes.locate`` did before the packed columns."""
    for since in (now - RECENT_WINDOW, None):
        route = build_route(
            SightingColumns.from_rows(
                store.route_for(plate, since, include_lookalikes=True)
            ),
            cameras,
            plate=plate,
            trip_gap=TRIP_GAP,
            max_speed_kmh=float(DEFAULT_MAX_SPEED_KMH),
        )
        status = city_status(route, cameras)
        if status.state is not CityState.UNKNOWN or status.last_known_state:
            break
    return Whereabouts(status=status, last=route.sighting(-1) if len(route) else None)


def bench_where_is(
    store: SightingStore,
    plate: str,
    cameras: dict[str, CameraInfo],
    repeat: int,
) -> bool:
    """Time ``where_is`` before and after; return whether every answer was the same."""
    latest = store.route_columns(plate, None, None, include_lookalikes=True).seen_us
    if not len(latest):
        print("where_is: the plate has no sightings")
        return True
    last_seen = datetime.fromtimestamp(int(latest[-1]) / 1_000_000, UTC)
    same = True
    for case, now in (
        ("just after", last_seen + timedelta(minutes=1)),
        ("a year later", last_seen + timedelta(days=365)),
    ):
        answers: dict[str, Whereabouts] = {}
        for path, find in (
            ("before", lambda now=now: locate_before(store, plate, cameras, now)),
            (
                "after",
                lambda now=now: locate(
                    store,
                    plate,
                    cameras,
                    trip_gap=TRIP_GAP,
                    max_speed_kmh=float(DEFAULT_MAX_SPEED_KMH),
                    now=now,
                ),
            ),
        ):

            def where_is(find: Callable[[], Whereabouts] = find) -> Whereabouts:
                found = find()
                if found.last is not None:
                    store.get(found.last.id)
                store.audit_append(
                    None,
                    "where_is",
                    {"plate": plate, "city_status": found.status.state.value},
                    None,
                    datetime.now(UTC),
                )
                return found

            wall: list[float] = []
            cpu: list[float] = []
            for run in range(repeat + 1):
                took_wall, answers[path] = timed(where_is)
                took_cpu, _ = cpu_timed(where_is)
                if run:  # the first run warms the page cache
                    wall.append(took_wall)
                    cpu.append(took_cpu)
            print(summary(f"where_is {path} (wall)", wall) + f"   [{case}]")
            print(summary(f"where_is {path} (cpu)", cpu) + f"   [{case}]")
        found = answers["after"]
        print(
            f"where_is [{case}]: {found.status.state.value} ({found.status.reason.value}),"
            f" same answer before and after: {answers['before'] == found}"
        )
        same = same and answers["before"] == found
    return same


def main() -> None:
    """Generate the database if needed, then time get_route's stages."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--sightings", type=int, default=100_000)
    parser.add_argument("--others", type=int, default=0)
    parser.add_argument("--cameras", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--max-sightings", type=int, default=500)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--existing",
        action="store_true",
        help="time a database made elsewhere as it is (never generated or deleted)",
    )
    parser.add_argument("--plate", default=PLATE, help="the plate whose route is timed")
    args = parser.parse_args()

    cameras = camera_map(args.cameras)
    params = {
        "sightings": args.sightings,
        "others": args.others,
        "cameras": args.cameras,
        "seed": args.seed,
    }
    meta = args.db.with_name(args.db.name + ".bench.json")
    if not args.existing and (
        not args.db.exists()
        or not meta.exists()
        or json.loads(meta.read_text()) != params
    ):
        for stale in (args.db, meta):
            stale.unlink(missing_ok=True)
        print(f"Generating {params} ...", file=sys.stderr)
        seconds, _ = timed(lambda: generate(args, cameras))
        print(f"  generated in {seconds / 1000:.0f} s", file=sys.stderr)
        meta.write_text(json.dumps(params))

    plate = args.plate
    names = ("store columns", "route_response", "audit line", "get_route total")
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    with SightingStore.open(args.db) as store:
        total_stored = store.count()

        def fetch() -> Any:
            return store.route_columns(plate, None, None, include_lookalikes=True)

        def respond(columns: Any) -> dict[str, Any]:
            return route_response(
                columns,
                cameras,
                plate=plate,
                trip_gap=TRIP_GAP,
                max_sightings=args.max_sightings,
            )

        def audit(response: dict[str, Any]) -> None:
            store.audit_append(
                None,
                "get_route",
                {"plate": plate, "sightings": response["sighting_count"]},
                None,
                datetime.now(UTC),
            )

        for run in range(args.repeat + 1):
            for clock, samples in ((timed, wall), (cpu_timed, cpu)):
                took_fetch, columns = clock(fetch)
                took_build, response = clock(lambda columns=columns: respond(columns))
                took_audit, _ = clock(lambda response=response: audit(response))
                if run == 0:
                    continue  # the first run warms the page cache
                took = (took_fetch, took_build, took_audit)
                for name, value in zip(names, (*took, sum(took)), strict=True):
                    samples[name].append(value)

        reference_ms, reference = timed(
            lambda: build_route(
                SightingColumns.from_rows(
                    store.route_for(plate, None, None, include_lookalikes=True)
                ),
                cameras,
                plate=plate,
                trip_gap=TRIP_GAP,
            ).to_dict(max_sightings=args.max_sightings)
        )

    print(
        f"{len(columns.ids):,} sightings of {plate} (with look-alikes) in a store of "
        f"{total_stored:,}; {response['sighting_count']:,} on the route, "
        f"{response['trip_count']:,} trips, {len(response['joined'])} joined misreads "
        f"and {len(response['impossible_travel'])} impossible pairs listed; "
        f"{args.repeat} runs"
    )
    print(
        f"reference (route_for + build_route + to_dict, one run): {reference_ms:.0f} ms"
        f" wall; same response: {reference == response}"
    )
    for name in names:
        print(summary(f"{name} (wall)", wall[name]))
        print(summary(f"{name} (cpu)", cpu[name]))
    if reference != response:
        sys.exit("the fast path's response differs from build_route's")
    with SightingStore.open(args.db) as store:
        if not bench_where_is(store, plate, cameras, args.repeat):
            sys.exit("where_is answers differently from the packed columns")


if __name__ == "__main__":
    main()
