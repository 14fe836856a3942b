"""Every service, called with thousands of broken variants of good data, answers clearly.

Scripts, automations and the developer tools send anything YAML can say. A
service may succeed, or refuse: by its schema (``vol.Invalid``, which names the
field) or with a translated error. Anything else (an OverflowError from SQLite
or from date arithmetic, a TypeError deep in a handler) reaches the user as an
untranslated "unknown error", and is a bug this test finds.
"""

from __future__ import annotations

import copy
import logging
import math
from pathlib import Path
import random
from typing import Any

from homeassistant.auth.models import User
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
import pytest
import voluptuous as vol

from .helpers import call, record_and_announce
from .store.conftest import sighting

REASON = "case 42"

HOSTILE: tuple[Any, ...] = (
    None,
    True,
    0,
    -1,
    10**400,
    -(10**400),
    2**63,
    1e308,
    math.nan,
    math.inf,
    -math.inf,
    0.5,
    "",
    " ",
    "x" * 5000,
    "AE1234BK",
    "A\x00B",
    "😀",
    # Valid JSON ("\ud800") from the websocket API: a lone surrogate, which
    # UTF-8, and so SQLite and the audit log, cannot write.
    "AE\ud800",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "2026-13-45",
    "25:61",
    "-1",
    "1e400",
    [],
    [1, 2, 3, 4],
    [0, 0, 10**400, 10**400],
    [None, "a", {}],
    {},
    {"a": 1},
)


def _base_data(allowed: Path) -> dict[str, dict[str, Any]]:
    """Return data each service accepts (the fuzz breaks one to three of its fields)."""
    return {
        "watchlist_add": {
            "plate": "AE1234BK",
            "label": "stolen",
            "reason": REASON,
            "priority": "high",
            "expires_at": "2030-01-01T00:00:00+00:00",
            "cameras": "bridge",
            "active_from": "08:00",
            "active_until": "20:00",
            "enabled": True,
        },
        "watchlist_remove": {"plate": "AE1234BK"},
        "watchlist_import": {"csv": "plate,label\nBC5512HP,van\n", "replace": False},
        "watchlist_export": {"file_path": str(allowed / "watchlist.csv")},
        "acknowledge_hit": {"hit_id": 1, "note": "seen"},
        "search_sightings": {
            "plate": "AE1234BK",
            "fuzzy": True,
            "since": "2026-01-01T00:00:00+00:00",
            "until": "2026-12-31T00:00:00+00:00",
            "cameras": "bridge",
            "min_confidence": 0.5,
            "reason": REASON,
            "sort": "newest",
            "page_size": 10,
        },
        "export_sightings": {
            "plate": "AE1234BK",
            "since": "2026-01-01T00:00:00+00:00",
            "reason": REASON,
            "folder": str(allowed),
        },
        "purge_sightings": {
            "plate": "ZZ0000ZZ",
            "until": "2000-01-01T00:00:00+00:00",
            "reason": REASON,
        },
        "set_legal_hold": {"sighting_ids": [1], "held": True, "reason": REASON},
        "audit_log": {
            "since": "2026-01-01T00:00:00+00:00",
            "action": "search",
            "limit": 10,
            "offset": 0,
        },
        "get_route": {
            "plate": "AE1234BK",
            "since": "2026-01-01T00:00:00+00:00",
            "trip_gap_minutes": 30,
            "max_sightings": 50,
            "include_lookalikes": True,
            "reason": REASON,
        },
        "where_is": {"plate": "AE1234BK", "reason": REASON},
        "read_plates": {
            "file_path": str(allowed / "missing.jpg"),
            "vehicle_box": [0, 0, 100, 100],
        },
    }


def _mutated(data: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Return ``data`` with one to three fields replaced by a hostile value or left out."""
    broken = copy.deepcopy(data)
    for _ in range(rng.randint(1, 3)):
        field = rng.choice(sorted(broken) or ["plate"])
        if broken and rng.random() < 0.15:
            broken.pop(field, None)
        else:
            broken[field] = copy.deepcopy(rng.choice(HOSTILE))
    return broken


@pytest.mark.usefixtures("init_folder")
async def test_broken_service_data_is_refused_clearly_never_crashes(
    hass: HomeAssistant,
    hass_admin_user: User,
    allowed_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each call succeeds, fails its schema, or raises a translated error; nothing is logged as a crash."""
    entry = hass.config_entries.async_entries("plate_tracker")[0]
    # Announced, so `bridge` is a known camera and watchlist_add's success path is fuzzed too.
    await record_and_announce(hass, entry, sighting())
    rng = random.Random(20261127)
    outcomes: dict[str, int] = {"ok": 0, "schema": 0, "translated": 0}
    caplog.set_level(logging.ERROR)
    for service, data in _base_data(allowed_dir).items():
        for _ in range(60):
            broken = _mutated(data, rng)
            try:
                await call(
                    hass,
                    service,
                    broken,
                    hass_admin_user,
                    response=service != "watchlist_remove",
                )
            except vol.Invalid:
                outcomes["schema"] += 1
            except HomeAssistantError as err:
                if not err.translation_key:
                    pytest.fail(
                        f"{service} {broken!r:.300} raised untranslated {err!r}"
                    )
                outcomes["translated"] += 1
            except Exception as err:  # noqa: BLE001 - the bug this test looks for
                pytest.fail(f"{service} {broken!r:.300} raised {err!r}")
            else:
                outcomes["ok"] += 1
    assert min(outcomes.values()) > 20, outcomes
    crashes = [
        record
        for record in caplog.records
        if record.levelno >= logging.ERROR and "plate_tracker" in record.name
    ]
    assert not crashes, [record.getMessage() for record in crashes]
