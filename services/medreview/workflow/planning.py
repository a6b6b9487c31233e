"""What proposing, re-planning and approving a taper share: the current regimen as taper input, steps as
proposed MedicationRequests and CarePlan activities, reading the steps back, storing and announcing the plan
(a Bundle of the CarePlan and its steps' MedicationRequests), and asking the GP to approve the next step."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from services.medreview.domain.ome import MedicationOme, OmeResult
from services.medreview.domain.prescribing import issuable_per_dose
from services.medreview.domain.strengths import compose_dose
from services.medreview.domain.taper import RegimenItem, StepAction, TaperPlan, regimen_from_ome
from services.medreview.fhir_mapping import (
    APPROVE_STEP,
    StepRecord,
    by_brand,
    conformant,
    dose_text,
    gp_task,
    order_marks,
    policy_of,
    product_concept,
    step_activity,
    step_marks,
    step_orders_of,
    step_proposals,
    step_reason,
    step_references,
    steps_of,
    taper_bundle,
)
from services.medreview.fhir_mapping.codes import STEP_WITHDRAWN
from services.medreview.fhir_mapping.gp_view import StepView, agreement_of, flags_of, prescription_text
from services.medreview.repository import repository
from services.medreview.workflow.review import Regimen, current_regimen, reviewed
from shared.contracts import GP_TASK_REQUESTED_V1, EventType
from shared.fhir import UnitOfWork, Unprocessable, format_instant
from shared.medicines.administrations import Administrations, administrations
from shared.medicines.amounts import DosageProblem
from shared.medicines.dosage import patch_change_hours
from shared.medicines.identify import reference_of
from shared.terminology import DEFAULT_OME_FACTOR_TABLE, DmdProduct, ProductCatalogue, load_product_catalogue

PER_DOSE_UNITS = 3
"""At most this many tablets or capsules make one administration of a new dose (or as many as now)."""
ANALGESIC_PARTNERS = frozenset({"paracetamol", "ibuprofen", "aspirin"})
MOST_A_DOSE_WITH_AN_ANALGESIC = 2
"""BNF: co-codamol, co-dydramol and tramadol with paracetamol, 1 or 2 tablets a dose (1 g of paracetamol);
ibuprofen with codeine, 1 or 2. More at a time ("8 tablets every 24 hours") is no dose to step from."""

__all__ = [
    "APPROVAL_LEAD_DAYS",
    "PER_DOSE_UNITS",
    "TaperInput",
    "add_progress",
    "add_steps",
    "announce",
    "cancel_step",
    "per_administration",
    "plan_steps",
    "replaced_by",
    "request_next_approval",
    "set_note",
    "step_requests",
    "step_view",
    "store_plan",
    "sublingual_buprenorphine",
    "taper_input",
]


@dataclass(frozen=True)
class TaperInput:
    """The current regimen as the planner takes it, and each opioid's product (by its reference)."""

    regimen: Regimen
    result: OmeResult
    items: tuple[RegimenItem, ...]
    products: dict[str, DmdProduct]
    brands: dict[str, str] = field(default_factory=dict)
    """The brand a modified-release product or a patch is prescribed by, by reference (BNF: prescribe
    these by brand), when its name or AMP code names one."""
    once_daily: frozenset[str] = frozenset()
    """References of modified-release brands made to be taken once a day (MXL, an XL, 24hr)."""


_DOSAGE_KEY = {"MedicationStatement": "dosage"}
"""Where a resource keeps its dosages, when not in ``dosageInstruction`` (a MedicationRequest's)."""

APPROVAL_LEAD_DAYS = 7
"""Default days before a step's date its approval Task reaches the practice (MEDREVIEW_APPROVAL_LEAD_DAYS)."""


