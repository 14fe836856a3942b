"""Fixtures shared by the Home Assistant tests, in the style of Home Assistant core."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from pathlib import Path

from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from custom_components.plate_tracker.const import (
    CONF_FRIGATE_URL,
    CONF_INBOX,
    CONF_MQTT_PREFIX,
    CONF_SOURCE,
    DOMAIN,
    SOURCE_FOLDER,
    SOURCE_FRIGATE,
    SUBENTRY_SOURCE,
)

from .engine.conftest import require_models

REPO = Path(__file__).resolve().parents[1]
MODEL_CACHE = REPO / "models" / "cache"
FRIGATE_URL = "http://frigate.test:5000"


@pytest.fixture(scope="session")
def model_cache() -> Path:
    """Return the folder of the verified recognition models (scripts/setup fetched them)."""
    require_models(MODEL_CACHE)
    return MODEL_CACHE


def _uses_hass(request: pytest.FixtureRequest) -> bool:
    """Tell Home Assistant tests from the plain engine, store and matching tests."""
    return "hass" in request.fixturenames


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(request: pytest.FixtureRequest) -> None:
    """Let Home Assistant load custom_components/plate_tracker (Home Assistant tests only)."""
    if _uses_hass(request):
        request.getfixturevalue("enable_custom_integrations")


@pytest.fixture(autouse=True)
def config_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """Give every Home Assistant test its own configuration folder, with the models in place.

    The database and the inbox are written there, never into the test package.
    Plain tests get the bare folder and no Home Assistant at all.
    """
    if not _uses_hass(request):
        return tmp_path
    hass: HomeAssistant = request.getfixturevalue("hass")
    model_cache: Path = request.getfixturevalue("model_cache")
    hass.config.config_dir = str(tmp_path)
    models = tmp_path / DOMAIN / "models"
    models.parent.mkdir(parents=True)
    models.symlink_to(model_cache, target_is_directory=True)
    return tmp_path


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Keep snapshots in tests/snapshots/ in Home Assistant's format on every supported line."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
def allowed_dir(hass: HomeAssistant, config_dir: Path) -> Path:
    """Make a folder the user listed in allowlist_external_dirs."""
    path = config_dir / "allowed"
    path.mkdir()
    hass.config.allowlist_external_dirs = {str(path)}
    return path


@pytest.fixture
def inbox(config_dir: Path) -> Path:
    """Create the inbox folder of the folder-source entry."""
    path = config_dir / "plate_inbox"
    path.mkdir()
    return path


@pytest.fixture
def folder_entry(inbox: Path) -> MockConfigEntry:
    """Return a folder-source entry, not yet added to Home Assistant."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Plate Tracker",
        data={},
        options={"min_confidence": 0.5},
        subentries_data=[
            ConfigSubentryData(
                subentry_type=SUBENTRY_SOURCE,
                title="Inbox plate_inbox",
                # Fixed, so snapshots keyed by source stay the same from run to run.
                subentry_id="folder_source_subentry",
                unique_id=f"folder:{inbox}",
                data={CONF_SOURCE: SOURCE_FOLDER, CONF_INBOX: "plate_inbox"},
            )
        ],
    )


@pytest.fixture
def frigate_entry() -> MockConfigEntry:
    """Return a Frigate-source entry, not yet added to Home Assistant."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Plate Tracker",
        data={},
        options={"min_confidence": 0.5, "publish_after": 3.0},
        subentries_data=[
            ConfigSubentryData(
                subentry_type=SUBENTRY_SOURCE,
                title="Frigate frigate.test",
                unique_id=f"frigate:{FRIGATE_URL}",
                data={
                    CONF_SOURCE: SOURCE_FRIGATE,
                    CONF_FRIGATE_URL: FRIGATE_URL,
                    CONF_MQTT_PREFIX: "frigate",
                },
            )
        ],
    )


@pytest.fixture
async def init_folder(
    hass: HomeAssistant, folder_entry: MockConfigEntry
) -> AsyncGenerator[MockConfigEntry]:
    """Set up a folder-source entry; unload it after the test."""
    folder_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(folder_entry.entry_id)
    await hass.async_block_till_done()
    yield folder_entry
    # Unload so the store is closed and its background tasks end with the test.
    await hass.config_entries.async_unload(folder_entry.entry_id)
    await hass.async_block_till_done()


@pytest.fixture
def no_inbox_poll_wait() -> Generator[None]:
    """Poll the inbox without waiting for uploads to settle (test files are complete)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            "custom_components.plate_tracker.sources.folder.SETTLE_SECONDS", 0.0
        )
        patch.setattr("custom_components.plate_tracker.source.INBOX_POLL_SECONDS", 0.05)
        yield
