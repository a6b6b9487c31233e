"""Properties of the dose reader and the OME engine: an unread word never yields a number; doubling a dose
doubles the amount and the OME; an opioid (by name, or by any dm+d VMP, AMP or VTM code) is never zero with
the total complete."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.medicines.amounts import DailyAmount, DosageProblem, DoseForm
from shared.medicines.dosage import max_daily_amount
from shared.medicines.dose_text import read_dosage_text
from shared.medicines.ome import oral_morphine_equivalent
from shared.terminology import DrugClass, load_product_catalogue

TABLET = DoseForm("tablet", Decimal(30), is_patch=False)
READABLE = (
    "1-2 four times a day when required",
    "two tablets qds",
    "one at night",
    "take one every 12 hours",
    "one in the morning and two at night",
    "1-2 every 4-6 hours when required, max 8 in 24 hours",
    "two now, then one every 4 hours",
    "one and a half tablets twice a day",
    "20mg three times a day",
)
# No word of the reader's vocabulary starts with "zq", so each of these is unknown to it.
UNKNOWN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8).map(lambda s: "zq" + s)


@given(st.sampled_from(READABLE), UNKNOWN, st.integers(min_value=0, max_value=20))
def test_an_unknown_word_anywhere_in_a_dose_never_yields_a_number(text: str, word: str, where: int) -> None:
    assert isinstance(read_dosage_text(text, TABLET), DailyAmount)
    words = text.split()
    words.insert(where % (len(words) + 1), word)
    result = read_dosage_text(" ".join(words), TABLET)
    assert isinstance(result, DosageProblem) and result.code == "dosage-words-unread"
    assert word in result.words


@given(
    st.integers(min_value=1, max_value=40),
    st.sampled_from(("tablets", "mg", "micrograms")),
    st.sampled_from(("once a day", "bd", "three times a day", "qds", "every 6 hours", "at night")),
)
def test_doubling_a_dose_doubles_the_daily_amount(count: int, unit: str, frequency: str) -> None:
    single = read_dosage_text(f"{count} {unit} {frequency}", TABLET)
    double = read_dosage_text(f"{count * 2} {unit} {frequency}", TABLET)
    assert isinstance(single, DailyAmount) and isinstance(double, DailyAmount)
    assert double.unit == single.unit and double.quantity == 2 * single.quantity


OPIOID_WORDS = (
    "codeine", "dihydrocodeine", "tramadol", "tapentadol", "morphine", "diamorphine", "oxycodone",
    "hydromorphone", "fentanyl", "buprenorphine", "methadone", "pethidine", "meptazinol", "pentazocine",
    "dipipanone", "levorphanol", "co-codamol", "co-dydramol", "Zydol SR", "MST Continus", "Butrans",
    "Abstral", "Solpadol", "Nurofen Plus", "OxyContin", "Longtec", "Durogesic", "Palexia", "Subutex",
)  # fmt: skip
FORMS = ("tablets", "capsules", "oral solution", "transdermal patches", "sublingual tablets", "", "granules")
STRENGTHS = ("", "5mg", "10mg", "30mg/500mg", "12micrograms/hour", "200microgram", "77mg", "10mg/5ml")
TEXTS = (
    "one twice a day",
    "2 qds prn",
    "as directed",
    "apply one patch every 72 hours",
    "5ml four times a day",
)


@given(
    st.sampled_from(OPIOID_WORDS),
    st.sampled_from(STRENGTHS),
    st.sampled_from(FORMS),
    st.sampled_from(TEXTS),
)
def test_a_product_with_an_opioid_ingredient_is_never_zero_with_the_total_complete(
    word: str, strength: str, form: str, text: str
) -> None:
    name = " ".join(part for part in (word, strength, form) if part)
    resource = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "medicationCodeableConcept": {"text": name},
        "dosageInstruction": [{"text": text}],
    }
    result = oral_morphine_equivalent([resource])
    [med] = result.medications
    assert med.computable or result.incomplete
    if med.computable:
        assert med.ome_mg_per_day is not None and med.ome_mg_per_day > 0


@given(st.integers(min_value=1, max_value=12), st.sampled_from(("bd", "qds", "every 6 hours", "at night")))
def test_doubling_a_dose_doubles_its_ome(count: int, frequency: str) -> None:
    def total(tablets: int) -> Decimal:
        resource = {
            "resourceType": "MedicationRequest",
            "status": "active",
            "medicationCodeableConcept": {"text": "Oxycodone 5mg capsules"},
            "dosageInstruction": [{"text": f"{tablets} capsules {frequency}"}],
        }
        result = oral_morphine_equivalent([resource])
        assert not result.incomplete
        return result.total_mg_per_day

    assert total(2 * count) == 2 * total(count)


def _opioid_codes() -> list[str]:
    catalogue = load_product_catalogue()
    return sorted({*catalogue.opioid_codes, *catalogue.vtms})


@settings(max_examples=300)
@given(
    st.sampled_from(_opioid_codes()),
    st.sampled_from(("http://snomed.info/sct", "https://dmd.nhs.uk")),
    st.sampled_from(("", "Morphine", "Co-codamol 30mg/500mg tablets", "Oxycodone 5mg capsules")),
    st.sampled_from(TEXTS),
)
def test_an_opioid_code_at_any_dmd_level_is_never_zero_with_the_total_complete(
    code: str, system: str, text: str, dose: str
) -> None:
    """Every dm+d opioid VMP, AMP and VTM code, with or without a text (agreeing with it or not)."""
    concept: dict[str, object] = {"coding": [{"system": system, "code": code}]}
    if text:
        concept["text"] = text
    resource = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "medicationCodeableConcept": concept,
        "dosageInstruction": [{"text": dose}],
    }
    result = oral_morphine_equivalent([resource])
    [med] = result.medications
    assert med.identified is not None and med.identified.drug_class is DrugClass.OPIOID
    assert med.computable or result.incomplete
    if med.computable:
        assert med.ome_mg_per_day is not None and med.ome_mg_per_day > 0


PRODUCTS = (
    "Oxycodone 5mg capsules",
    "Co-codamol 30mg/500mg tablets",
    "Morphine sulfate 10mg/5ml oral solution",
    "Zomorph 30mg modified-release capsules",
    "Tramadol 50mg capsules",
)


@given(st.sampled_from(PRODUCTS), st.sampled_from(READABLE), UNKNOWN, st.integers(min_value=0, max_value=20))
def test_an_unknown_word_never_yields_an_ome(product: str, text: str, word: str, where: int) -> None:
    """Through the engine every service uses: the medicine is not computable and the total is 'at least'."""
    words = text.split()
    words.insert(where % (len(words) + 1), word)
    resource = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "medicationCodeableConcept": {"text": product},
        "dosageInstruction": [{"text": " ".join(words)}],
    }
    result = oral_morphine_equivalent([resource])
    [med] = result.medications
    assert not med.computable and med.ome_mg_per_day is None and med.daily_dose is None
    assert result.incomplete
    # the unread word is named, unless the dose was refused before its words were read ("20mg" of co-codamol)
    assert word in med.unread or med.reason_code == "dosage:dose-mass-in-compound", med.reason


def _non_opioid_codes() -> list[str]:
    catalogue = load_product_catalogue()
    return sorted(c for c, p in catalogue.by_code.items() if p.drug_class is not DrugClass.OPIOID)


@given(
    st.sampled_from(_non_opioid_codes()),
    st.sampled_from(OPIOID_WORDS),
    st.sampled_from(STRENGTHS),
    st.sampled_from(FORMS),
    st.booleans(),
)
def test_an_opioid_named_beside_the_code_of_another_medicine_is_never_zero(
    code: str, word: str, strength: str, form: str, as_display: bool
) -> None:
    """The code says a benzodiazepine or gabapentinoid, a text or display an opioid: never zero, complete."""
    name = " ".join(part for part in (word, strength, form) if part)
    coding: dict[str, str] = {"system": "http://snomed.info/sct", "code": code}
    concept: dict[str, object] = {"coding": [coding]}
    if as_display:
        coding["display"] = name
    else:
        concept["text"] = name
    resource = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "medicationCodeableConcept": concept,
        "dosageInstruction": [{"text": "one twice a day"}],
    }
    result = oral_morphine_equivalent([resource])
    [med] = result.medications
    assert med.identified is not None and med.identified.drug_class is DrugClass.OPIOID
    assert not med.computable and result.incomplete


def _dosed_products() -> list[str]:
    """Names of catalogue products with a factor and no special handling (tablets, capsules, patches)."""
    catalogue = load_product_catalogue()
    return sorted(
        p.name
        for p in catalogue.products
        if p.drug_class is DrugClass.OPIOID and p.per_unit in ("tablet", "capsule", "patch")
        and p.ingredient in ("codeine", "dihydrocodeine", "tramadol", "tapentadol", "morphine", "oxycodone",
                             "hydromorphone", "fentanyl", "buprenorphine")
    )  # fmt: skip


@given(
    st.sampled_from(_dosed_products()), st.integers(min_value=1, max_value=4), st.sampled_from(("bd", "qds"))
)
def test_a_bare_number_that_is_also_the_strength_is_never_a_count(
    name: str, units: int, frequency: str
) -> None:
    """'10 twice a day' of a 10 mg tablet is ten tablets or one: never read as a count (issue 14)."""
    catalogue = load_product_catalogue()
    product = next(p for p in catalogue.products if p.name == name)
    strength = product.strength_per_unit * (
        1000 if not product.is_patch and product.strength_per_unit < 1 else 1
    )
    bare = strength * units
    if bare == 1:
        return
    text = f"{bare.normalize():f} {'every 72 hours' if product.is_patch else frequency}"
    resource = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "medicationCodeableConcept": {"text": name},
        "dosageInstruction": [{"text": text}],
    }
    result = oral_morphine_equivalent([resource])
    [med] = result.medications
    assert not med.computable and result.incomplete, (text, med.daily_dose)


@given(
    st.sampled_from(_dosed_products()),
    st.integers(min_value=10, max_value=500),
    st.sampled_from(("bd", "qds", "every 4 hours", "every 72 hours")),
)
def test_a_bare_number_that_is_no_plausible_count_is_never_a_count(
    name: str, bare: int, frequency: str
) -> None:
    """Ten or more tablets or capsules a dose, or more than four patches, written without a unit: refused."""
    resource = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "medicationCodeableConcept": {"text": name},
        "dosageInstruction": [{"text": f"{bare} {frequency}"}],
    }
    result = oral_morphine_equivalent([resource])
    [med] = result.medications
    assert not med.computable and result.incomplete, (name, bare, med.daily_dose)


# Any structured R4 Dosage of the shapes GP systems send, with numbers of any sign: the reader answers
# with a figure that is not negative or with a DosageProblem, never an exception (a zero period raised
# DivisionByZero and a negative dose was read as a negative amount until 2026-12-06).
_NUMBER = st.one_of(
    st.integers(min_value=-3, max_value=48),
    st.decimals(-2, 10, places=2).map(float),
    st.sampled_from((0, 1e25, 1e-300, 1e300, 2**31 - 1)),
)
_QUANTITY = st.fixed_dictionaries(
    {"value": _NUMBER},
    optional={
        "unit": st.sampled_from(("tablet", "mg", "g", "microgram", "ml", "h", "d", "")),
        "system": st.sampled_from(("http://unitsofmeasure.org", "http://snomed.info/sct")),
        "code": st.sampled_from(("mg", "ug", "g", "{tablet}", "mL", "h", "d", "258684004")),
        "comparator": st.just("<"),
    },
)
_REPEAT = st.fixed_dictionaries(
    {
        "frequency": _NUMBER,
        "period": _NUMBER,
        "periodUnit": st.sampled_from(("s", "min", "h", "d", "wk", "mo", "a")),
    },
    optional={
        "frequencyMax": _NUMBER,
        "periodMax": _NUMBER,
        "count": _NUMBER,
        "when": st.lists(st.sampled_from(("MORN", "NIGHT", "AC", "PC", "HS")), max_size=3),
        "timeOfDay": st.lists(st.sampled_from(("08:00:00", "20:00:00")), max_size=2),
        "dayOfWeek": st.lists(st.sampled_from(("mon", "thu", "sun")), max_size=3),
    },
)
_DOSE = st.one_of(
    st.fixed_dictionaries({"doseQuantity": _QUANTITY}),
    st.fixed_dictionaries({}, optional={"low": _QUANTITY, "high": _QUANTITY}).map(lambda r: {"doseRange": r}),
)
_CODE = st.sampled_from(("BID", "QID", "WK", "Q8H")).map(lambda c: {"coding": [{"code": c}]})
_DOSAGE = st.fixed_dictionaries(
    {
        "doseAndRate": st.lists(_DOSE, min_size=1, max_size=2),
        "timing": st.fixed_dictionaries({"repeat": _REPEAT}, optional={"code": _CODE}),
    },
    optional={
        "maxDosePerPeriod": st.fixed_dictionaries({"numerator": _QUANTITY, "denominator": _QUANTITY}),
        "maxDosePerAdministration": _QUANTITY,
        "asNeededBoolean": st.booleans(),
        "sequence": st.integers(min_value=1, max_value=2),
    },
)


@settings(max_examples=400)
@given(st.lists(_DOSAGE, min_size=1, max_size=2), st.booleans())
def test_any_structured_dosage_is_a_figure_not_below_zero_or_a_problem(dosages: list, patch: bool) -> None:
    form = DoseForm("patch", Decimal(25), is_patch=True) if patch else TABLET
    result = max_daily_amount(dosages, form)
    assert isinstance(result, (DailyAmount, DosageProblem))
    if isinstance(result, DailyAmount):
        assert result.quantity >= 0, (dosages, result)