def taper_input(s: UnitOfWork, patient: str, factor_table: str = DEFAULT_OME_FACTOR_TABLE) -> TaperInput:
    """The patient's current opioids as taper input; 422 when a dose is unknown or there is no opioid."""
    regimen = current_regimen(s, patient)
    result = reviewed(regimen.resources, regimen.medications, factor_table).result
    if result.incomplete:
        names = ", ".join(f"{m.name or m.reference} ({m.reason})" for m in result.not_computable)
        raise Unprocessable(
            f"A taper needs every opioid's dose, and these could not be computed: {names}. "
            "Prescriber to review."
        )
    catalogue = load_product_catalogue()
    by_reference = {m.reference: m for m in result.medications}
    written = {
        reference_of(r, f"#{index}"): r.get(_DOSAGE_KEY.get(str(r.get("resourceType")), "dosageInstruction"))
        or []
        for index, r in enumerate(regimen.resources)
    }
    read = [
        per_administration(item, by_reference.get(item.reference), catalogue, written.get(item.reference, ()))
        for item in regimen_from_ome(result)
    ]
    refused = [r for r in read if isinstance(r, str)]
    if refused:
        raise Unprocessable(
            f"A taper step is written at the prescription's own frequency, and {'; '.join(refused)}. "
            "Prescriber to review (write the dose as one regular schedule) before a taper is proposed."
        )
    items = tuple(r for r in read if isinstance(r, RegimenItem))
    if not items:
        raise Unprocessable(f"{patient} takes no opioid whose dose could be reduced")
    products = {
        m.reference: _with_brand_interval(m.identified.product, m, catalogue)
        for m in result.medications
        if m.computable and m.identified is not None and m.identified.product is not None
    }
    uneven = _uneven_modified_release(items, products)
    if uneven:
        raise Unprocessable(
            f"{uneven} A taper step changes one prescription at a time, so these would be stepped apart "
            "(one changed, the other not: the day's doses uneven, a 12-hourly product taken once). "
            "Prescriber to review (one prescription of equal doses, or step by hand)."
        )
    once_daily = frozenset(  # taken once a day (a once-daily brand taken more often was refused above)
        i.reference
        for i in items
        if i.doses_per_day == 1
        and (m := by_reference.get(i.reference)) is not None
        and catalogue.made_once_daily(m.name, m.identified.code if m.identified is not None else None)
    )
    return TaperInput(regimen, result, items, products, _brands(result, catalogue), once_daily)


def _uneven_modified_release(items: Sequence[RegimenItem], products: Mapping[str, DmdProduct]) -> str:
    """Why two or more prescriptions of one modified-release opioid by mouth make no one schedule, or "":
    taken at different times or frequencies ("Zomorph 30mg in the morning" beside "Zomorph 60mg at night";
    "MST 30mg twice a day" beside "MST 10mg at night"), or each once a day. Equal doses split over items at
    one frequency ("MST 30mg" and "MST 10mg", each twice a day) are stepped item by item as before."""
    groups: dict[str, list[RegimenItem]] = {}
    for item in items:
        product = products.get(item.reference)
        if product is not None and product.modified_release and product.route == "oral":
            groups.setdefault(product.ingredient, []).append(item)
    for ingredient, group in groups.items():
        frequencies = {i.doses_per_day for i in group}
        if len(group) > 1 and (len(frequencies) > 1 or frequencies == {1}):
            names = " and ".join(f"{i.product} ({i.doses_per_day} a day)" for i in group)
            return f"Modified-release {ingredient} is prescribed as {names}: no one schedule of equal doses."
    return ""


def _with_brand_interval(product: DmdProduct, med: MedicationOme, catalogue: ProductCatalogue) -> DmdProduct:
    """A patch as its brand is changed (Hapoctasin every 72 hours, though its dm+d VMP is Transtec's 96)."""
    code = med.identified.code if med.identified is not None else None
    hours = catalogue.patch_change_hours_of(product, med.name, code)
    return replace(product, patch_change_hours=hours) if hours != product.patch_change_hours else product


def _brands(result: OmeResult, catalogue: ProductCatalogue) -> dict[str, str]:
    """Each modified-release product's or patch's brand, from its name or its AMP code (module docstring)."""
    found = {}
    for med in result.medications:
        product = med.identified.product if med.identified is not None else None
        if product is None or not (product.modified_release or product.is_patch):
            continue
        code = med.identified.code if med.identified is not None else None
        brand = catalogue.brand_of(med.name, code)  # its first words or its AMP, never a word further on
        if brand is not None:
            found[med.reference] = brand
    return found


def sublingual_buprenorphine(product: DmdProduct) -> bool:
    """A sublingual buprenorphine tablet (for pain, or substitution: ``family_of`` keeps them apart)."""
    return (
        product.ingredient == "buprenorphine"
        and product.route == "sublingual"
        and product.per_unit == "tablet"
        and not product.modified_release
    )


