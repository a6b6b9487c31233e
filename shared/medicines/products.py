"""Which product a FHIR R4 MedicationRequest or MedicationStatement is for.

A dm+d code we know (system ``https://dmd.nhs.uk`` or SNOMED CT) wins; failing that, the medicine's name is
parsed: "Co-codamol 30mg/500mg tablets", "Buprenorphine 10micrograms/hour seven day patches",
"Morphine sulfate 10mg/5ml oral solution". Pure: plain dicts in, frozen dataclasses out; the catalogue
comes from ``shared.terminology``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

from shared.terminology import DMD_SYSTEM, SNOMED_SYSTEM, DmdProduct, IngredientAlias, ProductCatalogue

__all__ = ["CODE_SYSTEMS", "ingredient_in", "parse_medicine_name", "strengths_written"]

CODE_SYSTEMS = frozenset({DMD_SYSTEM, SNOMED_SYSTEM, "https://snomed.info/sct"})

_NUMBER = r"\d+(?:\.\d+)?"
_MASS = r"mg|g|micrograms?|mcg|µg|ug"
_PER = r"ml|hours?|hr|h"
_FIGURE = rf"{_NUMBER}(?:\s*(?:{_MASS})\b|(?!\s*(?:{_PER})\b))"
_STRENGTH = re.compile(
    # the strengths of a product's ingredients, in the order the name writes them ("30mg/500mg", "30/500mg",
    # "500mg/30mg"), then the volume or time they are in ("10mg/5ml", "10micrograms/hour")
    rf"(?<![\d.])(?P<masses>{_FIGURE}(?:\s*+/\s*+{_FIGURE})*+)"
    rf"(?:\s*+/\s*+(?P<per>{_NUMBER})?\s*+(?P<per_unit>{_PER})\b)?",
    re.IGNORECASE,
)
_MOST_FIGURES = 4
"""No product's name writes more strengths than this ("Co-codamol 8mg/500mg/5ml"... a three-ingredient
compound's); a longer chain is no name."""
_MOST_STRENGTH = Decimal(100000)
"""No strength (mg, microgram/hour) nor volume past this is a product's."""
_LONGEST_NAME = 300
"""A medicine name longer than this is not parsed (dm+d's longest opioid names are about 110 characters)."""
_BARE_PAIR = re.compile(
    rf"(?<![\d.])({_NUMBER})\s*/\s*({_NUMBER})(?![\d.])(?!\s*(?:{_MASS}|{_PER})\b)", re.IGNORECASE
)
"""Two strengths with no unit ("30/500"), as the BNF names a "co-" product."""
_ONE_FIGURE = re.compile(rf"(?P<value>{_NUMBER})\s*(?P<unit>{_MASS})?", re.IGNORECASE)
_MODIFIED_RELEASE = re.compile(
    r"modified[- ]release|prolonged[- ]release|extended[- ]release|\b(?:m/?r|sr|xl|cr|la|pr)\b"
    r"|retard|continus|24 ?hr|zomorph|mxl|\bmst\b|oxycontin|longtec|reltebon|onexila",
    re.IGNORECASE,
)
# Non-opioid partners of compound products; "co-" names imply theirs.
_PARTNERS = ("paracetamol", "naloxone", "ibuprofen", "aspirin", "dexketoprofen")
_ANALGESIC_PARTNERS = frozenset({"paracetamol", "ibuprofen", "aspirin"})
_COMPOUND_PARTNER = {
    **dict.fromkeys(("co-codamol", "co codamol", "cocodamol"), "paracetamol"),
    **dict.fromkeys(("co-dydramol", "co dydramol", "codydramol"), "paracetamol"),
    **dict.fromkeys(("co-codaprin", "co codaprin", "cocodaprin"), "aspirin"),
    **dict.fromkeys(("co-proxamol", "co proxamol", "coproxamol"), "paracetamol"),
}
_LIQUID = re.compile(
    r"oral solution|oral suspension|liquid|linctus|mixture|syrup|elixir|oral drops|concentrate"
)
_OTHER_ROUTES = (
    (re.compile(r"buccal|oromucosal"), "buccal"),
    (re.compile(r"nasal"), "nasal"),
    (re.compile(r"inject|ampoule|infusion|(?<!unit dose )vial"), "parenteral"),  # not oral unit dose vials
    (re.compile(r"suppositor|rectal|enema"), "rectal"),
)
_PATCH_HOURS = (
    (re.compile(r"seven[- ]day|7[- ]day|weekly|once a week"), 168),
    (re.compile(r"96[- ]?hour|four[- ]day|4[- ]day|twice[- ]weekly"), 96),
    (re.compile(r"72[- ]?hour|three[- ]day|3[- ]day"), 72),
)


