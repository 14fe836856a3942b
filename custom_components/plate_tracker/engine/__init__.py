"""License-plate recognition engine: plain Python (numpy, onnxruntime, Pillow), no Home Assistant.

The Home Assistant glue calls ``ensure_models`` once (in an executor), builds one
``PlateRecognizer`` per worker thread, and calls ``read`` with image bytes.
"""

from .consensus import combine_reads
from .imaging import ImageError
from .models import ModelPaths, ModelsUnavailable, ensure_models
from .recognizer import PlateRecognizer
from .types import Box, FrameResult, PlateRead

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