def per_administration(
    item: RegimenItem,
    med: MedicationOme | None,
    catalogue: ProductCatalogue,
    dosages: Sequence[Mapping[str, Any]] = (),
) -> RegimenItem | str:
    """An opioid taken by mouth is tapered in its form's own terms at the frequency the one dose reader read
    from its prescription (``shared.medicines.administrations``; ``prescribing``: tablets and capsules whole,
    liquids in 0.5 ml): a modified-release tablet or capsule, or a regular liquid, in equal doses at that
    frequency (twice a day stays twice a day); an immediate-release tablet or capsule, or a liquid "when
    required", also at fewer administrations a day, never a bigger dose each time than the step before (one
    capsule four times a day, then three times a day); "when required" stays "when required", with its most
    a day. Sublingual buprenorphine tablets step as immediate-release tablets do (whole tablets, never a
    bigger dose each time). A modified-release product taken once a day, made as a once-daily brand (MXL,
    an XL), steps only in strengths made as one (never Zomorph 10 mg, 12-hourly, once a day). Patches keep
    the patches worn. Any other form (buccal, nasal, sachets...) is
    refused: its step could only be a day's total "as directed", which no prescriber can sign for a
    Schedule 2 or 3 drug.

    Refused (the sentence why, naming the medicine) when that frequency is not read as one regular schedule,
    a modified-release dose is "when required", or the current dose is not equal doses of whole units or
    0.5 ml measures: a step written at a guessed frequency could be a dose nobody prescribed."""
    product = med.identified.product if med is not None and med.identified is not None else None
    if med is None or product is None:  # (regimen_from_ome keeps only recognised products)
        return f"{item.product} is not a product whose steps are written here"
    name = med.name or product.name
    if product.is_patch:
        # a step's patch is changed at the product's interval: a prescription that changes it at another
        # ("every 48 hours" of a 72-hour fentanyl patch) would have two changes at once, so it is checked
        expected = _with_brand_interval(product, med, catalogue).patch_change_hours
        said = {h for h in patch_change_hours(dosages) if not (h == 84 and expected == 96)}  # twice weekly
        if expected is not None and said - {expected}:
            others = ", ".join(f"{h.normalize():f}" for h in sorted(said - {expected}))
            return (
                f"{name} is changed every {others} hours by its prescription, the product every {expected}: "
                "the prescription is to be checked, not stepped at another interval"
            )
        return item
    liquid = product.per_unit == "ml" and product.route == "oral"
    immediate = not product.modified_release and (
        (product.route == "oral" and product.per_unit in ("tablet", "capsule"))
        or sublingual_buprenorphine(product)
    )
    if not ((product.modified_release and product.route == "oral") or liquid or immediate):
        return (
            f"{name} is a {product.form} ({product.route}), a form whose steps are not written here "
            "(tablets and capsules by mouth, sublingual buprenorphine tablets, oral liquids and patches are)"
        )
    if med.reading is None:
        return f"the dose of {name} was not read"
    code = med.identified.code if med.identified is not None else None
    brand = catalogue.brand_of(med.name, code)
    brand_once_daily = product.modified_release and catalogue.made_once_daily(med.name, code)
    read = administrations(med.reading)
    if isinstance(read, DosageProblem) and brand_once_daily and med.reading.total_only:
        # MXL 60 mg "TWO To Be Taken Each Day": a once-daily brand's day's total is taken once a day (SmPC)
        read = Administrations(1, med.reading.as_needed, med.reading.dose, med.reading.dose_unit)
    if isinstance(read, DosageProblem):
        return f"the frequency of {name} is not known: {read.text}"
    if read.as_needed and product.modified_release:
        return f"{name} is taken when required ({med.reading.basis}), not at a regular frequency"
    if med.reading.ranged and not read.as_needed and read.per_day > 1:
        # "1-2 qds", regular: read at its most for the OME, but a step from the most (2 three times a day)
        # may be more than the patient takes (1 four times a day), and the choice is gone (a pharmacist's
        # review, 2026-12-07: co-codamol 30/500 "one or two four times a day" stepped to 6 tablets a day).
        # Once a day ("one or two at night") a step is fewer than the most at that one time: never more than
        # is taken, so it is stepped
        return (
            f"{name} is taken as a range at regular times ({med.reading.basis}): a step from its most may be "
            "more than the patient takes; record the dose taken, or prescribe it when required"
        )
    per_day = read.per_day
    if brand_once_daily and per_day != 1:
        return (
            f"{name} is made to be taken once a day (its SmPC) but is prescribed {per_day} times a day "
            f"({med.reading.basis}): the prescription is to be checked, not stepped"
        )
    # once a day: a once-daily brand, or a product of one whose brand is not known (a generic name or VMP
    # code: the dispenser may give the 12-hourly brand of it); a 12-hourly brand taken at night is not
    once_daily = per_day == 1 and (
        brand_once_daily
        or (brand is None and product.modified_release and product.code in catalogue.once_daily)
    )
    strengths = issuable_per_dose(product, stepping_family(product, once_daily, catalogue))
    made = compose_dose(item.daily_dose / per_day, strengths)
    if made is None:
        return f"the dose of {name} ({med.reading.basis}) is not {per_day} equal doses of " + (
            "0.5 ml measures" if liquid else "whole units"
        )
    units = sum(n for _, n in made)
    partner = sorted(set(product.with_ingredients) & ANALGESIC_PARTNERS)
    if partner and not liquid and units > MOST_A_DOSE_WITH_AN_ANALGESIC:
        return (
            f"{name} is taken {units} {product.per_unit}s at a time ({med.reading.basis}), more than a dose "
            f"of a combination with {partner[0]} (BNF: 1 or 2): the prescription is to be checked"
        )
    if liquid:
        max_units = None
    elif product.with_ingredients:
        max_units = units  # never more paracetamol a dose
    else:
        max_units = max(units, PER_DOSE_UNITS)
    return replace(
        item,
        strengths=strengths,
        max_units=max_units,
        doses_per_day=per_day,
        frequency_read=True,
        fewer_administrations=immediate or read.as_needed,
        as_needed=read.as_needed,
    )


