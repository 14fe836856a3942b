"""Words written on vehicles that the engine reads as well as plates: makes, models, badges.

When a car's plate cannot be read (dirty, turned away, covered), the likeliest
text left on it is often its badge: on the 82 boxed photos with the plate
covered, 4 of the 11 first reads of a vehicle box at 0.5 or more were
``QUEST``, ``MAXMA``, ``LINC0LN`` and ``CHEVRDLE``. Stored, such a read is a sighting of a
plate no car carries, and every car of that model shares it, so its "route"
joins strangers. ``is_vehicle_word`` tells the pipeline which reads those are.

Generic words that are also common vanity plates (``SPORT``, ``GRAND``,
``MASTER``) are left out: a vanity plate is a real plate.
"""

from __future__ import annotations

from functools import cache


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


MAKES = _words(
    """
    TOYOTA HONDA NISSAN MAZDA SUBARU MITSUBISHI SUZUKI LEXUS INFINITI ACURA HYUNDAI
    GENESIS CHEVROLET CHEVY BUICK CADILLAC CHRYSLER DODGE LINCOLN TESLA VOLKSWAGEN
    MERCEDES MERCEDESBENZ PORSCHE VAUXHALL SKODA CUPRA RENAULT PEUGEOT CITROEN DACIA
    LANCIA VOLVO JAGUAR LANDROVER RANGEROVER DAEWOO SSANGYONG GEELY CHERY HAVAL
    SCANIA IVECO ISUZU MOSKVICH BOGDAN FREIGHTLINER KENWORTH PETERBILT INTERNATIONAL
    YAMAHA KAWASAKI DUCATI HARLEY DAVIDSON POLESTAR RIVIAN
    """
)
"""Makes sold in Ukraine, Europe and the Americas, and their short forms."""
MODELS = _words(
    """
    COROLLA CAMRY PRIUS YARIS AURIS AVENSIS HILUX TACOMA TUNDRA SIENNA HIGHLANDER
    LANDCRUISER CRUISER CIVIC ACCORD ODYSSEY ALTIMA MAXIMA SENTRA ROGUE QUEST
    PATHFINDER XTRAIL QASHQAI MURANO FRONTIER OUTBACK FORESTER IMPREZA LANCER
    OUTLANDER PAJERO VITARA ELANTRA SONATA TUCSON SANTAFE SPORTAGE SORENTO OPTIMA
    FIESTA MONDEO MUSTANG EXPLORER EXPEDITION TRANSIT ECOSPORT TAURUS SILVERADO
    TAHOE SUBURBAN MALIBU IMPALA CRUZE EQUINOX TRAVERSE TRAILBLAZER CAMARO CORVETTE
    LACETTI LANOS MATIZ NEXIA NUBIRA PASSAT JETTA TIGUAN TOUAREG TOURAN TRANSPORTER
    CRAFTER AMAROK ARTEON OCTAVIA FABIA SUPERB KODIAQ KAROQ MEGANE SANDERO KANGOO
    SCENIC LAGUNA KADJAR CAPTUR FLUENCE TRAFIC ASTRA CORSA VECTRA INSIGNIA ZAFIRA
    VIVARO MOKKA BERLINGO JUMPER DUCATO DOBLO PRIORA KALINA GRANTA LARGUS GAZELLE
    CHEROKEE WRANGLER RENEGADE DURANGO CHARGER CHALLENGER PACIFICA ESCALADE
    ENCLAVE NAVIGATOR SPRINTER VIANO ACTROS ATEGO
    """
)
BADGES = _words(
    """
    HYBRID DIESEL QUATTRO XDRIVE ECOBOOST TITANIUM AVANTGARDE ELEGANCE COMFORTLINE
    HIGHLINE TRENDLINE SPORTBACK FOURMATIC FOURMOTION BLUEMOTION
    """
)
"""Engine, drive and trim badges."""
VEHICLE_WORDS = MAKES | MODELS | BADGES
"""Upper case, letters only: a read is compared with its digits folded to letters."""

_LETTER_FOR_DIGIT = str.maketrans("0125678", "OIZSGTB")
"""A digit read where a word has a letter (``LINC0LN``)."""

MIN_LENGTH = 4
"""Shorter reads (``KIA``, ``BMW``) are too often parts of real plates."""


def is_vehicle_word(text: str) -> bool:
    """Whether a read is a make, model or badge word, perhaps misread.

    At most one digit, taken as the letter it resembles. Words of six or
    seven letters match with one character wrong, left out or added, longer
    ones with two (``CHEVRDLE`` is ``CHEVROLET``); shorter ones exactly.
    """
    if len(text) < MIN_LENGTH or sum(char.isdigit() for char in text) > 1:
        return False
    letters = text.upper().translate(_LETTER_FOR_DIGIT)
    if not letters.isalpha():
        return False
    if letters in VEHICLE_WORDS:
        return True
    return any(
        _within_edits(letters, word, allowed)
        for allowed, words in _words_by_allowed_edits()
        for word in words
        if abs(len(word) - len(letters)) <= allowed
    )


def _allowed_edits(word: str) -> int:
    if len(word) >= 8:
        return 2
    if len(word) >= 6:
        return 1
    return 0


@cache
def _words_by_allowed_edits() -> tuple[tuple[int, tuple[str, ...]], ...]:
    return tuple(
        (
            allowed,
            tuple(sorted(w for w in VEHICLE_WORDS if _allowed_edits(w) == allowed)),
        )
        for allowed in (1, 2)
    )


def _within_edits(text: str, word: str, allowed: int) -> bool:
    """Whether ``text`` becomes ``word`` by at most ``allowed`` one-character edits."""
    previous = list(range(len(word) + 1))
    for row, char in enumerate(text, start=1):
        current = [row]
        for column, wanted in enumerate(word, start=1):
            current.append(
                min(
                    previous[column] + 1,
                    current[column - 1] + 1,
                    previous[column - 1] + (char != wanted),
                )
            )
        if min(current) > allowed:
            return False
        previous = current
    return previous[-1] <= allowed
