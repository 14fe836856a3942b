"""Match a plate read against the watchlist, tolerant of the mistakes OCR makes.

A hit always says which kind of match it was, so an automation can page an
officer on an exact hit and only log a one-edit hit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, tzinfo
from functools import lru_cache
import re
from typing import Any

from ..plate_text import (
    WILDCARDS,
    deletion_variants,
    fold_lookalikes,
    is_pattern,
    lookalike_key,
    normalize_plate,
    to_latin_upper,
)
from ..records import MatchKind, Priority, WatchlistEntry
from .errors import MatchingValidationError, ValidationKey
from .similarity import is_strong_match, misread_kind

MIN_PLATE_LENGTH = 2
"""Shortest plate a watchlist entry may list (some vanity plates are two characters)."""
MAX_PLATE_LENGTH = 12
"""Longest plate or pattern (without ``*``); no plate format in use is longer."""
MIN_PATTERN_LITERALS = 3
"""Letters and digits a pattern needs, so that ``*`` alone cannot flag every car."""
MAX_LISTED_CAMERAS = 20
"""Known cameras an unknown-camera error lists: enough to spot the one meant."""

_SEPARATORS = re.compile(r"[\s\-]+")
_INVALID_CHARACTER = re.compile(r"[^0-9A-Z*?]")
_REPEATED_STAR = re.compile(r"\*{2,}")
_CAMERA_LIST_SEPARATORS = re.compile(r"[;,]")

_PRIORITY_RANK = {Priority.CRITICAL: 0, Priority.HIGH: 1, Priority.INFO: 2}


# Weights that rank hits. An exact hit on the engine's best read is certain as
# far as matching goes; each weaker kind admits more plates that are not the one
# listed. Hits on alternative reads are scaled by the engine's confidence in them.
_KIND_WEIGHT = {
    MatchKind.EXACT: 1.0,
    MatchKind.PATTERN: 0.9,
    MatchKind.LOOKALIKE: 0.8,
    MatchKind.ONE_EDIT: 0.5,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchlistHit:
    """One watchlist entry matched by one read of a sighting."""

    entry: WatchlistEntry
    listed_plate: str
    """The plate or pattern as the entry lists it (canonical form)."""
    read_plate: str
    """The read that matched, as the engine gave it: the best read or an alternative."""
    from_alternative: bool
    """True when an alternative read matched rather than the engine's best read."""
    kind: MatchKind
    score: float
    """0..1 for ranking: the kind's weight (exact 1.0, pattern 0.9, lookalike 0.8,
    one_edit 0.5) times 1.0 for the best read or the alternative's confidence."""

    @property
    def vehicle(self) -> tuple[str, str]:
        """Which vehicle of the entry the hit is about, for one alert per vehicle pass.

        A plate entry lists one vehicle, so every hit on it is about that one
        (a read within one edit that may be another car is told apart by its
        kind, see ``AlertCooldown``). A pattern lists many vehicles: the read's
        look-alike key tells them apart and keeps the misreads of one car together.
        """
        return vehicle_of(self.listed_plate, self.read_plate)

    def to_dict(self) -> dict[str, Any]:
        """Return the match and the entry's public fields, JSON-able, for an event payload."""
        return {
            "entry_id": self.entry.id,
            "listed_plate": self.listed_plate,
            "read_plate": self.read_plate,
            "from_alternative": self.from_alternative,
            "match_kind": self.kind.value,
            "score": round(self.score, 3),
            "label": self.entry.label,
            "reason": self.entry.reason,
            "priority": self.entry.priority.value,
        }


def vehicle_of(listed_plate: str, read_plate: str) -> tuple[str, str]:
    """Return which vehicle of a listed plate or pattern a read is (see ``WatchlistHit.vehicle``)."""
    if is_pattern(listed_plate):
        return (listed_plate, lookalike_key(read_plate))
    return (listed_plate, listed_plate)


