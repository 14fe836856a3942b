"""License-plate recognition engine: plain Python (numpy, onnxruntime, Pillow), no Home Assistant.

The Home Assistant glue calls ``ensure_models`` once (in an executor), builds one
``PlateRecognizer`` per worker thread, and calls ``read`` with image bytes; or it
sends the bytes to an engine server (``server.py``) through ``RemoteEngine``.
"""

from typing import Any

from .consensus import combine_reads
from .imaging import ImageError
from .models import ModelPaths, ModelsUnavailable, ensure_models
from .types import Box, FrameResult, PlateRead


def __getattr__(name: str) -> Any:
    # onnxruntime is imported only where plates are read in this process: a
    # Home Assistant that sends its images to an engine server may lack it.
    if name == "PlateRecognizer":
        from .recognizer import PlateRecognizer  # noqa: PLC0415

        return PlateRecognizer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Box",
    "FrameResult",
    "ImageError",
    "ModelPaths",
    "ModelsUnavailable",
    "PlateRead",
    "PlateRecognizer",
    "combine_reads",
    "ensure_models",
]
