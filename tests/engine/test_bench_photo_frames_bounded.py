"""`bench` reads labelled photos no larger than `eval` does: an oversized file is skipped and said."""

from __future__ import annotations

from pathlib import Path

from custom_components.plate_tracker.engine.benchmark import photo_frames
from custom_components.plate_tracker.engine.server import MAX_IMAGE_BYTES

MANIFEST_HEADER = "image,plate_text,region,x1,y1,x2,y2,img_w,img_h,notes\n"


def test_a_file_larger_than_an_image_may_be_is_skipped_unread(tmp_path: Path) -> None:
    """A video a manifest names is not read whole into memory, nor timed as a frame.

    ``photo_frames`` read every file with ``read_bytes()``, however large (a
    path can be /dev/zero), while ``eval`` holds photos to the engine
    server's limit. Now it is left out, named in ``skipped``, and the photo
    after it takes its place within the limit.
    """
    (tmp_path / "manifest.csv").write_text(
        MANIFEST_HEADER
        + "".join(
            f"{name}.jpg,AE1455KH,ua,560,470,885,533,1280,720,\n"
            for name in ("video", "a", "b")
        ),
        encoding="utf-8",
    )
    video = tmp_path / "video.jpg"
    with video.open("wb") as stream:
        stream.truncate(MAX_IMAGE_BYTES + 1)
    for name in "ab":
        (tmp_path / f"{name}.jpg").write_bytes(name.encode())
    skipped: list[str] = []

    frames = photo_frames(tmp_path, 2, skipped=skipped)

    assert [frame.data for frame in frames] == [b"a", b"b"]
    assert skipped == [
        f"{video}: file is larger than the {MAX_IMAGE_BYTES} bytes an image may be"
    ]


def test_a_file_at_the_limit_is_read(tmp_path: Path) -> None:
    """The limit is the server's own: a photo it would take is benched, not skipped."""
    (tmp_path / "manifest.csv").write_text(
        MANIFEST_HEADER + "large.jpg,AE1455KH,ua,560,470,885,533,1280,720,\n",
        encoding="utf-8",
    )
    with (tmp_path / "large.jpg").open("wb") as stream:
        stream.truncate(MAX_IMAGE_BYTES)
    skipped: list[str] = []

    (frame,) = photo_frames(tmp_path, 1, skipped=skipped)

    assert len(frame.data) == MAX_IMAGE_BYTES
    assert skipped == []
