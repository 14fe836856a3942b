"""Words the engine reads beside plates that are no plate: makes, models, badges, signs.

When a car's plate cannot be read (dirty, turned away, covered), the likeliest
text left is often its badge or a sign behind it. With the labelled plates of
the 82 boxed photos covered, 4 of the 11 first reads of a vehicle box at 0.5 or
more were ``QUEST``, ``MAXMA``, ``LINC0LN`` and ``CHEVRDLE``; of the whole
frames' 20, 9 were badges or signs (``PRIVATE``, ``EXIT0NLY``). Stored, such a
read is a sighting of a plate no car carries, and every car of that model (or
every car passing that sign) shares it, so its "route" joins strangers.
``is_known_word`` tells the pipeline which reads those are.

Generic words that are also common vanity plates (``SPORT``, ``GRAND``,
``MASTER``) are left out: a vanity plate is a real plate.
"""

from __future__ import annotations

from functools import cache, lru_cache

from ..plate_text import within_one_edit


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
SIGNS = _words(
    """
    PRIVATE RESIDENT RESIDENTS VISITOR VISITORS EXIT ONLY STOP ENTRANCE ENTER PARKING
    NOPARKING TOWAWAY ONEWAY DETOUR YIELD CAUTION DANGER WARNING LOADING DELIVERY
    CUSTOMER CUSTOMERS STAFF SALE SALES OPEN CLOSED TAXI POLICE SCHOOL SERVICE
    RENTAL MOTORS MOTEL HOTEL PHARMACY MARKET ABERTO ABERTOS FECHADO ENTRADA SAIDA
    ESTACIONAMENTO PROIBIDO
    """
)
"""Road, parking and shop signs (English, and Portuguese for Brazil's cameras)."""
SHORT_MAKES = _words("FORD AUDI OPEL JEEP FIAT SEAT LADA SAAB")
"""Four-letter makes: matched only exactly, as four-letter words are."""
KNOWN_WORDS = MAKES | SHORT_MAKES | MODELS | BADGES | SIGNS
"""Upper case, letters only: a read is compared with its digits folded to letters."""
FUZZY_WORDS = MAKES | MODELS | BADGES
"""Words matched also with a character or two off: names no vanity plate is
near. Signs' words are ordinary words (``CUSTOMER`` is two edits from the
vanity plate ``CUST0M`` of the photo set), matched only exactly."""

_LETTER_FOR_DIGIT = str.maketrans("0125678", "OIZSGTB")
"""A digit read where a word has a letter (``LINC0LN``)."""

MIN_LENGTH = 4
"""Shorter reads (``KIA``, ``BMW``) are too often parts of real plates."""
MAX_JOINED = 3
"""Words a read may be joined from (``EXIT0NLY``: a sign's line read as one)."""


@lru_cache(maxsize=1024)
def is_known_word(text: str) -> bool:
    """Whether a read is a make, model, badge or sign word, perhaps misread.

    At most one digit, taken as the letter it resembles. Makes, models and
    badges of six or seven letters match with one character wrong, left out
    or added, longer ones with two (``CHEVRDLE`` is ``CHEVROLET``); shorter
    ones and signs' words exactly, as do reads joined from up to MAX_JOINED
    words (``EXITONLY``). Up to half a millisecond for a read near no word: the
    pipeline asks only about a frame's first read, and remembers the answer
    for the next frames of a pass.
    """
    if len(text) < MIN_LENGTH or sum(char.isdigit() for char in text) > 1:
        return False
    letters = text.upper().translate(_LETTER_FOR_DIGIT)
    if not letters.isalpha():
        return False
    if _joined_from_words(letters, MAX_JOINED) or letters in _cut_makes():
        return True
    one_edit, two_edits = _words_by_allowed_edits()
    return any(
        within_one_edit(letters, word)
        for word in one_edit
        if abs(len(word) - len(letters)) <= 1
    ) or any(
        _within_two_edits(letters, word)
        for word in two_edits
        if abs(len(word) - len(letters)) <= 2
    )


def _joined_from_words(letters: str, most: int) -> bool:
    """Whether ``letters`` is one to ``most`` known words written together."""
    if letters in KNOWN_WORDS:
        return True
    return most > 1 and any(
        letters[:end] in KNOWN_WORDS and _joined_from_words(letters[end:], most - 1)
        for end in range(MIN_LENGTH, len(letters) - MIN_LENGTH + 1)
    )


CUT_MAKES = _words(
    """
    VOLKSWAGEN RENAULT CITROEN PEUGEOT CHEVROLET MERCEDES HYUNDAI MITSUBISHI
    CADILLAC CHRYSLER LINCOLN PORSCHE SSANGYONG VAUXHALL MOSKVICH INFINITI KAWASAKI
    """
)
"""Long badges also matched by their start or end (``NAULT``, ``IKSWAGEN``):
the line is often cut at one end. Makes joined from ordinary words are left out
(``PETERBILT`` would make ``PETER`` a badge)."""
MIN_CUT_LENGTH = 5


@cache
def _cut_makes() -> frozenset[str]:
    """Every start and end of CUT_MAKES, MIN_CUT_LENGTH letters or longer."""
    return frozenset(
        cut
        for make in CUT_MAKES
        for length in range(MIN_CUT_LENGTH, len(make))
        for cut in (make[:length], make[-length:])
    )


def _allowed_edits(word: str) -> int:
    """One-character edits a read may be off a word of the list (see ``is_known_word``)."""
    if len(word) >= 8:
        return 2
    if len(word) >= 6:
        return 1
    return 0


MIN_FUZZY_CUT_LENGTH = 7
"""A cut badge this long also matches with one character off (``IKSWAGEN``)."""


@cache
def _words_by_allowed_edits() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return the words a read may be one edit off, and those it may be two edits off.

    Exact matches are found before, so ``within_one_edit`` (False for equal
    texts) tells the rest.
    """
    long_cuts = {cut for cut in _cut_makes() if len(cut) >= MIN_FUZZY_CUT_LENGTH}
    return (
        tuple(sorted({w for w in FUZZY_WORDS if _allowed_edits(w) == 1} | long_cuts)),
        tuple(sorted(w for w in FUZZY_WORDS if _allowed_edits(w) == 2)),
    )


def _within_two_edits(text: str, word: str) -> bool:
    """Whether ``text`` becomes ``word`` by at most two one-character edits."""
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
        if min(current) > 2:
            return False
        previous = current
    return previous[-1] <= 2
