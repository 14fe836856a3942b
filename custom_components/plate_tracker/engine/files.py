"""Files the engine keeps for itself: written whole or not at all, checked by hash."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
import tempfile
from typing import BinaryIO

_CHUNK = 1 << 20


def sha256_of(stream: BinaryIO) -> str:
    """Return the hex SHA-256 of what is left in ``stream``, read a chunk at a time."""
    digest = hashlib.sha256()
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def file_matches(path: Path, sha256: str) -> bool:
    """Whether ``path`` exists and its bytes have the hex SHA-256 ``sha256``."""
    try:
        with path.open("rb") as stream:
            return sha256_of(stream) == sha256
    except OSError:
        return False


def write_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a synced temporary file.

    A crash or a full disk never leaves a half-written file under the final name.
    """
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        # mkstemp creates owner-only files; models are not secrets.
        Path(temp_name).chmod(0o644)
        Path(temp_name).replace(target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
