"""A signed picture link must not leave the picture in a browser's cache.

Police data erased (a purge under a court order, the retention period running out)
must be gone: a browser that kept the JPEG would show it again, and keep it on the
disk of whatever phone or desk computer opened the alert, long after the sighting
was erased.
"""

from __future__ import annotations

from http import HTTPStatus

from homeassistant.auth.models import User
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from yarl import URL

from custom_components.plate_tracker.records import NewSighting

from .helpers import call
from .test_watchlist_alerts import NOW


async def test_an_erased_picture_is_not_kept_by_the_browser(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_admin_user: User,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """The picture is served as not to be stored; after a purge its link finds nothing."""
    runtime = init_folder.runtime_data
    sighting, _ = await hass.async_add_executor_job(
        runtime.store.record,
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
    client = await hass_client_no_auth()
    crop = URL(runtime.alerts.image_url(sighting.id, "crop"))

    response = await client.get(crop.path_qs)
    assert response.status == HTTPStatus.OK
    assert await response.read() == b"\xff\xd8crop"
    directives = {
        directive.strip().partition("=")[0].lower()
        for directive in response.headers["Cache-Control"].split(",")
    }
    # no-store: neither the browser nor anything between may keep a copy to show again.
    assert "no-store" in directives
    assert directives.isdisjoint({"max-age", "s-maxage", "immutable", "public"})

    await call(
        hass,
        "purge_sightings",
        {"plate": "AE1234BK", "reason": "court order 5"},
        hass_admin_user,
    )
    assert (await client.get(crop.path_qs)).status == HTTPStatus.NOT_FOUND
