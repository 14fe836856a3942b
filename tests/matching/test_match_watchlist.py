"""Tests of watchlist matching and of plate/pattern validation."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
import json
import random
from zoneinfo import ZoneInfo

import pytest

from custom_components.plate_tracker.matching.errors import (
    MatchingValidationError,
    ValidationKey,
)
from custom_components.plate_tracker.matching.similarity import (
    MIN_ONE_EDIT_LENGTH,
    misread_kind,
)
from custom_components.plate_tracker.matching.watchlist import (
    CompiledWatchlist,
    WatchlistHit,
    is_within_active_hours,
    match_watchlist,
    parse_plate_or_pattern,
)
from custom_components.plate_tracker.plate_text import normalize_plate, within_one_edit
from custom_components.plate_tracker.records import MatchKind, Priority, WatchlistEntry

KYIV = ZoneInfo("Europe/Kyiv")
NOON_UTC = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
WANTED = WatchlistEntry(id=1, plate="AE1234BK", label="Stolen Skoda", reason="case 42")


def hits_for(
    read: str,
    entries: list[WatchlistEntry] | None = None,
    *,
    alternatives: tuple[tuple[str, float], ...] = (),
    camera: str = "gate",
    at: datetime = NOON_UTC,
    tz: ZoneInfo = KYIV,
) -> list[WatchlistHit]:
    """Match one read against the given entries (the wanted Skoda by default)."""
    return match_watchlist(
        [WANTED] if entries is None else entries,
        plate=read,
        alternatives=alternatives,
        camera=camera,
        at=at,
        tz=tz,
    )


@pytest.mark.parametrize(
    ("read", "kind"),
    [
        ("AE1234BK", MatchKind.EXACT),
        ("AE1234B K", MatchKind.EXACT),
        ("ae1234bk", MatchKind.EXACT),
        ("АЕ1234ВК", MatchKind.EXACT),
        ("AEI234BK", MatchKind.LOOKALIKE),
        ("AE12348K", MatchKind.LOOKALIKE),
        ("4E1Z34BK", MatchKind.LOOKALIKE),
        ("AE124BK", MatchKind.ONE_EDIT),
        ("AE11234BK", MatchKind.ONE_EDIT),
        ("AE1234BX", MatchKind.ONE_EDIT),
        ("AEI234BX", MatchKind.ONE_EDIT),
        ("AE9999BK", None),
        ("AE12BK", None),
        ("BC1234BK7", None),
        ("", None),
    ],
)
def test_real_misreads_of_a_wanted_plate(read: str, kind: MatchKind | None) -> None:
    """OCR drops, adds and swaps look-alike characters; a wanted car must still be found.

    The kind must be honest, so an automation can treat an exact hit differently
    from a fuzzy one, and a plate three characters off must not page anyone.
    """
    hits = hits_for(read)
    if kind is None:
        assert hits == []
    else:
        assert [(hit.kind, hit.listed_plate, hit.read_plate) for hit in hits] == [
            (kind, "AE1234BK", read)
        ]


@pytest.mark.parametrize(
    ("pattern", "read", "kind"),
    [
        ("AE*BK", "AE1234BK", MatchKind.PATTERN),
        ("ae*bk", "AE77BK", MatchKind.PATTERN),
        ("АЕ*ВК", "AE1234BK", MatchKind.PATTERN),
        ("AE 12?? BK", "AE1299BK", MatchKind.PATTERN),
        ("AE*BK", "AE12348K", MatchKind.LOOKALIKE),
        ("AE12??BK", "AE123BK", None),
        ("AE*BK", "KA1234BK", None),
        ("AE*BK", "AE1234BKX", None),
    ],
)
def test_patterns(pattern: str, read: str, kind: MatchKind | None) -> None:
    """Witnesses often remember part of a plate; patterns must match like a person means them.

    Case, Cyrillic and spaces in the pattern are ignored, ``?`` is exactly one
    character, and a pattern must cover the whole plate, not a part of it.
    """
    entry = WatchlistEntry(id=2, plate=pattern)
    assert [hit.kind for hit in hits_for(read, [entry])] == ([kind] if kind else [])


def test_patterns_are_never_widened_by_one_edit() -> None:
    """A pattern is already a deliberate widening; one more edit would flag strangers."""
    assert hits_for("AE1234BX", [WatchlistEntry(id=2, plate="AE*BK")]) == []


def test_short_plates_only_match_exactly_or_by_lookalikes() -> None:
    """One edit from a short plate covers hundreds of real cars; none may be flagged."""
    short = WatchlistEntry(id=3, plate="AB123")
    assert len(short.plate) < MIN_ONE_EDIT_LENGTH
    assert hits_for("AB124", [short]) == []
    assert [hit.kind for hit in hits_for("A8123", [short])] == [MatchKind.LOOKALIKE]
    assert hits_for("A81", [WatchlistEntry(id=4, plate="AB1")]) == []


def test_alternative_read_matches_and_says_so() -> None:
    """The engine's second guess is often the right one; it must still raise the alert.

    The hit names the alternative that matched and ranks below an equal hit on
    the best read, because the engine believed it less.
    """
    hits = hits_for("AE1284BK", alternatives=(("AE1234BK", 0.6), ("AE1234BX", 0.3)))
    assert len(hits) == 1
    assert hits[0].kind is MatchKind.EXACT
    assert hits[0].read_plate == "AE1234BK"
    assert hits[0].from_alternative
    assert hits[0].score == pytest.approx(0.6)


@pytest.mark.parametrize(
    ("alternative", "kind", "score"),
    [
        (("AE1234BK", 0.4), MatchKind.EXACT, 0.4),
        (("AEI234BK", 0.3), MatchKind.LOOKALIKE, 0.24),
    ],
)
def test_a_strong_alternative_wins_over_a_one_edit_best_read(
    alternative: tuple[str, float], kind: MatchKind, score: float
) -> None:
    """The listed plate among the engine's guesses is better evidence than a near miss.

    A best read one edit away may be another car; an exact or look-alike
    alternative names the listed one. The hit cites it, with its own (lower)
    score, even though the one-edit hit on the best read would score higher.
    """
    hits = hits_for("AE1234BX", alternatives=(alternative,))
    assert [
        (hit.kind, hit.read_plate, hit.from_alternative, hit.score) for hit in hits
    ] == [(kind, alternative[0], True, pytest.approx(score))]


def test_a_hit_names_the_vehicle_it_is_about() -> None:
    """Alerts come once per vehicle pass, so a hit must say which vehicle it is about.

    A plate entry lists one vehicle, however it was read. A pattern lists many:
    two cars it fits are two vehicles, and look-alike misreads of one car are
    the same vehicle.
    """
    pattern = WatchlistEntry(id=2, plate="AE*BK")

    def vehicle(read: str, entry: WatchlistEntry) -> tuple[str, str]:
        (hit,) = hits_for(read, [entry])
        return hit.vehicle

    assert vehicle("AE1234BK", WANTED) == vehicle("AE1234BX", WANTED)
    assert vehicle("AE1234BK", WANTED) == vehicle("AEI234BK", WANTED)
    assert vehicle("AE1111BK", pattern) != vehicle("AE2222BK", pattern)
    assert vehicle("AE1111BK", pattern) == vehicle("AEI111BK", pattern)
    assert vehicle("AE1111BK", pattern) != vehicle(
        "AE1111BK", WatchlistEntry(id=3, plate="AE11*")
    )


def test_best_read_wins_over_an_alternative_of_the_same_kind() -> None:
    """When both the best read and an alternative match, the hit cites the best read."""
    hits = hits_for("AE1234BK", alternatives=(("AE1234BK", 0.9),))
    assert [(hit.read_plate, hit.from_alternative, hit.score) for hit in hits] == [
        ("AE1234BK", False, 1.0)
    ]


def test_one_hit_per_entry_best_first() -> None:
    """Each entry alerts once per sighting, strongest evidence and highest priority first."""
    info = WatchlistEntry(id=5, plate="AE1234BK", priority=Priority.INFO)
    critical = WatchlistEntry(id=6, plate="AE1234BK", priority=Priority.CRITICAL)
    fuzzy = WatchlistEntry(id=7, plate="AE1234BX", priority=Priority.CRITICAL)
    hits = hits_for("AE1234BK", [fuzzy, info, critical])
    assert [hit.entry.id for hit in hits] == [6, 5, 7]
    assert [hit.kind for hit in hits] == [
        MatchKind.EXACT,
        MatchKind.EXACT,
        MatchKind.ONE_EDIT,
    ]


def test_disabled_and_expired_entries_never_match() -> None:
    """A closed case must stop alerting at its expiry, to the second."""
    disabled = WatchlistEntry(id=8, plate="AE1234BK", enabled=False)
    expiring = WatchlistEntry(id=9, plate="AE1234BK", expires_at=NOON_UTC)
    assert hits_for("AE1234BK", [disabled]) == []
    assert hits_for("AE1234BK", [expiring], at=NOON_UTC) == []
    before = NOON_UTC - timedelta(seconds=1)
    assert [hit.entry.id for hit in hits_for("AE1234BK", [expiring], at=before)] == [9]


def test_camera_scope() -> None:
    """An entry limited to some cameras must not alert from the others."""
    scoped = WatchlistEntry(id=10, plate="AE1234BK", cameras=("north_exit", "bridge"))
    assert hits_for("AE1234BK", [scoped], camera="gate") == []
    assert [
        hit.entry.id for hit in hits_for("AE1234BK", [scoped], camera="bridge")
    ] == [10]


@pytest.mark.parametrize(
    ("utc_time", "active_from", "active_until", "active"),
    [
        # Kyiv is UTC+3 in June: 09:00 UTC is 12:00 local.
        (time(9, 0), time(8, 0), time(18, 0), True),
        (time(4, 59), time(8, 0), time(18, 0), False),
        (time(15, 0), time(8, 0), time(18, 0), False),
        # Across midnight, 22:00-06:00 local.
        (time(20, 0), time(22, 0), time(6, 0), True),
        (time(1, 0), time(22, 0), time(6, 0), True),
        (time(3, 0), time(22, 0), time(6, 0), False),
        (time(18, 59), time(22, 0), time(6, 0), False),
        # Open-ended bounds and the "whole day" reading of equal bounds.
        (time(16, 0), time(18, 0), None, True),
        (time(16, 0), None, time(18, 0), False),
        (time(3, 0), time(7, 0), time(7, 0), True),
    ],
)
def test_active_hours_in_local_time(
    utc_time: time, active_from: time, active_until: time | None, active: bool
) -> None:
    """Night-only entries must follow the city's clock, including across midnight.

    Times are given in UTC and judged in Kyiv local time, so an implementation
    that forgot the time zone would fail several rows.
    """
    entry = WatchlistEntry(
        id=11, plate="AE1234BK", active_from=active_from, active_until=active_until
    )
    at = datetime.combine(NOON_UTC.date(), utc_time, tzinfo=UTC)
    assert bool(hits_for("AE1234BK", [entry], at=at)) is active


def test_active_hours_follow_daylight_saving() -> None:
    """08:00 local is 06:00 UTC in winter and 05:00 UTC in summer; both must match."""
    entry = WatchlistEntry(
        id=12, plate="AE1234BK", active_from=time(8, 0), active_until=time(9, 0)
    )
    winter = datetime(2026, 1, 15, 6, 30, tzinfo=UTC)
    summer = datetime(2026, 7, 15, 5, 30, tzinfo=UTC)
    assert hits_for("AE1234BK", [entry], at=winter)
    assert hits_for("AE1234BK", [entry], at=summer)
    assert not hits_for("AE1234BK", [entry], at=summer + timedelta(hours=1))


def test_active_hours_bounds() -> None:
    """The start minute is active and the end minute is not, so adjacent shifts never overlap."""
    assert is_within_active_hours(time(8), time(9), time(8))
    assert not is_within_active_hours(time(8), time(9), time(9))
    assert is_within_active_hours(None, None, time(23, 59))


def test_naive_time_is_refused() -> None:
    """A naive time would silently judge expiry and active hours in the wrong zone."""
    with pytest.raises(ValueError, match="timezone"):
        hits_for("AE1234BK", at=datetime(2026, 6, 1, 12, 0))  # noqa: DTZ001


def test_unvalidated_bare_wildcard_never_matches() -> None:
    """Stored data that skipped validation must not turn ``*`` into an alert for every car."""
    assert hits_for("AE1234BK", [WatchlistEntry(id=13, plate="*")]) == []


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("AE1234BK", "AE1234BK"),
        (" ae-1234 bk ", "AE1234BK"),
        ("АЕ1234ВК", "AE1234BK"),
        ("ae**bk", "AE*BK"),
        ("AE12??BK", "AE12??BK"),
        ("AB", "AB"),
    ],
)
def test_parse_plate_or_pattern_canonical_form(text: str, canonical: str) -> None:
    """The same plate typed by different people must be stored once, in one form."""
    assert parse_plate_or_pattern(text) == canonical


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("", ValidationKey.PLATE_EMPTY),
        (" - ", ValidationKey.PLATE_EMPTY),
        ("AE#1234", ValidationKey.PLATE_INVALID_CHARACTERS),
        ("ЖЖ1234", ValidationKey.PLATE_INVALID_CHARACTERS),
        ("*", ValidationKey.PATTERN_TOO_BROAD),
        ("A*B", ValidationKey.PATTERN_TOO_BROAD),
        ("??", ValidationKey.PATTERN_TOO_BROAD),
        ("A", ValidationKey.PLATE_TOO_SHORT),
        ("AE1234BK12345", ValidationKey.PLATE_TOO_LONG),
    ],
)
def test_parse_plate_or_pattern_refusals(text: str, key: ValidationKey) -> None:
    """Bad input must be refused with a stable key the UI can translate, not stored."""
    with pytest.raises(MatchingValidationError) as caught:
        parse_plate_or_pattern(text)
    assert caught.value.translation_key is key


def test_invalid_character_is_named() -> None:
    """The person fixing the input needs to know which character was wrong."""
    with pytest.raises(MatchingValidationError) as caught:
        parse_plate_or_pattern("AE№1")
    assert caught.value.translation_placeholders == {"character": "№"}


def _mutations(plate: str, rng: random.Random) -> str:
    """Return ``plate`` with one to three random OCR-like edits."""
    alphabet = "ABCEHIKMOPTX0123456789DGQSZ"
    for _ in range(rng.randint(1, 3)):
        position = rng.randrange(len(plate))
        operation = rng.choice(("substitute", "delete", "insert"))
        if operation == "substitute":
            plate = plate[:position] + rng.choice(alphabet) + plate[position + 1 :]
        elif operation == "delete" and len(plate) > 2:
            plate = plate[:position] + plate[position + 1 :]
        else:
            plate = plate[:position] + rng.choice(alphabet) + plate[position:]
    return plate


def test_indexed_watchlist_finds_exactly_what_comparing_every_entry_finds() -> None:
    """The index must never miss a wanted car that a plain comparison would catch.

    Thousands of random near-misses of listed plates are matched through the
    index and compared with the plain rule applied to every entry.
    """
    rng = random.Random(5)
    listed = ["AE1234BK", "KA0001AA", "BC7777CB", "AB123", "XY12", "AE*BK"]
    entries = [
        WatchlistEntry(id=number, plate=plate) for number, plate in enumerate(listed)
    ]
    compiled = CompiledWatchlist(entries)
    for _ in range(3000):
        read = _mutations(rng.choice(listed).replace("*", "77"), rng)
        found = {
            hit.entry.id: hit.kind
            for hit in compiled.match(
                plate=read, alternatives=(), camera="gate", at=NOON_UTC, tz=KYIV
            )
        }
        expected = {
            entry.id: kind
            for entry in entries[:-1]
            if (kind := misread_kind(normalize_plate(read), entry.plate)) is not None
        }
        found.pop(5, None)
        assert found == expected, read


def test_compiled_watchlist_leaves_out_unusable_entries() -> None:
    """Stored entries that never passed validation are not indexed, and say so by count."""
    compiled = CompiledWatchlist([WANTED, WatchlistEntry(id=2, plate="*")])
    assert len(compiled) == 1


def test_hit_as_event_payload() -> None:
    """Automations filter on these keys; they must be JSON and stable."""
    [hit] = hits_for("AE12348K")
    assert json.loads(json.dumps(hit.to_dict())) == {
        "entry_id": 1,
        "listed_plate": "AE1234BK",
        "read_plate": "AE12348K",
        "from_alternative": False,
        "match_kind": "lookalike",
        "score": 0.8,
        "label": "Stolen Skoda",
        "reason": "case 42",
        "priority": "high",
    }


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("AE1234BK", "AE1234BK", False),
        ("AE1234BK", "AE1234BX", True),
        ("AE1234BK", "E1234BK", True),
        ("AE1234BK", "AE1234BKK", True),
        ("AE1234BK", "AE12BK", False),
        ("AE1234BK", "EA1234BK", False),
        ("", "A", True),
    ],
)
def test_within_one_edit(first: str, second: str, *, expected: bool) -> None:
    """Equal texts are not "one edit" (that kind would hide an exact hit), and swaps are two."""
    assert within_one_edit(first, second) is expected
    assert within_one_edit(second, first) is expected


def test_full_width_read_raises_the_alert() -> None:
    """An ANPR camera set for an East Asian market sends ``ＡＥ１２３４ＢＫ``.

    It shows the wanted plate; treating its characters as "not on a plate" left
    an empty read, and the wanted car passed without an alert.
    """
    assert [(hit.kind, hit.listed_plate) for hit in hits_for("ＡＥ１２３４ＢＫ")] == [
        (MatchKind.EXACT, "AE1234BK")
    ]


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("ＡＥ　１２３４　ＢＫ", "AE1234BK"),
        ("ａｅ＊ｂｋ", "AE*BK"),
        ("AE12？？BK", "AE12??BK"),
    ],
)
def test_full_width_input_is_the_plate_or_pattern_it_shows(
    text: str, canonical: str
) -> None:
    """A plate typed with a full-width input method must be listed as it shows, not refused."""
    assert parse_plate_or_pattern(text) == canonical


def test_umlaut_read_is_not_another_cars_exact_hit() -> None:
    """Mühldorf's ``MÜ-X 42`` must not page the police as Munich's wanted ``M-X 42``.

    A read whose umlaut was dropped named the other car exactly; an officer
    would stop the wrong driver on an "exact" hit.
    """
    munich = WatchlistEntry(id=20, plate="MX42")
    assert hits_for("MÜ-X 42", [munich]) == []
    muehldorf = WatchlistEntry(id=21, plate=parse_plate_or_pattern("MÜ-X 42"))
    assert [hit.kind for hit in hits_for("MÜX42", [munich, muehldorf])] == [
        MatchKind.EXACT
    ]


@pytest.mark.parametrize("text", ["AE–1234–BK", "AE‑1234‑BK", "AE — 1234 — BK"])
def test_typographic_dashes_separate_like_hyphens(text: str) -> None:
    """Plates pasted from a bulletin or a word processor carry en dashes or non-breaking hyphens.

    They were refused as invalid characters, an error naming a "–" the person
    cannot tell from the hyphen they would type, and the wanted car was not listed.
    """
    assert parse_plate_or_pattern(text) == "AE1234BK"
