"""Invitation wording: find stigmatising or threatening phrases, and render the default letter.

In the service evaluation one patient was upset by an invitation naming 'Battle Against
Tranquillisers', another by a GP implying the prescription would be stopped, and patients feared being
labelled an 'addict'. Letters go out on behalf of the GP practice, person-centred, and never label or
threaten. The phrases live in `data/wording-phrases.json`, the default letter in
`data/invitation-letter.txt`; a practice may adapt the letter, and the service refuses a template
for which `find_offending_phrases` returns anything.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from services.referral.domain.eligibility import load_data

__all__ = [
    "Finding",
    "MissingPlaceholderError",
    "default_invitation_template",
    "find_offending_phrases",
    "placeholders",
    "render_invitation",
]

# Typographic quotes and dashes read as their plain forms; each is one character, so positions hold.
_PLAIN = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2010": "-", "\u2011": "-"}
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One offending phrase in a text: `text[start:end] == matched`."""

    phrase: str  # the concern, e.g. "addict"
    category: str  # stigmatising | threatening | coercive | alarming-provider
    matched: str  # the text as written
    start: int
    end: int
    why: str


class MissingPlaceholderError(KeyError):
    """The template names placeholders that were given no value."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(f"no value for placeholder(s): {', '.join(missing)}")
        self.missing = missing


@dataclass(frozen=True, slots=True)
class _Phrase:
    phrase: str
    category: str
    why: str
    pattern: re.Pattern[str]


@cache
def _phrases() -> tuple[_Phrase, ...]:
    phrases = []
    for entry in load_data("wording-phrases.json")["phrases"]:
        forms = sorted(entry["forms"], key=len, reverse=True)
        body = "|".join(r"[\s-]+".join(map(re.escape, re.split(r"[\s-]+", form))) for form in forms)
        flags = 0 if entry.get("case_sensitive") else re.IGNORECASE
        pattern = re.compile(rf"(?<![\w-])(?:{body})(?![\w-])", flags)
        phrases.append(_Phrase(entry["phrase"], entry["category"], entry["why"], pattern))
    return tuple(phrases)


def find_offending_phrases(text: str) -> list[Finding]:
    """Every stigmatising, threatening, coercive or alarming phrase in `text`, in order of position.

    Whole words only, case-insensitive (except acronyms such as "BAT"), any spaces, line breaks or
    hyphens between words; where matches overlap ("drug abuse", "abuse") the longest is reported once.
    """
    plain = text.translate(_PLAIN)
    found = [
        Finding(p.phrase, p.category, text[m.start() : m.end()], m.start(), m.end(), p.why)
        for p in _phrases()
        for m in p.pattern.finditer(plain)
    ]
    found.sort(key=lambda f: (f.start, f.start - f.end))
    kept: list[Finding] = []
    for finding in found:
        if not kept or finding.start >= kept[-1].end:
            kept.append(finding)
    return kept


@cache
def default_invitation_template() -> str:
    """The default person-centred invitation letter (string.Template text, without its leading notes)."""
    letter = files("services.referral") / "data" / "invitation-letter.txt"
    lines = letter.read_text(encoding="utf-8").splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return "".join(lines)


def placeholders(template: str) -> list[str]:
    """The placeholder names a template uses, in order of first use."""
    names: list[str] = []
    for match in string.Template.pattern.finditer(template):
        name = match.group("named") or match.group("braced")
        if name and name not in names:
            names.append(name)
    return names


def render_invitation(template: str, values: Mapping[str, str]) -> str:
    """The letter with every `$placeholder` filled; `MissingPlaceholderError` lists those given no value."""
    missing = [name for name in placeholders(template) if name not in values]
    if missing:
        raise MissingPlaceholderError(missing)
    return string.Template(template).substitute(values)
