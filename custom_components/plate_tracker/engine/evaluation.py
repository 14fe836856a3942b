"""Measure the engine on labelled photos (``manifest.csv`` folders, see the data README)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
import csv
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
import statistics
from typing import Any

from ..matching.errors import MatchingValidationError
from ..matching.watchlist import CompiledWatchlist, parse_plate_or_pattern
from ..plate_text import CYRILLIC_TO_LATIN
from ..records import MatchKind, WatchlistEntry
from .imaging import ImageError
from .perturbations import Perturbation
from .server import MAX_IMAGE_BYTES
from .types import Box, FrameResult

MULTILINE_MARK = "multiline"
"""Nomeroff's two-line plates live in a folder named ``benchmark_multiline_np_images``."""


class ImageTooLargeError(ImageError):
    """A file larger than an image may be: left unread."""


def image_file_bytes(path: Path, max_bytes: int = MAX_IMAGE_BYTES) -> bytes:
    """Return the file's bytes, refusing one larger than the engine server takes.

    Read no further than that: a glob can catch a video, a path can be /dev/zero.
    """
    with path.open("rb") as stream:
        data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageTooLargeError(
            f"file is larger than the {max_bytes} bytes an image may be"
        )
    return data


@dataclass(frozen=True, slots=True)
class LabelledImage:
    """One row of a ``manifest.csv``."""

    source: str
    path: Path
    plate: str
    region: str
    box: Box | None
    size: tuple[int, int] | None
    """Image width and height as the manifest states them."""


@dataclass(slots=True)
class Tally:
    """Counts and timings of one group of images."""

    n: int = 0
    correct: int = 0
    top1_correct: int = 0
    boxes: int = 0
    boxes_found: int = 0
    watchlist_hits: int = 0
    """Images where a watchlist entry for the true plate would alert, by any match kind."""
    watchlist_strong_hits: int = 0
    """The same, by an exact or look-alike match (not one edit away)."""
    watchlist_false_alerts: int = 0
    """Images where an entry for another image's plate would alert (an officer checks for nothing)."""
    seconds: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """JSON-able figures of the group."""
        result: dict[str, Any] = {
            "n": self.n,
            "accuracy": _ratio(self.correct, self.n),
            "top1_accuracy": _ratio(self.top1_correct, self.n),
            "watchlist_recall": _ratio(self.watchlist_hits, self.n),
            "watchlist_strong_recall": _ratio(self.watchlist_strong_hits, self.n),
            "watchlist_false_alert_rate": _ratio(self.watchlist_false_alerts, self.n),
            "p50_s": round(statistics.median(self.seconds), 4)
            if self.seconds
            else None,
            "p90_s": round(_percentile(self.seconds, 0.9), 4) if self.seconds else None,
        }
        if self.boxes:
            result["detection_recall"] = _ratio(self.boxes_found, self.boxes)
        return result


def region_group(region: str) -> str:
    """Region key used in reports: every ``us-xx`` state counts as ``us``."""
    return region.split("-", 1)[0]


def load_manifests(
    data_dir: Path, skipped: list[str] | None = None
) -> Iterator[LabelledImage]:
    """Every labelled image under ``data_dir``, manifest by manifest in name order.

    A row without an image or a plate text is left out, and said in
    ``skipped`` (``manifest:line: why``) when a list is given. A box or a
    size that is not a number counts as not given.
    """
    for manifest in sorted(data_dir.rglob("manifest.csv", recurse_symlinks=True)):
        source = manifest.parent.name
        # utf-8-sig: a manifest saved by a spreadsheet starts with a byte-order mark.
        with manifest.open(newline="", encoding="utf-8-sig") as stream:
            reader = csv.DictReader(stream)
            for row in reader:
                image = (row.get("image") or "").strip()
                plate = label_text(row.get("plate_text") or "")
                if not image or not plate:
                    if skipped is not None:
                        skipped.append(
                            f"{manifest}:{reader.line_num}: no image or plate text"
                        )
                    continue
                box = _integers(row, ("x1", "y1", "x2", "y2"))
                size = _integers(row, ("img_w", "img_h"))
                yield LabelledImage(
                    source=source,
                    path=manifest.parent / image,
                    plate=plate,
                    region=region_group((row.get("region") or "").strip().lower()),
                    box=(box[0], box[1], box[2], box[3]) if box else None,
                    size=(size[0], size[1]) if size else None,
                )


