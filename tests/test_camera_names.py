"""How the cameras typed for a watchlist entry become camera ids, or an error naming them.

Plain Python, no Home Assistant: the service, the CSV import and the options
flow all go through ``KnownCameras.resolve``.
"""

from __future__ import annotations

import pytest

from custom_components.plate_tracker.matching.errors import MatchingValidationError
from custom_components.plate_tracker.matching.watchlist import (
    MAX_LISTED_CAMERAS,
    KnownCameras,
)

CITY = {"exit_north": "North exit", "bridge": "bridge", "gate": "Gate"}


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ([], ()),
        (["", " , ; "], ()),
        (["bridge"], ("bridge",)),
        ([" BRIDGE "], ("bridge",)),
        (["north exit"], ("exit_north",)),
        (["Gate; exit_north", "bridge, gate"], ("gate", "exit_north", "bridge")),
        (["gate bridge"], ("gate", "bridge")),
    ],
)
def test_ids_and_display_names_in_any_case_become_ids(
    typed: list[str], expected: tuple[str, ...]
) -> None:
    """Sightings carry the id: an entry that kept ``North exit`` would never match one."""
    assert KnownCameras(CITY).resolve(typed) == expected


def test_an_unknown_camera_is_named_with_the_known_ones() -> None:
    """The error says which names are wrong and what the cameras are called, to fix the typo."""
    with pytest.raises(MatchingValidationError) as err:
        KnownCameras(CITY).resolve(["bridge, exit_nort", "Gates"])
    assert err.value.translation_key == "camera_unknown"
    assert err.value.translation_placeholders == {
        "cameras": "exit_nort, Gates",
        "known": "bridge, exit_north (North exit), gate (Gate)",
    }


def test_no_known_camera_lists_a_dash() -> None:
    """Before any camera reported or was mapped, the list of known ones is not blank."""
    with pytest.raises(MatchingValidationError) as err:
        KnownCameras({}).resolve(["bridge"])
    assert err.value.translation_placeholders["known"] == "–"


def test_a_city_of_many_cameras_lists_only_the_first_ones() -> None:
    """Hundreds of camera ids would bury the message; the first ones and an ellipsis show."""
    city = {f"cam_{number:03}": f"cam_{number:03}" for number in range(100)}
    with pytest.raises(MatchingValidationError) as err:
        KnownCameras(city).resolve(["cam_999"])
    listed = err.value.translation_placeholders["known"].split(", ")
    assert listed == [f"cam_{n:03}" for n in range(MAX_LISTED_CAMERAS)] + ["…"]


def test_an_id_wins_over_a_display_name_and_a_shared_name_means_every_camera() -> None:
    """An id is what the camera is; a name two cameras share stands for both, as in the alert blueprint.

    ``Gate`` is the display name of ``bridge`` here and also, in another case,
    the id ``gate``: the id wins. ``Side`` names two cameras: both are meant.
    """
    city = {"bridge": "Gate", "gate": "gate", "side_a": "Side", "side_b": "Side"}
    assert KnownCameras(city).resolve(["Gate"]) == ("gate",)
    assert KnownCameras(city).resolve(["side"]) == ("side_a", "side_b")
