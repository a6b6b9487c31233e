"""Which product a FHIR R4 MedicationRequest or MedicationStatement is for, at every dm+d level.

Pure: plain dicts in, frozen dataclasses out. In order:

1. a code (``http://snomed.info/sct`` as UK Core codes dm+d, or ``https://dmd.nhs.uk``) of a catalogue
   product;
2. a code of any dm+d opioid VMP or AMP (``data/dmd-opioid-codes.csv``): an AMP is its VMP; the VMP is the
   catalogue's product or the one its dm+d name describes; a SNOMED CT code of an opioid substance alone
   (OpenPrescribing's table) is an opioid whose product is unknown;
   a dm+d VTM code with an opioid ingredient (``data/dmd-opioid-vtms.csv``) names no product (no strength,
   no form): the opioid's dose is not computable unless the text names a product of that ingredient;
3. a name that is a product's known only by name (a brand whose name gives no strength, "Propain Plus
   tablets": its strength from its SmPC), or a dm+d VMP or AMP name (text-only entries, pack displays that
   repeat it);
4. a brand written in the name ("Zydol SR 100mg", "Nurofen Plus tablets"): one of the brand's products;
5. an ingredient named in the name: "Co-codamol 30mg/500mg tablets", "Morphine sulfate 10mg/5ml oral
   solution" (VMPP and AMPP displays, "... tablets (100 tablet)", are read this way: their codes have no
   public source here; a VTM's display such as "Morphine" names no product, so it is an unrecognised opioid).

An opioid recognised by its code or name whose product cannot be known for certain is
``unrecognised-opioid-product``: never counted as zero, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shared.medicines.products import CODE_SYSTEMS, ingredient_in, parse_medicine_name
from shared.medicines.recognition import brand_in, product_by_brand, product_of_vmp
from shared.terminology import DmdProduct, DrugClass, OpioidVtm, ProductCatalogue, normalised_name

__all__ = [
    "UNRECOGNISED_OPIOID",
    "IdentifiedBy",
    "IdentifiedMedication",
    "identify_medication",
    "reference_of",
]

UNRECOGNISED_OPIOID = "unrecognised-opioid-product"


class IdentifiedBy(StrEnum):
    """How a medication was recognised."""

    CODE = "code"
    NAME = "name"
    NOTHING = "nothing"


@dataclass(frozen=True, slots=True)
class IdentifiedMedication:
    """A medication resource as the rules see it.

    ``product`` is ``None`` when the ingredient is known but its product is not (``problem`` says so:
    ``unrecognised-opioid-product`` for an opioid), when the name names no ingredient the service reviews
    (``drug_class`` is then ``None`` too), or when nothing identifies it at all (``unknown-product``).
    ``code`` is the dm+d code it was recognised by, if any.
    """

    reference: str
    name: str
    identified_by: IdentifiedBy
    product: DmdProduct | None
    ingredient: str | None
    drug_class: DrugClass | None
    problem: str | None = None
    code: str | None = None
    detail: str | None = None  # why the product is not known, when more can be said than ``problem``


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


def _opioid(
    reference: str, name: str, by: IdentifiedBy, product: DmdProduct | None, ingredient: str | None, code: str
) -> IdentifiedMedication:
    if product is not None:
        return IdentifiedMedication(
            reference, name, by, product, product.ingredient, product.drug_class, code=code
        )
    return IdentifiedMedication(
        reference, name, by, None, ingredient, DrugClass.OPIOID, UNRECOGNISED_OPIOID, code or None
    )


def _by_dmd_code(
    code: str, reference: str, name: str, by: IdentifiedBy, catalogue: ProductCatalogue
) -> IdentifiedMedication | None:
    entry = catalogue.opioid_codes.get(code)
    if entry is None:
        return None
    product = product_of_vmp(entry.vmp, catalogue)
    vmp = catalogue.opioid_codes.get(entry.vmp, entry)
    ingredient = next((i for i in (ingredient_in(t, catalogue) for t in (vmp.term, entry.term)) if i), None)
    return _opioid(reference, name or entry.term, by, product, ingredient[0] if ingredient else None, code)


def _by_vtm(
    vtm: OpioidVtm,
    code: str,
    resource: Mapping[str, Any],
    names: list[str],
    reference: str,
    catalogue: ProductCatalogue,
) -> IdentifiedMedication:
    """A medicine coded by an opioid VTM: the product its text names, if that is a product of the VTM's
    ingredient; otherwise an opioid whose product is not known (a VTM has no strength or form)."""
    if names:
        text_only = {"text": names[0], "coding": [{"display": n} for n in names[1:]]}
        named = identify_medication(
            {
                "resourceType": resource.get("resourceType", "MedicationRequest"),
                "medicationCodeableConcept": text_only,
            },
            catalogue,
            fallback_reference=reference,
        )
        if named.product is not None and named.product.ingredient in vtm.ingredients:
            return named
        if named.ingredient is not None and named.ingredient not in vtm.ingredients:
            detail = (
                f"'{names[0]}' is coded as the dm+d VTM {vtm.term} ({code}) but its name says "
                f"{named.ingredient}: which the patient takes is not certain, so its dose is not counted"
            )
            return IdentifiedMedication(reference, names[0], IdentifiedBy.CODE, None, vtm.ingredients[0],
                                        DrugClass.OPIOID, UNRECOGNISED_OPIOID, code, detail)  # fmt: skip
    name = names[0] if names else vtm.term
    detail = (
        f"'{name}' is coded as the dm+d VTM {vtm.term} ({code}), which names the ingredient but no product: "
        "no strength or form, so its dose is not counted (record the product, VMP or AMP, or name it in "
        "the text)"
    )
    ingredient = vtm.ingredients[0]
    return IdentifiedMedication(reference, name, IdentifiedBy.CODE, None, ingredient, DrugClass.OPIOID,
                                UNRECOGNISED_OPIOID, code, detail)  # fmt: skip


def _opioid_named(names: list[str], catalogue: ProductCatalogue) -> str | None:
    """The opioid ingredient a name or display names (by its ingredient or an opioid brand), if any."""
    for candidate in names:
        brand = brand_in(candidate, catalogue)
        vmps = sorted(catalogue.brands.get(brand, ())) if brand else []
        if vmps:
            found = ingredient_in(catalogue.opioid_codes[vmps[0]].term, catalogue)
            if found is not None:
                return found[0]
        alias = ingredient_in(candidate, catalogue)
        if alias is not None and catalogue.drug_class(alias[0]) is DrugClass.OPIOID:
            return alias[0]
    return None


def _named_otherwise(product: DmdProduct, names: list[str], catalogue: ProductCatalogue) -> bool:
    """Whether an opioid's text or display names another opioid or another strength than its code's product.

    "Co-codamol 30mg/500mg tablets" shown for the code of co-codamol 8mg/500mg: which one the patient takes is
    not certain, so neither is counted (the code alone would read the dose almost four times too low).
    """
    if product.drug_class is not DrugClass.OPIOID:
        return False
    for candidate in names:
        named = parse_medicine_name(candidate, catalogue)
        if named is None or named.drug_class is not DrugClass.OPIOID:
            continue
        if (named.ingredient, named.strength_per_unit) != (product.ingredient, product.strength_per_unit):
            return True
    return False


def _names_no_opioid(
    product: DmdProduct, code: str, names: list[str], catalogue: ProductCatalogue
) -> str | None:
    """A name or display of an opioid's code that names no opioid at all ("Paracetamol 500mg tablets" shown
    for the code of co-codamol 30mg/500mg), if any. A display that begins with the code's own dm+d name (a
    pack's: "Dental Pain Relief tablets (32 tablet)") or names an opioid or an opioid brand agrees."""
    if product.drug_class is not DrugClass.OPIOID:
        return None
    entry = catalogue.opioid_codes.get(code)
    own = {product.name, *((entry.term, catalogue.opioid_codes.get(entry.vmp, entry).term) if entry else ())}
    own_names = tuple(normalised_name(o) for o in own)
    for candidate in names:
        written = normalised_name(candidate)
        if written.startswith(own_names) or catalogue.by_term.get(written) or catalogue.by_name.get(written):
            continue
        if _opioid_named([candidate], catalogue) is None:
            return candidate
    return None


