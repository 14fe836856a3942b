"""A service call still running when the hub reloads finishes on the store it began with.

Changing an option reloads the hub, which closes its store. A watchlist import
whose write is under way then must not fail on a closed store ("the sighting
store is not open", untranslated), nor be written without its audit line.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .helpers import call, wait_until


async def test_an_import_running_while_the_hub_reloads_is_finished_and_audited(
    hass: HomeAssistant, init_folder: MockConfigEntry
) -> None:
    """The reload waits for the import; the import is stored, indexed and audited."""
    store = init_folder.runtime_data.store
    writing, release = threading.Event(), threading.Event()
    original = store.watchlist_replace_or_merge

    def slow_write(*args: Any, **kwargs: Any) -> Any:
        writing.set()
        release.wait(10)
        return original(*args, **kwargs)

    store.watchlist_replace_or_merge = slow_write  # type: ignore[method-assign]
    importing = hass.async_create_task(
        call(
            hass,
            "watchlist_import",
            {"csv": "plate,label\nBC5512HP,van\n", "replace": False},
        )
    )
    await wait_until(writing.is_set)
    reloading = hass.async_create_task(
        hass.config_entries.async_reload(init_folder.entry_id)
    )
    await asyncio.sleep(0.2)
    assert not reloading.done(), "the reload waits for the import under way"
    release.set()

    assert await importing == {"imported": 1, "total": 1}
    assert await reloading
    assert init_folder.state is ConfigEntryState.LOADED
    new_store = init_folder.runtime_data.store
    assert new_store is not store
    assert [entry.plate for entry in new_store.watchlist()] == ["BC5512HP"]
    assert [line.action for line in new_store.audit_log()] == ["watchlist_import"]


async def test_work_started_by_finishing_work_is_awaited_before_the_store_closes(
    hass: HomeAssistant, init_folder: MockConfigEntry
) -> None:
    """An unload waits for the work its tracked work starts as it finishes.

    A watchlist import finishing during the unload has the new vehicles
    located: tracked work started while the unload already waited. It ran on
    the closed store ("the sighting store is not open").
    """
    runtime = init_folder.runtime_data
    store, hub = runtime.store, runtime.hub
    release = asyncio.Event()
    outcome: list[Any] = []

    async def locate() -> None:
        await asyncio.sleep(0.1)
        try:
            outcome.append(await hass.async_add_executor_job(store.watchlist))
        except RuntimeError as err:
            outcome.append(err)

    async def importing() -> None:
        await release.wait()
        hub.async_run_tracked(locate(), "locate the new vehicles")

    hub.async_run_tracked(importing(), "an import under way")
    reloading = hass.async_create_task(
        hass.config_entries.async_reload(init_folder.entry_id)
    )
    await asyncio.sleep(0.1)
    release.set()
    assert await reloading
    assert outcome == [[]], outcome
