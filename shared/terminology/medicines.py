"""UK dm+d products the review service knows, and the words that name an ingredient in a medicine's name.

Data: ``data/dmd-opioid-products.csv`` (VMPs with strength, form, route, patch interval and drug class; each
code's source is named in the file) and ``data/medicine-name-aliases.csv`` (generic, compound and brand
names).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from functools import cache

from shared.terminology.datafiles import read_data_file

__all__ = [
    "DMD_SYSTEM",
    "SNOMED_SYSTEM",
    "DmdProduct",
    "DrugClass",
    "IngredientAlias",
    "OpioidCode",
    "OpioidVtm",
    "ProductCatalogue",
    "load_product_catalogue",
    "normalised_name",
]

SUBSTITUTION_SUBLINGUAL_BUPRENORPHINE_MG = Decimal(2)
"""Sublingual buprenorphine from 2 mg a tablet is opioid substitution therapy, not analgesia."""

DMD_SYSTEM = "https://dmd.nhs.uk"
SNOMED_SYSTEM = "http://snomed.info/sct"
MG_PER_MICROGRAM = Decimal("0.001")


class DrugClass(StrEnum):
    """Classes the risk rules care about (see the data file's header for what counts as a sedative)."""

    OPIOID = "opioid"
    BENZODIAZEPINE = "benzodiazepine"
    GABAPENTINOID = "gabapentinoid"
    Z_DRUG = "z-drug"
    TRICYCLIC_ANTIDEPRESSANT = "tricyclic-antidepressant"


@dataclass(frozen=True, slots=True)
class DmdProduct:
    """A medicinal product: ``strength`` of ``ingredient`` per ``per_quantity`` ``per_unit``.

    ``strength_unit`` is ``mg`` (micrograms are converted to mg on load) or ``microgram/hour`` for patches.
    ``code`` is the dm+d VMP id, or ``None`` for a product known only by name (or parsed from a name).
    """

    code: str | None
    name: str
    ingredient: str
    strength: Decimal
    strength_unit: str
    per_quantity: Decimal
    per_unit: str
    form: str
    route: str
    modified_release: bool
    patch_change_hours: int | None
    drug_class: DrugClass
    other_codes: tuple[str, ...] = ()
    with_ingredients: tuple[str, ...] = ()
    source: str = ""

    @property
    def is_patch(self) -> bool:
        """True for transdermal patches, whose dose is counted in microgram/hour."""
        return self.strength_unit == "microgram/hour"

    @property
    def presentation(self) -> frozenset[str]:
        """Words of its name that make it another product to dispense at the same strength ("effervescent",
        "dispersible", "soluble", "chewable")."""
        return presentation_of(self.name)

    @property
    def strength_per_unit(self) -> Decimal:
        """Ingredient per one ``per_unit`` (mg per tablet, mg per ml, microgram/hour per patch)."""
        return self.strength / self.per_quantity

    @property
    def family(self) -> tuple[str, tuple[str, ...], str, str, bool, int | None, str]:
        """Products combinable into one dose: same ingredients, form, route, release, interval and unit."""
        return (
            self.ingredient,
            self.with_ingredients,
            self.form,
            self.route,
            self.modified_release,
            self.patch_change_hours,
            self.per_unit,
        )


@dataclass(frozen=True, slots=True)
class IngredientAlias:
    """A word (lower case) that names ``ingredient`` in a medicine's name; ``partner`` the non-opioid
    ingredient a compound name or brand always holds ("co-codamol": paracetamol). An alias with no ingredient
    (and no class) names no medicine assessed here, and wins over the shorter aliases inside it ("feminax
    express")."""

    alias: str
    ingredient: str
    drug_class: DrugClass | None
    partner: str = ""


@dataclass(frozen=True, slots=True)
class OpioidCode:
    """A dm+d opioid product code (``VMP`` or ``AMP``) from ``data/dmd-opioid-codes.csv``: its dm+d name,
    ``vmp``, the generic product it is (itself for a VMP), and ``group``: oral, transdermal or
    buccal-nasal-oromucosal.
    """

    code: str
    dmd_type: str
    term: str
    vmp: str
    group: str


@dataclass(frozen=True, slots=True)
class OpioidVtm:
    """A dm+d VTM (virtual therapeutic moiety) with an opioid ingredient, from ``data/dmd-opioid-vtms.csv``.

    A VTM names ingredients ("Morphine", "Co-codamol"), never a strength or form: it is no product.
    ``ingredients`` are its opioid ingredients (lower case).
    """

    code: str
    term: str
    ingredients: tuple[str, ...]


def normalised_name(name: str) -> str:
    """A medicine name compared loosely: lower case, single spaces."""
    return " ".join(name.lower().split())


@dataclass(frozen=True, slots=True)
class ProductCatalogue:
    """Products by code (current and older ids), the aliases longest first, and each ingredient's class.

    ``opioid_codes`` holds every dm+d opioid VMP and AMP code known, with ``by_term`` finding one by its dm+d
    name and ``brands`` the generic products (VMP codes) each brand name stands for. ``ingredient_codes``:
    SNOMED CT substance ids of opioid ingredients (OpenPrescribing's OME table) -> the ingredient;
    ``vtms``: dm+d VTM ids (current and previous) of VTMs with an opioid ingredient.
    """

    products: tuple[DmdProduct, ...]
    aliases: tuple[IngredientAlias, ...]
    by_code: Mapping[str, DmdProduct]
    classes: Mapping[str, DrugClass]
    opioid_codes: Mapping[str, OpioidCode] = field(default_factory=dict)
    by_term: Mapping[str, str] = field(default_factory=dict)
    brands: Mapping[str, frozenset[str]] = field(default_factory=dict)
    ingredient_codes: Mapping[str, str] = field(default_factory=dict)
    vtms: Mapping[str, OpioidVtm] = field(default_factory=dict)
    amp_brands: frozenset[str] = frozenset()
    """The brand words branded AMPs' dm+d names begin with (lower case: "mxl", "zomorph", "mst continus"),
    short ones included, and no generic ingredient's name."""
    once_daily: frozenset[str] = frozenset()
    """VMP codes one of whose AMPs is made to be taken once a day, its dm+d name says (XL, MXL, 24hr: MXL,
    Zydol XL, Tradorec XL, Onexila XL...); a VMP shared with a 12-hourly brand (Zomorph and MXL 30 mg) is
    one, a VMP of 12-hourly brands alone (Zomorph 10 mg) is not."""
    patch_hours: Mapping[str, int] = field(default_factory=dict)
    """Patch brands changed at another interval than the VMP they share (``patch-brand-intervals.csv``):
    Hapoctasin every 72 hours, its VMPs' 96-hour brands (Transtec) twice weekly."""
    by_name: Mapping[str, DmdProduct] = field(default_factory=dict)
    """Products with no dm+d code here, by their exact name (lower case, single spaces): a brand whose name
    gives no strength ("Propain Plus tablets"), its strength from its SmPC (named in the product file)."""

    @classmethod
    def build(
        cls, products: tuple[DmdProduct, ...], aliases: tuple[IngredientAlias, ...]
    ) -> ProductCatalogue:
        """Index ``products`` and ``aliases``; the first product listed wins a shared code."""
        by_code: dict[str, DmdProduct] = {}
        for product in products:
            for code in (product.code, *product.other_codes):
                if code:
                    by_code.setdefault(code, product)
        classes = {a.ingredient: a.drug_class for a in aliases if a.drug_class is not None}
        classes.update({p.ingredient: p.drug_class for p in products})
        ordered = tuple(sorted(aliases, key=lambda a: -len(a.alias)))
        by_name = {normalised_name(p.name): p for p in products if not p.code}
        return cls(products=products, aliases=ordered, by_code=by_code, classes=classes, by_name=by_name)

    def amp_of(self, brand: str, vmp: str) -> OpioidCode | None:
        """The AMP of ``brand`` (lower case, as :meth:`brand_of` gives it) that is the product ``vmp``, if
        the brand makes it (the lowest code when several suppliers' AMPs share the name)."""
        found = [
            e
            for e in self.opioid_codes.values()
            if e.dmd_type == "AMP" and e.vmp == vmp and _brand_word(e.term) == brand
        ]
        return min(found, key=lambda e: e.code) if found else None

    def once_daily_amp_of(self, vmp: str) -> OpioidCode | None:
        """An AMP of ``vmp`` made to be taken once a day (its dm+d name says XL, MXL or 24hr), if any."""
        found = [
            e
            for e in self.opioid_codes.values()
            if e.dmd_type == "AMP" and e.vmp == vmp and _ONCE_DAILY.search(e.term)
        ]
        return min(found, key=lambda e: e.code) if found else None

    def patch_change_hours_of(self, product: DmdProduct, name: str, code: str | None = None) -> int | None:
        """How often a patch prescribed as ``name`` (its ``code``) is changed: its brand's interval where the
        brand's differs from its VMP's (Hapoctasin: 72 hours, its VMP 96), else the product's."""
        brand = self.brand_of(name, code) if product.is_patch else None
        return self.patch_hours.get(brand or "", product.patch_change_hours)

    def brand_of(self, name: str, code: str | None = None) -> str | None:
        """The brand a medicine is prescribed by: the dm+d AMP its code or its exact name is, named otherwise
        than its VMP ("MXL 120mg capsules": mxl; "Longtec 20mg modified-release tablets": longtec)."""
        entry = self.opioid_codes.get(code or "") or self.opioid_codes.get(
            self.by_term.get(normalised_name(name), "")
        )
        vmp = self.opioid_codes.get(entry.vmp) if entry is not None else None
        if entry is not None and entry.dmd_type == "AMP" and vmp is not None:
            if normalised_name(entry.term) == normalised_name(vmp.term):
                return None  # a generic AMP ("Morphine 30mg modified-release tablets" from a supplier)
            found = _BRAND.match(normalised_name(entry.term))
            return found["brand"] if found else None
        # a name GP systems write otherwise than dm+d ("MXL 120mg modified-release capsules"): its first
        # words, when a branded AMP's name begins with them
        found = _BRAND.match(normalised_name(name))
        return found["brand"] if found and found["brand"] in self.amp_brands else None

    def made_once_daily(self, name: str, code: str | None = None) -> bool:
        """Whether a medicine named ``name`` (coded ``code``) is a brand made to be taken once a day: its name
        says so (MXL, an XL, 24hr), or its code is such a brand's AMP. A generic name or VMP code says not
        which brand is dispensed (the 30 mg MR morphine capsule VMP is MXL's and Zomorph's, 12-hourly)."""
        entry = self.opioid_codes.get(code or "")
        term = entry.term if entry is not None and entry.dmd_type == "AMP" else ""
        # anywhere in the name ("Morphine 60mg MXL capsules"): it only ever restricts or refuses a step
        return bool(_ONCE_DAILY.search(name) or _ONCE_DAILY.search(term))

    def lookup(self, code: str) -> DmdProduct | None:
        """The product with this dm+d id (or an older id of it), if known."""
        return self.by_code.get(code.strip())

    def drug_class(self, ingredient: str) -> DrugClass | None:
        """The class of an ingredient, if the catalogue knows it."""
        return self.classes.get(ingredient.lower())

    def family_of(self, product: DmdProduct) -> tuple[DmdProduct, ...]:
        """Known products of the same family as ``product`` (itself included), weakest first."""
        # Sublingual buprenorphine from 2 mg a dose is substitution therapy (DHSC "Orange book"), from 200
        # and 400 micrograms pain relief: one is never made of the other's tablets.
        kind = _substitution_strength(product)
        same: dict[Decimal, DmdProduct] = {}
        for p in self.products:  # the first listed of a strength; never another presentation of it
            if (
                p.family == product.family
                and _substitution_strength(p) == kind
                and p.presentation == product.presentation
            ):
                same.setdefault(p.strength_per_unit, p)
        if product.code is not None or product.strength_per_unit not in same:
            same[product.strength_per_unit] = product  # the patient's own product, when it is a dm+d one
        return tuple(same[k] for k in sorted(same))


def presentation_of(name: str) -> frozenset[str]:
    """The words of a medicine's name that make it another product at the same strength (:attr:`DmdProduct.
    presentation`): "effervescent", "dispersible", "soluble", "chewable"."""
    return frozenset(_PRESENTATION.findall(name.lower()))


_PRESENTATION = re.compile(r"\b(?:effervescent|(?:oro)?dispersible|soluble|chewable)\b")
"""Words that make a tablet another product to dispense ("Co-codamol 30mg/500mg effervescent tablets": a
step of the plain tablets was proposed as them, the last listed of the strength, with their sodium)."""


def _substitution_strength(product: DmdProduct) -> bool:
    return (
        product.ingredient == "buprenorphine"
        and product.route == "sublingual"
        and product.strength_per_unit >= SUBSTITUTION_SUBLINGUAL_BUPRENORPHINE_MG
    )


def _product(row: Mapping[str, str]) -> DmdProduct:
    strength = Decimal(row["strength"])
    unit = row["strength_unit"]
    if unit == "microgram":
        strength, unit = strength * MG_PER_MICROGRAM, "mg"
    return DmdProduct(
        code=row["code"] or None,
        other_codes=tuple(row["other_codes"].split()),
        name=row["name"],
        ingredient=row["ingredient"].lower(),
        with_ingredients=tuple(row["with_ingredients"].split()),
        strength=strength,
        strength_unit=unit,
        per_quantity=Decimal(row["per_quantity"]),
        per_unit=row["per_unit"],
        form=row["form"],
        route=row["route"],
        modified_release=row["modified_release"] == "yes",
        patch_change_hours=int(row["patch_change_hours"]) if row["patch_change_hours"] else None,
        drug_class=DrugClass(row["drug_class"]),
        source=row["source"],
    )


# The brand part of an AMP name: the words before its strength or its form (dm+d AMP naming).
_BRAND = re.compile(
    r"^(?P<brand>[a-z][\w'&.-]*(?:\s+[a-z][\w'&.-]*)*?)(?=\s+(?:\d|tablets|capsules|caplets|oral|modified|prolonged"
    r"|chewable|soluble|dispersible|effervescent|transdermal|sublingual|buccal|nasal|lozenges|linctus|granules|sachets"
    r"|suspension|mixture|syrup|liquid|orodispersible|powder|films|patch))"
)


_GENERIC_WORDS = frozenset({"co-codamol", "co-dydramol", "co-codaprin", "co-proxamol", "generic"})
# Words that make no brand on their own ("Dental Pain Relief", "Migraine Relief"), and retailers' own labels
# ("Boots Ibuprofen and Codeine"): such names would catch other medicines, so they are not brands here.
_COMMON_WORDS = frozenset(
    {"dental", "pain", "relief", "migraine", "headache", "period", "extra", "max", "plus"}
)
_RELEASE_WORDS = frozenset({"pr", "sr", "xl", "mr", "la", "cr", "retard", "24hr"})
"""The words after a brand in dm+d AMP names that say how it is released ("Dolocodon PR", "Zamadol 24hr")."""
_RETAILERS = frozenset({"boots", "superdrug", "lloyds", "tesco", "asda", "sainsbury's", "numark", "bell's"})


def _brand_names(codes: Mapping[str, OpioidCode], generic: frozenset[str]) -> dict[str, frozenset[str]]:
    """Brand name (lower case) -> the VMP codes its AMPs are, for AMPs named otherwise than their VMP.

    Names that begin with a generic word ("Codeine 15mg/5ml linctus" from another supplier) are not brands.
    """
    brands: dict[str, set[str]] = {}
    for entry in codes.values():
        vmp = codes.get(entry.vmp)
        if entry.dmd_type != "AMP" or vmp is None or normalised_name(entry.term) == normalised_name(vmp.term):
            continue
        found = _BRAND.match(normalised_name(entry.term))
        brand = found["brand"] if found else ""
        words = brand.split()
        if (
            len(brand) <= 3
            or words[0] in generic | _GENERIC_WORDS | _RETAILERS
            or set(words) <= _COMMON_WORDS
        ):
            continue
        brands.setdefault(brand, set()).add(entry.vmp)
    # A brand whose dm+d name goes on with a release word ("Dolocodon PR", "Ationdo SR") is written short too
    # ("Dolocodon 10mg tablets"): the short name stands for every product of the brands it begins, unless it
    # is a brand of its own ("Zydol" beside "Zydol SR" and "Zydol XL").
    stems: dict[str, set[str]] = {}
    for brand, vmps in brands.items():
        stem, _, last = brand.rpartition(" ")
        if last in _RELEASE_WORDS and len(stem) > 3:
            stems.setdefault(stem, set()).update(vmps)
    for stem, vmps in stems.items():
        brands.setdefault(stem, vmps)
    return {brand: frozenset(vmps) for brand, vmps in brands.items()}


@cache
def load_product_catalogue() -> ProductCatalogue:
    """The catalogue built from the shipped data files (read once, then cached)."""
    products = tuple(_product(row) for row in read_data_file("dmd-opioid-products.csv").rows)
    aliases = tuple(
        IngredientAlias(
            row["alias"].lower(),
            row["ingredient"].lower(),
            DrugClass(row["drug_class"]) if row["drug_class"] else None,
            row["partner"].lower(),
        )
        for row in read_data_file("medicine-name-aliases.csv").rows
    )
    codes = {
        row["code"]: OpioidCode(row["code"], row["dmd_type"], row["term"], row["vmp"], row["group"])
        for row in read_data_file("dmd-opioid-codes.csv").rows
    }
    for code, entry in list(codes.items()):  # an AMP of an older VMP id is the current VMP's
        target = entry.vmp
        for _ in range(5):
            following = codes.get(target)
            if following is None or following.vmp == target:
                break
            target = following.vmp
        codes[code] = replace(entry, vmp=target)
    by_term: dict[str, str] = {}
    for entry in sorted(codes.values(), key=lambda c: c.dmd_type != "VMP"):  # a VMP wins a shared name
        by_term.setdefault(normalised_name(entry.term), entry.code)
    built = ProductCatalogue.build(products, aliases)
    generic = frozenset(a.ingredient for a in aliases if a.ingredient)
    substances = {}
    for row in read_data_file("openprescribing-opioid-ing-form-ome.csv").rows:
        name = normalised_name(row["nm"])
        alias = next((a for a in built.aliases if name.startswith(a.alias)), None)
        if alias is not None and alias.ingredient:
            substances[row["vpi"]] = alias.ingredient
    return replace(
        built,
        opioid_codes=codes,
        by_term=by_term,
        brands=_brand_names(codes, generic),
        patch_hours={
            row["brand"].lower(): int(row["hours"])
            for row in read_data_file("patch-brand-intervals.csv").rows
        },
        ingredient_codes=substances,
        vtms=_opioid_vtms(),
        once_daily=frozenset(
            e.vmp for e in codes.values() if e.dmd_type == "AMP" and _ONCE_DAILY.search(e.term)
        ),
        amp_brands=_amp_brands(codes, generic),
    )


def _amp_brands(codes: Mapping[str, OpioidCode], generic: frozenset[str]) -> frozenset[str]:
    """Brand words of AMPs named otherwise than their VMP (:attr:`ProductCatalogue.amp_brands`)."""
    found = set()
    for entry in codes.values():
        vmp = codes.get(entry.vmp)
        if entry.dmd_type != "AMP" or vmp is None or normalised_name(entry.term) == normalised_name(vmp.term):
            continue
        match = _BRAND.match(normalised_name(entry.term))
        if match and match["brand"].split()[0] not in generic | _GENERIC_WORDS | _RETAILERS:
            found.add(match["brand"])
    return frozenset(found)


def _brand_word(term: str) -> str:
    """The brand words a dm+d name begins with ("Zydol SR 100mg tablets": zydol sr, not zydol)."""
    found = _BRAND.match(normalised_name(term))
    return found["brand"] if found else ""


_ONCE_DAILY = re.compile(r"\b(?:xl|mxl|24 ?hr|24 hour)\b", re.IGNORECASE)
"""dm+d AMP names of products made to be taken once a day (UK brands' XL and 24hr)."""


def _opioid_vtms() -> dict[str, OpioidVtm]:
    """VTMs by their id and by their previous id (a record may still carry the older one)."""
    vtms: dict[str, OpioidVtm] = {}
    for row in read_data_file("dmd-opioid-vtms.csv").rows:
        vtm = OpioidVtm(row["code"], row["term"], tuple(row["opioid_ingredients"].split(";")))
        for code in (row["code"], row["previous_code"]):
            if code:
                vtms.setdefault(code, vtm)
    return vtms
