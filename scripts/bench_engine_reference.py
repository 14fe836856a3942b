"""Reference pipeline for the engine benchmark: RapidOCR's own, in its own virtual environment.

Run by ``python -m custom_components.plate_tracker.engine bench --reference-python PY``
with the interpreter of a separate venv holding ``rapidocr-onnxruntime==1.4.4`` (it pulls in
OpenCV, which the integration must never depend on). Reads a JSON list of image paths on
stdin; writes one JSON object per image: the texts RapidOCR found with their scores and the
wall time it took. Plate-format scoring happens in the caller, identically for both pipelines.
"""

from __future__ import annotations

import json
import sys
import time

from rapidocr_onnxruntime import RapidOCR


def main() -> None:
    """Read every image once after a warm-up and report texts and timings."""
    engine = RapidOCR(intra_op_num_threads=2, inter_op_num_threads=1)
    paths = json.load(sys.stdin)
    engine(paths[0])
    for path in paths:
        started = time.perf_counter()
        result, _ = engine(path)
        seconds = time.perf_counter() - started
        texts = [(text, float(score)) for _, text, score in result or []]
        sys.stdout.write(
            json.dumps({"path": path, "texts": texts, "seconds": seconds}) + "\n"
        )


if __name__ == "__main__":
    main()
