"""Import and export the watchlist as CSV, with a report of every bad row.

Police staff keep lists in spreadsheets. An import must say exactly which line
and column is wrong and why, and the caller applies it all or not at all, so a
half-imported list never silently misses a wanted car.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, tzinfo
import io
import re
from typing import Any

from ..records import Priority, WatchlistEntry
from .errors import MatchingValidationError, ValidationKey
from .watchlist import KnownCameras, parse_plate_or_pattern

COLUMNS = (
    "plate",
    "label",
    "reason",
    "priority",
    "expires_at",
    "cameras",
    "active_from",
    "active_until",
    "enabled",
)
"""Columns in the order export writes them; import accepts any order and subset with ``plate``."""
CAMERA_SEPARATOR = ";"
MAX_LABEL_LENGTH = 200
"""Characters a watchlist entry's label may have, however it is listed.

The label goes into every alert and, with the entry, into the audit log that
is kept for good: the service, the options form and an import take the same."""
MAX_REASON_LENGTH = 500
"""Characters a watchlist entry's reason may have (see ``MAX_LABEL_LENGTH``)."""
HEADER_LINE = 1

_TRUE = frozenset({"true", "yes", "1", "on"})
_FALSE = frozenset({"false", "no", "0", "off"})
_FIRST_LINE = re.compile(r"[^\r\n]*")
_CLOCK_TIME = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]))?")
# Spreadsheets run cells starting with these as formulas. Export prefixes such
# cells (and cells starting with the prefix itself) with an apostrophe, the
# spreadsheet convention for "text", and import removes it again.
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_TEXT_MARK = "'"


@dataclass(frozen=True, slots=True, kw_only=True)
class RowError:
    """One problem in an imported file."""

    line: int
    """1-based line in the file where the record starts (the header is line 1)."""
    column: str | None
    """The column at fault, or None when the whole row or file is."""
    translation_key: ValidationKey
    value: str = ""
    translation_placeholders: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-able form for a service response."""
        return {
            "line": self.line,
            "column": self.column,
            "error": self.translation_key.value,
            "value": self.value,
            "placeholders": dict(self.translation_placeholders),
        }


_SHOWN_TEXT = 40
"""Characters of an over-long cell a row error shows: enough to find the row."""


class _CellError(Exception):
    def __init__(
        self,
        key: ValidationKey,
        placeholders: dict[str, str] | None = None,
        *,
        shown: str | None = None,
    ) -> None:
        super().__init__(key)
        self.key = key
        self.placeholders = placeholders or {}
        self.shown = shown
        """The cell's value as the row error shows it, when not the whole cell."""


def parse_watchlist_csv(
    text: str, *, known_cameras: KnownCameras, default_tz: tzinfo | None = None
) -> tuple[list[WatchlistEntry], list[RowError]]:
    """Parse an exported or hand-written watchlist file.

    Returns the good entries (``id`` None) and one RowError per bad cell or
    row; the caller must refuse the whole import when any error is returned.
    The first row names the columns (any order, ``plate`` required, unknown
    names refused so that a misspelt ``expiry`` column is not silently
    dropped). Fields are comma-separated, or semicolon-separated when the
    header has no comma, as spreadsheets in many European locales save them.
    ``expires_at`` is ISO 8601; a time without zone is read in ``default_tz``
    and refused when it is None. ``cameras`` names cameras of
    ``known_cameras`` by id or display name (see ``KnownCameras.resolve``)
    and is read as their ids; any other name is refused. Empty cells take
    the entry's defaults.
    """
    text = text.removeprefix("\ufeff")
    if not text.strip():
        return [], [
            RowError(
                line=HEADER_LINE, column=None, translation_key=ValidationKey.CSV_EMPTY
            )
        ]
    header_line = _FIRST_LINE.match(text)
    header_text = header_line.group() if header_line else ""
    delimiter = ";" if "," not in header_text and ";" in header_text else ","
    # newline="" hands line ends to the csv module, which must see them inside quoted cells.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    errors: list[RowError] = []
    entries: list[WatchlistEntry] = []
    line = HEADER_LINE
    try:
        header = [name.strip().lower() for name in next(reader)]
        columns, header_errors = _read_header(header)
        errors.extend(header_errors)
        if columns is None:
            return [], errors
        named_width = max(
            (position + 1 for position, name in enumerate(header) if name), default=0
        )
        line = reader.line_num + 1
        for row in reader:
            if any(cell.strip() for cell in row):
                entry = _parse_row(
                    row,
                    columns=columns,
                    width=len(header),
                    named_width=named_width,
                    line=line,
                    known_cameras=known_cameras,
                    default_tz=default_tz,
                    errors=errors,
                )
                if entry is not None:
                    entries.append(entry)
            line = reader.line_num + 1
    except csv.Error as err:
        errors.append(
            RowError(
                line=line,
                column=None,
                translation_key=ValidationKey.CSV_MALFORMED,
                translation_placeholders={"detail": str(err)},
            )
        )
    return entries, errors


