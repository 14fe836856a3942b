"""Obtain the engine's ONNX models: verified files on disk, fetched from PyPI when missing.

The models are the PP-OCRv4 text detector and recogniser shipped inside the
Apache-2.0 wheel ``rapidocr-onnxruntime==1.4.4``. Only the two ONNX files are
taken out of the wheel; its code and its heavy dependencies (OpenCV) are never
installed. Every byte is checked against the pinned hashes in ``models.json``.

Blocking I/O: call ``ensure_models`` from an executor, never from an event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
import hashlib
import http.client
import json
from pathlib import Path
import tempfile
from typing import Any, BinaryIO
import urllib.error
import urllib.request
import zipfile

from .files import file_matches, sha256_of, write_atomically
from .fusion import folded_model

MANIFEST_PATH = Path(__file__).with_name("models.json")
_JSON_SIMPLE_API = "application/vnd.pypi.simple.v1+json"
_TIMEOUT_S = 60
_CHUNK = 1 << 20


class ModelsUnavailable(RuntimeError):  # noqa: N818  # the name the integration uses
    """The models are missing and cannot be obtained; ``reason`` says why, for a repair issue."""

    def __init__(self, reason: str) -> None:
        """Keep ``reason`` for the repair issue's text."""
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ModelPaths:
    """Verified model files ready to load (folded for speed where that could be done)."""

    detector: Path
    recognizer: Path


def load_manifest() -> dict[str, Any]:
    """Return the pinned model manifest shipped with the integration."""
    manifest: dict[str, Any] = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    return manifest


def ensure_models(model_dir: Path, *, download: bool = True) -> ModelPaths:
    """Return the model files in ``model_dir``, fetching and verifying them if needed.

    The verified files are then folded into fewer operators (``fusion``): the
    paths returned are those of the folded twins, or of the originals when no
    twin could be made.

    Raises ``ModelsUnavailable`` when a file is missing or corrupt and cannot be
    (re)fetched: ``download`` is False, there is no network, a hash does not
    match, or the disk refuses the write.
    """
    manifest = load_manifest()
    files: dict[str, dict[str, Any]] = manifest["files"]
    wanted = {role: model_dir / spec["name"] for role, spec in files.items()}
    missing = [
        role
        for role, path in wanted.items()
        if not file_matches(path, files[role]["sha256"])
    ]
    if missing:
        if not download:
            names = ", ".join(files[role]["name"] for role in missing)
            raise ModelsUnavailable(
                f"model files missing or corrupt in {model_dir}: {names}"
            )
        _fetch_from_wheel(model_dir, manifest, missing)
    return ModelPaths(
        detector=folded_model(wanted["detector"], "detector"),
        recognizer=folded_model(wanted["recognizer"], "recognizer"),
    )


def _fetch_from_wheel(
    model_dir: Path, manifest: dict[str, Any], roles: list[str]
) -> None:
    source = manifest["source"]
    try:
        model_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ModelsUnavailable(
            f"cannot create model folder {model_dir}: {err}"
        ) from err
    url = _wheel_url(source["index"], source["filename"])
    # The wheel goes to a temporary file next to the models so that a full
    # disk fails here, and nothing half-written is ever taken for a model.
    try:
        with tempfile.TemporaryFile(dir=model_dir) as wheel:
            _download(url, wheel)
            wheel.seek(0)
            if (actual := sha256_of(wheel)) != source["sha256"]:
                raise ModelsUnavailable(
                    f"{source['filename']} from {url} has sha256 {actual}, "
                    f"expected {source['sha256']}"
                )
            wheel.seek(0)
            with zipfile.ZipFile(wheel) as archive:
                for role in roles:
                    _extract_verified(archive, manifest["files"][role], model_dir)
    except OSError as err:
        raise ModelsUnavailable(f"cannot write models to {model_dir}: {err}") from err
    except zipfile.BadZipFile as err:
        raise ModelsUnavailable(
            f"{source['filename']} is not a valid wheel: {err}"
        ) from err


def _wheel_url(index: str, filename: str) -> str:
    """Find the wheel's download URL through PyPI's JSON simple API (PEP 691)."""
    _require_https(index)
    request = urllib.request.Request(index, headers={"Accept": _JSON_SIMPLE_API})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:  # noqa: S310
            listing = json.load(response)
    except (
        OSError,  # URLError and TimeoutError too
        http.client.HTTPException,  # IncompleteRead: the answer was cut short
        ValueError,  # not JSON (or not UTF-8)
        RecursionError,  # JSON nested deeper than the decoder recurses
    ) as err:
        raise ModelsUnavailable(
            f"cannot reach the package index {index}: {err}"
        ) from err
    files = listing.get("files") if isinstance(listing, dict) else None
    for entry in files if isinstance(files, list) else []:
        if (
            isinstance(entry, dict)
            and entry.get("filename") == filename
            and isinstance(url := entry.get("url"), str)
        ):
            return url
    raise ModelsUnavailable(f"{filename} is not listed on {index}")


def _require_https(url: str) -> None:
    """Refuse any scheme but https: the URLs come from a manifest and an index response."""
    if not url.startswith("https://"):
        raise ModelsUnavailable(f"refusing to fetch models from a non-https URL: {url}")


def _download(url: str, target: BinaryIO) -> None:
    _require_https(url)
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:  # noqa: S310
            while chunk := response.read(_CHUNK):
                target.write(chunk)
    except (
        urllib.error.URLError,
        TimeoutError,
        ConnectionError,
        # A chunked answer cut short raises IncompleteRead, which is no OSError.
        http.client.HTTPException,
    ) as err:
        raise ModelsUnavailable(f"cannot download {url}: {err}") from err


def _extract_verified(
    archive: zipfile.ZipFile, spec: dict[str, Any], model_dir: Path
) -> None:
    """Write one model file atomically, after checking its hash."""
    target = model_dir / spec["name"]
    try:
        data = archive.read(spec["member"])
    except KeyError as err:
        raise ModelsUnavailable(f"{spec['member']} is missing from the wheel") from err
    if (actual := hashlib.sha256(data).hexdigest()) != spec["sha256"]:
        raise ModelsUnavailable(
            f"{spec['name']} has sha256 {actual}, expected {spec['sha256']}"
        )
    write_atomically(target, data)
