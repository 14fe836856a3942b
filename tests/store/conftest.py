"""Fixtures for the sightings store tests: real SQLite files in ``tmp_path``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
import sqlite3
from typing import Any

import pytest

from custom_components.plate_tracker.records import NewSighting
from custom_components.plate_tracker.store import SightingStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def sighting(**changes: Any) -> NewSighting:
    """Return a plausible new sighting with the given fields changed."""
    base = NewSighting(
        camera="bridge",
        seen_at=T0,
        plate="AE1234BK",
        raw="AE 1234 BK",
        confidence=0.9,
        source="folder",
    )
    return replace(base, **changes)


def minutes(count: float) -> timedelta:
    """Return a duration in minutes, to keep test timelines readable."""
    return timedelta(minutes=count)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Return where the test database lives."""
    return tmp_path / "plate_tracker" / "sightings.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SightingStore]:
    """Return an open store on a fresh file, closed after the test."""
    with SightingStore.open(db_path) as opened:
        yield opened


def damage_last_leaf(database: Path, table: str) -> int:
    """Overwrite the last leaf page of ``table``'s b-tree as a failing card would.

    Opening the store reads the first pages of every table (newer SQLite's
    ``PRAGMA optimize`` estimates their sizes from them), so damage there is
    found at once. The last leaf is where new rows go and what a full read
    ends with: damage a write or a later read finds. Returns its page number.
    The table must span more than one page; the file must have no WAL.
    """
    conn = sqlite3.connect(database)
    try:
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    finally:
        conn.close()
    root = page = table_root(database, table)
    with database.open("r+b") as file:
        while True:
            file.seek((page - 1) * page_size)
            data = file.read(page_size)
            header = 100 if page == 1 else 0
            if data[header] != _INTERIOR_TABLE_PAGE:
                break
            # An interior page's header ends with its right-most child's page number.
            page = int.from_bytes(data[header + 8 : header + 12], "big")
        assert data[header] == _LEAF_TABLE_PAGE, f"page {page} is no table leaf"
        assert page != root, f"{table} has a single page"
        file.seek((page - 1) * page_size)
        file.write(b"\xff" * page_size)
    return page


def table_pages(database: Path, table: str, kind: str) -> list[tuple[int, int]]:
    """Return ``(page number, cells)`` of ``table``'s pages of ``kind``, in b-tree order.

    ``kind`` is SQLite's ``dbstat`` page type: ``leaf``, ``internal`` or ``overflow``.
    """
    conn = sqlite3.connect(database)
    try:
        rows = conn.execute(
            "SELECT pageno, ncell FROM dbstat WHERE name = ? AND pagetype = ?"
            " ORDER BY path",
            (table, kind),
        ).fetchall()
    finally:
        conn.close()
    return [(int(page), int(cells)) for page, cells in rows]


def damage_page(database: Path, page: int) -> None:
    """Overwrite one page of ``database`` (which must have no WAL) with 0xff bytes."""
    conn = sqlite3.connect(database)
    try:
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    finally:
        conn.close()
    with database.open("r+b") as file:
        file.seek((page - 1) * page_size)
        file.write(b"\xff" * page_size)


_INTERIOR_TABLE_PAGE = 0x05
_LEAF_TABLE_PAGE = 0x0D


def table_root(database: Path, table: str) -> int:
    """Return the root page number of ``table``."""
    conn = sqlite3.connect(database)
    try:
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_schema WHERE name = ?", (table,)
        ).fetchone()
    finally:
        conn.close()
    return int(root)
