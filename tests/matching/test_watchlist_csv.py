"""Tests of watchlist CSV import and export."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, tzinfo
from zoneinfo import ZoneInfo

import pytest

from custom_components.plate_tracker.matching.errors import ValidationKey
from custom_components.plate_tracker.matching.watchlist import (
    KnownCameras,
    match_watchlist,
)
from custom_components.plate_tracker.matching.watchlist_csv import (
    RowError,
    format_watchlist_csv,
    parse_watchlist_csv,
)
from custom_components.plate_tracker.records import Priority, WatchlistEntry

HEADER = (
    "plate,label,reason,priority,expires_at,cameras,active_from,active_until,enabled\n"
)
KYIV = ZoneInfo("Europe/Kyiv")
CAMERAS = {
    "north_exit": "North exit",
    "bridge": "Bridge",
    "gate": "gate",
}
"""The cameras of the city: id -> display name, as the hub gives them to an import."""


def read_csv(
    text: str, *, default_tz: tzinfo | None = None
) -> tuple[list[WatchlistEntry], list[RowError]]:
    """Parse ``text`` in the city of CAMERAS."""
    return parse_watchlist_csv(
        text, known_cameras=KnownCameras(CAMERAS), default_tz=default_tz
    )


def errors_of(text: str) -> list[tuple[int, str | None, ValidationKey]]:
    """Parse and return (line, column, key) of every error."""
    _, errors = read_csv(text)
    return [(error.line, error.column, error.translation_key) for error in errors]


def test_full_row_is_read() -> None:
    """Every column of a well-formed file must reach the entry, in canonical form."""
    entries, errors = read_csv(
        HEADER + "ае 1234 вк,Stolen Skoda,case 42,CRITICAL,2026-12-31T23:59:00+02:00,"
        "north_exit; bridge ;,22:00,6:30,no\n"
    )
    assert errors == []
    assert entries == [
        WatchlistEntry(
            id=None,
            plate="AE1234BK",
            label="Stolen Skoda",
            reason="case 42",
            priority=Priority.CRITICAL,
            expires_at=datetime(2026, 12, 31, 21, 59, tzinfo=UTC),
            cameras=("north_exit", "bridge"),
            active_from=time(22, 0),
            active_until=time(6, 30),
            enabled=False,
        )
    ]


def test_minimal_file_takes_defaults() -> None:
    """A list typed by hand often has only plates; empty cells must mean the defaults."""
    entries, errors = read_csv("Plate\nAE1234BK\nKA*77\n")
    assert errors == []
    assert entries == [
        WatchlistEntry(id=None, plate="AE1234BK"),
        WatchlistEntry(id=None, plate="KA*77"),
    ]


def test_every_bad_row_is_reported_with_line_and_column() -> None:
    """The person fixing a 500-row spreadsheet needs every mistake at once, located exactly."""
    text = (
        HEADER
        + "AE1234BK,ok,,high,,,,,\n"
        + "\n"
        + "AE#1,bad plate,,,,,,,\n"
        + ",no plate,,urgent,tomorrow,,25:00,8:00,maybe\n"
        + '"KA 0001 AA","multi\nline label",,info,2026-12-31,,,,\n'
        + "*,too broad,,,,,,,\n"
        + "AE1234BK,ok,,,,,,,,extra\n"
    )
    assert errors_of(text) == [
        (4, "plate", ValidationKey.PLATE_INVALID_CHARACTERS),
        (5, "plate", ValidationKey.PLATE_EMPTY),
        (5, "priority", ValidationKey.PRIORITY_INVALID),
        (5, "expires_at", ValidationKey.EXPIRES_AT_INVALID),
        (5, "active_from", ValidationKey.TIME_INVALID),
        (5, "enabled", ValidationKey.ENABLED_INVALID),
        (6, "expires_at", ValidationKey.EXPIRES_AT_NEEDS_TIMEZONE),
        (8, "plate", ValidationKey.PATTERN_TOO_BROAD),
        (9, None, ValidationKey.CSV_TOO_MANY_FIELDS),
    ]


def test_error_carries_value_and_placeholders() -> None:
    """The error report must show what was typed and why it is wrong, in JSON for the service."""
    _, errors = read_csv("plate,priority\nAE1234BK,urgent\n")
    assert [error.to_dict() for error in errors] == [
        {
            "line": 2,
            "column": "priority",
            "error": "priority_invalid",
            "value": "urgent",
            "placeholders": {"allowed": "info, high, critical"},
        }
    ]


def test_good_rows_are_returned_alongside_errors() -> None:
    """The caller decides all-or-nothing; it still needs to know which rows were fine."""
    entries, errors = read_csv("plate\nAE1234BK\n*\n")
    assert [entry.plate for entry in entries] == ["AE1234BK"]
    assert len(errors) == 1


def test_naive_expiry_uses_the_given_zone() -> None:
    """A spreadsheet date has no zone; the home's zone is what the person meant."""
    entries, errors = read_csv(
        "plate,expires_at\nAE1234BK,2026-07-01 00:00\n", default_tz=KYIV
    )
    assert errors == []
    assert entries[0].expires_at == datetime(2026, 6, 30, 21, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", [(1, None, ValidationKey.CSV_EMPTY)]),
        ("\ufeff \n", [(1, None, ValidationKey.CSV_EMPTY)]),
        ("label\nfoo\n", [(1, "plate", ValidationKey.CSV_MISSING_PLATE_COLUMN)]),
        (
            "plate,expiry\nAE1234BK,2026-12-31\n",
            [(1, "expiry", ValidationKey.CSV_UNKNOWN_COLUMN)],
        ),
        (
            "plate,label,label\nAE1234BK,a,b\n",
            [(1, "label", ValidationKey.CSV_DUPLICATE_COLUMN)],
        ),
        (
            'plate,label\nAE1234BK,"unterminated\n',
            [(2, None, ValidationKey.CSV_MALFORMED)],
        ),
    ],
)
def test_file_level_errors(
    text: str, expected: list[tuple[int, str | None, ValidationKey]]
) -> None:
    """A misspelt column must not silently drop data, and a broken file must say where."""
    assert errors_of(text) == expected