def _code_and_name_disagree(
    reference: str, name: str, product: DmdProduct, code: str
) -> IdentifiedMedication:
    detail = (
        f"'{name}' is coded as {product.name} ({code}), an opioid, but its name names no opioid: which the "
        "patient takes is not certain, so the opioid's dose is not counted"
    )
    by, opioid = IdentifiedBy.CODE, DrugClass.OPIOID
    return IdentifiedMedication(reference, name, by, None, product.ingredient, opioid, UNRECOGNISED_OPIOID,
                                code, detail)  # fmt: skip


def identify_medication(
    resource: Mapping[str, Any],
    catalogue: ProductCatalogue,
    *,
    medications: Mapping[str, Mapping[str, Any]] | None = None,
    fallback_reference: str = "",
) -> IdentifiedMedication:
    """Identify the product of a MedicationRequest/MedicationStatement dict (module docstring's order).

    ``medications`` resolves ``medicationReference`` values such as ``Medication/123`` (contained ``#id``
    references are resolved from the resource itself).
    """
    reference = reference_of(resource, fallback_reference or str(resource.get("resourceType", "Medication")))
    concept = _concept(resource, medications or {})
    names = _names(concept)
    name = names[0] if names else ""
    codes = [
        str(c["code"]).strip()
        for c in concept.get("coding", [])
        if c.get("system") in CODE_SYSTEMS and c.get("code")
    ]
    for code in codes:
        product = catalogue.lookup(code)
        if product is not None:
            opioid = _opioid_named(names, catalogue) if product.drug_class is not DrugClass.OPIOID else None
            if opioid is not None:  # the code says another medicine, the name an opioid: never zero
                detail = (
                    f"'{name}' is coded as {product.name} ({code}) but its name says {opioid}: which the "
                    "patient takes is not certain, so the opioid's dose is not counted"
                )
                by = IdentifiedBy.CODE
                return IdentifiedMedication(reference, name, by, None, opioid, DrugClass.OPIOID,
                                            UNRECOGNISED_OPIOID, code, detail)  # fmt: skip
            if _named_otherwise(product, names, catalogue):
                return _opioid(reference, name, IdentifiedBy.CODE, None, product.ingredient, code)
            unnamed = _names_no_opioid(product, code, names, catalogue)
            if unnamed is not None:
                return _code_and_name_disagree(reference, unnamed, product, code)
            by = IdentifiedBy.CODE
            return IdentifiedMedication(reference, name or product.name, by, product, product.ingredient,
                                        product.drug_class, code=code)  # fmt: skip
    for code in codes:
        found = _by_dmd_code(code, reference, name, IdentifiedBy.CODE, catalogue)
        if found is not None:
            if found.product is not None and _named_otherwise(found.product, names, catalogue):
                return _opioid(reference, found.name, IdentifiedBy.CODE, None, found.ingredient, code)
            unnamed = _names_no_opioid(found.product, code, names, catalogue) if found.product else None
            if found.product is not None and unnamed is not None:
                return _code_and_name_disagree(reference, unnamed, found.product, code)
            return found
    vtm_code = next((c for c in codes if c in catalogue.vtms), None)
    if vtm_code is not None:
        return _by_vtm(catalogue.vtms[vtm_code], vtm_code, resource, names, reference, catalogue)
    substance = next((catalogue.ingredient_codes[c] for c in codes if c in catalogue.ingredient_codes), None)
    if substance is not None and not names:  # an opioid ingredient's code alone names no product
        return _opioid(reference, substance, IdentifiedBy.CODE, None, substance, codes[0])
    for candidate in names:
        named = catalogue.by_name.get(normalised_name(candidate))
        if named is not None:  # a product known by its exact name only (a brand whose name gives no strength)
            return IdentifiedMedication(reference, candidate, IdentifiedBy.NAME, named, named.ingredient,
                                        named.drug_class)  # fmt: skip
        term = catalogue.by_term.get(normalised_name(candidate))
        if term is not None:
            found = _by_dmd_code(term, reference, candidate, IdentifiedBy.NAME, catalogue)
            if found is not None:
                return found
        brand = brand_in(candidate, catalogue)
        if brand is not None:
            product = product_by_brand(candidate, brand, catalogue)
            alias = ingredient_in(candidate, catalogue)
            vmps = sorted(catalogue.brands[brand])
            if alias is None and vmps:
                alias = ingredient_in(catalogue.opioid_codes[vmps[0]].term, catalogue)
            return _opioid(reference, candidate, IdentifiedBy.NAME, product, alias[0] if alias else None, "")
        alias = ingredient_in(candidate, catalogue)
        if alias is None:
            continue
        product = parse_medicine_name(candidate, catalogue)
        drug_class = catalogue.drug_class(alias[0])
        if drug_class is DrugClass.OPIOID:
            return _opioid(reference, candidate, IdentifiedBy.NAME, product, alias[0], "")
        opioid = _opioid_named(names, catalogue)
        if opioid is not None:  # "Diazepam 2mg tablets" shown as "Co-codamol 30mg/500mg": never zero
            detail = (
                f"'{candidate}' names {alias[0]} but another of its names says {opioid}: which the patient "
                "takes is not certain, so the opioid's dose is not counted"
            )
            by = IdentifiedBy.NAME
            return IdentifiedMedication(reference, candidate, by, None, opioid, DrugClass.OPIOID,
                                        UNRECOGNISED_OPIOID, None, detail)  # fmt: skip
        problem = None if product else "product-not-parsed"
        return IdentifiedMedication(
            reference, candidate, IdentifiedBy.NAME, product, alias[0], drug_class, problem
        )
    problem = None if names else "unknown-product"
    return IdentifiedMedication(reference, name, IdentifiedBy.NOTHING, None, None, None, problem)
