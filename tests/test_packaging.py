"""What hassfest and HACS check in a custom integration's files, checked here without them."""

from __future__ import annotations

import json
from pathlib import Path

from awesomeversion import AwesomeVersion
import hass_frontend
import yaml

REPO = Path(__file__).parent.parent
MANIFEST = REPO / "custom_components" / "plate_tracker" / "manifest.json"


def test_manifest_keys_are_in_hassfests_order() -> None:
    """Hassfest refuses a manifest whose keys are not domain, name, then alphabetical."""
    keys = list(json.loads(MANIFEST.read_text()))
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])


def test_manifest_has_what_a_custom_integration_needs() -> None:
    """Home Assistant refuses to load a custom integration without a valid version."""
    manifest = json.loads(MANIFEST.read_text())
    for key in ("codeowners", "documentation", "issue_tracker", "iot_class"):
        assert manifest[key], key
    assert AwesomeVersion(manifest["version"]).valid
    hacs = json.loads((REPO / "hacs.json").read_text())
    assert AwesomeVersion(hacs["homeassistant"]).valid
    assert hacs["name"] == manifest["name"]


def test_every_action_has_an_icon_that_exists() -> None:
    """Each action shows an icon in the UI's action picker; a name MDI lacks shows none.

    The icon names are checked against the Material Design Icons list that
    Home Assistant's own frontend (installed for the card's browser test) ships.
    """
    integration = MANIFEST.parent
    icons = json.loads((integration / "icons.json").read_text())
    services = yaml.safe_load((integration / "services.yaml").read_text())
    assert set(icons["services"]) == set(services)

    def names(node: object) -> list[str]:
        if isinstance(node, dict):
            return [name for value in node.values() for name in names(value)]
        return [node] if isinstance(node, str) else []

    known = {
        icon["name"]
        for icon in json.loads(
            (
                Path(hass_frontend.where()) / "static" / "mdi" / "iconList.json"
            ).read_text()
        )
    }
    used = names(icons)
    assert len(used) > len(services)
    assert [name for name in used if name.removeprefix("mdi:") not in known] == []
