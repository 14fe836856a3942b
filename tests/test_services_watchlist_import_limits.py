"""``watchlist_import`` takes no label or reason that ``watchlist_add`` would refuse."""

from __future__ import annotations

from homeassistant.auth.models import User
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .helpers import call


async def test_an_import_with_an_over_long_reason_imports_nothing(
    hass: HomeAssistant, init_folder: MockConfigEntry, hass_admin_user: User
) -> None:
    """All or nothing, as for any bad row: the row is named, and no entry of the file is listed.

    The import listed a reason of any length, which ``watchlist_add`` refuses
    above 500 characters; the text went into the audit log kept for good.
    """
    text = f"plate,reason\nKA0001OO,case 12\nAE1234BK,{'x' * 501}\n"
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "watchlist_import", {"csv": text}, hass_admin_user)
    assert err.value.translation_key == "watchlist_import_invalid"
    assert err.value.translation_placeholders == {
        "count": "1",
        "errors": f"line 3, reason: text_too_long ({'x' * 40 + '…'!r})",
    }
    assert init_folder.runtime_data.alerts.entries == []
