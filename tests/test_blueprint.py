"""The watchlist alert blueprint, run by a real automation on a real event bus.

The blueprint is what turns a watchlist hit into a phone buzzing in a patrol car, so these
tests load the file from the repository the way a user imports it, fire the integration's
event, and check what the notify action receives.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
import shutil
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components import automation, persistent_notification
from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint import models
from homeassistant.components.notify import NOTIFY_SERVICE_SCHEMA
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml_dict
import pytest
from pytest_homeassistant_custom_component.common import async_mock_service

REPO = Path(__file__).resolve().parents[1]
BLUEPRINT_PATH = "plate_tracker/watchlist_alert.yaml"
BLUEPRINT_FILE = REPO / "blueprints" / "automation" / BLUEPRINT_PATH
EVENT = "plate_tracker_watchlist_hit"
# Non-ASCII and a quote, as people type them: the label must reach the title unharmed.
LABEL = "Stolen white Škoda Octavia, owner's report"
SNAPSHOT_URL = (
    "https://ha.example.org/api/plate_tracker/image/9012/snapshot.jpg"
    "?expires=1795639327&signature=5c1f0e8a9d2b4c7e"
)
CROP_URL = (
    "https://ha.example.org/api/plate_tracker/image/9012/crop.jpg"
    "?expires=1795639327&signature=a07d93be11f4c2d8"
)


def watchlist_hit(**changes: Any) -> dict[str, Any]:
    """Return the data of a hit as the integration fires it: a stolen car leaving town."""
    return {
        "hit_id": 417,
        "sighting_id": 9012,
        "entry_id": 12,
        "listed_plate": "AE1234BK",
        "read_plate": "AEI234BK",
        "plate": "AEI234BK",
        "match_kind": "lookalike",
        "from_alternative": False,
        "label": LABEL,
        "reason": "Case 12023040000000417",
        "priority": "critical",
        "camera": "exit_kyiv_road",
        "camera_name": "Exit Kyiv road",
        "seen_at": "2026-11-25T18:42:07.412000+00:00",
        "direction": "receding",
        "confidence": 0.874,
        "crop_url": CROP_URL,
        "snapshot_url": SNAPSHOT_URL,
        "recent_sightings": [
            {
                "camera": "exit_kyiv_road",
                "seen_at": "2026-11-25T18:42:07.412000+00:00",
                "direction": "receding",
                "confidence": 0.874,
            },
            {
                "camera": "center_shevchenka",
                "seen_at": "2026-11-25T18:31:40+00:00",
                "direction": "approaching",
                "confidence": 0.92,
            },
            {
                "camera": "entry_odesa_road",
                "seen_at": "2026-11-25T18:05:12+00:00",
                "direction": "unknown",
                "confidence": 0.79,
            },
        ],
        "city_status": "left",
    } | changes


@pytest.fixture
def installed_blueprint(hass: HomeAssistant, config_dir: Path) -> Path:
    """Copy the blueprint where an import puts it: the config folder's blueprints."""
    target = Path(hass.config.path("blueprints/automation/plate_tracker"))
    target.mkdir(parents=True)
    return Path(shutil.copy(BLUEPRINT_FILE, target))


@pytest.fixture
async def notify_calls(
    hass: HomeAssistant, installed_blueprint: Path
) -> list[ServiceCall]:
    """Record what the officer's phone gets, in a town whose local time is not UTC.

    The mock validates with the schema every legacy notify action shares, so a payload
    that a real mobile app, SMTP or Telegram service would refuse fails here too.
    """
    await hass.config.async_set_time_zone("Europe/Kyiv")
    calls: list[ServiceCall] = async_mock_service(
        hass, "notify", "officer_phone", NOTIFY_SERVICE_SCHEMA
    )
    return calls


async def setup_alert(hass: HomeAssistant, **inputs: Any) -> None:
    """Create an automation from the blueprint with the given inputs."""
    assert await async_setup_component(
        hass,
        automation.DOMAIN,
        {
            automation.DOMAIN: {
                "id": "watchlist_alert",
                "alias": "Watchlist alert",
                "use_blueprint": {
                    "path": BLUEPRINT_PATH,
                    "input": {"notify_action": "notify.officer_phone"} | inputs,
                },
            }
        },
    )
    await hass.async_block_till_done()
    state = hass.states.get("automation.watchlist_alert")
    assert state is not None
    assert state.state == "on"


async def fire_hit(hass: HomeAssistant, data: dict[str, Any]) -> None:
    """Fire a watchlist hit and let the automation finish."""
    hass.bus.async_fire(EVENT, data)
    await hass.async_block_till_done()