def parse_plate_or_pattern(text: str) -> str:
    """Return the canonical form of a plate or pattern a person typed.

    Case, spaces and dashes are ignored and Ukrainian Cyrillic letters become
    their Latin twins, so ``ае 12*`` and ``AE-12*`` give the same pattern.
    Raises MatchingValidationError with a ValidationKey on unusable input.
    """
    canonical = _SEPARATORS.sub("", to_latin_upper(text))
    if not canonical:
        raise MatchingValidationError(ValidationKey.PLATE_EMPTY)
    if invalid := _INVALID_CHARACTER.search(canonical):
        raise MatchingValidationError(
            ValidationKey.PLATE_INVALID_CHARACTERS, {"character": invalid.group()}
        )
    canonical = _REPEATED_STAR.sub("*", canonical)
    is_pattern = not WILDCARDS.isdisjoint(canonical)
    literals = sum(char not in WILDCARDS for char in canonical)
    if is_pattern and literals < MIN_PATTERN_LITERALS:
        raise MatchingValidationError(
            ValidationKey.PATTERN_TOO_BROAD, {"minimum": str(MIN_PATTERN_LITERALS)}
        )
    if not is_pattern and len(canonical) < MIN_PLATE_LENGTH:
        raise MatchingValidationError(
            ValidationKey.PLATE_TOO_SHORT, {"minimum": str(MIN_PLATE_LENGTH)}
        )
    if len(canonical.replace("*", "")) > MAX_PLATE_LENGTH:
        raise MatchingValidationError(
            ValidationKey.PLATE_TOO_LONG, {"maximum": str(MAX_PLATE_LENGTH)}
        )
    return canonical


class KnownCameras:
    """The cameras a watchlist entry may be limited to, found as people name them.

    Built once per call or import: an import of many rows looks every row's
    cameras up in the same index.
    """

    __slots__ = ("_by_id", "_by_name", "names")

    def __init__(self, names: Mapping[str, str]) -> None:
        """Index ``names``: camera id -> display name, for every camera there is."""
        self.names: dict[str, str] = dict(sorted(names.items()))
        self._by_id: dict[str, list[str]] = {}
        self._by_name: dict[str, list[str]] = {}
        for camera, name in self.names.items():
            self._by_id.setdefault(camera.casefold(), []).append(camera)
            if name.strip():
                self._by_name.setdefault(name.strip().casefold(), []).append(camera)

    def resolve(self, lists: Iterable[str]) -> tuple[str, ...]:
        """Return the ids of the cameras a person listed, in order, each once.

        Each text in ``lists`` names cameras by id or display name, in any
        case, separated by ``;`` or ``,``, or by spaces as people write lists
        (``gate bridge``): no id holds a space, so a part is split on spaces
        only when it is no camera as a whole (a display name such as ``North
        exit``). An exact id wins over an id in another case, which wins over a
        display name; a display name two cameras share stands for both. A
        name that is no camera raises MatchingValidationError naming it: an
        entry limited to a misspelt camera would never alert, and nobody would
        know.
        """
        resolved: dict[str, None] = {}
        unknown: dict[str, None] = {}
        for text in lists:
            for part in _CAMERA_LIST_SEPARATORS.split(text):
                whole = part.strip()
                for typed in [whole] if self._ids_of(whole) else whole.split():
                    if ids := self._ids_of(typed):
                        resolved.update(dict.fromkeys(ids))
                    else:
                        unknown[typed] = None
        if unknown:
            raise MatchingValidationError(
                ValidationKey.CAMERA_UNKNOWN,
                {"cameras": ", ".join(unknown), "known": self._listed()},
            )
        return tuple(resolved)

    def _ids_of(self, typed: str) -> list[str]:
        if typed in self.names:
            return [typed]
        folded = typed.casefold()
        return self._by_id.get(folded) or self._by_name.get(folded) or []

    def _listed(self) -> str:
        """Name the cameras by id, with a display name that differs; "–" for none."""
        listed = [
            camera if name in ("", camera) else f"{camera} ({name})"
            for camera, name in self.names.items()
        ]
        if len(listed) > MAX_LISTED_CAMERAS:
            listed = [*listed[:MAX_LISTED_CAMERAS], "…"]
        return ", ".join(listed) or "–"


