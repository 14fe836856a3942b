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
    """One engine with the real models for the whole session."""
    require_models(MODEL_CACHE)
    return PlateRecognizer(MODEL_CACHE, threads=2)


def require_models(model_dir: Path) -> None:
    """Fail, saying how to get them, when the models are not there.

    Tests never download (pytest-socket blocks the network in Home Assistant's
    test plugin); ``scripts/setup`` fetches and verifies the models. A test
    that needs the real engine fails rather than skips, so a run without the
    models never looks green.
    """
    try:
        ensure_models(model_dir, download=False)
    except ModelsUnavailable as err:
        pytest.fail(
            f"{err.reason}; run scripts/setup, or "
            "python -m custom_components.plate_tracker.engine fetch",
            pytrace=False,
        )
