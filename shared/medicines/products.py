"""Which product a FHIR R4 MedicationRequest or MedicationStatement is for.

A dm+d code we know (system ``https://dmd.nhs.uk`` or SNOMED CT) wins; failing that, the medicine's name is
parsed: "Co-codamol 30mg/500mg tablets", "Buprenorphine 10micrograms/hour seven day patches",
"Morphine sulfate 10mg/5ml oral solution". Pure: plain dicts in, frozen dataclasses out; the catalogue
comes from ``shared.terminology``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from shared.terminology import DMD_SYSTEM, SNOMED_SYSTEM, DmdProduct, DrugClass, ProductCatalogue

__all__ = [
    "IdentifiedBy",
    "IdentifiedMedication",
    "identify_medication",
    "parse_medicine_name",
    "reference_of",
]

CODE_SYSTEMS = frozenset({DMD_SYSTEM, SNOMED_SYSTEM, "https://snomed.info/sct"})

_NUMBER = r"\d+(?:\.\d+)?"
_STRENGTH = re.compile(
    rf"(?P<value>{_NUMBER})\s*(?P<unit>mg|g|micrograms?|mcg|µg|ug)\b"
    rf"(?:\s*/\s*(?P<per>{_NUMBER})?\s*(?P<per_unit>ml|hours?|hr|h)\b)?",
    re.IGNORECASE,
)
_MODIFIED_RELEASE = re.compile(
    r"modified[- ]release|prolonged[- ]release|extended[- ]release|\b(?:m/?r|sr|xl|cr|la|pr)\b"
    r"|retard|continus|24 ?hr|zomorph|mxl|oxycontin|longtec|reltebon|onexila",
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
    (re.compile(r"inject|ampoule|infusion|vial"), "parenteral"),
    (re.compile(r"suppositor|rectal|enema"), "rectal"),
)
_PATCH_HOURS = (
    (re.compile(r"seven[- ]day|7[- ]day|weekly|once a week"), 168),
    (re.compile(r"96[- ]?hour|four[- ]day|4[- ]day|twice[- ]weekly"), 96),
    (re.compile(r"72[- ]?hour|three[- ]day|3[- ]day"), 72),
)


class IdentifiedBy(StrEnum):
    """How a medication was recognised."""

    CODE = "code"
    NAME = "name"
    NOTHING = "nothing"


@dataclass(frozen=True, slots=True)
class IdentifiedMedication:
    """A medication resource as the rules see it.

    ``product`` is ``None`` when the ingredient is known but its strength or form is not (``problem`` says
    so), when the name names no ingredient the service reviews (``drug_class`` is then ``None`` too), or when
    nothing identifies it at all (``problem`` is ``unknown-product``).
    """

    reference: str
    name: str
    identified_by: IdentifiedBy
    product: DmdProduct | None
    ingredient: str | None
    drug_class: DrugClass | None
    problem: str | None = None


def reference_of(resource: Mapping[str, Any], fallback: str) -> str:
    """``ResourceType/id`` for a resource with an id, else ``fallback``."""
    resource_id = resource.get("id")
    return f"{resource.get('resourceType', 'Resource')}/{resource_id}" if resource_id else fallback


def _concept(resource: Mapping[str, Any], medications: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any]:
    concept = resource.get("medicationCodeableConcept")
    if isinstance(concept, Mapping):
        return concept
    target = str((resource.get("medicationReference") or {}).get("reference", ""))
    medication: Mapping[str, Any] | None = None
    if target.startswith("#"):
        medication = next((c for c in resource.get("contained", []) if c.get("id") == target[1:]), None)
    elif target:
        medication = medications.get(target)
    code = (medication or {}).get("code")
    return code if isinstance(code, Mapping) else {}


def _names(concept: Mapping[str, Any]) -> list[str]:
    names = [str(concept["text"])] if concept.get("text") else []
    names += [str(c["display"]) for c in concept.get("coding", []) if c.get("display")]
    return names


def identify_medication(
    resource: Mapping[str, Any],
    catalogue: ProductCatalogue,
    *,
    medications: Mapping[str, Mapping[str, Any]] | None = None,
    fallback_reference: str = "",
) -> IdentifiedMedication:
    """Identify the product of a MedicationRequest/MedicationStatement dict.

    ``medications`` resolves ``medicationReference`` values such as ``Medication/123`` (contained ``#id``
    references are resolved from the resource itself).
    """
    reference = reference_of(resource, fallback_reference or str(resource.get("resourceType", "Medication")))
    concept = _concept(resource, medications or {})
    names = _names(concept)
    name = names[0] if names else ""
    for coding in concept.get("coding", []):
        if coding.get("system") in CODE_SYSTEMS and coding.get("code"):
            product = catalogue.lookup(str(coding["code"]))
            if product is not None:
                return IdentifiedMedication(
                    reference,
                    name or product.name,
                    IdentifiedBy.CODE,
                    product,
                    product.ingredient,
                    product.drug_class,
                )
    for candidate in names:
        alias = _ingredient_in(candidate, catalogue)
        if alias is None:
            continue
        product = parse_medicine_name(candidate, catalogue)
        problem = None if product else "product-not-parsed"
        return IdentifiedMedication(
            reference,
            candidate,
            IdentifiedBy.NAME,
            product,
            alias[0],
            catalogue.drug_class(alias[0]),
            problem,
        )
    problem = None if names else "unknown-product"
    return IdentifiedMedication(reference, name, IdentifiedBy.NOTHING, None, None, None, problem)


def _ingredient_in(name: str, catalogue: ProductCatalogue) -> tuple[str, int] | None:
    """The ingredient an alias in ``name`` names, and where the alias ends; longest alias wins."""
    lowered = name.lower()
    for alias in catalogue.aliases:
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
    found = _ingredient_in(name, catalogue)
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
    found.update(p for p in _PARTNERS if re.search(rf"\b{p}\b", lowered))
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
