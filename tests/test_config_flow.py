"""Config and options flows: every error path must recover to a created entry."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from unittest.mock import AsyncMock, patch

from homeassistant.config_entries import (
    SOURCE_IMPORT,
    SOURCE_USER,
    ConfigFlowResult,
    ConfigSubentryData,
    SubentryFlowResult,
)
from homeassistant.const import CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.json import json_bytes
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker

from custom_components.plate_tracker.const import (
    CONF_ALERT_COOLDOWN,
    CONF_ENGINE_TOKEN,
    CONF_ENGINE_URL,
    CONF_FILENAME_PATTERN,
    CONF_FRIGATE_URL,
    CONF_INBOX,
    CONF_KEEP_DAYS,
    CONF_KEEP_FILES,
    CONF_KEEP_HIT_DAYS,
    CONF_KEEP_IMAGE_DAYS,
    CONF_MIN_CONFIDENCE,
    CONF_MQTT_PREFIX,
    CONF_PARALLEL_READS,
    CONF_PUBLISH_AFTER,
    CONF_QUEUE_SIZE,
    CONF_REGIONS,
    CONF_SOURCE,
    CONF_THREADS,
    CONF_URL_LIFETIME_HOURS,
    DOMAIN,
    SOURCE_FOLDER,
    SUBENTRY_SOURCE,
)

from .conftest import FRIGATE_URL
from .helpers import fake_authenticated_frigate


@pytest.fixture(autouse=True)
def mock_setup_entry() -> Generator[AsyncMock]:
    """Flow tests check the flow; setting up the created entry is tested elsewhere."""
    with patch(
        "custom_components.plate_tracker.async_setup_entry", return_value=True
    ) as mock:
        yield mock


@pytest.fixture
def mqtt_entry(hass: HomeAssistant) -> MockConfigEntry:
    """Add an MQTT entry: the Frigate source needs Home Assistant's MQTT integration."""
    entry = MockConfigEntry(domain="mqtt", data={"broker": "127.0.0.1"})
    entry.add_to_hass(hass)
    return entry