def label_text(text: str) -> str:
    """Return a manifest's plate text as the engine writes plates.

    Upper case, without spaces, dashes or dots, and Ukrainian Cyrillic letters
    as their Latin twins (``АЕ 1455 КН`` is ``AE1455KH``). Other characters are
    kept: a plate with a letter the engine cannot read must not count as read
    when the rest of it is.
    """
    return "".join(
        char
        for char in text.translate(CYRILLIC_TO_LATIN).upper()
        if not char.isspace() and char not in "-.·"
    )


def _integers(row: dict[str, str], keys: Sequence[str]) -> list[int] | None:
    """Return the row's integers at ``keys``, or None when any is missing or no number."""
    try:
        return [round(float(row[key])) for key in keys]
    except (KeyError, TypeError, ValueError, OverflowError):
        return None


def plates_equal(read: str, truth: str, region: str) -> bool:
    """Exact match; openalpr ``eu`` labels mix up O and 0, so there they are equal."""
    if region == "eu":
        return read.replace("O", "0") == truth.replace("O", "0")
    return read == truth


def box_found(truth: Box, found: Box) -> bool:
    """Tell whether a found box hits the labelled one: IoU >= 0.3 or its centre inside it."""
    centre_x, centre_y = (found[0] + found[2]) / 2, (found[1] + found[3]) / 2
    if truth[0] <= centre_x <= truth[2] and truth[1] <= centre_y <= truth[3]:
        return True
    width = min(truth[2], found[2]) - max(truth[0], found[0])
    height = min(truth[3], found[3]) - max(truth[1], found[1])
    if width <= 0 or height <= 0:
        return False
    inter = width * height
    union = _area(truth) + _area(found) - inter
    return inter / union >= 0.3


@dataclass(slots=True)
class Evaluation:
    """Tallies by source/region, by region, and overall."""

    by_source: dict[tuple[str, str], Tally] = field(
        default_factory=lambda: defaultdict(Tally)
    )
    by_region: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    overall: Tally = field(default_factory=Tally)
    failures: list[tuple[LabelledImage, str]] = field(default_factory=list)
    unreadable: list[tuple[LabelledImage, str]] = field(default_factory=list)
    """Images that could not be read (missing, corrupt): each counts as a miss."""
    skipped: list[tuple[LabelledImage, str]] = field(default_factory=list)
    """Files larger than an image may be: not photos the engine is ever given, not scored."""
    watchlist: CompiledWatchlist = field(default_factory=lambda: CompiledWatchlist(()))
    """One entry per true plate of the set, as the police would list wanted vehicles."""

    def add_unreadable(self, item: LabelledImage, reason: str) -> None:
        """Count an image that could not be read as a miss, without a time."""
        self.unreadable.append((item, reason))
        for tally in (
            self.by_source[(self._group(item), item.region)],
            self.by_region[item.region],
            self.overall,
        ):
            tally.n += 1
            tally.boxes += item.box is not None
        self.failures.append((item, "-"))

    @staticmethod
    def _group(item: LabelledImage) -> str:
        return item.source + (
            f"/{MULTILINE_MARK}" if MULTILINE_MARK in str(item.path) else ""
        )

    def _watchlist_outcome(
        self, truth: str, result: FrameResult
    ) -> tuple[set[MatchKind], bool]:
        """How the watchlist of every true plate in the set takes this frame's sightings.

        The integration's own matcher, over each plate's text and alternatives,
        as an alert would be decided: the kinds by which the entry for this
        image's plate matched, and whether an entry for another plate did.
        """
        listed = _canonical(truth)
        kinds: set[MatchKind] = set()
        false_alert = False
        for plate in result.plates:
            for hit in self.watchlist.match(
                plate=plate.text,
                alternatives=plate.alternatives,
                camera="eval",
                at=_EVAL_TIME,
                tz=UTC,
            ):
                if hit.listed_plate == listed:
                    kinds.add(hit.kind)
                else:
                    false_alert = True
        return kinds, false_alert

    def add(self, item: LabelledImage, result: FrameResult) -> None:
        """Score one image's result."""
        texts = [plate.text for plate in result.plates]
        correct = any(plates_equal(text, item.plate, item.region) for text in texts)
        top1 = bool(texts) and plates_equal(texts[0], item.plate, item.region)
        kinds, false_alert = self._watchlist_outcome(item.plate, result)
        for tally in (
            self.by_source[(self._group(item), item.region)],
            self.by_region[item.region],
            self.overall,
        ):
            tally.n += 1
            tally.correct += correct
            tally.top1_correct += top1
            tally.watchlist_hits += bool(kinds)
            tally.watchlist_strong_hits += bool(kinds - {MatchKind.ONE_EDIT})
            tally.watchlist_false_alerts += false_alert
            tally.seconds.append(result.seconds)
            if item.box is not None:
                tally.boxes += 1
                tally.boxes_found += any(
                    box_found(item.box, p.box) for p in result.plates
                )
        if not correct:
            self.failures.append((item, ",".join(texts) or "-"))

    def summary(self) -> dict[str, Any]:
        """Return the JSON object ``eval --json`` prints last."""
        return {
            "regions": {
                region: self.by_region[region].summary()
                for region in sorted(self.by_region)
            },
            "sources": {
                f"{source}:{region}": tally.summary()
                for (source, region), tally in sorted(self.by_source.items())
            },
            "overall": self.overall.summary(),
        }