def _read_header(header: list[str]) -> tuple[dict[str, int] | None, list[RowError]]:
    """Map column names to positions; None when there is no plate column."""
    errors: list[RowError] = []
    columns: dict[str, int] = {}
    for position, name in enumerate(header):
        if not name:
            # Spreadsheets add unnamed columns after the last one; they carry nothing.
            continue
        if name not in COLUMNS:
            errors.append(_header_error(ValidationKey.CSV_UNKNOWN_COLUMN, name))
        elif name in columns:
            errors.append(_header_error(ValidationKey.CSV_DUPLICATE_COLUMN, name))
        else:
            columns[name] = position
    if "plate" not in columns:
        errors.append(_header_error(ValidationKey.CSV_MISSING_PLATE_COLUMN, "plate"))
    # Rows are read even when the header has errors, so one import attempt
    # reports every problem in the file.
    return (columns if "plate" in columns else None), errors


def _header_error(key: ValidationKey, name: str) -> RowError:
    return RowError(
        line=HEADER_LINE,
        column=name,
        translation_key=key,
        value=name,
        translation_placeholders={"column": name},
    )


def _parse_row(
    row: list[str],
    *,
    columns: dict[str, int],
    width: int,
    named_width: int,
    line: int,
    known_cameras: KnownCameras,
    default_tz: tzinfo | None,
    errors: list[RowError],
) -> WatchlistEntry | None:
    """Parse one record, appending an error for every bad cell; None if any."""
    # A value under the unnamed columns a spreadsheet adds after the last named
    # one (a header someone forgot to fill in) has no column to go to; dropped,
    # an expiry or ``enabled`` typed there would silently not apply.
    if len(row) > width or any(cell.strip() for cell in row[named_width:]):
        errors.append(
            RowError(
                line=line,
                column=None,
                translation_key=ValidationKey.CSV_TOO_MANY_FIELDS,
                translation_placeholders={
                    "expected": str(named_width),
                    "found": str(len(row)),
                },
            )
        )
        return None
    parsers: dict[str, Callable[[str], Any]] = {
        "plate": _parse_plate,
        "label": lambda value: _bounded_text(value, MAX_LABEL_LENGTH),
        "reason": lambda value: _bounded_text(value, MAX_REASON_LENGTH),
        "priority": _parse_priority,
        "expires_at": lambda value: _parse_expiry(value, default_tz),
        "cameras": lambda value: _parse_cameras(value, known_cameras),
        "active_from": _parse_clock_time,
        "active_until": _parse_clock_time,
        "enabled": _parse_enabled,
    }
    fields: dict[str, Any] = {}
    errors_before = len(errors)
    for name, position in columns.items():
        value = _from_cell(row[position]).strip() if position < len(row) else ""
        if not value and name != "plate":
            # An empty cell takes the entry's default; only the plate is required.
            continue
        try:
            fields[name] = parsers[name](value)
        except _CellError as err:
            errors.append(
                RowError(
                    line=line,
                    column=name,
                    translation_key=err.key,
                    value=value if err.shown is None else err.shown,
                    translation_placeholders=err.placeholders,
                )
            )
    if len(errors) > errors_before:
        return None
    return WatchlistEntry(id=None, **fields)