def ingredient_in(name: str, catalogue: ProductCatalogue) -> tuple[str, int] | None:
    """The ingredient an alias in ``name`` names, and where the alias ends; longest alias wins."""
    found = _alias_in(name, catalogue)
    return (found[0].ingredient, found[1]) if found else None


def _alias_in(name: str, catalogue: ProductCatalogue) -> tuple[IngredientAlias, int] | None:
    """The longest alias written in ``name`` and where it ends; ``None`` when it names no ingredient assessed
    here ("Feminax Express": ibuprofen, not Feminax's codeine)."""
    lowered = name.lower()
    for alias in catalogue.aliases:
        if alias.alias not in lowered:  # the pattern can only match where the alias is written
            continue
        found = re.search(rf"(?<![\w-]){re.escape(alias.alias)}(?![\w-])", lowered)
        if found:
            return (alias, found.end()) if alias.ingredient else None
    return None


def _form(lowered: str, per_unit: str | None) -> tuple[str, str, str] | None:
    """(form, route, per_unit) from the words of a name, or ``None`` if no form is named."""
    if "patch" in lowered or "transdermal" in lowered:
        return ("transdermal patch", "transdermal", "patch") if per_unit == "hour" else None
    if "sublingual" in lowered:
        return "sublingual tablet", "sublingual", "tablet"
    for pattern, route in _OTHER_ROUTES:
        if pattern.search(lowered):
            return route, route, "dose"
    if _LIQUID.search(lowered) or per_unit == "ml":
        return ("oral solution", "oral", "ml") if per_unit == "ml" else None
    for word, form in (
        ("capsule", "capsule"),
        ("caps", "capsule"),
        ("tablet", "tablet"),
        ("tabs", "tablet"),
        ("caplet", "tablet"),
    ):
        if word in lowered:
            return form, "oral", form
    if "sachet" in lowered or "granules" in lowered:
        return "sachet", "oral", "sachet"
    return None


