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

from shared.terminology import DMD_SYSTEM, SNOMED_SYSTEM, DmdProduct, ProductCatalogue

__all__ = ["CODE_SYSTEMS", "ingredient_in", "parse_medicine_name"]

CODE_SYSTEMS = frozenset({DMD_SYSTEM, SNOMED_SYSTEM, "https://snomed.info/sct"})

_NUMBER = r"\d+(?:\.\d+)?"
_STRENGTH = re.compile(
    rf"(?P<value>{_NUMBER})\s*(?P<unit>mg|g|micrograms?|mcg|µg|ug)\b"
    # a compound's partner strength ("Co-codamol 8mg/500mg/5ml") sits between the strength and the volume
    rf"(?:\s*/\s*{_NUMBER}\s*(?:mg|g)\b)*"
    rf"(?:\s*/\s*(?P<per>{_NUMBER})?\s*(?P<per_unit>ml|hours?|hr|h)\b)?",
    re.IGNORECASE,
)
_MODIFIED_RELEASE = re.compile(
    r"modified[- ]release|prolonged[- ]release|extended[- ]release|\b(?:m/?r|sr|xl|cr|la|pr)\b"
    r"|retard|continus|24 ?hr|zomorph|mxl|\bmst\b|oxycontin|longtec|reltebon|onexila",
    re.IGNORECASE,
)
# Non-opioid partners of compound products; "co-" names imply theirs.
_PARTNERS = ("paracetamol", "naloxone", "ibuprofen", "aspirin", "dexketoprofen")
_COMPOUND_PARTNER = {"co-codamol": "paracetamol", "co-dydramol": "paracetamol", "co-codaprin": "aspirin"}
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
    lowered = name.lower()
    for alias in catalogue.aliases:
        if alias.alias not in lowered:  # the pattern can only match where the alias is written
            continue
        found = re.search(rf"(?<![\w-]){re.escape(alias.alias)}(?![\w-])", lowered)
        if found:
            return alias.ingredient, found.end()
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
    found = ingredient_in(name, catalogue)
    if found is None:
        return None
    ingredient, after = found
    strength_match = _STRENGTH.search(name, after)
    if strength_match is None:
        return None
    lowered = name.lower()
    value, unit = Decimal(strength_match["value"]), strength_match["unit"].lower()
    per_unit = (strength_match["per_unit"] or "").lower()
    per_kind = "hour" if per_unit.startswith("h") else per_unit or None
    form = _form(lowered, per_kind)
    if form is None:
        return None
    form_name, route, dose_unit = form
    if unit == "g":
        value = value * 1000
    elif unit != "mg":
        value = value / 1000 if per_kind != "hour" else value
    drug_class = catalogue.drug_class(ingredient)
    if drug_class is None:
        return None
    parsed = DmdProduct(
        code=None,
        name=name,
        ingredient=ingredient,
        with_ingredients=_partners(lowered),
        strength=value,
        strength_unit="microgram/hour" if per_kind == "hour" else "mg",
        per_quantity=Decimal(strength_match["per"] or 1),
        per_unit=dose_unit,
        form=form_name,
        route=route,
        modified_release=form_name in ("tablet", "capsule") and bool(_MODIFIED_RELEASE.search(name)),
        patch_change_hours=_patch_hours(lowered) if per_kind == "hour" else None,
        drug_class=drug_class,
        source="parsed name",
    )
    return _known_equivalent(parsed, catalogue.products) or parsed


def _partners(lowered: str) -> tuple[str, ...]:
    found = {partner for name, partner in _COMPOUND_PARTNER.items() if name in lowered}
    found.update(p for p in _PARTNERS if p in lowered and re.search(rf"\b{p}\b", lowered))
    return tuple(sorted(found))


def _patch_hours(lowered: str) -> int | None:
    return next((hours for pattern, hours in _PATCH_HOURS if pattern.search(lowered)), None)


def _known_equivalent(parsed: DmdProduct, products: Sequence[DmdProduct]) -> DmdProduct | None:
    for product in products:
        same = (
            product.ingredient == parsed.ingredient
            and product.with_ingredients == parsed.with_ingredients
            and product.strength_per_unit == parsed.strength_per_unit
            and product.route == parsed.route
            and product.per_unit == parsed.per_unit
            and product.modified_release == parsed.modified_release
        )
        if same and parsed.patch_change_hours in (None, product.patch_change_hours):
            return product
    if parsed.is_patch and parsed.patch_change_hours is None:
        # A patch named without its interval takes its family's interval in the catalogue, if unambiguous.
        hours = {p.patch_change_hours for p in products if p.ingredient == parsed.ingredient and p.is_patch}
        if len(hours) == 1:
            return replace(parsed, patch_change_hours=hours.pop())
    return None
