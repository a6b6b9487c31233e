"""The shipped terminology data files load, name their sources and hold the sourced figures."""

from decimal import Decimal
from pathlib import Path

import pytest

from shared.terminology import (
    OME_FACTOR_TABLES,
    DrugClass,
    load_ome_factor_table,
    load_product_catalogue,
    read_data_file,
)


@pytest.mark.parametrize("table_id", sorted(OME_FACTOR_TABLES))
def test_every_factor_table_names_its_source_and_version(table_id: str) -> None:
    table = load_ome_factor_table(table_id)
    assert table.table_id == table_id
    assert table.version
    assert table.source


@pytest.mark.parametrize(
    ("ingredient", "route", "factor"),
    [
        ("codeine", "oral", "0.1"),
        ("dihydrocodeine", "oral", "0.1"),
        ("tramadol", "oral", "0.1"),
        ("tapentadol", "oral", "0.4"),
        ("morphine", "oral", "1"),
        ("oxycodone", "oral", "1.5"),
        ("hydromorphone", "oral", "5"),
        ("buprenorphine", "sublingual", "40"),
        ("buprenorphine", "transdermal", "2.4"),
        ("fentanyl", "transdermal", "2.4"),
    ],
)
def test_uk_opioids_aware_factors_match_the_reference_facts(ingredient: str, route: str, factor: str) -> None:
    row = load_ome_factor_table("uk-opioids-aware").factor_for(ingredient, route)
    assert row is not None and row.factor == Decimal(factor)


@pytest.mark.parametrize(
    ("ingredient", "route", "factor"),
    [
        ("codeine", "oral", "0.15"),
        ("fentanyl", "transdermal", "2.4"),
        ("hydrocodone", "oral", "1"),
        ("hydromorphone", "oral", "5"),
        ("morphine", "oral", "1"),
        ("oxycodone", "oral", "1.5"),
        ("oxymorphone", "oral", "3"),
        ("tapentadol", "oral", "0.4"),
        ("tramadol", "oral", "0.2"),
    ],
)
def test_cdc_2022_factors_match_the_guideline_table(ingredient: str, route: str, factor: str) -> None:
    row = load_ome_factor_table("cdc-2022").factor_for(ingredient, route)
    assert row is not None and row.factor == Decimal(factor)


@pytest.mark.parametrize("table_id", sorted(OME_FACTOR_TABLES))
def test_methadone_has_no_factor_but_a_reason_in_every_table(table_id: str) -> None:
    row = load_ome_factor_table(table_id).factor_for("methadone", "oral")
    assert row is not None and row.factor is None and "methadone" in row.reason.lower()


def test_the_product_file_names_its_code_system_and_sources() -> None:
    data = read_data_file("dmd-opioid-products.csv")
    assert data.meta["table"] == "dmd-opioid-products"
    assert {row["source"] for row in data.rows} <= {
        "OS-ORAL",
        "OS-TD",
        "GM-SDE",
        "EPS",
        "SPC",
        "NAME",
        "SMPC",
    }
    assert all(not row["code"] for row in data.rows if row["source"] in ("NAME", "SMPC"))
    # a strength taken from an SmPC names that SmPC beside the data
    header = (Path(__file__).parents[3] / "shared/terminology/data/dmd-opioid-products.csv").read_text()
    for row in data.rows:
        if row["source"] == "SMPC":
            brand = row["name"].removesuffix(" tablets")
            assert f'SmPC "{brand}", section 2:' in header, row["name"]


def test_an_older_dmd_id_finds_the_current_product() -> None:
    product = load_product_catalogue().lookup("322341003")
    assert product is not None
    assert product.code == "42009811000001101"
    assert (product.ingredient, product.strength, product.per_unit) == ("codeine", Decimal(30), "tablet")


def test_fentanyl_patch_family_offers_every_uk_strength() -> None:
    catalogue = load_product_catalogue()
    patch = catalogue.lookup("36120211000001106")
    assert patch is not None and patch.is_patch and patch.patch_change_hours == 72
    strengths = [p.strength for p in catalogue.family_of(patch)]
    # the "12" patch releases 12.5 micrograms an hour (SmPCs, section 2: dmd-opioid-products.csv)
    assert strengths == [Decimal(s) for s in ("12.5", "25", "37.5", "50", "75", "100")]


def test_every_product_ingredient_has_the_same_class_in_the_alias_file() -> None:
    catalogue = load_product_catalogue()
    aliases = {a.ingredient: a.drug_class for a in catalogue.aliases}
    for product in catalogue.products:
        assert aliases[product.ingredient] == product.drug_class


def test_microgram_strengths_are_held_in_mg() -> None:
    catalogue = load_product_catalogue()
    sublingual = [p for p in catalogue.products if p.route == "sublingual"]
    assert Decimal("0.2") in {p.strength for p in sublingual}
    assert all(p.strength_unit == "mg" for p in sublingual)
    assert catalogue.drug_class("amitriptyline") is DrugClass.TRICYCLIC_ANTIDEPRESSANT


def test_a_sublingual_buprenorphine_for_pain_is_never_made_of_substitution_strengths() -> None:
    """200 and 400 microgram tablets are analgesia, 2 mg and 8 mg substitution therapy (DHSC Orange book):
    a taper step of the first is composed from the first only, and the reverse."""
    catalogue = load_product_catalogue()
    by_name = {p.name: p for p in catalogue.products}
    pain = catalogue.family_of(by_name["Buprenorphine 400microgram sublingual tablets"])
    assert [p.name for p in pain] == [
        "Buprenorphine 200microgram sublingual tablets",
        "Buprenorphine 400microgram sublingual tablets",
    ]
    substitution = catalogue.family_of(by_name["Buprenorphine 8mg sublingual tablets"])
    assert [p.name for p in substitution] == [
        "Buprenorphine 2mg sublingual tablets",
        "Buprenorphine 8mg sublingual tablets",
    ]
