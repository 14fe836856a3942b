"""What hassfest and HACS check in a custom integration's files, checked here without them."""

from __future__ import annotations

import json
from pathlib import Path

from awesomeversion import AwesomeVersion

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
