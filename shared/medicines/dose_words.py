"""The words of a UK dosage instruction, as tokens: quantities, frequencies, intervals, times of day, caps.

Pure. :func:`normalise` rewrites numbers in words, fractions ("one and a half", "1½", "half a"), Latin
numerals ("i", "ii", "i-ii") and unit spellings (mcg, µg, micrograms/hour) into one spelling;
:func:`tokens` then reads the text left to right with a closed vocabulary. A word the vocabulary does not
hold becomes an ``unread`` token, so the reader can refuse the instruction and name it: nothing unknown is
skipped.

Sources of the forms: NHS Digital "Dose syntax" implementation guidance (dm+d dose forms, UCUM units,
"1-2 tablets every 4-6 hours when required, maximum 8 tablets in 24 hours"), the BNF's Latin abbreviations
(od, bd, tds, qds, mane, nocte, prn, stat), the wording of the BNF's cautionary and advisory labels
(bnf.nice.org.uk/about/labels: 2, 19, 21, 25, 30, read as advice; label 29's "do not take more than 2
at any one time" is not read) and the forms GP systems print.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["Token", "normalise", "tokens"]

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40,
    "forty-eight": 48, "seventy-two": 72, "ninety-six": 96, "twenty-four": 24,
}  # fmt: skip
_NUMBER_WORD = "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
_LATIN = {"i": "1", "ii": "2", "iii": "3"}
NUM = r"\d+(?:\.\d+)?"
_RANGE = rf"(?P<lo>{NUM})(?:\s*(?:-|to|or)\s*(?P<hi>{NUM}))?"
UNITS = (
    r"microgram/hour|micrograms?|mg|g|ml|tablets?|tabs?|capsules?|caps?|caplets?|patch(?:es)?|sachets?"
    r"|lozenges?|films?|doses?|puffs?|drops?|sprays?|spoonfuls?|units?|suppositor(?:y|ies)|pessar(?:y|ies)"
    r"|vials?|ampoules?|injections?|applications?|measures?"
)
_HOURS = r"(?:hours?|hrs?|h)\b"
_PER_DAY = (
    rf"(?:in\s+(?:any\s+|a\s+|one\s+)?24\s*{_HOURS}(?:\s*period)?|(?:per|a|each|every|in\s+a|in\s+one|in\s+any)"
    rf"\s+(?:day\b|24\s*{_HOURS})|daily\b|/\s*(?:day\b|24\s*{_HOURS}|d\b)"
    # "max 8/24": clinicians' shorthand for "in 24 hours", as "/7" is days and "/52" weeks
    r"|/\s*24(?![\d./]))"
)


@dataclass(frozen=True, slots=True)
class Token:
    """One reading of a span of the text: ``kind`` and its values (``low``/``high``: numbers)."""

    # quantity, frequency, interval, time-of-day, cap (a day), dose-cap (a time), as-needed, loading, then,
    # duration, weekdays, total (a day's total restated: "total 20mg daily"), filler, unread
    kind: str
    text: str
    low: Decimal | None = None
    high: Decimal | None = None
    unit: str = ""
    slot: str = ""  # a time of day's slot; a cap's "doses" when it caps administrations


def _number(match: re.Match[str]) -> str:
    return str(_NUMBER_WORDS[match.group(0)])


def normalise(text: str) -> str:
    """Lower case, one spelling per unit, digits for numbers, fractions as decimals."""
    t = " " + text.lower().replace("\u2013", "-").replace("\u2014", "-").replace("\u00a0", " ") + " "
    t = t.replace("µ", "u").replace("μ", "u").replace("\u2019", "'")
    for symbol, value in (("½", ".5"), ("¼", ".25"), ("¾", ".75")):
        t = re.sub(rf"(\d)\s*{symbol}", rf"\g<1>{value}", t).replace(symbol, f" 0{value} ")
    t = re.sub(rf"\b(?:{_NUMBER_WORD})\b", _number, t)
    t = re.sub(r"(?<![\d./])1/2(?![\d/])", "0.5", t)
    t = re.sub(rf"(?<![\d.])({NUM})\s+and\s+a\s+half\b", lambda m: str(Decimal(m[1]) + Decimal("0.5")), t)
    t = re.sub(r"\bhalf\s+(?:of\s+)?(?:a|an|1)\b|\ba\s+half\b|\bhalf\b", "0.5", t)
    t = re.sub(r"(?<![\w.])(i{1,3})(?:\s*-\s*(i{1,3}))?(?![\w.])", _latin, t)
    t = re.sub(r"(?<![\w.])(\.\d)", r"0\1", t)
    t = re.sub(
        r"(?:(?<=\d)|\b)(?:micrograms?|mcg|ug)\s*(?:/|per|an|a|each)\s*(?:hour|hr|h)\b", " microgram/hour", t
    )
    t = re.sub(r"(?:(?<=\d)|\b)(?:micrograms?|mcg|ug)\b", " microgram", t)  # "25mcg/hr", "200mcg"
    t = re.sub(
        r"\b(tablet|capsule|caplet|sachet|tab|cap)\s*\(s\)", r"\1s", t
    )  # "2 tablet(s)", as GP systems print
    t = re.sub(r"\bpatch\s*\(es\)", "patches", t)
    t = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", t)  # "twice-daily", "four-hourly"
    t = re.sub(r"(?<=\d)(?=(?:od|bd|tds|qds|tid|qid|bid|prn|nocte|mane)\b)", " ", t)  # "1bd", "2qds"
    t = re.sub(r"(?:(?<=\d)|\b)(?:hrly|hly)\b", " hourly", t)
    t = re.sub(r"\b(?:milligrams?|mgs)\b", "mg", t)
    t = re.sub(
        r"(?:(?<=\d)|\b)(?:millilitres?|milliliters?|mls|ml's)(?![\w'])", " ml", t
    )  # "5mls", "10 ml's"
    t = re.sub(r"(\d)\s*(?:grams?|gm)\b", r"\1 g", t)
    t = re.sub(rf"(?<![\d.])({NUM})\s+5\s*ml\s+spoonfuls?\b", lambda m: f"{Decimal(m[1]) * 5} ml", t)
    t = re.sub(r"\b5\s*ml\s+spoonfuls?\b", "5 ml", t)
    t = re.sub(
        rf"(?<![\d.])({NUM})\s*(?:x\s*)?(?:5\s*ml\s+)?teaspoonfuls?\b", lambda m: f"{Decimal(m[1]) * 5} ml", t
    )
    t = re.sub(r"\b(?:a|one|1)\s+(?:new|fresh)\s+patch\b", "1 patch", t)
    t = re.sub(rf"\ban?\s+(?=(?:{UNITS})\b)", "1 ", t)
    return " ".join(t.split())


def _latin(match: re.Match[str]) -> str:
    return _LATIN[match[1]] + (f"-{_LATIN[match[2]]}" if match[2] else "")


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _range(m: re.Match[str]) -> tuple[Decimal | None, Decimal | None]:
    low = _decimal(m.group("lo"))
    return low, _decimal(m.group("hi")) or low


_Make = Callable[[re.Match[str]], Token]


def _fixed(kind: str, value: str = "", slot: str = "") -> _Make:
    number = Decimal(value) if value else None
    return lambda m: Token(kind, m.group(0), number, number, slot=slot)


def _ranged(kind: str, unit: str = "") -> _Make:
    def make(m: re.Match[str]) -> Token:
        low, high = _range(m)
        return Token(kind, m.group(0), low, high, unit)

    return make


def _every_days(days: str) -> _Make:
    return lambda m: Token("interval", m.group(0), Decimal(days) * 24, Decimal(days) * 24)


def _interval_days(m: re.Match[str]) -> Token:
    low, high = _range(m)
    weeks = "week" in m.group(0)
    factor = Decimal(168 if weeks else 24)
    return Token("interval", m.group(0), (low or Decimal(1)) * factor, (high or Decimal(1)) * factor)


def _quantity(m: re.Match[str]) -> Token:
    unit = m.group("u2") or m.group("u1") or ""
    if m.group("u1") and m.group("u2") and _unit_word(m.group("u1")) != _unit_word(m.group("u2")):
        unit = "mixed"
    return Token(
        "quantity", m.group(0), _decimal(m.group("lo")), _decimal(m.group("hi") or m.group("lo")), unit
    )


def _unit_word(word: str) -> str:
    return re.sub(r"(?<=patch)es$|(?<=[^s])s$", "", word)


def _cap(m: re.Match[str]) -> Token:
    number = Decimal(m.group("n"))
    doses = "doses" if m.group("doses") else ""
    return Token("cap", m.group(0), number, number, m.group("u") or "", doses)


def _dose_cap(m: re.Match[str]) -> Token:
    number = Decimal(m.group("n"))
    return Token("dose-cap", m.group(0), number, number, _unit_word(m.group("u") or ""))


def _clock(m: re.Match[str]) -> Token:
    """A clock time ("at 8am", "20:00") is a time of day of its own."""
    return Token("time-of-day", m.group(0), slot=re.sub(r"^at\s+|\s+", "", m.group(0)))


_TIMES_OF_DAY = (
    (
        r"at\s+\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm)|at\s+\d{1,2}[:.]\d{2}|\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm)",
        "clock",
    ),
    (r"(?:in\s+the\s+|each\s+|every\s+)?mornings?|mane|with\s+breakfast|at\s+breakfast|breakfast", "morning"),
    (r"(?:at\s+)?(?:midday|lunchtime|lunch|noon)", "midday"),
    (r"(?:in\s+the\s+)?afternoon|(?:at\s+)?teatime|(?:at\s+)?tea\s+time", "afternoon"),
    (r"(?:in\s+the\s+|each\s+|every\s+)?evenings?", "evening"),
    (r"(?:at\s+|each\s+|every\s+)?night|nocte|(?:at\s+)?bedtime|before\s+bed", "night"),
)
# Where a patch goes, as counselling text lists it: "the upper arm, chest or back".
_SITE = r"(?:upper\s+|outer\s+)*(?:arm|chest|back|body|thigh)s?"
_SITES = rf"{_SITE}(?:\s*(?:,|or|and)\s*(?:(?:or|and)\s+)?(?:the\s+)?{_SITE})*"
_FILLER = (
    r"to\s+be\s+(?:taken|applied|given|used|dissolved|swallowed)|to\s+be|take|taken|apply|applied|give|use|used"
    r"|swallow(?:ed)?\s+whole|swallowed|swallow|whole|chew(?:ed)?|dissolve(?:d)?|in\s+water|with\s+water"
    r"|(?:with|in)\s+(?:a\s+)?(?:glass|little)\s+of\s+water|with\s+or\s+after\s+food|after\s+food|with\s+food"
    r"|before\s+food|with\s+meals|after\s+meals|on\s+an\s+empty\s+stomach|by\s+mouth|orally|sublingually"
    r"|under\s+the\s+tongue|(?:to|on|onto)\s+(?:the\s+|an?\s+)?(?:(?:clean|dry|non\s+hairy|hairless|intact|unbroken)"
    r"[\s,]+(?:and\s+)?)*(?:area\s+of\s+)?skin(?:\s+on\s+(?:the\s+|your\s+)?" + _SITES + ")?"
    r"|(?:to|on|onto)\s+(?:the\s+|your\s+)?" + _SITES + r""
    r"|before\s+applying\s+(?:the\s+|a\s+)?new\s+(?:one|1|patch)"
    r"|do\s+not\s+use\s+the\s+same\s+(?:area|site|place)(?:\s+of\s+skin)?\s+(?:again\s+)?for\s+(?:3|three)"
    r"(?:\s*(?:-|to)\s*(?:4|four))?\s+(?:weeks|days)"
    r"|(?:for|to\s+relieve)\s+(?:the\s+|your\s+)?(?:(?:severe|moderate|mild|chronic|persistent|lower|back|neck"
    r"|shoulder|leg|knee|hip|joint|nerve|muscle|muscular|arthritic|arthritis)\s+)*pain(?:\s+relief)?"
    r"|as\s+directed(?:\s+by\s+(?:your\s+)?"
    r"(?:doctor|gp|prescriber|pharmacist))?|do\s+not\s+(?:crush|chew|break)|and\s+do\s+not\s+(?:crush|chew)"
    r"|(?:remove|removing|replace|replacing|change|changing|changed|replaced)(?:\s+(?:the\s+)?old\s+patch)?"
    r"|(?:the|a)\s+new\s+patch|old\s+patch|new|the|of|up\s*to|upto|regularly|regular|please|each\s+time"
    r"|tablets?|tabs?|capsules?|caplets?|patch(?:es)?|sachets?|at\s+the\s+same\s+time|to|only|dose|doses"
    r"|at\s+least|apart|leaving|between|rotate\s+sites?|(?:each|every|a)\s+time|and|plus|/"
)
# Advice printed after the dose (the BNF's cautionary and advisory labels 2 and 30 as GP systems print them,
# and the shorter forms clinicians type): words with no number in them that never change the amount taken.
# Each is a whole phrase, so a sentence that merely starts like one is still read word by word.
_DRIVE = r"(?:drive|operate\s+machinery|use\s+(?:tools\s+or\s+)?machine(?:s|ry))"
_ADVICE = (  # BNF cautionary and advisory labels 2, 19, 21, 25 and 30, and the forms GP systems print
    r"(?:warning\s*:?\s*)?(?:this\s+medicine\s+)?(?:may\s+make|makes)\s+you\s+(?:sleepy|drowsy)"
    r"|(?:this\s+medicine\s+)?may\s+cause\s+drowsiness"
    rf"|if\s+you\s+still\s+feel\s+sleepy\s+the\s+next\s+day\s*,?\s*do\s+not\s+{_DRIVE}(?:\s+or\s+{_DRIVE})*"
    r"|warning\s*[.:]?(?=\s*may\s+cause\s+drowsiness)"  # BNF label 2's older wording
    r"|take\s+with\s+or\s+just\s+after\s+food(?:\s*,?\s*or\s+a\s+meal)?"
    # counselling GP systems print beside an opioid's dose, which says nothing of how much or how often
    r"|do\s+not\s+stop\s+taking(?:\s+(?:this\s+medicine|them|it))?\s+suddenly|controlled\s+drugs?"
    r"|do\s+not\s+(?:expose|heat)(?:\s+the\s+patch(?:es)?)?(?:\s+to\s+(?:direct\s+)?heat(?:\s+sources?)?)?"
    r"|(?:rotate|vary|change)\s+(?:the\s+)?(?:application\s+)?sites?(?:\s+of\s+application)?"
    r"|do\s+not\s+cut(?:\s+or\s+damage)?\s+the\s+patch(?:es)?"
    r"|space\s+the\s+doses\s+evenly(?:\s+(?:through(?:out)?|over)\s+the\s+day)?"
    r"|(?:apply|change\s+(?:it|the\s+patch))\s+on\s+the\s+same\s+day\s+(?:each|every)\s+week"
    r"|(?:for\s+)?review\s+in\s+\d+\s*(?:days?|weeks?|months?|/7|/52)"
    r"|swallow\s+(?:this\s+medicine|them|it)\s+whole|do\s+not\s+(?:chew\s+or\s+crush|crush\s+or\s+chew)"
    rf"|if\s+(?:this\s+happens|affected)\s*,?\s*do\s+not\s+{_DRIVE}(?:\s+or\s+{_DRIVE})*"
    rf"|do\s+not\s+{_DRIVE}(?:\s+or\s+{_DRIVE})*\s+if\s+(?:affected|drowsy|sleepy)"
    r"|do\s+not\s+drink\s+alcohol|avoid\s+alcohol(?:ic\s+drinks?)?"
    r"|contains\s+paracetamol"
    r"|do\s+not\s+take\s+(?:with\s+(?:any\s+)?other|anything\s+else\s+containing|any\s+other)\s+paracetamol"
    r"(?:\s+containing)?(?:\s+(?:products?|medicines?|tablets))?(?:\s+while\s+(?:you\s+are\s+)?taking\s+this\s+medicine)?"
    r"|talk\s+to\s+a\s+doctor\s+at\s+once\s+if\s+you\s+take\s+too\s+much\s+of\s+this\s+medicine"
    r"(?:\s*,?\s*even\s+if\s+you\s+feel\s+well)?"
)
_DAY = r"(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?s?"
_WEEKDAYS = rf"(?:on|every|each)\s+{_DAY}(?:\s*(?:,|and|&)\s*(?:on\s+)?{_DAY})*"


def _weekdays(m: re.Match[str]) -> Token:
    """Named days of the week ("on Monday and Thursday"): how many a week, for a patch's change days."""
    days = len(re.findall(_DAY, m.group(0)))
    return Token("weekdays", m.group(0), Decimal(days), Decimal(days))