def _family(product: DmdProduct, catalogue: ProductCatalogue) -> tuple[DmdProduct, ...]:
    """The product's family in the catalogue; a patch changed at its brand's interval (Hapoctasin's 72 hours,
    its VMP's 96) is its VMP's family changed at that interval."""
    base = catalogue.lookup(product.code) if product.code else None
    if base is None or base.patch_change_hours == product.patch_change_hours:
        return catalogue.family_of(product)
    hours = product.patch_change_hours
    return tuple(replace(p, patch_change_hours=hours) for p in catalogue.family_of(base))


def stepping_family(
    product: DmdProduct, once_daily: bool, catalogue: ProductCatalogue
) -> tuple[DmdProduct, ...]:
    """The products a step of ``product`` is made of: its family, but for a modified-release brand made to
    be taken once a day and taken so (``once_daily``: MXL, an XL) only the strengths made as one (never
    Zomorph 10 mg, 12-hourly, once a day: half the day uncovered). A 12-hourly brand taken at night alone
    (Longtec 20 mg at night) keeps its own family."""
    family = catalogue.family_of(product)
    if product.modified_release and once_daily:
        family = tuple(p for p in family if p.code in catalogue.once_daily)
    return family


def add_steps(
    s: UnitOfWork,
    plan: TaperPlan,
    products: Mapping[str, DmdProduct],
    *,
    patient: str,
    careplan: str,
    first: int,
    brands: Mapping[str, str] | None = None,
    once_daily: Collection[str] = (),
) -> list[dict[str, Any]]:
    """Activities for ``plan``'s steps, numbered from ``first``; a reduction or stop also gets its proposed
    MedicationRequest (``intent`` proposal), a hold changes no prescription and gets none. A product
    prescribed by brand (``brands``, by reference) is proposed by that brand where it makes the strength."""
    catalogue = load_product_catalogue()
    activities = []
    last: dict[str, tuple[DmdProduct, ...]] = {}  # each opioid's products in its latest reduction here
    for planned in plan.steps:
        step = replace(planned, number=first + planned.number - 1)
        product = products[step.dose.reference]
        # the plan's own strengths make its orders (a once-daily brand's, when it was stepped in them)
        used = {strength for strength, _ in step.dose.units}
        family = tuple(p for p in _family(product, catalogue) if p.strength_per_unit in used) or (product,)
        stopping: tuple[DmdProduct, ...] = ()
        if step.action is StepAction.STOP and last.get(step.dose.reference):
            # a stop names what the step before it prescribed (MST 5 mg), not the product the plan began
            # from (it said "Stop MST Continus 60mg tablets" to a patient on 5 mg)
            stopping = last[step.dose.reference]
            product = stopping[0]
        elif step.action is StepAction.REDUCE:
            last[step.dose.reference] = tuple(sorted(family, key=lambda p: -p.strength_per_unit))
        words = dose_text(step.dose, product) if step.action is not StepAction.HOLD else "hold the dose"
        if len(stopping) > 1:
            words += "".join(f" and {p.name}" for p in stopping[1:])
        description = (
            f"Step {step.number} ({step.action.value}) from {step.date.isoformat()}: {words}; total "
            f"{step.total_ome_mg_per_day.normalize():f} mg OME a day"
            + (f". {step.note}" if step.note else "")
        )
        proposal = None
        if step.action is not StepAction.HOLD:
            made = step_proposals(
                step.dose,
                current=product,
                family=family,
                start=step.date,
                patient=patient,
                careplan=careplan,
                authored=s.now,
                note=description,
                days=plan.policy.interval_days,
            )
            if len(stopping) > 1:
                made = [{**m, "dosageInstruction": [{**m["dosageInstruction"][0], "text": words}]}
                        for m in made]  # fmt: skip
            brand = (brands or {}).get(step.dose.reference)
            daily = step.dose.reference in once_daily
            own, *others = by_brand(made, brand, catalogue, once_daily=daily) if brand else made
            orders = [  # a step in several strengths: one order per strength, the first naming the others
                f"MedicationRequest/{s.create(other | order_marks(step.number, k, careplan))['id']}"
                for k, other in enumerate(others, start=2)
            ]
            resource = own | step_marks(step, item=step.dose.reference, careplan=careplan, orders=orders)
            proposal = f"MedicationRequest/{s.create(resource)['id']}"
        activities.append(
            step_activity(
                step,
                item=step.dose.reference,
                proposal=proposal,
                description=description,
                product=product_concept(product),
            )
        )
    return activities


