"""Opioid products known by a dm+d code (VMP or AMP) or by a brand name, resolved to their generic product.

Pure. An AMP (a brand or a supplier's product) is its VMP; a VMP is the catalogue's product when the catalogue
has it, else the product its dm+d name describes. A brand written in free text ("Zydol SR 100mg tablets",
"Nurofen Plus tablets", "Eroset 500mg/10mg tablets") is one of the generic products its AMPs are: the
strength written must be one of theirs, or the brand must have a single product. Anything else is not
guessed.
"""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal

from shared.medicines.products import parse_medicine_name, strengths_written
from shared.terminology import DmdProduct, OpioidCode, ProductCatalogue, normalised_name, presentation_of

__all__ = ["brand_in", "product_by_brand", "product_of_vmp"]

_LIQUID = re.compile(r"liquid|solution|concentrate|mixture|syrup|linctus|elixir|/\s*\d*\s*ml\b")
_RELEASE = re.compile(r"\b(?:sr|xl|mr|la|cr|pr|retard|continus|24 ?hr)\b|modified|prolonged")
_UNIT_WORDS = {
    "tablet": "tablet",
    "caplet": "tablet",
    "capsule": "capsule",
    "tabs": "tablet",
    "caps": "capsule",
    "patch": "patch",
    "sachet": "sachet",
}


def product_of_vmp(vmp: str, catalogue: ProductCatalogue) -> DmdProduct | None:
    """The product of a VMP code: the catalogue's, else parsed from its dm+d name (``None`` if neither)."""
    known = catalogue.lookup(vmp)
    if known is not None:
        return known
    entry: OpioidCode | None = catalogue.opioid_codes.get(vmp)
    if entry is None:
        return None
    parsed = parse_medicine_name(entry.term, catalogue)
    if parsed is None:
        return None
    return replace(parsed, code=vmp, name=entry.term, source="dm+d VMP name (dmd-opioid-codes.csv)")


def brand_in(name: str, catalogue: ProductCatalogue) -> str | None:
    """The longest brand name written in ``name`` (whole words), if any."""
    lowered = normalised_name(name)
    # ``brand in lowered`` first: the pattern matches only where the brand is written, and most of the
    # catalogue's brands are not, so most regexes were built and looked up for nothing.
    found = [
        brand
        for brand in catalogue.brands
        if brand in lowered and re.search(rf"(?<![\w-]){re.escape(brand)}(?![\w-])", lowered)
    ]
    return max(found, key=len) if found else None


def product_by_brand(name: str, brand: str, catalogue: ProductCatalogue) -> DmdProduct | None:
    """The one generic product of ``brand`` that ``name`` describes, or ``None`` when it is not certain."""
    candidates = {p for vmp in catalogue.brands.get(brand, ()) if (p := product_of_vmp(vmp, catalogue))}
    lowered = name.lower()
    written = strengths_written(name)
    # every product of the brand and of the brands it begins ("Zamadol": Zamadol 50mg capsules, and Zamadol
    # SR and 24hr; "Palexia 50mg prolonged-release tablets" is Palexia SR's, never Palexia's immediate-release
    # 50 mg, as it was read), the name's release words choosing among them
    longer = (vmp for b, vmps in catalogue.brands.items() if b.startswith(brand + " ") for vmp in vmps)
    candidates |= {p for vmp in longer if (p := product_of_vmp(vmp, catalogue))}
    if not written:
        # no strength: none taken for immediate-release because no release is written ("Zamadol" 1 od was
        # read as a 50 mg capsule)
        return _one(candidates, lowered, unwritten_release_is_immediate=False)
    if sum(len(figures) for figures in written) == 1:
        # one strength in all, of a compound brand: certain only when no product of it has that strength
        # as its partner's ("Targinact 10mg": oxycodone 10/5, or the naloxone of 20/10)
        [[(value, unit)]] = written
        if any(_mg(value, unit) in _partner_mg(p) for p in candidates):
            return None
    for figures in written:  # the opioid's strength is usually first, but "Eroset 500mg/10mg" writes it last
        amounts = [_mg(value, unit) for value, unit in figures]
        if len(amounts) > 1:
            # a compound's strengths ("Targinact 10/5mg"): the product whose strengths they all are (its
            # naloxone 5 mg is also Targinact 5/2.5's oxycodone, which read it as half the dose)
            whole = {p for p in candidates if sorted(_all_mg(p)) == sorted(amounts)}
            if whole:
                return _one(whole, lowered)
        # a tablet's mg, or a patch's microgram/hour (read as micrograms, so x 1000)
        hits = {a: {p for p in candidates if _strength(p) in (a, a * 1000) or _named(p, a)} for a in amounts}
        hits = {a: found for a, found in hits.items() if found}
        if len(hits) > 1:
            return None  # two of the figures are strengths of the brand's products: which is not certain
        if hits:
            return _one(next(iter(hits.values())), lowered)
    return None


def _named(product: DmdProduct, amount: Decimal) -> bool:
    """Whether a patch's name writes ``amount`` (in mg) as its rate though it releases another ("12"
    releasing 12.5 micrograms an hour)."""
    return product.is_patch and _all_mg(product) == [amount]


def _all_mg(product: DmdProduct) -> list[Decimal]:
    """Every strength its dm+d name writes, in mg ("Oxycodone 10mg / Naloxone 5mg": 10 and 5)."""
    return [_mg(value, unit) for figures in strengths_written(product.name) for value, unit in figures]


def _one(
    candidates: set[DmdProduct], lowered: str, *, unwritten_release_is_immediate: bool = True
) -> DmdProduct | None:
    """The single product among ``candidates`` the name's form and release words leave, if one; a name with
    no release word leaves the immediate-release ones when ``unwritten_release_is_immediate``."""
    named = {u for word, u in _UNIT_WORDS.items() if word in lowered}
    if _LIQUID.search(lowered):
        named.add("ml")
    if named:
        # "Zamadol 50mg tablets": no Zamadol 50 mg is a tablet (it read the capsule), so none is certain;
        # and the form named is the name's presentation or none ("Solpadol 30mg/500mg tablets" was read as
        # its effervescent tablets); a name with no form ("Tramacet") leaves both, so neither is certain
        look = presentation_of(lowered)
        candidates = {p for p in candidates if p.per_unit in named and p.presentation == look}
    if len(candidates) > 1:
        modified = bool(_RELEASE.search(lowered))
        if modified or unwritten_release_is_immediate:
            candidates = {p for p in candidates if p.modified_release is modified} or candidates
    distinct = {
        (p.ingredient, p.with_ingredients, p.strength_per_unit, p.per_unit, p.route, p.form, p.presentation)
        for p in candidates
    }
    if len(distinct) != 1:
        return None
    return min(candidates, key=lambda p: p.code or "")


def _partner_mg(product: DmdProduct) -> list[Decimal]:
    """The strengths its dm+d name writes other than its opioid's ("Oxycodone 10mg / Naloxone 5mg": 5)."""
    found = _all_mg(product)
    if product.strength in found:
        found.remove(product.strength)
    return found if len(found) < len(_all_mg(product)) else []


def _mg(value: Decimal, unit: str) -> Decimal:
    amount = value
    if unit.lower() == "g":
        return amount * 1000
    return amount if unit.lower() == "mg" else amount / 1000


def _strength(product: DmdProduct) -> Decimal:
    return product.strength
