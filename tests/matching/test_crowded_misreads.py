"""Routes over thousands of look-alike reads in one NVR event or one window.

An imported database, or one event id reported by several cameras, can hold
thousands of misreads next to each other. Judging them must stay near-linear
(each used to walk over all the others: 17-25 s for 4,000 reads, on every
sighting of a watched vehicle) and must still give the rule's answer: a read
of the plate in the same event first, else one at the same camera within the
join window, the nearest in time (the earliest of equals), reached only
through the window or an unbroken run of the misread's own event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
import random
from typing import Any

import numpy as np
from numpy.typing import NDArray
import pytest

from custom_components.plate_tracker.matching.journeys import (
    DEFAULT_JOIN_WINDOW,
    SAME_EVENT_WITHIN_SECONDS,
    CameraInfo,
    CameraRole,
    JoinReason,
    SightingColumns,
    SightingRow,
    build_route,
    route_response,
)
from custom_components.plate_tracker.records import Direction
from custom_components.plate_tracker.store.schema import event_key

PLATE = "AE1234BK"
T0 = 1_780_000_000.0
TRIP_GAP = timedelta(minutes=30)
CAMERAS = {
    name: CameraInfo(
        id=name,
        name=name,
        latitude=50.45,
        longitude=30.50 + number * 0.01,
        role=CameraRole.EXIT,
        leaving_direction=Direction.RECEDING,
    )
    for number, name in enumerate(("gate", "bridge", "centre"))
}


@dataclass(frozen=True)
class Packed:
    """Rows as the store's packed route columns (``PackedSightings``)."""

    seen_us: NDArray[np.int64]
    ids: NDArray[np.int64]
    camera_ids: NDArray[np.int64]
    event_keys: NDArray[np.int64]
    plate_ids: NDArray[np.int64]
    camera_names: dict[int, str]
    plates: dict[int, str]
    by_id: dict[int, SightingRow]

    @classmethod
    def of(cls, rows: Sequence[SightingRow]) -> Packed:
        """Pack rows in time order."""
        cameras = {
            name: key for key, name in enumerate(sorted({r[1] for r in rows}), 1)
        }
        plates = {text: key for key, text in enumerate(sorted({r[3] for r in rows}), 1)}
        return cls(
            seen_us=np.array([round(row[2] * 1_000_000) for row in rows]),
            ids=np.array([row[0] for row in rows]),
            camera_ids=np.array([cameras[row[1]] for row in rows]),
            event_keys=np.array([event_key(row[6]) for row in rows]),
            plate_ids=np.array([plates[row[3]] for row in rows]),
            camera_names={key: name for name, key in cameras.items()},
            plates={key: text for text, key in plates.items()},
            by_id={row[0]: row for row in rows},
        )

    def load_rows(self, ids: Sequence[int]) -> list[SightingRow]:
        """Return the row of each id, in the order given."""
        return [self.by_id[sighting_id] for sighting_id in ids]


def walked_anchor(
    rows: Sequence[SightingRow], index: int, window: float
) -> tuple[JoinReason, int] | None:
    """Return the join of the misread at ``index`` by walking out from it, as the rule says."""
    _, camera, at, _, _, _, event = rows[index]

    def same_event(other: SightingRow) -> bool:
        return (
            event is not None
            and other[6] == event
            and other[1] == camera
            and abs(other[2] - at) <= SAME_EVENT_WITHIN_SECONDS
        )

    best: tuple[int, float, int] | None = None
    for step in (-1, 1):
        neighbour = index + step
        while 0 <= neighbour < len(rows):
            other = rows[neighbour]
            distance = abs(other[2] - at)
            if distance > window and not same_event(other):
                break
            if other[3] == PLATE and (
                same_event(other)
                or (other[1] == camera and not (event and other[6] is not None))
            ):
                rank = (0 if same_event(other) else 1, distance, neighbour)
                best = rank if best is None or rank < best else best
            neighbour += step
    if best is None:
        return None
    reason = JoinReason.SAME_EVENT if best[0] == 0 else JoinReason.SAME_PASS
    return reason, rows[best[2]][0]


def crowded(seed: int, count: int) -> list[SightingRow]:
    """Return ``count`` reads crowded into one event and one window at three cameras."""
    rng = random.Random(seed)
    rows: list[SightingRow] = []
    at = T0
    for sighting_id in range(1, count + 1):
        at += rng.choice((0.0, 0.0, 0.25, 1.0, 2.0, 61.0))
        roll = rng.random()
        plate = PLATE if roll < 0.03 else "AE12348K" if roll < 0.9 else "KA0001AA"
        camera = "gate" if rng.random() < 0.9 else rng.choice(("bridge", "centre"))
        event = "ev1" if rng.random() < 0.85 else rng.choice((None, "ev2"))
        rows.append((sighting_id, camera, at, plate, 0.9, "unknown", event))
    return rows


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_thousands_of_misreads_in_one_event_are_judged_by_the_rule(seed: int) -> None:
    """Every one of 3,000 crowded reads is joined to the read the rule names, on both paths.

    Both the rows path (``build_route``) and the packed path that ``get_route``,
    ``where_is`` and the watchlist tracker use must agree with the rule.
    """
    rows = crowded(seed, 3000)
    window = DEFAULT_JOIN_WINDOW.total_seconds()
    expected = {
        rows[index][0]: walked_anchor(rows, index, window)
        for index in range(len(rows))
        if rows[index][3] == "AE12348K"
    }

    route = build_route(SightingColumns(rows), CAMERAS, plate=PLATE, trip_gap=TRIP_GAP)
    response = route_response(
        Packed.of(rows),
        CAMERAS,
        plate=PLATE,
        trip_gap=TRIP_GAP,
        max_sightings=None,
    )

    joined = {item.id: (item.reason, item.anchor_id) for item in route.joined}
    assert joined == {key: value for key, value in expected.items() if value}
    assert {item.id for item in route.not_joined} == {
        key for key, value in expected.items() if value is None
    }
    assert {reason for reason, _ in joined.values()} == set(JoinReason)
    assert response == route.to_dict()


class CountedTimes(list[float]):
    """A time column that counts the sightings looked at by index."""

    looked_at = 0

    def __getitem__(self, index: Any) -> Any:
        """Count, then answer as a list."""
        CountedTimes.looked_at += 1
        return super().__getitem__(index)


def test_a_crowd_of_misreads_is_judged_in_near_linear_time() -> None:
    """Doubling a crowd of misreads in one event about doubles the work, not quadruples it.

    Counted in sightings looked at, not in seconds: a walk from every misread
    over all the others shows as n² looks.
    """

    def looks(count: int) -> int:
        rows: list[SightingRow] = [(1, "gate", T0, PLATE, 0.9, "unknown", "ev1")]
        rows += [
            (number, "gate", T0 + number * 0.5, "AE12348K", 0.5, "unknown", "ev1")
            for number in range(2, count + 1)
        ]
        columns = SightingColumns.with_columns(
            rows,
            timestamps=CountedTimes(row[2] for row in rows),
            cameras=[row[1] for row in rows],
        )
        CountedTimes.looked_at = 0
        route = build_route(columns, CAMERAS, plate=PLATE, trip_gap=TRIP_GAP)
        assert [item.anchor_id for item in route.joined] == [1] * (count - 1)
        return CountedTimes.looked_at

    small, large = looks(1500), looks(3000)
    assert large < 2.5 * small