def parse_medicine_name(name: str, catalogue: ProductCatalogue) -> DmdProduct | None:
    """The product a UK medicine name describes, or ``None`` if its ingredient, strength or form is missing.

    The strength is the first one written after the ingredient's name, so compound products give the opioid
    ("Co-codamol 30mg/500mg" is codeine 30 mg per tablet). A catalogue product with the same ingredient,
    strength, form and release is returned when there is one, so its dm+d code and family are known.
    """
    name = " ".join(name.split())
    if len(name) > _LONGEST_NAME:
        return None
    found = _alias_in(name, catalogue)
    if found is None:
        return None
    alias, after = found
    ingredient = alias.ingredient
    lowered = name.lower()
    partners = _partners(lowered, alias.partner)
    strength_match = next((m for m in _STRENGTH.finditer(name, after) if _figures(m["masses"])), None)
    if strength_match is not None:
        figures, per, per_unit = (
            _figures(strength_match["masses"]),
            strength_match["per"],
            strength_match["per_unit"],
        )
    elif partners and (bare := _BARE_PAIR.search(name, after)):
        # "Co-codamol 30/500 tablets": the BNF writes a "co-" product's strengths so, in mg
        figures, per, per_unit = [(Decimal(bare[1]), "mg"), (Decimal(bare[2]), "mg")], None, None
    else:
        return None
    at = _opioid_at(lowered, after, figures, compound=bool(alias.partner) or _compound_named(lowered))
    if at is None:
        return None  # "Paracetamol and codeine 500mg/30mg/10mg": which figure is the codeine's is not certain
    value, unit = figures[at]
    per_unit = (per_unit or "").lower()
    per_kind = "hour" if per_unit.startswith("h") else per_unit or None
    form = _form(lowered, per_kind)
    if form is None:
        return None
    form_name, route, dose_unit = form
    if unit == "g":
        value = value * 1000
    elif unit != "mg":
        value = value / 1000 if per_kind != "hour" else value
    if not (0 < value <= _MOST_STRENGTH and 0 < Decimal(per or 1) <= _MOST_STRENGTH):
        return None  # "10mg/0ml", "0micrograms/hour", 10^32 mg: no product (they raised on division)
    drug_class = catalogue.drug_class(ingredient)
    if drug_class is None:
        return None
    parsed = DmdProduct(
        code=None,
        name=name,
        ingredient=ingredient,
        with_ingredients=partners,
        strength=value,
        strength_unit="microgram/hour" if per_kind == "hour" else "mg",
        per_quantity=Decimal(per or 1),
        per_unit=dose_unit,
        form=form_name,
        route=route,
        modified_release=form_name in ("tablet", "capsule") and bool(_MODIFIED_RELEASE.search(name)),
        patch_change_hours=_patch_hours(lowered) if per_kind == "hour" else None,
        drug_class=drug_class,
        source="parsed name",
    )
    known = _known_equivalent(parsed, catalogue.products)
    if partners and _one_figure(name) and not _only_the_opioids(parsed, known, catalogue.products):
        return None  # "Co-codamol 500mg": the one strength may be the partner's (500 mg of codeine was read)
    return known or parsed


def _one_figure(name: str) -> bool:
    """Whether ``name`` writes one strength in all ("Co-codamol 500mg"), not one beside each ingredient's
    name ("Oxycodone 10mg / Naloxone 5mg", dm+d's way)."""
    return sum(len(figures) for figures in strengths_written(name)) == 1


def _only_the_opioids(parsed: DmdProduct, known: DmdProduct | None, products: Sequence[DmdProduct]) -> bool:
    """Whether the one strength a compound's name writes is certainly its opioid's: a product of that
    compound has it as its opioid's strength (``known``), and none has it as a partner's ("Oxycodone/naloxone
    5mg": oxycodone 5/2.5 or the naloxone of 10/5)."""
    if known is None:
        return False
    family = [
        p
        for p in products
        if p.ingredient == parsed.ingredient and p.with_ingredients == parsed.with_ingredients
    ]
    for product in family:
        others = [_mg_of(f) for figures in strengths_written(product.name) for f in figures]
        if product.strength in others:
            others.remove(product.strength)
        if parsed.strength in others:
            return False
    return True


def strengths_written(name: str) -> list[list[tuple[Decimal, str]]]:
    """Each strength written in ``name``, as its figures in order ("Targinact 10/5mg": [[(10, "mg"), (5,
    "mg")]]; "Oxycodone 10mg / Naloxone 5mg": [[(10, "mg")], [(5, "mg")]])."""
    return [found for m in _STRENGTH.finditer(name) if (found := _figures(m["masses"]))]


def _figures(masses: str) -> list[tuple[Decimal, str]]:
    """The strengths in "30/500mg", "500mg/30mg" or "10mg" as (value, unit), a figure without a unit taking
    the next one's ("30/500mg": 30 mg and 500 mg); none when no figure has a unit (an unread name)."""
    read = [_ONE_FIGURE.fullmatch(part.strip()) for part in masses.split("/")]
    if not all(read) or len(read) > _MOST_FIGURES:
        return []
    found: list[tuple[Decimal, str]] = []
    unit = ""
    for m in reversed(read):  # right to left: a figure without a unit takes the next one's
        assert m is not None
        unit = (m["unit"] or "").lower() or unit
        if not unit:
            return []  # the last figure has no unit
        found.append((Decimal(m["value"]), unit))
    return found[::-1]