def test_semicolon_separated_file_from_a_european_spreadsheet() -> None:
    """Spreadsheets in Ukrainian and most EU locales save CSV with ``;``; it must import."""
    entries, errors = read_csv(
        '\ufeffplate;label;cameras\r\nAE1234BK;Skoda;"gate;bridge"\r\n'
    )
    assert errors == []
    assert entries == [
        WatchlistEntry(
            id=None, plate="AE1234BK", label="Skoda", cameras=("gate", "bridge")
        )
    ]


def test_trailing_unnamed_columns_are_ignored() -> None:
    """Spreadsheets add empty columns after the last one; they must not fail the import."""
    entries, errors = read_csv("plate,label,,\nAE1234BK,Skoda,,\n")
    assert errors == []
    assert entries == [WatchlistEntry(id=None, plate="AE1234BK", label="Skoda")]


ENTRIES = [
    WatchlistEntry(
        id=7,
        plate="AE1234BK",
        label='Skoda "Octavia", grey',
        reason='=HYPERLINK("http://evil")',
        priority=Priority.CRITICAL,
        expires_at=datetime(2026, 12, 31, 21, 59, 30, 250, tzinfo=UTC),
        cameras=("north_exit", "bridge"),
        active_from=time(22, 0),
        active_until=time(6, 0, 15),
        enabled=False,
    ),
    WatchlistEntry(id=8, plate="AE*BK", label="'quoted' label", reason="-"),
    WatchlistEntry(
        id=9, plate="KA0001AA", label="line one\nline two", priority=Priority.INFO
    ),
]


