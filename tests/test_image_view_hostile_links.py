"""The signed image view answers hostile or stale links with 4xx, never with a server error.

The view needs no login: anyone on the network (or whoever a forwarded alert
reached) can send it any path. A 500 there fills Home Assistant's log with
tracebacks, and says nothing useful to the person holding a stale link.
"""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from yarl import URL

from custom_components.plate_tracker.const import IMAGE_URL_PATH
from custom_components.plate_tracker.records import NewSighting

from .test_watchlist_alerts import NOW

SQLITE_MAX_INTEGER = 2**63 - 1


async def _record_with_crop(hass: HomeAssistant, entry: MockConfigEntry) -> int:
    sighting, _ = await hass.async_add_executor_job(
        entry.runtime_data.store.record,
        NewSighting(
            camera="exit_kyiv_road",
            seen_at=NOW,
            plate="AE1234BK",
            raw="AE1234BK",
            confidence=0.9,
            source="folder",
            crop_jpeg=b"\xff\xd8crop",
        ),
    )
    return sighting.id


def _signed(entry: MockConfigEntry, sighting_id: int | str, kind: str = "crop") -> str:
    """Sign a link to any id as the hub does: what a leaked secret or a bug could produce."""
    path = IMAGE_URL_PATH.format(sighting_id=sighting_id, kind=kind)
    query = entry.runtime_data.alerts.signer.sign(path, NOW + timedelta(days=365))
    return f"{path}?{query}"


@pytest.mark.parametrize(
    "sighting_id",
    [
        SQLITE_MAX_INTEGER + 1,
        10**30,
        # Past Python's limit on converting long digit strings to int (4300 digits).
        "9" * 5000,
    ],
    ids=["sqlite_max_plus_one", "thirty_digits", "five_thousand_digits"],
)
async def test_an_id_beyond_sqlite_integers_is_not_found(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    sighting_id: int | str,
) -> None:
    """An id no SQLite row can have is 404 even when its signature is valid.

    The id is checked after the signature, so a forged one is still 403; one
    that verifies must not reach SQLite, which refuses integers past 64 bits
    with an OverflowError the view did not expect (a 500 with a traceback).
    """
    client = await hass_client_no_auth()
    response = await client.get(_signed(init_folder, sighting_id))
    assert response.status == HTTPStatus.NOT_FOUND


async def test_the_largest_sqlite_id_is_looked_up(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """The bound is SQLite's own: its largest integer is a possible id, looked up (not found)."""
    client = await hass_client_no_auth()
    response = await client.get(_signed(init_folder, SQLITE_MAX_INTEGER))
    assert response.status == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize(
    "path",
    [
        "/api/plate_tracker/sightings/-1/crop.jpg",
        "/api/plate_tracker/sightings/1e3/crop.jpg",
        "/api/plate_tracker/sightings/%00/crop.jpg",
        "/api/plate_tracker/sightings/1/thumbnail.jpg",
        "/api/plate_tracker/sightings/1/crop.png",
        "/api/plate_tracker/sightings//crop.jpg",
    ],
)
async def test_garbage_paths_are_not_found(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    path: str,
) -> None:
    """A path that names no sighting image is 404, whatever its query."""
    client = await hass_client_no_auth()
    response = await client.get(
        URL(f"{path}?exp=99999999999&sig={'A' * 43}", encoded=True)
    )
    assert response.status == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize(
    "query",
    [
        "",
        "exp=abc&sig=x",
        f"exp={'9' * 5000}&sig={'A' * 43}",
        f"exp=99999999999&sig={'A' * 43}",
        "exp=99999999999&sig=%FF%FE",
        "exp=1&exp=2&sig=x&sig=y",
    ],
    ids=["none", "not_a_number", "huge_expiry", "forged", "not_utf8", "repeated"],
)
async def test_a_malformed_or_forged_signature_is_forbidden(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    query: str,
) -> None:
    """Whatever the query holds, a link the hub did not sign opens nothing: 403."""
    sighting_id = await _record_with_crop(hass, init_folder)
    client = await hass_client_no_auth()
    path = IMAGE_URL_PATH.format(sighting_id=sighting_id, kind="crop")
    response = await client.get(URL(f"{path}?{query}", encoded=True))
    assert response.status == HTTPStatus.FORBIDDEN


async def test_an_expired_link_is_forbidden(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A link works until it expires, then opens nothing: the image is still stored."""
    sighting_id = await _record_with_crop(hass, init_folder)
    runtime = init_folder.runtime_data
    link = URL(runtime.alerts.image_url(sighting_id, "crop")).path_qs
    client = await hass_client_no_auth()
    assert (await client.get(link)).status == HTTPStatus.OK

    freezer.tick(runtime.alerts.url_lifetime + timedelta(seconds=1))
    assert (await client.get(link)).status == HTTPStatus.FORBIDDEN


async def test_a_purged_image_is_not_found(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """A still valid link to a purged sighting's picture finds nothing: 404."""
    sighting_id = await _record_with_crop(hass, init_folder)
    runtime = init_folder.runtime_data
    link = URL(runtime.alerts.image_url(sighting_id, "crop")).path_qs
    await hass.services.async_call(
        "plate_tracker",
        "purge_sightings",
        {"plate": "AE1234BK", "reason": "Erasure request 20"},
        blocking=True,
        return_response=True,
    )
    client = await hass_client_no_auth()
    assert (await client.get(link)).status == HTTPStatus.NOT_FOUND
    # The snapshot never stored answers the same.
    assert (
        await client.get(_signed(init_folder, sighting_id, "snapshot"))
    ).status == HTTPStatus.NOT_FOUND
