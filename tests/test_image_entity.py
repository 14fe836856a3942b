"""The camera's plate-crop image entity: dashboards must show the crop of the plate just read."""

from __future__ import annotations

from datetime import UTC, datetime
from http import HTTPStatus

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.plate_tracker.const import DOMAIN
from custom_components.plate_tracker.records import NewSighting

from .helpers import record_and_announce

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _plate(plate: str, crop: bytes) -> NewSighting:
    return NewSighting(
        camera="exit_kyiv_road",
        seen_at=NOW,
        plate=plate,
        raw=plate,
        confidence=0.9,
        source="folder",
        crop_jpeg=crop,
    )


async def test_second_plate_of_one_picture_changes_the_image(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    entity_registry: er.EntityRegistry,
) -> None:
    """Two cars in one picture are two sightings at the same moment; the image must follow.

    The frontend fetches a new picture only when the image entity's state changes (its
    URL carries the state). Were the state the sighting's time alone, the second plate's
    crop would never be shown: the dashboard would keep the first car's crop next to the
    second car's plate in the camera's last-plate sensor.
    """
    await record_and_announce(hass, init_folder, _plate("AE1234BK", b"\xff\xd8first"))
    entity_id = entity_registry.async_get_entity_id(
        "image", DOMAIN, f"{init_folder.entry_id}_exit_kyiv_road_plate_crop"
    )
    assert entity_id is not None
    first = hass.states.get(entity_id)
    assert first is not None

    await record_and_announce(hass, init_folder, _plate("KA7777OO", b"\xff\xd8second"))

    second = hass.states.get(entity_id)
    assert second is not None
    assert second.state != first.state
    client = await hass_client()
    response = await client.get(f"/api/image_proxy/{entity_id}")
    assert response.status == HTTPStatus.OK
    assert await response.read() == b"\xff\xd8second"