_EVAL_TIME = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _canonical(plate: str) -> str | None:
    """Return a true plate as a watchlist entry lists it; None when no entry could."""
    try:
        return parse_plate_or_pattern(plate)
    except MatchingValidationError:
        return None  # too short or long, or a character no plate alphabet has


def watchlist_of(items: Sequence[LabelledImage]) -> CompiledWatchlist:
    """Return a watchlist with one entry per distinct true plate of ``items``."""
    plates = dict.fromkeys(
        plate for item in items if (plate := _canonical(item.plate)) is not None
    )
    return CompiledWatchlist(
        [
            WatchlistEntry(id=number, plate=plate)
            for number, plate in enumerate(plates, 1)
        ]
    )


def evaluate(
    items: Iterator[LabelledImage],
    read: Callable[[bytes], FrameResult],
    *,
    limit: int | None = None,
    change: Perturbation | None = None,
    max_image_bytes: int = MAX_IMAGE_BYTES,
) -> Evaluation:
    """Read every image with ``read`` and score it; ``change`` alters each image first.

    The change happens outside ``read``, so the times are the engine's alone.
    A change that moves pixels leaves the labelled boxes behind: detection
    recall is then not scored. A file over ``max_image_bytes`` (the engine
    server's limit) is skipped unread, in ``skipped``: a video caught by a
    manifest would otherwise be read whole into memory.
    """
    chosen = list(islice(items, limit))
    if change is not None and change.moves_pixels:
        chosen = [replace(item, box=None) for item in chosen]
    evaluation = Evaluation(watchlist=watchlist_of(chosen))
    for item in chosen:
        try:
            data = image_file_bytes(item.path, max_image_bytes)
            result = read(change(data) if change is not None else data)
        except ImageTooLargeError as err:
            evaluation.skipped.append((item, str(err)))
        except (OSError, ImageError) as err:
            evaluation.add_unreadable(item, str(err))
        else:
            evaluation.add(item, result)
    return evaluation


def floor_violations(summary: dict[str, Any], floor: dict[str, Any]) -> list[str]:
    """Messages for every figure past the committed floor (empty when all hold).

    Exact-plate accuracy overall and per region, the watchlist recall, and the
    watchlist false alert rate (a ceiling), each when the floor names it.
    """
    problems = []
    overall_floor = floor.get("overall")
    if overall_floor is not None and summary["overall"]["accuracy"] < overall_floor:
        problems.append(
            f"overall accuracy {summary['overall']['accuracy']:.3f} is below the floor {overall_floor}"
        )
    for region, region_floor in floor.get("regions", {}).items():
        measured = summary["regions"].get(region)
        if measured is None:
            problems.append(
                f"region {region} has a floor of {region_floor} but no images"
            )
        elif measured["accuracy"] < region_floor:
            problems.append(
                f"{region} accuracy {measured['accuracy']:.3f} is below the floor {region_floor}"
            )
    # What reaches the police: alerts for the true plate, and alerts for another car's.
    overall = summary["overall"]
    watch_floor = floor.get("watchlist_recall")
    if watch_floor is not None and overall["watchlist_recall"] < watch_floor:
        problems.append(
            f"watchlist recall {overall['watchlist_recall']:.3f} is below the floor {watch_floor}"
        )
    false_ceiling = floor.get("watchlist_false_alert_rate_max")
    if (
        false_ceiling is not None
        and overall["watchlist_false_alert_rate"] > false_ceiling
    ):
        problems.append(
            f"watchlist false alert rate {overall['watchlist_false_alert_rate']:.3f}"
            f" is above the ceiling {false_ceiling}"
        )
    return problems


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _area(box: Box) -> int:
    return max(0, box[2] - box[0]) * max(0, box[3] - box[1])