def test_export_round_trips() -> None:
    """Export then import must give the same list, or a backup would silently lose data."""
    entries, errors = read_csv(format_watchlist_csv(ENTRIES))
    assert errors == []
    assert entries == [replace(entry, id=None) for entry in ENTRIES]


def test_export_defuses_spreadsheet_formulas() -> None:
    """An exported list opened in a spreadsheet must not run a formula someone typed as a reason."""
    exported = format_watchlist_csv(ENTRIES)
    assert ",'=HYPERLINK" in exported.replace('"', "")
    assert ",'-" in exported


def test_export_header_and_empty_list() -> None:
    """An empty watchlist still exports a header, so the file is a usable template."""
    assert format_watchlist_csv([]) == HEADER
    assert read_csv(HEADER) == ([], [])


def test_row_error_is_frozen() -> None:
    """Errors are reported values; a caller must not be able to rewrite them."""
    error = RowError(line=2, column="plate", translation_key=ValidationKey.PLATE_EMPTY)
    with pytest.raises(AttributeError):
        error.line = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    "text",
    [
        "plate;cameras\nAE1234BK;gate,bridge\n",
        'plate,cameras\nAE1234BK,"gate, bridge"\n',
        "plate,cameras\nAE1234BK,gate bridge\n",
    ],
)
def test_cameras_listed_with_commas_or_spaces_are_each_a_camera(text: str) -> None:
    """People list cameras in a cell the way they write lists: ``gate, bridge``.

    No camera name holds a comma or a space (letters, digits, ``_`` and ``-``),
    so read as one camera such a cell limited the entry to a camera that does
    not exist, and the wanted car went unreported at every camera.
    """
    entries, errors = read_csv(text)
    assert errors == []
    assert [entry.cameras for entry in entries] == [("gate", "bridge")]
    hits = match_watchlist(
        entries,
        plate="AE1234BK",
        alternatives=(),
        camera="gate",
        at=datetime(2026, 6, 1, 12, 0, tzinfo=UTC),
        tz=KYIV,
    )
    assert len(hits) == 1


def test_values_under_an_unnamed_trailing_column_are_refused() -> None:
    """A value typed in a column whose header was left empty must not be dropped silently.

    Here the expiry and ``enabled`` of a closed case sit under unnamed columns;
    dropped, the entry came in enabled and never expiring, and the police would
    be paged for a car nobody wants any more.
    """
    assert errors_of("plate,label,,\nAE1234BK,Skoda,2026-01-01T00:00Z,no\n") == [
        (2, None, ValidationKey.CSV_TOO_MANY_FIELDS)
    ]


def test_an_unknown_camera_is_a_row_error_at_its_line_and_column() -> None:
    """A misspelt camera must fail the import, not list an entry that never alerts.

    Imported as it was, ``brige`` limited the entry to a camera that does not
    exist, and the wanted car went unreported everywhere without a word.
    """
    entries, errors = read_csv("plate,cameras\nAE1234BK,gate\nKA0001OO,brige;gate\n")
    assert [entry.plate for entry in entries] == ["AE1234BK"]
    assert [error.to_dict() for error in errors] == [
        {
            "line": 3,
            "column": "cameras",
            "error": "camera_unknown",
            "value": "brige;gate",
            "placeholders": {
                "cameras": "brige",
                "known": "bridge (Bridge), gate, north_exit (North exit)",
            },
        }
    ]


def test_cameras_named_as_shown_are_read_as_their_ids() -> None:
    """People type the names the UI shows, in any case; sightings carry the camera's id.

    A display name may hold a space, so ``North exit`` is one camera, while
    ``gate bridge`` (no camera as a whole) is two.
    """
    entries, errors = read_csv(
        "plate;cameras\nAE1234BK;North exit, BRIDGE\nKA0001OO;gate bridge north_exit\n"
    )
    assert errors == []
    assert [entry.cameras for entry in entries] == [
        ("north_exit", "bridge"),
        ("gate", "bridge", "north_exit"),
    ]
