"""Benchmark route building and city status on 100,000 sightings of one plate.

Run from the repository root: ``PYTHONPATH=. .venv/bin/python tests/matching/benchmark_journeys.py``.
Not a test (timings depend on the machine); the figures go into the issue notes.

The synthetic vehicle drives through a city of 40 cameras (6 at exits) for
about four years: trips of 3 to 10 camera passes at city speeds, 1 to 4 reads
per pass, a look-alike misread in about 1 % of passes (same NVR event), and a
cloned plate seen in another city now and then (impossible travel).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
import random
import sys
import time

from custom_components.plate_tracker.matching.journeys import (
    CameraInfo,
    CameraRole,
    SightingColumns,
    SightingRow,
    build_route,
    city_status,
    haversine_km,
)
from custom_components.plate_tracker.records import Direction, Sighting

SIGHTINGS = 100_000
PLATE = "AE1234BK"
MISREAD = "AE12348K"
REPEATS = 7


def camera_map(rng: random.Random) -> dict[str, CameraInfo]:
    """Return 40 cameras around Kyiv, 6 of them at exits, and one in Lviv."""
    cameras = {
        f"cam{number}": CameraInfo(
            id=f"cam{number}",
            name=f"Camera {number}",
            latitude=50.35 + rng.random() * 0.2,
            longitude=30.35 + rng.random() * 0.4,
            role=CameraRole.EXIT if number < 6 else CameraRole.INSIDE,
            leaving_direction=Direction.RECEDING if number < 6 else None,
        )
        for number in range(40)
    }
    cameras["lviv"] = CameraInfo(
        id="lviv", name="Lviv", latitude=49.84, longitude=24.03
    )
    return cameras


def rows_of_one_vehicle(
    rng: random.Random, cameras: dict[str, CameraInfo]
) -> list[SightingRow]:
    """Return SIGHTINGS store rows of one vehicle, in time order."""
    city = [f"cam{number}" for number in range(40)]
    directions = [direction.value for direction in Direction]
    rows: list[SightingRow] = []
    now = datetime(2022, 1, 1, tzinfo=UTC).timestamp()
    event = 0
    camera = city[0]
    while len(rows) < SIGHTINGS:
        now += rng.uniform(1, 12) * 3600
        for _ in range(rng.randint(3, 10)):
            previous, camera = camera, rng.choice(city)
            kilometres = haversine_km(
                cameras[previous].latitude,
                cameras[previous].longitude,
                cameras[camera].latitude,
                cameras[camera].longitude,
            )
            now += kilometres / rng.uniform(20, 90) * 3600 + rng.uniform(10, 300)
            if rng.random() < 0.0005:
                # The cloned plate: seen far away while the real car is in Kyiv.
                camera = "lviv"
            event += 1
            for read in range(rng.randint(1, 4)):
                plate = MISREAD if read and rng.random() < 0.01 else PLATE
                rows.append(
                    (
                        len(rows),
                        camera,
                        now + read * 2,
                        plate,
                        rng.uniform(0.6, 0.99),
                        rng.choice(directions),
                        f"event{event}",
                    )
                )
    return rows[:SIGHTINGS]


def reference_loop(values: list[SightingRow]) -> None:
    """Touch every row once in a plain Python loop: the yardstick for this machine."""
    total = 0.0
    for row in values:
        total += row[2]


def best_of(label: str, action: Callable[[], object]) -> None:
    """Print the best wall and CPU time of REPEATS runs (the machine may be shared)."""
    wall = cpu = float("inf")
    for _ in range(REPEATS):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        action()
        wall = min(wall, time.perf_counter() - wall_start)
        cpu = min(cpu, time.process_time() - cpu_start)
    sys.stdout.write(
        f"{label:<48} wall {wall * 1e3:7.1f} ms   cpu {cpu * 1e3:7.1f} ms\n"
    )


def main() -> None:
    """Measure each step of answering get_route and where_is."""
    rng = random.Random(4)
    cameras = camera_map(rng)
    rows = rows_of_one_vehicle(rng, cameras)
    gap = timedelta(minutes=30)
    route = build_route(
        SightingColumns.from_rows(rows), cameras, plate=PLATE, trip_gap=gap
    )
    sys.stdout.write(
        f"{len(route)} sightings, {len(route.trips)} trips, {len(route.joined)} joined "
        f"misreads, {len(route.impossible_travel)} impossible-travel pairs\n"
    )
    sightings = [
        Sighting(
            id=row[0],
            camera=row[1],
            seen_at=datetime.fromtimestamp(row[2], UTC),
            plate=row[3],
            raw=row[3],
            confidence=row[4],
            source="frigate",
            event_id=row[6],
            region="ua",
            box=None,
            direction=Direction(row[5]),
            alternatives=(),
            has_crop=False,
            has_snapshot=False,
        )
        for row in rows
    ]
    exact_rows = [row for row in rows if row[3] == PLATE]

    # Every run wraps the rows afresh: SightingColumns caches the columns it
    # derives, and a real request starts from the store's rows.
    best_of("reference: plain Python loop over the rows", lambda: reference_loop(rows))
    best_of(
        "build_route, store rows of the exact plate",
        lambda: build_route(
            SightingColumns.from_rows(exact_rows), cameras, plate=PLATE, trip_gap=gap
        ),
    )
    best_of(
        "build_route, store rows with misreads to join",
        lambda: build_route(
            SightingColumns.from_rows(rows), cameras, plate=PLATE, trip_gap=gap
        ),
    )
    best_of(
        "build_route, Sighting objects",
        lambda: build_route(sightings, cameras, plate=PLATE, trip_gap=gap),
    )
    best_of("city_status(route)", lambda: city_status(route, cameras))
    best_of(
        "build_route + to_dict(max_sightings=500)",
        lambda: build_route(
            SightingColumns.from_rows(rows), cameras, plate=PLATE, trip_gap=gap
        ).to_dict(max_sightings=500),
    )
    best_of(
        "build_route + to_dict() of all sightings",
        lambda: build_route(
            SightingColumns.from_rows(rows), cameras, plate=PLATE, trip_gap=gap
        ).to_dict(),
    )


if __name__ == "__main__":
    main()
