"""Repair flows: the watchlist entries a damaged database lost, listed again in one step.

When a damaged database is set aside (``database.py``), watchlist entries on
its damaged pages cannot be carried over: their labels, priorities and times
are gone, but the watchlist's index still names their plates. Until they are
listed again those vehicles raise no alert, so the issue offers to add them
all back at once, at the priority the operator picks; labels and times can be
edited afterwards. The issue holds only the kept file's name: the plates come
from the integration's storage (``database.py``) and are shown by this flow.
"""

from __future__ import annotations

from functools import partial
import sqlite3
from typing import Any

from homeassistant import data_entry_flow
from homeassistant.components.repairs import RepairsFlow
from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import (
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
from homeassistant.util import dt as dt_util
import voluptuous as vol

from .config_flow import flow_user_id
from .coordinator import loaded_hub
from .database import (
    async_forget_lost_watchlist,
    async_lost_watchlist,
    plates_of_issue_data,
)
from .records import Priority, WatchlistEntry
from .store import AuditLine, StoreValidationError

RESTORED_LABEL = "Re-added after database damage"
"""The label of an entry listed again from its plate alone (the operator's to change)."""


async def async_create_fix_flow(
    _hass: HomeAssistant,
    _issue_id: str,
    data: dict[str, str | int | float | None] | None,
) -> RepairsFlow:
    """Return the flow that fixes an issue (only lost watchlist entries are fixable)."""
    return WatchlistRestoreFlow(data or {})


class WatchlistRestoreFlow(RepairsFlow):
    """Add the plates of the lost watchlist entries back to the watchlist."""

    _plates: list[str]

    def __init__(self, data: dict[str, str | int | float | None]) -> None:
        """Keep the issue's data: the name of the kept file the plates were lost with."""
        self._data = data
        self._kept = str(data.get("kept") or "")

    async def async_step_init(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002 - Home Assistant calls steps with it
    ) -> data_entry_flow.FlowResult:
        """Load the lost plates, then ask for the confirmation."""
        if "plates" in self._data:
            # An issue of an older version, not rewritten yet (the hub has not started since).
            self._plates = plates_of_issue_data(self._data["plates"])
        else:
            self._plates = await async_lost_watchlist(self.hass, self._kept)
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> data_entry_flow.FlowResult:
        """Show the plates; on submit, list each again at the chosen priority."""
        if not self._plates:
            return self.async_abort(reason="nothing_to_restore")
        if user_input is not None:
            entry = loaded_hub(self.hass)
            if entry is None:
                return self.async_abort(reason="not_loaded")
            store = entry.runtime_data.store
            priority = Priority(user_input["priority"])
            # Read here, on the event loop: the audit line is made in the executor.
            user_id = flow_user_id()

            def audit_line(
                added: list[WatchlistEntry], already: list[str]
            ) -> AuditLine:
                return AuditLine(
                    user_id=user_id,
                    action="watchlist_add",
                    details={
                        "plates": [listed.plate for listed in added],
                        "already_listed": already,
                        "priority": priority.value,
                        "via": "repair_flow",
                        "kept": self._kept,
                    },
                    reason=None,
                    at=dt_util.utcnow(),
                )

            try:
                # All in one transaction with the audit line: a failure lists
                # none of them, so the repair can simply be run again. A plate
                # listed again by hand meanwhile keeps its entry as it is.
                await self.hass.async_add_executor_job(
                    partial(
                        store.watchlist_add_unlisted,
                        [
                            WatchlistEntry(
                                id=None,
                                plate=plate,
                                label=RESTORED_LABEL,
                                reason=f"lost with the damaged database {self._kept}",
                                priority=priority,
                            )
                            for plate in self._plates
                        ],
                        audit=audit_line,
                    )
                )
            except (sqlite3.Error, StoreValidationError) as err:
                # StoreValidationError: a plate the damaged file's index kept
                # mangled; none is listed, and the error names it.
                return self.async_abort(
                    reason="store_failed", description_placeholders={"error": str(err)}
                )
            finally:
                await entry.runtime_data.alerts.async_reload_watchlist()
            await async_forget_lost_watchlist(self.hass, self._kept)
            return self.async_create_entry(data={})
        return self.async_show_form(
            step_id="confirm",
            data_schema=vol.Schema(
                {
                    vol.Required("priority", default=Priority.HIGH.value): (
                        SelectSelector(
                            SelectSelectorConfig(
                                options=[priority.value for priority in Priority],
                                mode=SelectSelectorMode.DROPDOWN,
                                translation_key="priority",
                            )
                        )
                    )
                }
            ),
            description_placeholders={
                "plates": ", ".join(self._plates),
                "count": str(len(self._plates)),
            },
        )
