"""Model files: verified before use, and a clear reason whenever they cannot be had."""

from __future__ import annotations

import http.client
import io
from pathlib import Path
from typing import Any
import urllib.error
import urllib.request

import pytest

from custom_components.plate_tracker.engine import models
from custom_components.plate_tracker.engine.models import (
    ModelsUnavailable,
    ensure_models,
)


def test_missing_files_without_download(tmp_path: Path) -> None:
    """Offline start-up names the missing files instead of failing later in onnxruntime."""
    with pytest.raises(ModelsUnavailable, match=r"ch_PP-OCRv4_det_infer\.onnx"):
        ensure_models(tmp_path, download=False)


def test_corrupt_file_is_not_used(tmp_path: Path) -> None:
    """A truncated or tampered model file counts as missing."""
    manifest = models.load_manifest()
    for spec in manifest["files"].values():
        (tmp_path / spec["name"]).write_bytes(b"not a model")
    with pytest.raises(ModelsUnavailable, match="missing or corrupt"):
        ensure_models(tmp_path, download=False)


def test_no_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without network the reason says the index is unreachable (for the repair issue)."""

    def unreachable(*_: Any, **__: Any) -> None:
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    with pytest.raises(ModelsUnavailable, match="cannot reach the package index"):
        ensure_models(tmp_path)


def test_wheel_hash_mismatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wheel that is not the pinned one is refused and nothing is written."""
    monkeypatch.setattr(
        models, "_wheel_url", lambda *_: "https://files.example/wheel.whl"
    )
    monkeypatch.setattr(
        urllib.request,
        "urlopen",
        lambda *_, **__: io.BytesIO(b"a different wheel"),
    )
    model_dir = tmp_path / "models"
    with pytest.raises(ModelsUnavailable, match="sha256"):
        ensure_models(model_dir)
    assert list(model_dir.iterdir()) == []


def test_only_https(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Model bytes are never fetched over plain http or from local files."""
    monkeypatch.setattr(models, "_wheel_url", lambda *_: "file:///etc/passwd")
    with pytest.raises(ModelsUnavailable, match="non-https"):
        ensure_models(tmp_path)


class _CutShort(io.BytesIO):
    """An HTTP answer whose chunked body ends early: reading to its end raises IncompleteRead."""

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        if size is None or size < 0 or len(data) < size:
            raise http.client.IncompleteRead(data)
        return data


def test_a_download_cut_short_is_models_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IncompleteRead is no OSError: it escaped set-up instead of becoming the repair issue."""
    monkeypatch.setattr(
        models, "_wheel_url", lambda *_: "https://files.example/wheel.whl"
    )
    monkeypatch.setattr(
        urllib.request, "urlopen", lambda *_, **__: _CutShort(b"PK\x03\x04partial")
    )
    model_dir = tmp_path / "models"
    with pytest.raises(ModelsUnavailable, match="cannot download"):
        ensure_models(model_dir)
    assert list(model_dir.iterdir()) == []


@pytest.mark.parametrize(
    "answer",
    [
        _CutShort(b'{"files": [{"filename": '),
        io.BytesIO(b"[" * 100_000),
        io.BytesIO(b'["files"]'),
        io.BytesIO(b'{"files": [{"filename": "x"}, 3]}'),
    ],
    ids=["cut-short", "nested-too-deep", "a-list", "odd-entries"],
)
def test_a_broken_index_answer_is_models_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: io.BytesIO
) -> None:
    """Whatever the package index sends back, set-up gets a reason, not a traceback."""
    monkeypatch.setattr(urllib.request, "urlopen", lambda *_, **__: answer)
    with pytest.raises(ModelsUnavailable, match=r"package index|is not listed"):
        ensure_models(tmp_path)
