"""An imported label or reason is held to the length ``watchlist_add`` takes."""

from __future__ import annotations

import pytest

from custom_components.plate_tracker.matching.errors import ValidationKey
from custom_components.plate_tracker.matching.watchlist import KnownCameras
from custom_components.plate_tracker.matching.watchlist_csv import (
    MAX_LABEL_LENGTH,
    MAX_REASON_LENGTH,
    parse_watchlist_csv,
)


@pytest.mark.parametrize(
    ("column", "longest"), [("label", MAX_LABEL_LENGTH), ("reason", MAX_REASON_LENGTH)]
)
def test_a_longer_label_or_reason_is_a_row_error(column: str, longest: int) -> None:
    """The service refuses 201 characters of label; an import of the same entry must too.

    An import took any length (up to the file's 10 MB): a label of a whole
    page went into every alert and, with the entry, into the audit log kept
    for good. The row is refused at its line and column, the error shows
    the text's start only, and the longest text allowed is read whole.
    """
    text = f"plate,{column}\nAE1234BK,{'x' * (longest + 1)}\nKA0001OO,{'y' * longest}\n"

    entries, errors = parse_watchlist_csv(text, known_cameras=KnownCameras({}))

    (error,) = errors
    assert (error.line, error.column, error.translation_key) == (
        2,
        column,
        ValidationKey.TEXT_TOO_LONG,
    )
    assert error.translation_placeholders == {
        "maximum": str(longest),
        "length": str(longest + 1),
    }
    assert error.value == "x" * 40 + "…"
    assert [(entry.plate, len(getattr(entry, column))) for entry in entries] == [
        ("KA0001OO", longest)
    ]


def test_the_limit_counts_the_text_without_its_surrounding_spaces() -> None:
    """Spaces a spreadsheet cell keeps around the text are not part of the label, nor of its length."""
    text = f"plate,label\nAE1234BK,  {'x' * MAX_LABEL_LENGTH}  \n"

    entries, errors = parse_watchlist_csv(text, known_cameras=KnownCameras({}))

    assert errors == []
    assert [entry.label for entry in entries] == ["x" * MAX_LABEL_LENGTH]
