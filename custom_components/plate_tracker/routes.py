"""Vehicle routes across cameras and city exits: Home Assistant glue around matching.journeys."""

from __future__ import annotations

from typing import Any

ROUTE_SERVICES: tuple[Any, ...] = ()