def _opioid_at(
    lowered: str, after: int, figures: Sequence[tuple[Decimal, str]], *, compound: bool
) -> int | None:
    """Which of the strengths is the opioid's: the only one (checked against the compound's products by the
    caller when a partner is named); the first of a "co-" name or a compound brand (the BNF's co-codamol
    30/500 is codeine 30 mg and paracetamol 500 mg), when it is the smaller, as in every "co-" product
    ("Co-codamol 500/30mg", written the other way round, is refused: 500 mg of codeine was read); else by
    where the ingredients are named ("Paracetamol/codeine 500mg/30mg": the second), when as many are named
    as strengths are written."""
    count = len(figures)
    if count == 1:
        return 0
    if compound:
        return 0 if count == 2 and _mg_of(figures[0]) < _mg_of(figures[1]) else None
    found = {p: m.start() for p in _PARTNERS if (m := re.search(rf"\b{p}\b", lowered))}
    if len(found) + 1 != count:
        return None
    at = sum(1 for start in found.values() if start < after)
    if set(found) <= _ANALGESIC_PARTNERS and any(
        _mg_of(f) <= _mg_of(figures[at]) for f in figures if f is not figures[at]
    ):
        # the opioid with paracetamol, ibuprofen or aspirin is always the smaller strength (BNF): the other
        # way round ("Paracetamol/codeine 30mg/500mg") the figures are written in another order than the names
        return None
    return at


def _named_rate(product: DmdProduct) -> Decimal | None:
    """A patch's rate as its name writes it, where that differs from the rate it releases (the fentanyl
    "12" patch releases 12.5 micrograms an hour: dmd-opioid-products.csv): the name still finds it."""
    if not product.is_patch:
        return None
    written = strengths_written(product.name)
    return written[0][0][0] if written and len(written[0]) == 1 else None


def _mg_of(figure: tuple[Decimal, str]) -> Decimal:
    value, unit = figure
    return value * 1000 if unit == "g" else value if unit == "mg" else value / 1000


def _partners(lowered: str, alias_partner: str = "") -> tuple[str, ...]:
    """The non-opioid ingredients a name says its product holds: those it names, those its "co-" name
    implies, and the one its alias always holds (a compound brand's)."""
    found = {partner for name, partner in _COMPOUND_PARTNER.items() if name in lowered}
    found.update(p for p in _PARTNERS if p in lowered and re.search(rf"\b{p}\b", lowered))
    found.update([alias_partner] if alias_partner else [])
    return tuple(sorted(found))


def _compound_named(lowered: str) -> bool:
    return any(name in lowered for name in _COMPOUND_PARTNER)


def _patch_hours(lowered: str) -> int | None:
    return next((hours for pattern, hours in _PATCH_HOURS if pattern.search(lowered)), None)


def _known_equivalent(parsed: DmdProduct, products: Sequence[DmdProduct]) -> DmdProduct | None:
    for product in products:
        same = (
            product.ingredient == parsed.ingredient
            and product.with_ingredients == parsed.with_ingredients
            and parsed.strength_per_unit in (product.strength_per_unit, _named_rate(product))
            and product.route == parsed.route
            and product.per_unit == parsed.per_unit
            and product.modified_release == parsed.modified_release
            and product.presentation == parsed.presentation
        )
        if same and parsed.patch_change_hours in (None, product.patch_change_hours):
            return product
    if parsed.is_patch and parsed.patch_change_hours is None:
        # A patch named without its interval takes its family's interval in the catalogue, if unambiguous.
        hours = {p.patch_change_hours for p in products if p.ingredient == parsed.ingredient and p.is_patch}
        if len(hours) == 1:
            return replace(parsed, patch_change_hours=hours.pop())
    return None
