"""A taper step's dose as a MedicationRequest: the proposal the GP approves, and the order it becomes.

Pure. A step's dose is made of strengths that exist (``ItemDose.units``). An oral dose whose frequency was
read (``ItemDose.frequency_read``) is written per administration: the dose each time (``doseQuantity``) at
the step's frequency (``timing.repeat``; ``asNeededBoolean`` for "when required", then at most that many a
day). Other tablets, capsules and liquids are written as a daily maximum (``maxDosePerPeriod``, per 1 day)
with the arithmetic in the text, and patches as the patches worn at once. The encoding is chosen so that the
OME calculator reads the same figure back from the MedicationRequest (tested):

* one strength: the dm+d product of that strength, ``n`` units a day (patches: ``n`` patches worn);
* several strengths of tablets/capsules (or patches) given at a known frequency: one proposal per strength
  (:func:`step_proposals`), each a prescription of its own (that product, its units a dose at the step's
  frequency, its own quantity for the interval), the step's orders sharing a ``groupIdentifier``;
* otherwise several strengths of tablets/capsules/liquid: the strongest product used, the day's total in mg;
* several patch strengths worn together: named by their total (e.g. "Fentanyl 87.5micrograms/hour ... (50 +
  37.5 micrograms/hour patches worn together)"), one such dose worn;
* a stop: the current product with ``doNotPerform`` true.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from services.medreview.domain.prescribing import (
    FREQUENCY_WORDS,
    Order,
    PrescribingProblem,
    mass_words,
    step_orders,
)
from services.medreview.domain.taper import ItemDose
from services.medreview.fhir_mapping.codes import SOURCE_MEDREVIEW, UCUM, source_tag
from services.medreview.fhir_mapping.quantities import number
from shared.contracts.taper import REPLACES_PRESCRIPTION_URL
from shared.core.values import format_instant
from shared.terminology import DMD_SYSTEM, DmdProduct, ProductCatalogue

__all__ = [
    "REPLACES_URL",
    "by_brand",
    "dose_text",
    "order_from_proposal",
    "product_concept",
    "step_proposal",
    "step_proposals",
]

REPLACES_URL = REPLACES_PRESCRIPTION_URL
"""On an order: each prescription it replaces (``valueReference``), when a step's orders replace several."""

_PATCH_INTERVAL_WORDS = {72: "72-hour", 96: "96-hour", 168: "seven day"}
_DAY = {"value": 1, "unit": "day", "system": UCUM, "code": "d"}


def product_concept(product: DmdProduct) -> dict[str, Any]:
    """The product's CodeableConcept: its dm+d code when known, and its name."""
    found: dict[str, Any] = {"text": product.name}
    if product.code:
        found["coding"] = [{"system": DMD_SYSTEM, "code": product.code, "display": product.name}]
    return found


def by_brand(
    proposals: Sequence[Mapping[str, Any]],
    brand: str,
    catalogue: ProductCatalogue,
    *,
    once_daily: bool = False,
) -> list[dict[str, Any]]:
    """A step's ``proposals`` named by the patient's ``brand`` where the brand makes each product (BNF:
    prescribe a modified-release opioid, or a patch, by brand: MXL's 60 mg capsule is the VMP Zomorph 60 mg
    is too, one taken once a day, the other twice): the brand's AMP code and name, in every text of the step
    (an order names the others it is taken with). A once-daily brand (MXL, an XL) that does not make a
    strength (``once_daily``) is given another once-daily brand's AMP of it (Tradorec XL 100 mg beside Zydol
    XL), never the generic product a 12-hourly brand shares. Else a proposal is as it was."""
    renamed: dict[str, str] = {}
    named: list[dict[str, Any]] = []
    for proposal in proposals:
        concept = proposal.get("medicationCodeableConcept") or {}
        vmp = next(
            (c.get("code") for c in concept.get("coding") or () if c.get("system") == DMD_SYSTEM), None
        )
        amp = catalogue.amp_of(brand, str(vmp)) if vmp else None
        if amp is None and vmp and once_daily:
            amp = catalogue.once_daily_amp_of(str(vmp))
        if amp is None:
            named.append(dict(proposal))
            continue
        if concept.get("text"):
            renamed[str(concept["text"])] = amp.term
        coding = [{"system": DMD_SYSTEM, "code": amp.code, "display": amp.term}]
        named.append({**proposal, "medicationCodeableConcept": {"coding": coding, "text": amp.term}})
    for proposal in named:
        proposal["dosageInstruction"] = [
            {**d, "text": _renamed(str(d["text"]), renamed)} if "text" in d else d
            for d in proposal.get("dosageInstruction") or ()
        ]
    return named


