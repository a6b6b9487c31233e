"""UK dm+d products the review service knows, and the words that name an ingredient in a medicine's name.

Data: ``data/dmd-opioid-products.csv`` (VMPs with strength, form, route, patch interval and drug class; each
code's source is named in the file) and ``data/medicine-name-aliases.csv`` (generic, compound and brand
names).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
    "ProductCatalogue",
    "load_product_catalogue",
]

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
    """A word (lower case) that names ``ingredient`` in a medicine's name."""

    alias: str
    ingredient: str
    drug_class: DrugClass


@dataclass(frozen=True, slots=True)
class ProductCatalogue:
    """Products by code (current and older ids), the aliases longest first, and each ingredient's class."""

    products: tuple[DmdProduct, ...]
    aliases: tuple[IngredientAlias, ...]
    by_code: Mapping[str, DmdProduct]
    classes: Mapping[str, DrugClass]

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
        classes = {a.ingredient: a.drug_class for a in aliases}
        classes.update({p.ingredient: p.drug_class for p in products})
        ordered = tuple(sorted(aliases, key=lambda a: -len(a.alias)))
        return cls(products=products, aliases=ordered, by_code=by_code, classes=classes)

    def lookup(self, code: str) -> DmdProduct | None:
        """The product with this dm+d id (or an older id of it), if known."""
        return self.by_code.get(code.strip())

    def drug_class(self, ingredient: str) -> DrugClass | None:
        """The class of an ingredient, if the catalogue knows it."""
        return self.classes.get(ingredient.lower())

    def family_of(self, product: DmdProduct) -> tuple[DmdProduct, ...]:
        """Known products of the same family as ``product`` (itself included), weakest first."""
        same = {p.strength_per_unit: p for p in self.products if p.family == product.family}
        same.setdefault(product.strength_per_unit, product)
        return tuple(same[k] for k in sorted(same))


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


@cache
def load_product_catalogue() -> ProductCatalogue:
    """The catalogue built from the shipped data files (read once, then cached)."""
    products = tuple(_product(row) for row in read_data_file("dmd-opioid-products.csv").rows)
    aliases = tuple(
        IngredientAlias(row["alias"].lower(), row["ingredient"].lower(), DrugClass(row["drug_class"]))
        for row in read_data_file("medicine-name-aliases.csv").rows
    )
    return ProductCatalogue.build(products, aliases)
