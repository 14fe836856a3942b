"""Fixtures for engine tests: the real models."""

from __future__ import annotations

from pathlib import Path

import pytest

from custom_components.plate_tracker.engine import (
    ModelsUnavailable,
    PlateRecognizer,
    ensure_models,
)

MODEL_CACHE = Path(__file__).resolve().parents[2] / "models" / "cache"


@pytest.fixture(scope="session")
def recognizer() -> PlateRecognizer:
    """One engine with the real models for the whole session (fetched once into models/cache)."""
    try:
        ensure_models(MODEL_CACHE)
    except ModelsUnavailable as err:
        pytest.skip(f"real models unavailable: {err.reason}")
    return PlateRecognizer(MODEL_CACHE, threads=2)