def _renamed(text: str, names: Mapping[str, str]) -> str:
    for generic in sorted(names, key=len, reverse=True):  # the longest first: no name inside another
        text = text.replace(generic, names[generic])
    return text


def _n(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _made_of(dose: ItemDose, per_unit: str, strength_unit: str) -> str:
    if strength_unit == "mg":
        return " + ".join(
            f"{count} x {mass_words(strength, True)} {per_unit}" for strength, count in dose.units
        )
    return " + ".join(
        f"{count} x {_n(strength)} {strength_unit} {per_unit}" for strength, count in dose.units
    )


def dose_text(dose: ItemDose, product: DmdProduct) -> str:
    """The step's dose in words, e.g. "110 mg a day: 1 x 100 mg tablet + 1 x 10 mg tablet"."""
    if dose.daily_dose == 0:
        return f"Stop {product.name}"
    if product.is_patch:
        made = _made_of(dose, "patch", "micrograms/hour")
        return f"{_n(dose.daily_dose)} micrograms/hour: {made} worn at once"
    if dose.frequency_read:  # equal doses at the step's frequency, in the form's own terms
        per = dose.daily_dose / dose.doses_per_day
        often = FREQUENCY_WORDS[dose.doses_per_day]
        most = ""
        if dose.as_needed:
            often, most = f"up to {often} when required", "at most "
        if product.per_unit == "ml":
            ml = per / product.strength_per_unit
            return (
                f"{mass_words(per)} {product.ingredient} ({_n(ml)} ml of {product.name}) {often}, "
                f"{most}{mass_words(dose.daily_dose)} a day"
            )
        made = _made_of(dose, product.per_unit, "mg")
        daily = f"{most}{mass_words(dose.daily_dose)} a day"
        return f"{mass_words(per)} {product.ingredient} {often} ({daily}): {made} each dose"
    made = _made_of(dose, product.per_unit, "mg")
    split = "in divided doses as the prescriber directs"
    return f"{mass_words(dose.daily_dose)} {product.ingredient} a day: {made}, {split}"


def _strength(family: Sequence[DmdProduct], strength: Decimal) -> DmdProduct | None:
    return next((p for p in family if p.strength_per_unit == strength), None)


def _patch_dosage(dose: ItemDose, product: DmdProduct, count: int, start: date) -> dict[str, Any]:
    repeat: dict[str, Any] = {"boundsPeriod": {"start": format_instant(start)}}
    # the text says how often the patch is changed, as the timing does: the text is what the GP reads and
    # what the label carries (a Schedule 2 or 3 patch's dose is incomplete without it)
    every = ""
    if product.patch_change_hours:
        repeat |= {"frequency": 1, "period": product.patch_change_hours, "periodUnit": "h"}
        every = f", changed every {product.patch_change_hours} hours"
    return {
        "text": f"Apply {dose_text(dose, product)}{every}",
        "timing": {"repeat": repeat},
        "doseAndRate": [{"doseQuantity": {"value": count, "unit": "patch"}}],
    }


def _daily_dosage(text: str, numerator: dict[str, Any], start: date) -> dict[str, Any]:
    return {
        "text": text,
        "timing": {"repeat": {"boundsPeriod": {"start": format_instant(start)}}},
        "maxDosePerPeriod": {"numerator": numerator, "denominator": dict(_DAY)},
    }


def _per_administration(
    dose: ItemDose,
    text: str,
    current: DmdProduct,
    family: Sequence[DmdProduct],
    single: DmdProduct | None,
    start: date,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A dose given as equal administrations: the dose of one administration and how often (the OME reader
    multiplies them back to the day's total)."""
    per = dose.daily_dose / dose.doses_per_day
    repeat = {
        "frequency": dose.doses_per_day,
        "period": 1,
        "periodUnit": "d",
        "boundsPeriod": {"start": format_instant(start)},
    }
    if current.per_unit == "ml":
        medication, amount = current, {"value": number(per / current.strength_per_unit), "unit": "ml"}
    elif single is not None:
        medication, amount = single, {"value": dose.units[0][1], "unit": single.per_unit}
    else:
        strongest = _strength(family, max(s for s, _ in dose.units)) or current
        medication, amount = strongest, {"value": number(per), "unit": "mg", "system": UCUM, "code": "mg"}
    dosage: dict[str, Any] = {"text": text, "timing": {"repeat": repeat}}
    if dose.as_needed:  # "when required", at most ``doses_per_day`` a day
        dosage["asNeededBoolean"] = True
    dosage["doseAndRate"] = [{"doseQuantity": amount}]
    return product_concept(medication), [dosage]


def _medication_and_dosage(
    dose: ItemDose, current: DmdProduct, family: Sequence[DmdProduct], start: date
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    text = dose_text(dose, current)
    if dose.daily_dose == 0:
        return product_concept(current), [{"text": text}]
    single = _strength(family, dose.units[0][0]) if len(dose.units) == 1 else None
    if dose.frequency_read and not current.is_patch:
        return _per_administration(dose, text, current, family, single, start)
    if current.is_patch:
        if single is not None:
            return product_concept(single), [_patch_dosage(dose, single, dose.units[0][1], start)]
        interval = _PATCH_INTERVAL_WORDS.get(current.patch_change_hours or 0, "")
        name = (
            f"{current.ingredient.capitalize()} {_n(dose.daily_dose)}micrograms/hour {interval} transdermal "
            f"patches ({' + '.join(_n(s) for s, _ in dose.units)} micrograms/hour patches worn together)"
        )
        return {"text": " ".join(name.split())}, [_patch_dosage(dose, current, 1, start)]
    if single is not None:
        count = {"value": dose.units[0][1], "unit": single.per_unit}
        return product_concept(single), [_daily_dosage(text, count, start)]
    strongest = _strength(family, max(s for s, _ in dose.units)) or current
    mg = {"value": number(dose.daily_dose), "unit": "mg", "system": UCUM, "code": "mg"}
    return product_concept(strongest), [_daily_dosage(text, mg, start)]


def step_proposal(
    dose: ItemDose,
    *,
    current: DmdProduct,
    family: Sequence[DmdProduct],
    start: date,
    patient: str,
    careplan: str,
    authored: datetime,
    note: str,
    days: int | None = None,
) -> dict[str, Any]:
    """The proposed MedicationRequest (``intent`` proposal, ``status`` draft) for one step of a taper, from
    ``start`` (``dispenseRequest.validityPeriod.start``); ``taper_plan.step_marks`` makes it a plan's step.

    ``days`` (the step's interval): a dose given at a known frequency, or a patch, also says what to supply
    for it (``prescribing.step_orders``): each strength's total in words and figures, the controlled drug
    schedule when it is 2 or 3, and, when one strength makes the dose, ``dispenseRequest.quantity`` and
    ``expectedSupplyDuration``."""
    medication, dosage = _medication_and_dosage(dose, current, family, start)
    supply = _supply(dose, current, family, days)
    proposal: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "meta": {"tag": [source_tag(SOURCE_MEDREVIEW)]},
        "status": "draft",
        "intent": "proposal",
        "medicationCodeableConcept": medication,
        "subject": {"reference": patient},
        "authoredOn": format_instant(authored),
        "basedOn": [{"reference": careplan}],
        "note": [{"text": note}],
        "dosageInstruction": dosage,
        "dispenseRequest": {"validityPeriod": {"start": format_instant(start)}},
    }
    if dose.daily_dose == 0:
        proposal["doNotPerform"] = True
    if supply is not None:
        words, orders = supply
        proposal["dosageInstruction"] = [{**dosage[0], "text": f"{dosage[0]['text']}. {words}"}, *dosage[1:]]
        if len(orders) == 1 and days:
            proposal["dispenseRequest"] |= {
                "quantity": {"value": number(orders[0].quantity), "unit": orders[0].unit},
                "expectedSupplyDuration": {"value": days, "unit": "day", "system": UCUM, "code": "d"},
            }
    return proposal


def step_proposals(
    dose: ItemDose,
    *,
    current: DmdProduct,
    family: Sequence[DmdProduct],
    start: date,
    patient: str,
    careplan: str,
    authored: datetime,
    note: str,
    days: int | None = None,
) -> list[dict[str, Any]]:
    """The step's proposed MedicationRequests: one per strength when its dose needs several strengths and
    what to supply is known (a dose at a known frequency, or patches), each that product's units a dose at
    the step's frequency, its own ``dispenseRequest.quantity`` and wording (read back alone, each is its own
    share of the step's dose); else the one :func:`step_proposal`. The first is the step's; every proposal
    of a step shares one ``groupIdentifier`` (``taper_plan.step_marks``)."""
    supply = _supply(dose, current, family, days)
    if supply is None or len(supply[1]) < 2 or days is None:
        one = step_proposal(
            dose,
            current=current,
            family=family,
            start=start,
            patient=patient,
            careplan=careplan,
            authored=authored,
            note=note,
            days=days,
        )
        return [one]
    orders = supply[1]
    found = []
    for position, order in enumerate(orders, start=1):
        others = " and ".join(o.product.name for o in orders if o is not order)
        share = replace(
            dose,
            product=order.product.name,
            daily_dose=order.mg_per_dose * (1 if order.product.is_patch else order.doses_per_day),
            units=((order.product.strength_per_unit, int(order.per_dose)),),
            ome_mg_per_day=Decimal(0),
        )
        proposal = step_proposal(
            share,
            current=order.product,
            family=[order.product],
            start=start,
            patient=patient,
            careplan=careplan,
            authored=authored,
            note=note,
            days=days,
        )
        proposal["note"] = [
            *proposal["note"],
            {"text": f"Order {position} of {len(orders)} of this step, given together with {others}."},
        ]
        # the dosage itself says so, where the label and the dispenser see it: an order dispensed or read
        # alone was its own share only ("30 mg twice a day" of a step of 55 mg twice a day)
        first, *rest = proposal["dosageInstruction"]
        together = {"text": _together(dose, current, others)}
        proposal["dosageInstruction"] = [
            {**first, "additionalInstruction": [*first.get("additionalInstruction", []), together]},
            *rest,
        ]
        found.append(proposal)
    return found


def _together(dose: ItemDose, current: DmdProduct, others: str) -> str:
    """The words that tie one order of a step in several strengths to the others: what is taken in all."""
    if current.is_patch:
        return (
            f"Worn together with {others}: {_n(dose.daily_dose)} micrograms/hour in all, every patch changed "
            "at the same time"
        )
    if dose.frequency_read and dose.doses_per_day:
        each = dose.daily_dose / dose.doses_per_day
        return (
            f"Taken together with {others}: {mass_words(each)} {current.ingredient} each dose in all, "
            f"{mass_words(dose.daily_dose)} a day"
        )
    return f"Taken together with {others}: {mass_words(dose.daily_dose)} {current.ingredient} a day in all"


def _supply(
    dose: ItemDose, current: DmdProduct, family: Sequence[DmdProduct], days: int | None
) -> tuple[str, tuple[Order, ...]] | None:
    """What to supply for the step's interval, in words, and the orders it is (``None`` when not known)."""
    if not days or dose.daily_dose == 0 or not (dose.frequency_read or current.is_patch):
        return None
    found = step_orders(
        dose.daily_dose,
        current,
        family,
        doses_per_day=dose.doses_per_day,
        days=days,
        as_needed=dose.as_needed,
    )
    if isinstance(found, PrescribingProblem) or not found:
        return None
    schedules = sorted({o.schedule for o in found if o.schedule in (2, 3)} - {None})
    controlled = f"Controlled drug, Schedule {schedules[0]}. " if schedules else ""
    each = "; ".join(f"{o.supply} of {o.product.name}" for o in found)
    return f"{controlled}Supply {each} ({days} days)", found


def order_from_proposal(
    proposal: dict[str, Any],
    *,
    prior: str | None,
    authored: datetime,
    requester: dict[str, Any] | None,
    priors: Sequence[str] = (),
) -> dict[str, Any]:
    """The GP-approved order a proposal becomes: ``intent`` order, ``status`` active, ``basedOn`` the proposal
    (then the plan), ``priorPrescription`` the MedicationRequest it replaces. When the step replaces several
    (``priors``: the orders of a step given in several strengths), each is named in a
    ``replaces-prescription`` extension (``priorPrescription`` is the first)."""
    # The step's identifier and extension stay the proposal's: the order is a prescription like any other.
    mine = ("id", "meta", "identifier", "extension", "statusReason", "basedOn", "priorPrescription")
    order = {k: v for k, v in proposal.items() if k not in mine}
    order |= {
        "meta": {"tag": [source_tag(SOURCE_MEDREVIEW)]},
        "status": "active",
        "intent": "order",
        "authoredOn": format_instant(authored),
        "basedOn": [{"reference": f"MedicationRequest/{proposal['id']}"}, *proposal.get("basedOn", [])],
    }
    if prior and prior.startswith("MedicationRequest/"):
        order["priorPrescription"] = {"reference": prior}
    named = [
        p for p in dict.fromkeys([*([prior] if prior else []), *priors]) if p.startswith("MedicationRequest/")
    ]
    if len(named) > 1:
        order["priorPrescription"] = {"reference": named[0]}
        order["extension"] = [{"url": REPLACES_URL, "valueReference": {"reference": p}} for p in named]
    if requester:
        order["requester"] = requester
    return order
