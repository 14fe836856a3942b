"""Files the engine writes for itself: whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path
import tempfile


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