def test_blueprint_metadata() -> None:
    """The import link and the UI's "re-import" button fetch the blueprint from its source_url.

    A wrong URL would import another file, or none; a min_version above the release we
    test on would make Home Assistant refuse the file.
    """
    blueprint = models.Blueprint(
        load_yaml_dict(BLUEPRINT_FILE),
        expected_domain=automation.DOMAIN,
        schema=AUTOMATION_BLUEPRINT_SCHEMA,
    )
    assert blueprint.name == "Plate Tracker: watchlist alert"
    assert blueprint.metadata["source_url"] == (
        "https://github.com/plate-tracker/plate_tracker/blob/main/blueprints/automation/"
        + BLUEPRINT_PATH
    )
    assert blueprint.metadata["homeassistant"]["min_version"] == "2026.2.0"
    # validate() is where Home Assistant refuses a blueprint newer than itself.
    assert blueprint.validate() is None
    assert set(blueprint.inputs) >= {
        "notify_action",
        "priorities",
        "match_kinds",
        "cameras",
        "title_prefix",
    }


async def test_critical_hit_sends_the_evidence(
    hass: HomeAssistant, notify_calls: list[ServiceCall]
) -> None:
    """An officer must be able to act on the notification alone.

    It says which wanted vehicle it is, what the camera actually read and how (so a fuzzy
    match can be judged), where and when in local time, where it is heading, and carries
    the picture and the links that open it without a login.
    """
    await setup_alert(hass, title_prefix="[Plate Tracker]")

    await fire_hit(hass, watchlist_hit())

    assert len(notify_calls) == 1
    call = notify_calls[0]
    assert call.data["title"] == (f"[Plate Tracker] CRITICAL: AEI234BK – {LABEL}")
    assert call.data["message"] == "\n".join(
        [
            "Listed AE1234BK, read AEI234BK (lookalike, look-alike characters)",
            "Camera: Exit Kyiv road",
            "Seen: 2026-11-25 20:42:07",
            "Direction: receding",
            "Confidence: 87 %",
            "City: has left the city",
            "Case: Case 12023040000000417",
            "Recent sightings:",
            "- 2026-11-25 20:42, exit_kyiv_road, receding, 87 %",
            "- 2026-11-25 20:31, center_shevchenka, approaching, 92 %",
            "- 2026-11-25 20:05, entry_odesa_road, 79 %",
            f"Snapshot: {SNAPSHOT_URL}",
            f"Plate crop: {CROP_URL}",
            "Hit #417",
        ]
    )
    assert call.data["data"] == {
        "image": SNAPSHOT_URL,
        "url": SNAPSHOT_URL,
        "clickAction": SNAPSHOT_URL,
        "attachment": {"url": CROP_URL, "content-type": "jpeg"},
        "tag": "plate_tracker_AEI234BK",
        "group": "plate_tracker",
        "parse_mode": "plain_text",
        "push": {"interruption-level": "critical"},
        "ttl": 0,
        "priority": "high",
    }


@pytest.mark.parametrize(
    ("priority", "urgency"),
    [
        (
            "critical",
            {"push": {"interruption-level": "critical"}, "ttl": 0, "priority": "high"},
        ),
        (
            "high",
            {
                "push": {"interruption-level": "time-sensitive"},
                "ttl": 0,
                "priority": "high",
            },
        ),
        ("info", {}),
    ],
)
async def test_urgency_follows_priority(
    hass: HomeAssistant,
    notify_calls: list[ServiceCall],
    priority: str,
    urgency: dict[str, Any],
) -> None:
    """Only a critical hit may break through silent mode; an info hit must not wake anyone."""
    await setup_alert(hass)

    await fire_hit(hass, watchlist_hit(priority=priority))

    assert len(notify_calls) == 1
    assert notify_calls[0].data["title"].startswith(f"{priority.upper()}: AEI234BK")
    data = notify_calls[0].data["data"]
    assert {key: data[key] for key in ("push", "ttl", "priority") if key in data} == (
        urgency
    )


async def test_priority_filter(
    hass: HomeAssistant, notify_calls: list[ServiceCall]
) -> None:
    """A patrol that only wants urgent hits must not be paged for an info entry."""
    await setup_alert(hass, priorities=["critical", "high"])

    await fire_hit(hass, watchlist_hit(priority="info", hit_id=1))
    await fire_hit(hass, watchlist_hit(priority="high", hit_id=2))

    assert [call.data["message"].rsplit("\n", 1)[-1] for call in notify_calls] == [
        "Hit #2"
    ]


async def test_match_kind_filter(
    hass: HomeAssistant, notify_calls: list[ServiceCall]
) -> None:
    """Fuzzy matches bring false alarms; a user who asks for exact hits gets only those."""
    await setup_alert(hass, match_kinds=["exact"])

    await fire_hit(hass, watchlist_hit(match_kind="one_edit", hit_id=1))
    exact = watchlist_hit(
        match_kind="exact",
        read_plate="AE1234BK",
        plate="AE1234BK",
        from_alternative=True,
        hit_id=2,
    )
    await fire_hit(hass, exact)

    assert len(notify_calls) == 1
    message = notify_calls[0].data["message"]
    assert message.startswith(
        "Listed AE1234BK, read AE1234BK (exact, from an alternative read)\n"
    )


