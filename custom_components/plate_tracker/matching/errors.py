"""Validation errors the matching package raises, with stable translation keys.

The keys are part of the public API: the Home Assistant glue turns them into a
translated ``ServiceValidationError`` and ``translations/en.json`` holds the text.
"""

from __future__ import annotations

from enum import StrEnum


class ValidationKey(StrEnum):
    """Translation keys for bad watchlist input, typed or imported."""

    PLATE_EMPTY = "plate_empty"
    PLATE_INVALID_CHARACTERS = "plate_invalid_characters"
    PLATE_TOO_SHORT = "plate_too_short"
    PLATE_TOO_LONG = "plate_too_long"
    PATTERN_TOO_BROAD = "pattern_too_broad"
    CSV_EMPTY = "csv_empty"
    CSV_MALFORMED = "csv_malformed"
    CSV_MISSING_PLATE_COLUMN = "csv_missing_plate_column"
    CSV_UNKNOWN_COLUMN = "csv_unknown_column"
    CSV_DUPLICATE_COLUMN = "csv_duplicate_column"
    CSV_TOO_MANY_FIELDS = "csv_too_many_fields"
    PRIORITY_INVALID = "priority_invalid"
    EXPIRES_AT_INVALID = "expires_at_invalid"
    EXPIRES_AT_NEEDS_TIMEZONE = "expires_at_needs_timezone"
    TIME_INVALID = "time_invalid"
    ENABLED_INVALID = "enabled_invalid"
    TEXT_TOO_LONG = "text_too_long"
    CAMERA_UNKNOWN = "camera_unknown"


class MatchingValidationError(ValueError):
    """Input that a person typed (a plate, a pattern) cannot be used as given."""

    def __init__(
        self, translation_key: ValidationKey, placeholders: dict[str, str] | None = None
    ) -> None:
        """Keep the key and its placeholders for a translated message."""
        self.translation_key = translation_key
        self.translation_placeholders: dict[str, str] = dict(placeholders or {})
        super().__init__(translation_key.value, self.translation_placeholders)
