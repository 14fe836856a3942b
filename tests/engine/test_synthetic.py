"""Generated inputs: the vehicle box the benchmark hands the engine is car-sized."""

from __future__ import annotations

from custom_components.plate_tracker.engine.synthetic import vehicle_box_around


def test_one_car_gets_one_box_whatever_its_plate() -> None:
    """A US plate (305 mm) and a European one (520 mm) on the same car give its box.

    At 0.2 px/mm the car is 1800 mm = 360 px wide; the box reaches 1000 mm above
    the plate's centre (the roof) and 500 mm below it (the road).
    """
    us = vehicle_box_around((610, 390, 671, 410), (1280, 720), "us")
    eu = vehicle_box_around((588, 390, 692, 410), (1280, 720), "eu")
    assert us == eu == (460, 200, 820, 500)
    # A plate is a sixth of a US car's width, more than a quarter of a European one's.
    assert (us[2] - us[0]) / 61 > 5.5
    assert 3 < (eu[2] - eu[0]) / 104 < 3.6


def test_the_box_stays_in_the_frame() -> None:
    """A car at the frame's corner is cut at the frame's edges."""
    assert vehicle_box_around((0, 690, 104, 710), (1280, 720), "ua") == (
        0,
        500,
        232,
        720,
    )