def _total(m: re.Match[str]) -> Token:
    """A day's total written beside the dose ("1 bd (total 20mg daily)"), for the reader to check."""
    number = Decimal(m.group("n"))
    return Token("total", m.group(0), number, number, m.group("u") or "")


_WORD_END = r"(?![a-z0-9])"
"""Each rule reads whole words: the whole of its pattern (every alternative, not the last alone) ends where
a word does, so "total" is no "to" and "tal", "tonight" no "to" and "night", "taken" no "take" and "n"."""
_DASH = r"(?<=\s)-(?=\s)"
"""A dash with a space each side that no range has read ("1 bd - may cause drowsiness", "1 bd - one in the
morning and one at night"): a break between sentences. "1 - 2", "5 - 10ml", "every 4 - 6 hours" are
ranges, read whole by the rules before it reaches here."""

_WORDS: tuple[tuple[re.Pattern[str], _Make], ...] = tuple(
    (re.compile(f"(?:{pattern}){_WORD_END}"), make)
    for pattern, make in (
        (
            r"(?:max(?:imum|\.)?|not\s+(?:to\s+)?(?:more\s+than|exceed)|no\s+more\s+than|do\s+not\s+(?:take|exceed|use"
            r"|have)\s+more\s+than|do\s+not\s+exceed|don't\s+take\s+more\s+than|up\s+to\s+a\s+max(?:imum)?\s+of"
            r"|limit\s+of)\s*(?:dose\s*)?(?:of\s*)?(?:up\s+to\s+)?(?P<n>"
            + NUM
            + r")\s*(?P<u>"
            + UNITS
            + r")?\s*"
            r"(?:tablets?|capsules?|patch(?:es)?)?\s*(?P<doses>doses?|times)?\s*" + _PER_DAY,
            _cap,
        ),
        (
            # a maximum a time (BNF label 29: "Do not take more than 2 at any one time"): never raises a
            # figure, but a dose above it contradicts it
            r"(?:(?:do\s+not|don't|never)\s+(?:take|use|have)\s+more\s+than|no\s+more\s+than|max(?:imum|\.)?"
            r"(?:\s+of)?)\s*(?P<n>" + NUM + r")\s*(?P<u>" + UNITS + r")?\s*"
            r"(?:at\s+(?:any\s+(?:(?:one|1)\s+)?time|a\s+time|(?:one|1)\s+time)|in\s+(?:one|1|a\s+single)\s+dose"
            r"|per\s+dose"
            r"|each\s+time)",
            _dose_cap,
        ),
        (_WEEKDAYS, _weekdays),
        (rf"(?:every|each|q)\s*{_RANGE}\s*(?:-|to)?\s*{_HOURS}", _ranged("interval")),
        (rf"{_RANGE}\s*-?\s*hourly", _ranged("interval")),
        (r"every\s+hour|hourly", _fixed("interval", "1")),
        (rf"every\s+{_RANGE}\s*(?:days?|weeks?)", _interval_days),
        # "every 3/7": every three days, the NHS shorthand for days ("for 5/7" is a course, below)
        (rf"every\s+{_RANGE}\s*/\s*7(?![\d/])", _interval_days),
        (
            r"every\s+other\s+day|on\s+alternate\s+days|alternate\s+days|every\s+second\s+day",
            _every_days("2"),
        ),
        (r"every\s+third\s+day", _every_days("3")),
        (r"every\s+fourth\s+day", _every_days("4")),
        (r"twice\s+(?:a|per|each|every)\s+week|twice\s+weekly|twice-weekly", _every_days("3.5")),
        (r"(?:once\s+)?(?:a|per|each|every)\s+week|once\s+weekly|once-weekly|weekly", _every_days("7")),
        (r"every\s+fortnight|fortnightly", _every_days("14")),
        (r"(?:once\s+)?(?:a|per|each|every)\s+month|monthly", _every_days("30")),
        (
            rf"(?:{_RANGE}\s*(?:times|x)|(?P<w>once|twice|thrice))\s*(?:a|per|each|every|in\s+(?:a|one|any))?\s*"
            rf"(?:day\b|daily\b|24\s*{_HOURS}|/\s*day\b|/\s*d\b)",
            lambda m: _frequency(m),
        ),
        (
            r"o\.?d\.?|o\.?m\.?|daily|every\s+day|each\s+day|a\s+day|per\s+day|/\s*day",
            _fixed("frequency", "1"),
        ),
        (r"b\.?d\.?|b\.?i\.?d\.?", _fixed("frequency", "2")),
        (r"t\.?d\.?s\.?|t\.?i\.?d\.?", _fixed("frequency", "3")),
        (r"q\.?d\.?s\.?|q\.?i\.?d\.?", _fixed("frequency", "4")),
        *((p, _clock if s == "clock" else _fixed("time-of-day", slot=s)) for p, s in _TIMES_OF_DAY),
        (
            r"when\s+required|as\s+required|when\s+needed|as\s+needed|if\s+needed|if\s+required|when\s+necessary"
            r"|as\s+necessary|if\s+necessary|p\.?r\.?n\.?|when\s+req|as\s+req|(?:for\s+)?breakthrough(?:\s+pain)?",
            _fixed("as-needed"),
        ),
        (
            r"now|stat|immediately|initially|at\s+first|first\s+dose|to\s+start(?:\s+with)?|loading\s+dose"
            r"|straight\s+away|at\s+once|on\s+day\s+1|at\s+(?:the\s+)?onset(?:\s+of\s+(?:an?\s+|the\s+)?(?:migraine|attack|pain"
            r"|headache))?",
            _fixed("loading"),
        ),
        (r"then|followed\s+by|thereafter|after\s+that", _fixed("then")),
        (rf"for\s+(?:up\s+to\s+)?{_RANGE}\s*(?:days?|weeks?|months?)(?:\s+only)?", _ranged("duration")),
        # a course written as UK clinicians do: "for 5/7" (days), "for 2/52" (weeks), "for 3/12" (months)
        (rf"for\s+(?:up\s+to\s+)?{_RANGE}\s*/\s*(?:7|52|12)(?![\d/])(?:\s+only)?", _ranged("duration")),
        # a day's total restated beside the dose: "total 20mg daily", "a total of 20mg a day", "total daily
        # dose 20mg" (a total with no day said, "total 56 tablets", is a supply: not read)
        (
            rf"(?:a\s+)?total(?:\s+daily)?(?:\s+dose)?(?:\s+of)?\s*(?P<n>{NUM})\s*(?P<u>{UNITS})?\s*{_PER_DAY}",
            _total,
        ),
        (rf"total\s+daily(?:\s+dose)?(?:\s+of)?\s*(?P<n>{NUM})\s*(?P<u>{UNITS})?", _total),
        (
            rf"(?P<lo>{NUM})\s*(?P<u1>{UNITS})?(?:\s*(?:-|to|or)\s*(?:up\s+to\s+)?(?P<hi>{NUM})\s*(?P<u2>{UNITS})?)?",
            _quantity,
        ),
        (_ADVICE, _fixed("filler")),
        (_FILLER, _fixed("filler")),
    )
)
_RULES: tuple[tuple[re.Pattern[str], _Make], ...] = (
    *_WORDS,
    (re.compile(r"[,;:.()+&]"), _fixed("filler")),  # punctuation: no word to end
    (re.compile(_DASH), _fixed("filler")),
)


def _frequency(m: re.Match[str]) -> Token:
    word = m.group("w")
    if word:
        number = Decimal({"once": 1, "twice": 2, "thrice": 3}[word])
        return Token("frequency", m.group(0), number, number)
    low, high = _range(m)
    return Token("frequency", m.group(0), low, high)


def tokens(text: str) -> list[Token]:
    """The normalised ``text`` as tokens, left to right; unknown words come back as ``unread`` tokens."""
    found: list[Token] = []
    position = 0
    while position < len(text):
        if text[position] == " ":
            position += 1
            continue
        for pattern, make in _RULES:
            match = pattern.match(text, position)
            if match and match.end() > position:
                found.append(make(match))
                position = match.end()
                break
        else:
            word = re.match(r"\S+?(?=\s|[,;:.()]|$)|\S", text[position:])
            span = word.group(0) if word else text[position]
            found.append(Token("unread", span))
            position += len(span)
    return found
