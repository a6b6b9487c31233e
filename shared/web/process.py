"""What a server process does once, after its app is built and before it serves: freeze what start-up made.

Start-up imports ``fhir.resources``' hundreds of pydantic models, SQLAlchemy, FastAPI and the compiled
schemas: a few hundred thousand long-lived objects. Every full (generation 2) garbage collection walked
them all again, and a request creates enough short-lived containers (parsed JSON, rows, models) to set
one off every few hundred requests, a pause of tens of milliseconds in the tail. ``gc.freeze()`` moves
what exists now to the permanent generation, which collections skip; new objects are collected as before.
"""

from __future__ import annotations

import gc

from shared.fhir.jsonschema_r4 import warm

__all__ = ["freeze_startup_objects"]


def freeze_startup_objects() -> int:
    """Compile the R4 JSON Schema (so no first request waits for it), collect start-up garbage, then
    exempt every surviving object from later collections; returns how many objects were frozen."""
    warm()
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