def step_requests(s: UnitOfWork, careplan: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The MedicationRequests the plan's steps refer to, and the further orders of steps in several
    strengths, as stored now, by reference."""
    found = {ref: repository(s).find(s.conn, ref, s.tenants) for ref in step_references(careplan)}
    firsts = {ref: request for ref, request in found.items() if request is not None}
    others = {
        ref: repository(s).find(s.conn, ref, s.tenants) for r in firsts.values() for ref in step_orders_of(r)
    }
    return firsts | {ref: request for ref, request in others.items() if request is not None}


def plan_steps(s: UnitOfWork, careplan: Mapping[str, Any]) -> list[StepRecord]:
    """The plan's steps, read with their MedicationRequests as stored now."""
    return steps_of(careplan, step_requests(s, careplan))


def store_plan(s: UnitOfWork, careplan: dict[str, Any]) -> dict[str, Any]:
    """Store a new version of the plan; a plan kept in the shape before cpl-3 is brought into the current one
    (its steps' MedicationRequests get their identifier and extension)."""
    plan, changed = conformant(careplan, step_requests(s, careplan))
    for request in changed:
        s.update(request)
    return s.update(plan)


def announce(s: UnitOfWork, event_type: EventType, careplan: dict[str, Any]) -> None:
    """Emit a taper event: the stored plan and its steps' MedicationRequests in a Bundle."""
    s.emit(event_type, f"CarePlan/{careplan['id']}", taper_bundle(careplan, step_requests(s, careplan)))


def set_note(s: UnitOfWork, careplan: dict[str, Any], text: str) -> None:
    """Add a dated note to the plan (why it was paused, resumed, declined...)."""
    careplan["note"] = [*careplan.get("note", []), {"time": format_instant(s.now), "text": text}]


def add_progress(s: UnitOfWork, careplan: dict[str, Any], step: StepRecord, text: str) -> None:
    """Add a dated progress note to a step's activity."""
    activity = careplan["activity"][step.index]
    activity["progress"] = [*activity.get("progress", []), {"time": format_instant(s.now), "text": text}]


def cancel_step(
    s: UnitOfWork, careplan: dict[str, Any], step: StepRecord, reason: str, code: str = STEP_WITHDRAWN
) -> None:
    """Cancel a pending step with ``reason`` (``code`` declined or withdrawn): its proposal (or a hold's
    activity detail), any unanswered Task for it, and a progress note on its activity."""
    why = step_reason(code, reason)
    add_progress(s, careplan, step, f"{'Declined' if code != STEP_WITHDRAWN else 'Withdrawn'}: {reason}")
    if step.proposal is None:
        detail = careplan["activity"][step.index]["detail"]
        detail["status"] = "cancelled"
        detail["statusReason"] = why
        return
    for reference in step.proposals:
        proposal = repository(s).find(s.conn, reference, s.tenants)
        if proposal is not None and proposal.get("status") == "draft":
            s.update({**proposal, "status": "cancelled", "statusReason": why})
    for task in repository(s).open_tasks(s.conn, step.proposal, s.tenants):
        s.update(
            {
                **task,
                "status": "cancelled",
                "statusReason": {"text": reason},
                "lastModified": format_instant(s.now),
            }
        )


def replaced_by(steps: Sequence[StepRecord], step: StepRecord) -> tuple[str, ...]:
    """What the step's orders replace: every order of the latest step approved for the same opioid (one per
    strength), else the original prescription."""
    earlier = [
        st.outcomes or (st.outcome,)
        for st in steps
        if st.index < step.index and st.item == step.item and st.approved and st.outcome
    ]
    return tuple(str(ref) for ref in earlier[-1]) if earlier else (step.item,)


def step_view(
    s: UnitOfWork, careplan: Mapping[str, Any], steps: Sequence[StepRecord], step: StepRecord
) -> StepView:
    """The step as the GP is asked to decide it (``gp_view``)."""
    assert step.proposal is not None
    found = [repository(s).find(s.conn, ref, s.tenants) for ref in replaced_by(steps, step)]
    currents = [c for c in found if c is not None]
    medications = repository(s).medications(s.conn, currents, s.tenants) if currents else {}
    proposals = [p for ref in step.proposals if (p := repository(s).find(s.conn, ref, s.tenants)) is not None]
    patient = str(careplan["subject"]["reference"])
    issues = repository(s).search(s.conn, "DetectedIssue", [("patient", patient)], s.tenants)
    later = next((st for st in steps if st.index > step.index and st.pending), None)
    interval = policy_of(careplan)[0].interval_days
    return StepView(
        number=step.number,
        day=step.date,
        current="; ".join(prescription_text(c, medications) for c in currents) or prescription_text(None),
        proposed="; ".join(prescription_text(p) for p in proposals) or prescription_text(None),
        ome_before=step.total + step.reduction,
        ome_after=step.total,
        flags=flags_of(issues),
        agreement=agreement_of(careplan),
        next_review=later.date if later else step.date + timedelta(days=interval),
    )


def request_next_approval(
    s: UnitOfWork, careplan: Mapping[str, Any], *, lead_days: int = APPROVAL_LEAD_DAYS
) -> dict[str, Any] | None:
    """Ask the practice to approve the plan's next proposed step, unless it was asked already: the Task shows
    the current prescription against the proposed one, OME before and after, the patient's flags, their
    agreement and the next review date (``gp_view``)."""
    steps = plan_steps(s, careplan)
    upcoming = next((st for st in steps if st.pending and st.proposal), None)
    if upcoming is None or upcoming.proposal is None:
        return None
    if repository(s).open_tasks(s.conn, upcoming.proposal, s.tenants):
        return None
    proposed = [st for st in steps if st.proposal and st.status != "cancelled"]
    position = proposed.index(upcoming) + 1
    view = step_view(s, careplan, steps, upcoming)
    summary = " ".join(
        [
            f"Opioid dose reduction: please approve step {upcoming.number} ({position} of {len(proposed)} "
            "proposed).",
            *view.lines(),
            "Approve to have the new prescription issued on its date, or decline with a reason.",
        ]
    )
    task = gp_task(
        APPROVE_STEP,
        patient=str(careplan["subject"]["reference"]),
        focus=upcoming.proposal,
        practice=s.practice,
        authored=s.now,
        description=f"Approve step {upcoming.number} of an opioid dose reduction plan",
        summary=summary,
        based_on=f"CarePlan/{careplan['id']}",
        due=upcoming.date,
        send_on=max(s.now.date(), upcoming.date - timedelta(days=lead_days)),
    )
    task["input"] = [*task["input"], *view.task_inputs()]
    stored = s.create(task)
    s.emit(GP_TASK_REQUESTED_V1, f"Task/{stored['id']}", stored)
    return stored
