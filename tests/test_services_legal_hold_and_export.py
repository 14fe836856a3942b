"""A legal hold is checked in its own transaction and bounded; a watchlist export replaces its file whole."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
import resource

from homeassistant.auth.models import User
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.plate_tracker.records import NewSighting, WatchlistEntry
from custom_components.plate_tracker.services import MAX_LEGAL_HOLD_IDS
from custom_components.plate_tracker.store import SightingStore

from .helpers import call

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


async def _sightings(
    hass: HomeAssistant, entry: MockConfigEntry, count: int
) -> list[int]:
    def record() -> list[int]:
        ids = []
        for index in range(count):
            sighting, _ = entry.runtime_data.store.record(
                NewSighting(
                    camera="bridge",
                    seen_at=NOW + timedelta(seconds=index),
                    plate=f"AE{index:04d}BK",
                    raw=f"AE{index:04d}BK",
                    confidence=0.9,
                    source="folder",
                )
            )
            assert sighting.id is not None
            ids.append(sighting.id)
        return ids

    return await hass.async_add_executor_job(record)


def _held(store: SightingStore, ids: list[int]) -> list[int]:
    return [
        sighting_id
        for sighting_id in ids
        if (sighting := store.get(sighting_id)) is not None and sighting.legal_hold
    ]


async def test_a_sighting_purged_just_before_the_hold_refuses_the_hold(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_admin_user: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A purge that commits between the check and the hold must not leave "changed: n-1".

    The ids were checked in one read and held in a later write: a purge in
    between erased one of them, and the call answered ``changed: 1`` for two
    sightings named, as if the other were held already. The officer trusted
    a hold on evidence that was gone. Checked in the hold's own transaction,
    the call is refused and names the missing sighting.
    """
    store = init_folder.runtime_data.store
    kept, purged = await _sightings(hass, init_folder, 2)
    hold = store.set_legal_hold

    def purge_then_hold(*args: object, **kwargs: object) -> int:
        # Retention or an officer's purge, committing just before the hold's transaction.
        assert store.purge(plate="AE0001BK") == 1
        return hold(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "set_legal_hold", purge_then_hold)
    with pytest.raises(ServiceValidationError) as err:
        await call(
            hass,
            "set_legal_hold",
            {"sighting_ids": [kept, purged], "reason": "case 9 evidence"},
            hass_admin_user,
        )
    assert err.value.translation_key == "sighting_not_found"
    assert err.value.translation_placeholders == {"sighting_id": str(purged)}
    assert await hass.async_add_executor_job(_held, store, [kept]) == []
    assert await hass.async_add_executor_job(store.audit_log) == []


async def test_missing_sightings_are_named_from_one_query(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_admin_user: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A page of ids is checked in one query, not a sighting read per id; the first ten missing are named.

    Reading each of 500 sightings whole (plate, camera, images) to learn that
    it exists held the executor for hundreds of reads.
    """
    store = init_folder.runtime_data.store
    ids = await _sightings(hass, init_folder, 3)

    def no_reads_one_by_one(_sighting_id: int) -> None:
        raise AssertionError("sightings were read one by one")

    monkeypatch.setattr(store, "get", no_reads_one_by_one)
    missing = list(range(ids[-1] + 1, ids[-1] + 13))
    with pytest.raises(ServiceValidationError) as err:
        await call(
            hass,
            "set_legal_hold",
            {"sighting_ids": [ids[0], *missing, missing[0]], "reason": "case 9"},
            hass_admin_user,
        )
    assert err.value.translation_key == "sighting_not_found"
    assert err.value.translation_placeholders == {
        "sighting_id": ", ".join(map(str, missing[:10])) + ", …"
    }
    assert await call(
        hass,
        "set_legal_hold",
        {"sighting_ids": ids, "reason": "case 9"},
        hass_admin_user,
    ) == {"changed": 3}


async def test_a_hold_names_at_most_a_page_of_sightings(
    hass: HomeAssistant, init_folder: MockConfigEntry, hass_admin_user: User
) -> None:
    """One call holds at most a search page of sightings, with a translated error beyond.

    Every id goes into the audit line, which is kept for good: a list of a
    million ids (a script's mistake) was checked and written whole.
    """
    store = init_folder.runtime_data.store
    ids = await _sightings(hass, init_folder, MAX_LEGAL_HOLD_IDS + 1)
    with pytest.raises(ServiceValidationError) as err:
        await call(
            hass,
            "set_legal_hold",
            {"sighting_ids": ids, "reason": "case 9 evidence"},
            hass_admin_user,
        )
    assert err.value.translation_key == "too_many_sightings"
    assert err.value.translation_placeholders == {
        "count": str(MAX_LEGAL_HOLD_IDS + 1),
        "maximum": str(MAX_LEGAL_HOLD_IDS),
    }
    assert await hass.async_add_executor_job(_held, store, ids) == []

    assert await call(
        hass,
        "set_legal_hold",
        {"sighting_ids": ids[:MAX_LEGAL_HOLD_IDS], "reason": "case 9 evidence"},
        hass_admin_user,
    ) == {"changed": MAX_LEGAL_HOLD_IDS}


def _names(folder: Path) -> list[str]:
    """Return the names in ``folder``: no unfinished file may stay behind."""
    return sorted(child.name for child in folder.iterdir())


@contextmanager
def _files_no_larger_than(size: int) -> Iterator[None]:
    """Let no file grow past ``size`` bytes, as a disk that fills up mid-write stops it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


async def test_a_watchlist_export_that_fails_midway_leaves_the_old_file_whole(
    hass: HomeAssistant,
    init_folder: MockConfigEntry,
    hass_admin_user: User,
    allowed_dir: Path,
) -> None:
    """A script reads the exported list from a fixed path: it must find the old list or the new one.

    The file was opened (and emptied) under its name and written in place:
    a disk that filled up midway left half a list there, and a script
    loading it dropped the other half's wanted cars.
    """
    store = init_folder.runtime_data.store
    for number in range(5):
        await hass.async_add_executor_job(
            store.watchlist_add,
            WatchlistEntry(
                id=None, plate=f"AE{number:04d}BK", label="Stolen", reason="case 12"
            ),
        )
    await init_folder.runtime_data.alerts.async_reload_watchlist()
    path = allowed_dir / "watchlist.csv"
    old = "plate\nKA0001OO\n"
    path.write_text(old, encoding="utf-8")
    with _files_no_larger_than(64), pytest.raises(HomeAssistantError) as err:
        await call(hass, "watchlist_export", {"file_path": str(path)}, hass_admin_user)
    assert err.value.translation_key == "export_failed"
    assert path.read_text(encoding="utf-8") == old
    assert _names(allowed_dir) == ["watchlist.csv"]

    response = await call(
        hass, "watchlist_export", {"file_path": str(path)}, hass_admin_user
    )
    assert path.read_text(encoding="utf-8") == response["csv"]
    assert response["csv"].count("\n") == 6
    assert _names(allowed_dir) == ["watchlist.csv"]
