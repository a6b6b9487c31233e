"""Oral morphine equivalent (OME): each opioid's mg of oral morphine a day, and the total, in mg/day.

Pure rules over plain FHIR R4 dicts (MedicationRequest / MedicationStatement). For each medication:
product (``products``) x most it may be taken a day (``dosage``) x factor (``shared.terminology`` table,
``uk-opioids-aware`` by default, ``cdc-2022`` selectable). Patches count by microgram/hour x factor whatever
their change interval. What cannot be computed (methadone, an unknown product, a dose that cannot be read) is
reported with a reason code and a sentence, never guessed and never counted as zero: the total is then marked
incomplete.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from shared.medicines.amounts import (
    MG,
    RATE,
    UNIT,
    DailyAmount,
    DosageProblem,
    DoseForm,
    dose_kind,
    in_ingredient,
    n,
)
from shared.medicines.dosage import max_daily_amount, shape_problem
from shared.medicines.dose_restated import step_ingredient, step_names_its_units
from shared.medicines.dose_words import normalise
from shared.medicines.identify import IdentifiedMedication, identify_medication
from shared.medicines.paracetamol import plain_paracetamol_mg_per_day
from shared.medicines.special import (
    OPIOID_SUBSTITUTION,
    SUBSTITUTION_TEXT,
    special_product,
    substitution_dose,
)
from shared.terminology import (
    DEFAULT_OME_FACTOR_TABLE,
    DmdProduct,
    DrugClass,
    OmeFactorTable,
    ProductCatalogue,
    load_ome_factor_table,
    load_product_catalogue,
)

__all__ = [
    "INACTIVE_STATUSES",
    "MedicationOme",
    "OmeReason",
    "OmeResult",
    "medication_ome",
    "oral_morphine_equivalent",
]

# Statuses whose medication is not being taken; drafts stay in so CDS order-sign can add a new order.
INACTIVE_STATUSES = frozenset({"cancelled", "entered-in-error", "stopped", "completed", "not-taken"})
_CENT = Decimal("0.01")
_MICROGRAM_PER_HOUR = "microgram/hour"
# A mass written in a dosage: in a compound product (co-codamol, Nurofen Plus, Tramacet, Targinact) it may be
# the other ingredient's ("1g qds" of co-codamol is 2 tablets of paracetamol, not 1 g of codeine).
_MASS_UNIT = r"(mg|g|grams?|milligrams?|micrograms?|mcg|ug|µg)\b"
_MASS = re.compile(rf"(\d+(?:\.\d+)?)\s*{_MASS_UNIT}", re.IGNORECASE)
_STRENGTH_NUMBER = re.compile(rf"(\d+(?:\.\d+)?)\s*(?:{_MASS_UNIT[1:-4]}|micrograms?\s*/\s*hours?)", re.I)
_MASS_WORD = re.compile(rf"(?<![\w.]){_MASS_UNIT}|(?<=\d){_MASS_UNIT}", re.IGNORECASE)
_HALF = Decimal("0.5")
# An antagonist added against misuse (oxycodone with naloxone) is never prescribed by its own mass.
_NEVER_DOSED_BY_MASS = frozenset({"naloxone"})
_RESTATED_STRENGTH = re.compile(rf"\d+(?:\.\d+)?\s*{_MASS_UNIT}\s*/\s*\d+(?:\.\d+)?\s*{_MASS_UNIT}", re.I)
MASS_IN_COMPOUND = "dose-mass-in-compound"
_A_SOLID = DoseForm("tablet", Decimal(1), False)
"""Any tablet: which structured units are a mass is asked of the dose reader with it (a patch's are none)."""
PART_PATCH = "dose-part-patch"
PART_UNIT = "dose-part-unit"
SAME_MASS_ON_SEVERAL = "dose-same-mass-on-several-items"


class OmeReason(StrEnum):
    """Machine-readable reasons an opioid's OME is not computed."""

    NO_FIXED_FACTOR = "no-fixed-factor"  # the table says it has no factor (methadone)
    NO_FACTOR = "no-factor"  # the table has no row for this ingredient by this route
    UNKNOWN_PRODUCT = "unknown-product"  # nothing names the product (an unknown code and no text)
    PRODUCT_NOT_PARSED = "product-not-parsed"  # its strength or form could not be read
    UNRECOGNISED_OPIOID = "unrecognised-opioid-product"  # an opioid whose product is not known for certain
    TRANSMUCOSAL_FENTANYL = "transmucosal-fentanyl"  # no fixed OME: specialist advice
    OPIOID_SUBSTITUTION = "opioid-substitution-therapy"  # the drug service's dose: liaise, never tapered here
    DOSAGE = "dosage"  # prefix: the dosage could not be read; the code is "dosage:<problem code>"


@dataclass(frozen=True, slots=True)
class MedicationOme:
    """One opioid medication's oral morphine equivalent.

    ``daily_dose`` is the most of ``ingredient`` a day in ``unit``: ``mg/day``, or ``microgram/hour`` (patch
    strength x patches worn) for patches. ``factor`` is mg OME/day per ``unit``. ``ome_mg_per_day`` is
    ``daily_dose x factor`` in mg oral morphine a day, rounded to 0.01. When ``computable`` is false the
    figures that could not be known are ``None`` and ``reason_code``/``reason`` say why.
    """

    reference: str
    name: str
    ingredient: str | None
    factor: Decimal | None
    daily_dose: Decimal | None
    unit: str | None
    ome_mg_per_day: Decimal | None
    computable: bool
    reason_code: str | None = None
    reason: str | None = None
    as_needed: bool = False
    dosage_basis: str = ""
    identified: IdentifiedMedication | None = None
    reading: DailyAmount | None = None  # how the dosage was read: dose, administrations a day, words
    unread: tuple[str, ...] = ()  # the words of a dosage that could not be read

    @property
    def strength(self) -> str:
        """The product's strength as read, e.g. ``30 mg per tablet`` (empty when no product is known)."""
        product = self.identified.product if self.identified else None
        if product is None:
            return ""
        unit = "microgram/hour" if product.is_patch else "mg"
        return f"{n(product.strength_per_unit)} {unit} per {product.per_unit}"


@dataclass(frozen=True, slots=True)
class OmeResult:
    """The patient's total OME in mg/day over every computable opioid.

    ``incomplete`` is true when any opioid (or unidentifiable product) could not be computed: the true total
    is then at least ``total_mg_per_day``. ``others`` holds the non-opioid medicines, with their class where
    the service knows it (benzodiazepine, gabapentinoid...), for the risk rules. ``excluded`` lists
    references skipped because their status says they are not being taken.
    """

    total_mg_per_day: Decimal
    medications: tuple[MedicationOme, ...]
    incomplete: bool
    factor_table: str
    factor_table_version: str
    others: tuple[IdentifiedMedication, ...] = ()
    excluded: tuple[str, ...] = ()
    paracetamol: tuple[tuple[str, Decimal], ...] = ()  # (reference, mg a day) of paracetamol taken on its own

    @property
    def not_assessed(self) -> tuple[IdentifiedMedication, ...]:
        """Medicines that are not opioids and that no rule of this service assesses (no known class)."""
        return tuple(o for o in self.others if o.drug_class is None)

    @property
    def not_computable(self) -> tuple[MedicationOme, ...]:
        """The opioid medications whose OME could not be computed."""
        return tuple(m for m in self.medications if not m.computable)


def _dosages(resource: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    key = "dosage" if resource.get("resourceType") == "MedicationStatement" else "dosageInstruction"
    return list(resource.get(key) or [])


def _not_computable(
    med: IdentifiedMedication, code: str, reason: str, factor: Decimal | None = None
) -> MedicationOme:
    return MedicationOme(
        med.reference, med.name, med.ingredient, factor, None, None, None, False, code, reason, identified=med
    )


def medication_ome(
    med: IdentifiedMedication, dosages: Sequence[Mapping[str, Any]], factors: OmeFactorTable
) -> MedicationOme:
    """The OME of one identified opioid (or unidentifiable product) under the given dosages."""
    special = special_product(med)
    if special is not None:
        return _not_computable(med, special[0], special[1])
    product = med.product
    if product is None:
        if med.problem == OmeReason.UNKNOWN_PRODUCT:
            return _not_computable(med, OmeReason.UNKNOWN_PRODUCT, "The product could not be identified")
        text = med.detail or (
            f"'{med.name}' is an opioid product whose strength and form are not known for certain "
            "(not in the product data, or its name does not say): its dose is not counted"
        )
        return _not_computable(med, OmeReason.UNRECOGNISED_OPIOID, text)
    row = factors.factor_for(product.ingredient, product.route)
    if row is None or row.factor is None:
        if row is not None:
            return _not_computable(med, OmeReason.NO_FIXED_FACTOR, row.reason)
        text = f"Table {factors.table_id} has no factor for {product.ingredient} by the {product.route} route"
        return _not_computable(med, OmeReason.NO_FACTOR, text)
    written = _written_strengths(product)
    form = DoseForm(product.per_unit, product.strength_per_unit, product.is_patch, *written)
    if malformed := shape_problem(dosages):
        return _not_computable(med, f"{OmeReason.DOSAGE}:{malformed.code}", malformed.text, row.factor)
    if set(product.with_ingredients) - _NEVER_DOSED_BY_MASS and _mass_is_ambiguous(product, dosages):
        text = (
            "A dose or maximum written as a mass cannot be read with certainty for a product of "
            f"{product.ingredient} with {', '.join(product.with_ingredients)}: "
            "the mass may be of either ingredient"
        )
        return _not_computable(med, f"{OmeReason.DOSAGE}:{MASS_IN_COMPOUND}", text, row.factor)
    amount = max_daily_amount(dosages, form)
    if isinstance(amount, DosageProblem):
        failed = _not_computable(med, f"{OmeReason.DOSAGE}:{amount.code}", amount.text, row.factor)
        return replace(failed, unread=amount.words)
    daily_dose, unit = _daily_dose(amount, form)
    if product.is_patch and daily_dose != product.strength_per_unit and daily_dose in written[1]:
        # the rate its name writes, of a patch releasing another ("12 micrograms/hour" of the fentanyl "12"
        # patch, which releases 12.5: dmd-opioid-products.csv): one patch of it
        daily_dose = product.strength_per_unit
    if product.is_patch and (daily_dose / product.strength_per_unit) % 1:
        text = (
            f"{n(daily_dose)} microgram/hour is not a whole number of {n(product.strength_per_unit)} "
            "microgram/hour patches: a patch is not cut or partly worn, so the dose is not certain"
        )
        return _not_computable(med, f"{OmeReason.DOSAGE}:{PART_PATCH}", text, row.factor)
    part = _part_unit(amount, product)
    if part is not None and not any(step_names_its_units(normalise(_text(d))) for d in dosages):
        failed = _not_computable(med, f"{OmeReason.DOSAGE}:{PART_UNIT}", part, row.factor)
        return replace(failed, reading=amount)
    per_dose = in_ingredient(amount.dose, _kind(amount), form) if amount.dose is not None else None
    if substitution_dose(med, per_dose[0] if per_dose else None):
        return _not_computable(med, OPIOID_SUBSTITUTION, SUBSTITUTION_TEXT)
    if unit != row.dose_unit:
        text = f"The dose is in {unit} but the factor is per {row.dose_unit}"
        return _not_computable(med, f"{OmeReason.DOSAGE}:dose-unit-unknown", text, row.factor)
    ome = (daily_dose * row.factor).quantize(_CENT, rounding=ROUND_HALF_UP)
    return MedicationOme(
        reference=med.reference,
        name=med.name,
        ingredient=product.ingredient,
        factor=row.factor,
        daily_dose=daily_dose,
        unit=unit,
        ome_mg_per_day=ome,
        computable=True,
        as_needed=amount.as_needed,
        dosage_basis=amount.basis,
        identified=med,
        reading=amount,
    )


def _written_strengths(product: DmdProduct) -> tuple[frozenset[Decimal], frozenset[Decimal]]:
    """(every number a strength of ``product`` or of its family may be written with, the product's own).

    Its own: the numbers in its name (its partners' too) and its strength per unit in mg and, below 1 mg, in
    micrograms (patches: microgram/hour). Its family adds the strengths it is also made in.
    """

    def numbers(member: DmdProduct) -> set[Decimal]:
        found = {member.strength_per_unit}
        if not member.is_patch and member.strength_per_unit < 1:
            found.add(member.strength_per_unit * 1000)
        return found

    own = {Decimal(value) for value in _STRENGTH_NUMBER.findall(product.name)} | {product.strength_per_unit}
    family = set(own)
    for member in load_product_catalogue().family_of(product):
        family |= numbers(member)
    return frozenset(family), frozenset(own)


def _mg(value: str, unit: str) -> Decimal:
    unit = unit.lower()
    if unit.startswith(("mg", "milligram")):
        return Decimal(value)
    return Decimal(value) * 1000 if unit.startswith("g") else Decimal(value) / 1000


def _masses(dosages: Sequence[Mapping[str, Any]], ingredient: str = "") -> list[Decimal] | None:
    """Every dose or maximum the dosages write as a mass, in mg; ``None`` when a mass has no number read."""
    found: list[Decimal] = []
    for dosage in dosages:
        text = " ".join(str(dosage.get(k) or "") for k in ("text", "patientInstruction"))
        if ingredient and step_ingredient(normalise(text.strip())) == ingredient:
            text = (
                ""  # a step as this service writes it: its masses name the opioid (cross-checked when read)
            )
        text = _RESTATED_STRENGTH.sub(" ", text)  # "TWO 30mg/500mg tablets": the product's strength restated
        numbered = _MASS.findall(text)
        if len(numbered) != len(_MASS_WORD.findall(text)):
            return None  # "sixty mg": a mass whose number is in words
        found += [_mg(value, unit) for value, unit in numbered]
        quantities = [
            d.get("doseQuantity") or (d.get("doseRange") or {}).get("high")
            for d in dosage.get("doseAndRate") or []
        ]
        quantities.append((dosage.get("maxDosePerPeriod") or {}).get("numerator"))
        for quantity in quantities:
            if not quantity:
                continue
            unit = str(quantity.get("unit") or quantity.get("code") or "").strip()
            # a mass as the dose reader reads one ("mg", "milligrams", "{mg}", "g"...): "{mg}" was no mass
            # here, so 1000 of co-codamol 8/500 was read as 1000 mg of codeine (a pharmacist's review)
            kind = dose_kind(unit, _A_SOLID)
            if kind is not None and kind[0] == MG:
                if quantity.get("value") is None:
                    return None
                found.append(Decimal(str(quantity["value"])) * kind[1])
    return found


def _whole_units(mass: Decimal, per_unit: Decimal) -> bool:
    """Whether ``mass`` is a whole or half number of units of ``per_unit`` mg each."""
    return per_unit > 0 and (mass / per_unit / _HALF) % 1 == 0


def _mass_is_ambiguous(product: DmdProduct, dosages: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a compound product's dosage writes a mass that may not be of its opioid.

    A mass is read as the opioid's only when it is a whole (or half) number of the opioid's units and not of
    any partner ingredient's (strengths from the product's dm+d name): "60mg" of co-codamol 30mg/500mg is 2
    tablets of codeine; "1g" is 2 tablets of paracetamol, never 33 tablets of codeine. A liquid, a name that
    gives no partner strength, or a mass fitting both (aspirin 400 mg, codeine 8 mg: "400mg") is ambiguous.
    """
    masses = _masses(dosages, product.ingredient)
    if masses is None:
        return True
    if not masses:
        return False
    partners = [_mg(v, u) for v, u in _MASS.findall(product.name)]
    if product.strength in partners:
        partners.remove(product.strength)
    if not partners or product.per_unit == "ml":
        return True
    for mass in masses:
        if not _whole_units(mass, product.strength_per_unit):
            return True
        if any(_whole_units(mass, partner / product.per_quantity) for partner in partners):
            return True
    return False


def _text(dosage: Mapping[str, Any]) -> str:
    return str(dosage.get("text") or dosage.get("patientInstruction") or "").strip()


def _part_unit(amount: DailyAmount, product: DmdProduct) -> str | None:
    """Why a dose written as a mass is not a whole number of the product's units, or ``None`` when it is.

    A capsule or a modified-release tablet is taken whole; an immediate-release tablet may be halved. "40mg"
    of a 30 mg capsule is one and a third capsules: the dose is made of several strengths, and the GP may have
    written the whole of it on each strength's item, so counting it on this one may count it twice.
    """
    if amount.dose is None or product.per_unit not in ("tablet", "capsule"):
        return None
    halves = product.per_unit == "tablet" and not product.modified_release
    if _kind(amount) == UNIT:
        # "half a tablet twice a day" of OxyContin, "half a capsule" of Zomorph: a modified-release tablet
        # or a capsule is swallowed whole (SmPC section 4.2), so the dose is not what is taken
        if (amount.dose / (_HALF if halves else 1)) % 1 == 0:
            return None
        what = f"{'modified-release ' if product.modified_release else ''}{product.per_unit}"
        part = "a whole or half" if halves else "a whole"
        return f"{n(amount.dose)} {product.per_unit} is not {part} number of {what}s: " + (
            "an immediate-release tablet may be halved, no smaller"
            if halves
            else f"a {what} is swallowed whole"
        )
    if _kind(amount) != MG:
        return None
    step = product.strength_per_unit * (_HALF if halves else 1)
    if step <= 0 or (amount.dose / step) % 1 == 0:
        return None
    release = "modified-release " if product.modified_release else ""
    whole = "a whole or half" if halves else "a whole"
    return (
        f"{n(amount.dose)} mg is not {whole} number of {n(product.strength_per_unit)} mg {release}"
        f"{product.per_unit}s; if the dose is made of several strengths, it may be written on each"
    )


def _kind(amount: DailyAmount) -> str:
    """The kind of one administration's dose: the product's units, mg or microgram/hour."""
    return {"mg": MG, "microgram/hour": RATE}.get(amount.dose_unit, UNIT)


def _daily_dose(amount: DailyAmount, form: DoseForm) -> tuple[Decimal, str]:
    """(amount, unit): mg of ingredient a day, or microgram/hour for patches."""
    converted = in_ingredient(amount.quantity, amount.unit, form)
    assert converted is not None  # a catalogue product always has its strength
    return converted[0], _MICROGRAM_PER_HOUR if converted[1] == RATE else "mg/day"


def _same_mass_on_several_items(opioids: list[MedicationOme]) -> list[MedicationOme]:
    """The opioids, with every item of one ingredient that writes the same dose as a mass (or a patch rate)
    at the same frequency as another item of it refused together: a dose made of two strengths is often
    written whole on each strength's item ("40mg bd" on Zomorph 30 mg and on Zomorph 10 mg), and adding
    them up would count it twice. Which it is cannot be told, so neither is counted (the total "at least").
    """

    def key(med: MedicationOme) -> tuple[str, str, Decimal, Decimal | None] | None:
        reading, product = med.reading, med.identified.product if med.identified else None
        if reading is None or product is None or reading.dose is None or _kind(reading) == UNIT:
            return None
        if not (med.computable or med.reason_code == f"{OmeReason.DOSAGE}:{PART_UNIT}"):
            return None
        return product.ingredient, _kind(reading), reading.dose, reading.per_day

    groups: dict[tuple[str, str, Decimal, Decimal | None], list[int]] = {}
    for index, med in enumerate(opioids):
        found = key(med)
        if found is not None:
            groups.setdefault(found, []).append(index)
    refused = list(opioids)
    for (ingredient, kind, dose, per_day), members in groups.items():
        if len(members) < 2:
            continue
        often = f" {n(per_day)} times a day" if per_day is not None else ""
        text = (
            f"The same dose in {'mg' if kind == MG else 'microgram/hour'} ({n(dose)}{often}) is "
            f"written on {len(members)} items of {ingredient}: it may be one dose made of both strengths, "
            "so it is not counted on either"
        )
        for index in members:
            med = opioids[index]
            assert med.identified is not None  # key() keeps only identified products
            code = f"{OmeReason.DOSAGE}:{SAME_MASS_ON_SEVERAL}"
            failed = _not_computable(med.identified, code, text, med.factor)
            refused[index] = replace(failed, reading=med.reading)
    return refused


def oral_morphine_equivalent(
    resources: Sequence[Mapping[str, Any]],
    *,
    factor_table: str = DEFAULT_OME_FACTOR_TABLE,
    medications: Mapping[str, Mapping[str, Any]] | None = None,
    catalogue: ProductCatalogue | None = None,
    factors: OmeFactorTable | None = None,
) -> OmeResult:
    """Total and per-opioid OME in mg/day for a patient's MedicationRequest/MedicationStatement dicts.

    ``factor_table`` picks the table (``uk-opioids-aware`` or ``cdc-2022``); ``factors`` and ``catalogue``
    may be passed to use other data. ``medications`` resolves ``medicationReference`` targets
    (``"Medication/123"`` to a Medication dict). Resources whose status is in :data:`INACTIVE_STATUSES` are
    left out and listed in ``excluded``.
    """
    catalogue = catalogue or load_product_catalogue()
    factors = factors or load_ome_factor_table(factor_table)
    opioids: list[MedicationOme] = []
    others: list[IdentifiedMedication] = []
    excluded: list[str] = []
    paracetamol: list[tuple[str, Decimal]] = []
    for index, resource in enumerate(resources):
        med = identify_medication(
            resource, catalogue, medications=medications, fallback_reference=f"#{index}"
        )
        if resource.get("status") in INACTIVE_STATUSES:
            excluded.append(med.reference)
        elif med.drug_class is DrugClass.OPIOID or med.problem == OmeReason.UNKNOWN_PRODUCT:
            opioids.append(medication_ome(med, _dosages(resource), factors))
        else:
            others.append(med)
            plain = plain_paracetamol_mg_per_day(med.name, _dosages(resource))
            if plain is not None:
                paracetamol.append((med.reference, plain))
    opioids = _same_mass_on_several_items(opioids)
    total = sum((m.ome_mg_per_day for m in opioids if m.ome_mg_per_day is not None), Decimal(0))
    return OmeResult(
        total_mg_per_day=total.quantize(_CENT),
        medications=tuple(opioids),
        incomplete=any(not m.computable for m in opioids),
        factor_table=factors.table_id,
        factor_table_version=factors.version,
        others=tuple(others),
        excluded=tuple(excluded),
        paracetamol=tuple(paracetamol),
    )
