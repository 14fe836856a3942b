"""Whether a connection a source depends on works, judged from its recent results.

Plain Python, no Home Assistant imports. One failed snapshot download is not an
outage (Frigate may have just deleted the event); several in a row are. A
refused login is an outage at once: trying again will not fix a password.
"""

from __future__ import annotations

from dataclasses import dataclass

FAILURES_UNTIL_UNAVAILABLE = 3


@dataclass(slots=True)
class ConnectionHealth:
    """The state of one connection (an NVR's API, the MQTT broker)."""

    failures_until_unavailable: int = FAILURES_UNTIL_UNAVAILABLE
    available: bool | None = None
    """None until the first result."""
    consecutive_failures: int = 0
    last_error: str | None = None
    auth_failed: bool = False
    """The last failure was a refused login (the user must fix the credentials)."""

    def succeeded(self) -> bool:
        """Record a working request; return True when the connection came back."""
        changed = self.available is not True
        self.available = True
        self.consecutive_failures = 0
        self.last_error = None
        self.auth_failed = False
        return changed

    def failed(self, error: str, *, auth: bool = False) -> bool:
        """Record a failure; return True when the connection just became unavailable.

        Also True when a connection already down starts refusing the login: a
        server back with a new token, an NVR back with a changed password. That
        needs the user, where waiting fixed an outage.
        """
        self.consecutive_failures += 1
        self.last_error = error
        newly_refused = auth and not self.auth_failed
        self.auth_failed = auth
        if self.available is False:
            return newly_refused
        if auth or self.consecutive_failures >= self.failures_until_unavailable:
            self.available = False
            return True
        return False

    def set_connected(self, connected: bool) -> bool:
        """Take a state reported by someone else (MQTT); return True when it changed."""
        changed = self.available is not connected
        self.available = connected
        return changed