@dataclass(frozen=True, slots=True)
class _Listed:
    """A listed plate or pattern prepared once for matching many reads."""

    canonical: str
    pattern: re.Pattern[str] | None
    folded_pattern: re.Pattern[str] | None


@lru_cache(maxsize=8192)
def _prepare_listed(listed: str) -> _Listed | None:
    """Prepare a listed plate; None when it is unusable and must never match.

    Entries are validated when they are added, so None only guards against
    stored data that bypassed validation; a bare ``*`` there would otherwise
    flag every vehicle.
    """
    try:
        canonical = parse_plate_or_pattern(listed)
    except MatchingValidationError:
        return None
    if not is_pattern(canonical):
        return _Listed(canonical, None, None)
    return _Listed(canonical, _compile(canonical), _compile(fold_lookalikes(canonical)))


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(
        "".join(
            ".*" if char == "*" else "." if char == "?" else re.escape(char)
            for char in pattern
        )
    )


def is_in_force(entry: WatchlistEntry, at: datetime) -> bool:
    """Return whether an entry is enabled and not yet expired at ``at``.

    An entry that is not alerts for nothing: no hit and no city event.
    """
    return entry.enabled and (entry.expires_at is None or at < entry.expires_at)


def is_active(entry: WatchlistEntry, camera: str, at: datetime, tz: tzinfo) -> bool:
    """Return whether an entry alerts for a sighting at ``camera`` at ``at``.

    It must be in force, cover the camera (an entry limited to no camera
    covers all) and be within its active hours in local time ``tz``. A city
    exit or entry alerts under the same conditions as a hit.
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone aware")
    return _is_active(entry, camera, at, at.astimezone(tz).time())


def _is_active(entry: WatchlistEntry, camera: str, at: datetime, local: time) -> bool:
    if not is_in_force(entry, at):
        return False
    if entry.cameras and camera not in entry.cameras:
        return False
    return is_within_active_hours(entry.active_from, entry.active_until, local)


def is_within_active_hours(
    active_from: time | None, active_until: time | None, local: time
) -> bool:
    """Return whether a local time falls in an entry's active hours.

    ``active_from`` is inclusive and ``active_until`` exclusive. A missing bound
    means the start or the end of the day. ``active_from`` after
    ``active_until`` spans midnight (22:00-06:00). Equal bounds mean the whole
    day: an entry that can never be active is more likely a typing slip than an
    intent, and missing a wanted vehicle is the worse failure.
    """
    start = active_from or time.min
    if start == active_until:
        return True
    if active_until is None:
        return local >= start
    if start < active_until:
        return start <= local < active_until
    return local >= start or local < active_until


def _match_one(listed: _Listed, read: str, folded_read: str) -> MatchKind | None:
    if listed.pattern is not None and listed.folded_pattern is not None:
        if listed.pattern.fullmatch(read):
            return MatchKind.PATTERN
        if listed.folded_pattern.fullmatch(folded_read):
            return MatchKind.LOOKALIKE
        return None
    return misread_kind(read, listed.canonical)


class CompiledWatchlist:
    """The watchlist indexed for matching many sightings quickly.

    Build it again whenever the entries change. Matching a read then costs
    a few dict look-ups instead of a comparison with every entry, which
    matters for national lists of thousands of plates: a sighting is matched
    on the event loop.
    """

    def __init__(self, entries: Sequence[WatchlistEntry]) -> None:
        """Index the entries; unusable ones (see ``_prepare_listed``) are left out."""
        self._entries: list[tuple[WatchlistEntry, _Listed]] = []
        self._patterns: list[int] = []
        self._by_key: dict[str, list[int]] = {}
        for entry in entries:
            listed = _prepare_listed(entry.plate)
            if listed is None:
                continue
            position = len(self._entries)
            self._entries.append((entry, listed))
            if listed.pattern is not None:
                self._patterns.append(position)
                continue
            # The exact key alone would do for short plates; indexing every
            # key is harmless because each candidate is verified by _match_one.
            for key in deletion_variants(fold_lookalikes(listed.canonical)):
                self._by_key.setdefault(key, []).append(position)

    def __len__(self) -> int:
        """Return how many usable entries were indexed."""
        return len(self._entries)

    def match(
        self,
        *,
        plate: str,
        alternatives: Sequence[tuple[str, float]],
        camera: str,
        at: datetime,
        tz: tzinfo,
    ) -> list[WatchlistHit]:
        """Return the hits for one sighting, best first, one per entry (see match_watchlist)."""
        if at.tzinfo is None:
            raise ValueError("at must be timezone aware")
        local = at.astimezone(tz).time()
        reads: list[tuple[str, str, str, float | None]] = []
        seen: set[str] = set()
        for read, confidence in ((plate, None), *alternatives):
            canonical = normalize_plate(read)
            if canonical and canonical not in seen:
                seen.add(canonical)
                reads.append((read, canonical, fold_lookalikes(canonical), confidence))

        candidates = set(self._patterns)
        for _, _, folded, _ in reads:
            for key in deletion_variants(folded):
                candidates.update(self._by_key.get(key, ()))

        hits: list[WatchlistHit] = []
        for position in sorted(candidates):
            entry, listed = self._entries[position]
            if not _is_active(entry, camera, at, local):
                continue
            best: WatchlistHit | None = None
            for read, canonical, folded, confidence in reads:
                kind = _match_one(listed, canonical, folded)
                if kind is None:
                    continue
                read_weight = (
                    1.0 if confidence is None else min(max(confidence, 0.0), 1.0)
                )
                score = _KIND_WEIGHT[kind] * read_weight
                # A strong match on an unsure alternative is better evidence
                # for the listed vehicle than a one-edit match on the best read.
                if best is None or (is_strong_match(kind), score) > (
                    is_strong_match(best.kind),
                    best.score,
                ):
                    best = WatchlistHit(
                        entry=entry,
                        listed_plate=listed.canonical,
                        read_plate=read,
                        from_alternative=confidence is not None,
                        kind=kind,
                        score=score,
                    )
            if best is not None:
                hits.append(best)
        hits.sort(key=lambda hit: (-hit.score, _PRIORITY_RANK[hit.entry.priority]))
        return hits


def match_watchlist(
    entries: Sequence[WatchlistEntry],
    *,
    plate: str,
    alternatives: Sequence[tuple[str, float]],
    camera: str,
    at: datetime,
    tz: tzinfo,
) -> list[WatchlistHit]:
    """Return the watchlist hits for one sighting, best first, one per entry.

    ``plate`` is the engine's best read and ``alternatives`` its other reads
    with their confidence. An entry's hit is its read with the highest score,
    except that a match by one edit yields to any stronger kind (exact,
    pattern, look-alike) whatever their scores. ``at`` must be timezone aware; active hours are
    judged in local time ``tz``. Entries that are disabled, expired
    (``expires_at <= at``), limited to other cameras or outside their active
    hours never match. Plates shorter than ``MIN_LOOKALIKE_LENGTH`` (4) match
    only exactly, and shorter than ``MIN_ONE_EDIT_LENGTH`` (6) never within one
    edit. Patterns match exactly or by look-alikes, never within one edit: a
    pattern is already a deliberate widening.

    For a long-lived watchlist keep a ``CompiledWatchlist`` instead: this
    convenience indexes the entries on every call.
    """
    return CompiledWatchlist(entries).match(
        plate=plate, alternatives=alternatives, camera=camera, at=at, tz=tz
    )