@pytest.mark.parametrize("camera", ["exit_kyiv_road", "Exit Kyiv road"])
async def test_camera_filter(
    hass: HomeAssistant, notify_calls: list[ServiceCall], camera: str
) -> None:
    """A unit posted at one exit wants that exit's hits, named by id or as shown in the UI."""
    await setup_alert(hass, cameras=[camera])

    await fire_hit(
        hass,
        watchlist_hit(camera="entry_odesa_road", camera_name="Entry Odesa road"),
    )
    await fire_hit(hass, watchlist_hit())

    assert len(notify_calls) == 1
    assert "Camera: Exit Kyiv road" in notify_calls[0].data["message"]


async def test_sparse_hit_still_alerts(
    hass: HomeAssistant, notify_calls: list[ServiceCall], freezer: FrozenDateTimeFactory
) -> None:
    """A hit without pictures, history or optional fields must still reach the officer.

    An alert lost to a template error is worse than a plain one. Without links the
    companion app must get no empty image to fetch, and the time falls back to when the
    event was fired.
    """
    freezer.move_to("2026-11-25T18:42:07+00:00")
    await setup_alert(hass)

    await fire_hit(
        hass,
        {
            "listed_plate": "AE*BK",
            "read_plate": "AE7781BK",
            "match_kind": "pattern",
            "priority": "high",
            "camera": "exit_kyiv_road",
            "confidence": None,
            "crop_url": None,
        },
    )

    assert len(notify_calls) == 1
    call = notify_calls[0]
    assert call.data["title"] == "HIGH: AE7781BK"
    assert call.data["message"] == (
        "Listed AE*BK, read AE7781BK (pattern)\n"
        "Camera: exit_kyiv_road\n"
        "Seen: 2026-11-25 20:42:07"
    )
    assert "image" not in call.data["data"]
    assert "attachment" not in call.data["data"]
    assert call.data["data"]["tag"] == "plate_tracker_AE7781BK"


async def test_notify_action_without_domain(
    hass: HomeAssistant, notify_calls: list[ServiceCall]
) -> None:
    """Users often type the service as the UI lists it, without `notify.`; it must still send."""
    await setup_alert(hass, notify_action=" officer_phone ")

    await fire_hit(hass, watchlist_hit())

    assert len(notify_calls) == 1


async def test_real_notify_action(
    hass: HomeAssistant, installed_blueprint: Path
) -> None:
    """A real notify action, not a mock, takes the alert: the control room's dashboard.

    `notify.persistent_notification` shows the alert in Home Assistant's notification
    list, so a desk without a phone sees it too, and it proves the payload passes a
    real service.
    """
    assert await async_setup_component(hass, "notify", {})
    await setup_alert(hass, notify_action="notify.persistent_notification")

    await fire_hit(hass, watchlist_hit())

    notifications = list(
        persistent_notification._async_get_or_create_notifications(hass).values()
    )
    assert len(notifications) == 1
    assert notifications[0]["title"] == f"CRITICAL: AEI234BK – {LABEL}"
    assert notifications[0]["message"].startswith(
        "Listed AE1234BK, read AEI234BK (lookalike, look-alike characters)\n"
    )


async def test_a_burst_of_hits_behind_a_slow_notify_service_alerts_for_each(
    hass: HomeAssistant, installed_blueprint: Path
) -> None:
    """A notify service that takes its time (SMTP, a slow gateway) must not cost alerts.

    Hits fired while it sends wait their turn; a queue of 20 dropped every
    hit beyond it, and a city-wide pattern entry or a convoy passing an exit
    gives more than that within seconds.
    """
    release = asyncio.Event()
    sent: list[str] = []

    async def slow_notify(call: ServiceCall) -> None:
        await release.wait()
        sent.append(call.data["title"])

    hass.services.async_register("notify", "officer_phone", slow_notify)
    await setup_alert(hass)
    plates = [f"AE{1000 + index}BK" for index in range(60)]
    for hit_id, plate in enumerate(plates, 1):
        hass.bus.async_fire(
            EVENT, watchlist_hit(hit_id=hit_id, listed_plate=plate, plate=plate)
        )
    # Every hit reaches the automation while the first alert is still sending.
    for _ in range(20):
        await asyncio.sleep(0)
    assert not sent
    release.set()
    await hass.async_block_till_done()

    assert len(sent) == len(plates)
    assert [next(p for p in plates if p in title) for title in sent] == plates
