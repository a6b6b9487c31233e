"""Terminology: dm+d products, ingredient names and oral morphine equivalent factor tables, as data files.

Every figure and code lives in ``data/`` with its source named in the file's header; this package only
reads them.
"""

from shared.terminology.datafiles import DataFile, read_data_file
from shared.terminology.medicines import (
    DMD_SYSTEM,
    SNOMED_SYSTEM,
    DmdProduct,
    DrugClass,
    IngredientAlias,
    OpioidCode,
    OpioidVtm,
    ProductCatalogue,
    load_product_catalogue,
    normalised_name,
    presentation_of,
)
from shared.terminology.ome_factors import (
    DEFAULT_OME_FACTOR_TABLE,
    OME_FACTOR_TABLES,
    OmeFactor,
    OmeFactorTable,
    load_ome_factor_table,
)

__all__ = [
    "DEFAULT_OME_FACTOR_TABLE",
    "DMD_SYSTEM",
    "OME_FACTOR_TABLES",
    "SNOMED_SYSTEM",
    "DataFile",
    "DmdProduct",
    "DrugClass",
    "IngredientAlias",
    "OmeFactor",
    "OmeFactorTable",
    "OpioidCode",
    "OpioidVtm",
    "ProductCatalogue",
    "load_ome_factor_table",
    "load_product_catalogue",
    "normalised_name",
    "presentation_of",
    "read_data_file",
]