def _parse_plate(value: str) -> str:
    try:
        return parse_plate_or_pattern(value)
    except MatchingValidationError as err:
        raise _CellError(err.translation_key, err.translation_placeholders) from err


def _bounded_text(value: str, maximum: int) -> str:
    """Return a label or reason no longer than ``watchlist_add`` takes; refuse a longer one.

    Cut short, the text an officer wrote would change unseen; the error
    shows its start only (a cell can hold a whole file).
    """
    if len(value) > maximum:
        raise _CellError(
            ValidationKey.TEXT_TOO_LONG,
            {"maximum": str(maximum), "length": str(len(value))},
            shown=value[:_SHOWN_TEXT] + "…",
        )
    return value


def _parse_priority(value: str) -> Priority:
    try:
        return Priority(value.lower())
    except ValueError as err:
        raise _CellError(
            ValidationKey.PRIORITY_INVALID,
            {"allowed": ", ".join(priority.value for priority in Priority)},
        ) from err


def _parse_expiry(value: str, default_tz: tzinfo | None) -> datetime:
    try:
        expires_at = datetime.fromisoformat(value)
    except ValueError as err:
        raise _CellError(ValidationKey.EXPIRES_AT_INVALID) from err
    if expires_at.tzinfo is None:
        if default_tz is None:
            raise _CellError(ValidationKey.EXPIRES_AT_NEEDS_TIMEZONE)
        expires_at = expires_at.replace(tzinfo=default_tz)
    try:
        return expires_at.astimezone(UTC)
    except OverflowError as err:
        # Years 1 and 9999 a zone away from UTC have no UTC time.
        raise _CellError(ValidationKey.EXPIRES_AT_INVALID) from err


def _parse_cameras(value: str, known_cameras: KnownCameras) -> tuple[str, ...]:
    try:
        return known_cameras.resolve([value])
    except MatchingValidationError as err:
        raise _CellError(err.translation_key, err.translation_placeholders) from err


def _parse_clock_time(value: str) -> time:
    if not (match := _CLOCK_TIME.fullmatch(value)):
        raise _CellError(ValidationKey.TIME_INVALID)
    hour, minute, second = match.groups()
    return time(int(hour), int(minute), int(second or 0))


def _parse_enabled(value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise _CellError(ValidationKey.ENABLED_INVALID)


def format_watchlist_csv(entries: Iterable[WatchlistEntry]) -> str:
    """Write entries as CSV that ``parse_watchlist_csv`` reads back unchanged (but for ids).

    Times of expiry are written in UTC. Camera ids must not contain ``;``.
    """
    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\n")
    writer.writerow(COLUMNS)
    for entry in entries:
        writer.writerow(
            _to_cell(cell)
            for cell in (
                entry.plate,
                entry.label,
                entry.reason,
                entry.priority.value,
                entry.expires_at.astimezone(UTC).isoformat()
                if entry.expires_at
                else "",
                CAMERA_SEPARATOR.join(entry.cameras),
                _format_clock_time(entry.active_from),
                _format_clock_time(entry.active_until),
                "true" if entry.enabled else "false",
            )
        )
    return output.getvalue()


def _format_clock_time(value: time | None) -> str:
    if value is None:
        return ""
    if value.second or value.microsecond:
        return value.isoformat()
    return value.isoformat(timespec="minutes")


def _to_cell(value: str) -> str:
    if value.startswith((*_FORMULA_TRIGGERS, _TEXT_MARK)):
        return _TEXT_MARK + value
    return value


def _from_cell(value: str) -> str:
    if value.startswith(_TEXT_MARK) and value[1:].startswith(
        (*_FORMULA_TRIGGERS, _TEXT_MARK)
    ):
        return value[1:]
    return value