async def _frigate_form(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["frigate", "folder", "anpr"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "frigate"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "frigate"
    return result["flow_id"]


@pytest.mark.usefixtures("mqtt_entry")
async def test_frigate_flow_checks_frigate_answers(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> None:
    """The entry is created only after Frigate answered at the URL, so a typo is caught at once."""
    aioclient_mock.get(f"{FRIGATE_URL}/api/version", text="0.16.0-abc")
    aioclient_mock.get(f"{FRIGATE_URL}/api/stats", json={})
    flow_id = await _frigate_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_FRIGATE_URL: f"{FRIGATE_URL}/", CONF_MQTT_PREFIX: "frigate"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Plate Tracker"
    (source,) = result["result"].subentries.values()
    assert (source.subentry_type, source.title, source.unique_id) == (
        "source",
        "Frigate frigate.test",
        f"frigate:{FRIGATE_URL}",
    )
    assert source.data == {
        CONF_SOURCE: "frigate",
        CONF_FRIGATE_URL: FRIGATE_URL,
        CONF_MQTT_PREFIX: "frigate",
    }


@pytest.mark.usefixtures("mqtt_entry")
@pytest.mark.parametrize(
    ("user_input", "answer", "errors"),
    [
        (
            {CONF_FRIGATE_URL: "ftp://frigate", CONF_MQTT_PREFIX: "frigate"},
            {},
            {CONF_FRIGATE_URL: "invalid_url"},
        ),
        (
            {CONF_FRIGATE_URL: "http://[frigate", CONF_MQTT_PREFIX: "frigate"},
            {},
            {CONF_FRIGATE_URL: "invalid_url"},
        ),
        (
            {CONF_FRIGATE_URL: FRIGATE_URL, CONF_MQTT_PREFIX: "fri gate/#"},
            {},
            {CONF_MQTT_PREFIX: "invalid_mqtt_prefix"},
        ),
        (
            {CONF_FRIGATE_URL: FRIGATE_URL, CONF_MQTT_PREFIX: "frigate"},
            {"status": 404},
            {"base": "cannot_connect"},
        ),
        (
            {CONF_FRIGATE_URL: FRIGATE_URL, CONF_MQTT_PREFIX: "frigate"},
            {"text": "<html>router</html>"},
            {"base": "cannot_connect"},
        ),
        (
            {CONF_FRIGATE_URL: FRIGATE_URL, CONF_MQTT_PREFIX: "frigate"},
            {"exc": TimeoutError()},
            {"base": "cannot_connect"},
        ),
    ],
)
async def test_frigate_flow_errors_recover(
    hass: HomeAssistant,
    aioclient_mock: AiohttpClientMocker,
    user_input: dict[str, str],
    answer: dict[str, object],
    errors: dict[str, str],
) -> None:
    """Each mistake is named on the form, and fixing it creates the entry."""
    aioclient_mock.get(f"{FRIGATE_URL}/api/version", **answer)
    aioclient_mock.get(f"{FRIGATE_URL}/api/stats", json={})
    flow_id = await _frigate_form(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors

    aioclient_mock.clear_requests()
    aioclient_mock.get(f"{FRIGATE_URL}/api/version", text='"0.14.1"')
    aioclient_mock.get(f"{FRIGATE_URL}/api/stats", json={})
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_FRIGATE_URL: FRIGATE_URL, CONF_MQTT_PREFIX: "frigate"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


AUTH_URL = "https://frigate.test:8971"


@pytest.mark.usefixtures("mqtt_entry")
async def test_frigate_login_is_checked_and_recovers(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> None:
    """A wrong password on port 8971 is named on the form, not found later as missing sightings."""
    fake_authenticated_frigate(aioclient_mock, AUTH_URL, accepted="s3cret")
    flow_id = await _frigate_form(hass)
    user_input = {
        CONF_FRIGATE_URL: AUTH_URL,
        CONF_MQTT_PREFIX: "frigate",
        CONF_USERNAME: "police",
        CONF_PASSWORD: "wrong",
    }
    result = await hass.config_entries.flow.async_configure(flow_id, user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}

    result = await hass.config_entries.flow.async_configure(
        flow_id, user_input | {CONF_PASSWORD: "s3cret"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (source,) = result["result"].subentries.values()
    assert source.data == {
        CONF_SOURCE: "frigate",
        CONF_FRIGATE_URL: AUTH_URL,
        CONF_MQTT_PREFIX: "frigate",
        CONF_USERNAME: "police",
        CONF_PASSWORD: "s3cret",
    }
    # The token of the login went with the request that proved it.
    stats_headers = [
        headers
        for method, url, _, headers in aioclient_mock.mock_calls
        if url.path == "/api/stats"
    ]
    assert stats_headers[-1] == {"Authorization": "Bearer jwt-1"}


@pytest.mark.usefixtures("mqtt_entry")
async def test_authenticated_port_without_login_asks_for_one(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> None:
    """Port 8971 answers its version to anyone; only the login check tells the user what is missing."""
    aioclient_mock.get(f"{AUTH_URL}/api/version", text="0.16.2")
    aioclient_mock.get(f"{AUTH_URL}/api/stats", status=401)
    flow_id = await _frigate_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_FRIGATE_URL: AUTH_URL, CONF_MQTT_PREFIX: "frigate"}
    )
    assert result["errors"] == {"base": "invalid_auth"}


@pytest.mark.usefixtures("mqtt_entry")
async def test_reconfigure_adds_a_login(
    hass: HomeAssistant,
    frigate_entry: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    """Moving a source from port 5000 to 8971 keeps the hub and its sightings; empty fields store no login."""
    frigate_entry.add_to_hass(hass)
    fake_authenticated_frigate(aioclient_mock, AUTH_URL, accepted="s3cret")
    (subentry_id,) = frigate_entry.subentries
    result = await frigate_entry.start_subentry_reconfigure_flow(hass, subentry_id)
    assert result["step_id"] == "frigate"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            CONF_FRIGATE_URL: AUTH_URL,
            CONF_MQTT_PREFIX: "frigate",
            CONF_USERNAME: "police",
            CONF_PASSWORD: "s3cret",
        },
    )
    assert result["reason"] == "reconfigure_successful"
    data = frigate_entry.subentries[subentry_id].data
    assert (data[CONF_USERNAME], data[CONF_PASSWORD]) == ("police", "s3cret")

    aioclient_mock.get(f"{FRIGATE_URL}/api/version", text="0.16.2")
    aioclient_mock.get(f"{FRIGATE_URL}/api/stats", json={})
    result = await frigate_entry.start_subentry_reconfigure_flow(hass, subentry_id)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            CONF_FRIGATE_URL: FRIGATE_URL,
            CONF_MQTT_PREFIX: "frigate",
            CONF_USERNAME: " ",
            CONF_PASSWORD: "",
        },
    )
    assert result["reason"] == "reconfigure_successful"
    assert CONF_USERNAME not in frigate_entry.subentries[subentry_id].data
    assert CONF_PASSWORD not in frigate_entry.subentries[subentry_id].data


async def test_frigate_flow_needs_mqtt(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> None:
    """Without the MQTT integration no Frigate event could arrive: say so instead of failing later."""
    aioclient_mock.get(f"{FRIGATE_URL}/api/version", text="0.16.0")
    aioclient_mock.get(f"{FRIGATE_URL}/api/stats", json={})
    flow_id = await _frigate_form(hass)
    user_input = {CONF_FRIGATE_URL: FRIGATE_URL, CONF_MQTT_PREFIX: "frigate"}
    result = await hass.config_entries.flow.async_configure(flow_id, user_input)
    assert result["errors"] == {"base": "mqtt_not_configured"}

    MockConfigEntry(domain="mqtt", data={"broker": "127.0.0.1"}).add_to_hass(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, user_input)
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_only_one_hub(hass: HomeAssistant, folder_entry: MockConfigEntry) -> None:
    """One engine, store and watchlist per Home Assistant: a second hub is refused."""
    folder_entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "single_instance_allowed"


@pytest.mark.usefixtures("mqtt_entry")
async def test_add_a_source_to_the_hub(
    hass: HomeAssistant,
    folder_entry: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    """More NVRs and inboxes feed the same hub; the same Frigate twice is refused."""
    folder_entry.add_to_hass(hass)
    aioclient_mock.get(f"{FRIGATE_URL}/api/version", text="0.16.0")
    aioclient_mock.get(f"{FRIGATE_URL}/api/stats", json={})
    user_input = {CONF_FRIGATE_URL: FRIGATE_URL, CONF_MQTT_PREFIX: "cams"}
    for expected in (FlowResultType.CREATE_ENTRY, FlowResultType.ABORT):
        result = await hass.config_entries.subentries.async_init(
            (folder_entry.entry_id, "source"), context={"source": SOURCE_USER}
        )
        assert result["type"] is FlowResultType.MENU
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], {"next_step_id": "frigate"}
        )
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], user_input
        )
        assert result["type"] is expected
    assert result["reason"] == "already_configured"
    sources = {sub.title: sub.data for sub in folder_entry.subentries.values()}
    assert sources["Frigate frigate.test"] == {CONF_SOURCE: "frigate", **user_input}
    assert len(sources) == 2


async def test_reconfigure_a_source(
    hass: HomeAssistant, folder_entry: MockConfigEntry, config_dir: Path
) -> None:
    """An inbox can be moved without deleting the hub and its sightings."""
    folder_entry.add_to_hass(hass)
    (subentry_id,) = folder_entry.subentries
    result = await folder_entry.start_subentry_reconfigure_flow(hass, subentry_id)
    assert result["step_id"] == "folder"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_INBOX: "ftp_uploads"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert folder_entry.subentries[subentry_id].data[CONF_INBOX] == "ftp_uploads"
    assert (config_dir / "ftp_uploads").is_dir()


async def test_folder_flow_creates_the_inbox(
    hass: HomeAssistant, config_dir: Path
) -> None:
    """A relative inbox lives in the configuration folder and is created for the user."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "folder"}
    )
    assert result["step_id"] == "folder"
    (config_dir / "a_file").write_text("not a folder")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_INBOX: "a_file"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_INBOX: "inbox_not_creatable"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_INBOX: " uploads "}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (source,) = result["result"].subentries.values()
    assert source.data == {CONF_SOURCE: "folder", CONF_INBOX: "uploads"}
    assert (config_dir / "uploads").is_dir()


@pytest.mark.parametrize(
    ("inbox", "error"),
    [
        ("", "inbox_holds_config"),
        (" . ", "inbox_holds_config"),
        ("..", "inbox_holds_config"),
        ("/", "inbox_holds_config"),
        ("uploads\x00", "inbox_not_creatable"),
    ],
)
async def test_an_inbox_that_would_empty_home_assistants_folder_is_refused(
    hass: HomeAssistant, config_dir: Path, inbox: str, error: str
) -> None:
    """Files in an inbox are read and then deleted: never Home Assistant's own.

    An empty or "." inbox is the configuration folder itself (``www/`` would
    pass for a camera); a folder above it holds it. A NUL character is no
    path at all.
    """
    (config_dir / "www").mkdir()
    (config_dir / "www" / "floorplan.png").write_bytes(b"png")
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "folder"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_INBOX: inbox}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_INBOX: error}
    # configuration.yaml's inbox is taken as written (the form strips spaces).
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_IMPORT}, data={CONF_INBOX: inbox.strip()}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == error
    assert (config_dir / "www" / "floorplan.png").exists()


async def test_yaml_inbox_is_imported_once(
    hass: HomeAssistant, config_dir: Path
) -> None:
    """configuration.yaml's inbox becomes one entry; importing it again changes nothing."""
    for _ in range(2):
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_IMPORT}, data={CONF_INBOX: "plate_inbox"}
        )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "single_instance_allowed"
    (entry,) = hass.config_entries.async_entries(DOMAIN)
    assert [source.data for source in entry.subentries.values()] == [
        {CONF_SOURCE: "folder", CONF_INBOX: "plate_inbox"}
    ]


async def test_options_flow_validates_and_saves(
    hass: HomeAssistant, folder_entry: MockConfigEntry
) -> None:
    """Options are checked (a pattern without a camera group is useless) and then saved."""
    folder_entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(folder_entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "settings"}
    )
    assert result["type"] is FlowResultType.FORM
    options = {
        CONF_MIN_CONFIDENCE: 0.6,
        CONF_PUBLISH_AFTER: 2.0,
        CONF_REGIONS: [],
        CONF_QUEUE_SIZE: 16,
        CONF_THREADS: 2,
        CONF_PARALLEL_READS: 2,
        CONF_FILENAME_PATTERN: "^no_group_",
        CONF_KEEP_FILES: True,
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], options
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {
        CONF_REGIONS: "no_regions",
        CONF_FILENAME_PATTERN: "invalid_pattern",
    }

    options |= {
        CONF_REGIONS: ["ua", "eu"],
        CONF_FILENAME_PATTERN: r"^(?P<camera>\w+?)-",
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], options
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert folder_entry.options == options


@pytest.mark.usefixtures("mqtt_entry")
async def test_frigate_that_stops_answering_after_its_version(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> None:
    """A Frigate that answers its version but then times out is not reachable; the form says so and recovers."""
    aioclient_mock.get(f"{FRIGATE_URL}/api/version", text="0.16.0")
    aioclient_mock.get(f"{FRIGATE_URL}/api/stats", exc=TimeoutError())
    flow_id = await _frigate_form(hass)
    user_input = {CONF_FRIGATE_URL: FRIGATE_URL, CONF_MQTT_PREFIX: "frigate"}
    result = await hass.config_entries.flow.async_configure(flow_id, user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}

    aioclient_mock.clear_requests()
    aioclient_mock.get(f"{FRIGATE_URL}/api/version", text="0.16.0")
    aioclient_mock.get(f"{FRIGATE_URL}/api/stats", json={})
    result = await hass.config_entries.flow.async_configure(flow_id, user_input)
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.usefixtures("mqtt_entry")
async def test_frigate_behind_a_proxy_without_stats_is_accepted(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> None:
    """A proxy that forwards only some paths answers the stats oddly; the version proved it is Frigate, so it is accepted."""
    aioclient_mock.get(f"{FRIGATE_URL}/api/version", text="0.16.0")
    aioclient_mock.get(f"{FRIGATE_URL}/api/stats", status=404)
    flow_id = await _frigate_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_FRIGATE_URL: FRIGATE_URL, CONF_MQTT_PREFIX: "frigate"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize(
    ("step", "saved", "form"),
    [
        (
            "alerts",
            {CONF_KEEP_IMAGE_DAYS: 7},
            {
                CONF_ALERT_COOLDOWN: 300,
                CONF_URL_LIFETIME_HOURS: 24,
                CONF_KEEP_DAYS: 30,
                CONF_KEEP_HIT_DAYS: 365,
            },
        ),
        (
            "engine",
            {CONF_ENGINE_URL: "http://engine.test:8790", CONF_ENGINE_TOKEN: "s3cret"},
            {CONF_ENGINE_URL: " ", CONF_ENGINE_TOKEN: ""},
        ),
    ],
)
async def test_an_emptied_optional_field_removes_its_option(
    hass: HomeAssistant,
    folder_entry: MockConfigEntry,
    step: str,
    saved: dict[str, object],
    form: dict[str, object],
) -> None:
    """An empty optional field means its default, not the value it had.

    "Keep images" emptied means images are kept as long as their sighting;
    kept at its old value, pictures went on being deleted early. The other
    steps' options stay.
    """
    folder_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        folder_entry, options={**folder_entry.options, **saved}
    )
    result = await hass.config_entries.options.async_init(folder_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": step}
    )
    result = await hass.config_entries.options.async_configure(result["flow_id"], form)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert folder_entry.options.keys().isdisjoint(saved)
    assert folder_entry.options[CONF_MIN_CONFIDENCE] == 0.5


def _hub_with_inbox(
    hass: HomeAssistant, config_dir: Path, inbox: str
) -> MockConfigEntry:
    """Return a hub whose one inbox was added by an older version, its unique id as it was written."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Plate Tracker",
        data={},
        subentries_data=[
            ConfigSubentryData(
                subentry_type=SUBENTRY_SOURCE,
                title="Inbox",
                unique_id=f"folder:{config_dir / inbox}",
                data={CONF_SOURCE: SOURCE_FOLDER, CONF_INBOX: inbox},
            )
        ],
    )
    entry.add_to_hass(hass)
    return entry


async def _add_inbox(
    hass: HomeAssistant, entry: MockConfigEntry, inbox: str
) -> SubentryFlowResult:
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_SOURCE), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "folder"}
    )
    return await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_INBOX: inbox}
    )


@pytest.mark.parametrize(
    ("existing", "added"),
    [
        ("plate_inbox", "../{config}/plate_inbox"),
        ("../{config}/plate_inbox", "plate_inbox"),
        ("plate_inbox", "inbox_link"),
        ("plate_inbox", "{path}/plate_inbox"),
    ],
)
async def test_the_same_inbox_spelled_differently_is_refused(
    hass: HomeAssistant, config_dir: Path, existing: str, added: str
) -> None:
    """Two sources over one folder would read and store every upload twice.

    ``..``, a symlink or an absolute path must not hide that it is one folder,
    neither in the new source nor in an older one's unique id. The source
    itself may be reconfigured to its folder spelled another way.
    """
    (config_dir / "plate_inbox").mkdir()
    (config_dir / "inbox_link").symlink_to(config_dir / "plate_inbox")
    spell = {"config": config_dir.name, "path": config_dir}
    entry = _hub_with_inbox(hass, config_dir, existing.format(**spell))

    result = await _add_inbox(hass, entry, added.format(**spell))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert len(entry.subentries) == 1

    (subentry_id,) = entry.subentries
    result = await entry.start_subentry_reconfigure_flow(hass, subentry_id)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_INBOX: added.format(**spell)}
    )
    assert result["reason"] == "reconfigure_successful"
    resolved = (config_dir / "plate_inbox").resolve()
    assert entry.subentries[subentry_id].unique_id == f"folder:{resolved}"


@pytest.mark.parametrize(
    ("existing", "added"),
    [
        ("plate_inbox", "plate_inbox/bridge"),
        ("plate_inbox", "inbox_link/bridge"),
        ("uploads/gate", "uploads"),
    ],
)
async def test_an_inbox_inside_another_is_refused(
    hass: HomeAssistant, config_dir: Path, existing: str, added: str
) -> None:
    """An inbox inside another is read by both sources: every upload stored twice.

    The outer inbox takes the inner folder's name for a camera, so the second
    copy is a sighting of a camera that does not exist. The refused folder is
    not created (it would be such a camera's folder); another one is accepted.
    """
    (config_dir / existing).mkdir(parents=True)
    (config_dir / "inbox_link").symlink_to(config_dir / "plate_inbox")
    entry = _hub_with_inbox(hass, config_dir, existing)

    result = await _add_inbox(hass, entry, added)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_INBOX: "inbox_overlaps"}
    assert not (config_dir / "plate_inbox" / "bridge").exists()

    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_INBOX: "gate_inbox"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["unique_id"] == f"folder:{(config_dir / 'gate_inbox').resolve()}"


SECOND_FRIGATE = "http://192.0.2.10:5000"


async def _frigate_step(
    hass: HomeAssistant, result: SubentryFlowResult | ConfigFlowResult, prefix: str
) -> SubentryFlowResult:
    return await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {CONF_FRIGATE_URL: SECOND_FRIGATE, CONF_MQTT_PREFIX: prefix},
    )


@pytest.mark.usefixtures("mqtt_entry")
async def test_a_second_frigate_on_the_same_prefix_is_refused(
    hass: HomeAssistant,
    frigate_entry: MockConfigEntry,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    """Two Frigate sources on one MQTT prefix both handle every event.

    The same Frigate by its IP address, or a second one left at the default
    prefix: each pass would be downloaded, read, stored and announced twice.
    The prefix is refused before Frigate is asked anything; the source keeps
    its own prefix when reconfigured.
    """
    frigate_entry.add_to_hass(hass)
    aioclient_mock.get(f"{SECOND_FRIGATE}/api/version", text="0.16.0")
    aioclient_mock.get(f"{SECOND_FRIGATE}/api/stats", json={})
    result = await hass.config_entries.subentries.async_init(
        (frigate_entry.entry_id, SUBENTRY_SOURCE), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "frigate"}
    )
    result = await _frigate_step(hass, result, "/frigate/")
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_MQTT_PREFIX: "prefix_in_use"}
    assert aioclient_mock.call_count == 0

    result = await _frigate_step(hass, result, "garage")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (added,) = (
        subentry.subentry_id
        for subentry in frigate_entry.subentries.values()
        if subentry.unique_id == f"frigate:{SECOND_FRIGATE}"
    )

    result = await frigate_entry.start_subentry_reconfigure_flow(hass, added)
    result = await _frigate_step(hass, result, "frigate")
    assert result["errors"] == {CONF_MQTT_PREFIX: "prefix_in_use"}
    result = await _frigate_step(hass, result, "garage/")
    assert result["reason"] == "reconfigure_successful"
    assert len(frigate_entry.subentries) == 2


@pytest.mark.usefixtures("mqtt_entry")
@pytest.mark.parametrize("field", [CONF_MQTT_PREFIX, CONF_FRIGATE_URL])
async def test_text_home_assistant_cannot_save_is_refused_on_the_form(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, field: str
) -> None:
    """A lone surrogate (valid JSON from the API) never reaches a config entry.

    Home Assistant saves every integration's config entries in one JSON file,
    which cannot hold it: once such text is in a source, no later change of
    any config entry is saved, and a restart loses them all.
    """
    fake_authenticated_frigate(aioclient_mock, AUTH_URL, accepted="s3cret")
    flow_id = await _frigate_form(hass)
    user_input = {
        CONF_FRIGATE_URL: AUTH_URL,
        CONF_MQTT_PREFIX: "frigate",
        CONF_USERNAME: "police",
        CONF_PASSWORD: "s3cret",
    }
    result = await hass.config_entries.flow.async_configure(
        flow_id, user_input | {field: f"{user_input[field]}/\udc80"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {field: "text_not_storable"}

    result = await hass.config_entries.flow.async_configure(flow_id, user_input)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert json_bytes(result["result"].as_storage_fragment)


async def test_an_inbox_home_assistant_cannot_save_is_refused(
    hass: HomeAssistant, folder_entry: MockConfigEntry, config_dir: Path
) -> None:
    r"""A folder name with an undecodable byte (``\udc80``) is a folder to the OS, yet no JSON.

    Saved as a source, it would stop Home Assistant saving any config entry.
    """
    folder_entry.add_to_hass(hass)
    result = await _add_inbox(hass, folder_entry, "gate_\udc80")
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_INBOX: "text_not_storable"}
    assert len(folder_entry.subentries) == 1


async def test_an_engine_token_home_assistant_cannot_save_is_refused(
    hass: HomeAssistant, folder_entry: MockConfigEntry
) -> None:
    """Options are saved in the same JSON file as every config entry: a lone surrogate is named on the form.

    Saved, it would stop Home Assistant saving any config entry; sent in the
    engine's Authorization header, it crashed the flow before that.
    """
    folder_entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(folder_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "engine"}
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_ENGINE_URL: "http://engine.test:8790", CONF_ENGINE_TOKEN: "s\udc80"},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_ENGINE_TOKEN: "text_not_storable"}
    assert CONF_ENGINE_TOKEN not in folder_entry.options


@pytest.mark.parametrize(
    "pattern",
    [
        # re.compile raises OverflowError for a count past its limit...
        r"^(?P<camera>\w{4294967296})",
        # ...and RecursionError for groups nested deeper than Python recurses.
        "(" * 2000 + "?P<camera>x" + ")" * 2000,
    ],
)
async def test_a_filename_pattern_python_cannot_compile_is_named_on_the_form(
    hass: HomeAssistant, folder_entry: MockConfigEntry, pattern: str
) -> None:
    """A pattern ``re`` refuses with OverflowError or RecursionError is an invalid pattern, not a crash.

    Only re.error was expected: the step failed with "Unknown error" and the
    settings typed on the form were lost.
    """
    folder_entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(folder_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "settings"}
    )
    options = {
        CONF_MIN_CONFIDENCE: 0.6,
        CONF_PUBLISH_AFTER: 2.0,
        CONF_REGIONS: ["ua"],
        CONF_QUEUE_SIZE: 16,
        CONF_THREADS: 2,
        CONF_PARALLEL_READS: 2,
        CONF_FILENAME_PATTERN: pattern,
        CONF_KEEP_FILES: False,
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], options
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_FILENAME_PATTERN: "invalid_pattern"}

    options[CONF_FILENAME_PATTERN] = r"^(?P<camera>\w+?)-"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], options
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert folder_entry.options == options


@pytest.mark.usefixtures("mqtt_entry")
@pytest.mark.parametrize("prefix", ["frig\x00ate", "frig\x01ate", "frigate\x7f"])
async def test_a_prefix_mqtt_cannot_subscribe_to_is_refused(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, prefix: str
) -> None:
    """A prefix with a NUL or control character is no MQTT topic: named on the form, before Frigate is asked.

    Home Assistant's MQTT integration refuses such a topic in its own
    services; a broker closes the connection of a client that sends a NUL in
    a topic (MQTT 3.1.1, 1.5.3), which here would be Home Assistant's only one.
    """
    aioclient_mock.get(f"{FRIGATE_URL}/api/version", text="0.16.0")
    aioclient_mock.get(f"{FRIGATE_URL}/api/stats", json={})
    flow_id = await _frigate_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_FRIGATE_URL: FRIGATE_URL, CONF_MQTT_PREFIX: prefix}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_MQTT_PREFIX: "invalid_mqtt_prefix"}
    assert aioclient_mock.call_count == 0

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_FRIGATE_URL: FRIGATE_URL, CONF_MQTT_PREFIX: "frigate"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
