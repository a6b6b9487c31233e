"""The peer of ``bench/fhir.py``: fhirstarter serving the same Observation create/read/search, in memory.

Runs in its own venv (``.bench-peer/``, made by ``bench/peer.py`` from ``bench/peer/requirements.txt``),
so it imports nothing of this project: ``python bench/peer/server.py PORT``.

What it does per request is fhirstarter's own: create parses and validates the body as an R4
``Observation`` (fhir.resources), gives it an id and keeps its JSON in a dict; read re-validates the
stored JSON and returns it; search looks the patient up in an in-memory index, filters by ``code``
and returns a searchset Bundle of at most ``_count`` entries (validated from the stored JSON) with the
total. No persistence, history, authorisation, audit or events: the row shows what those cost us.
"""

import sys
import uuid

import uvicorn
from fhir.resources.bundle import Bundle
from fhir.resources.observation import Observation
from fhirstarter import FHIRProvider, FHIRStarter, InteractionContext
from fhirstarter.exceptions import FHIRResourceNotFoundError

STORE: dict[str, str] = {}
BY_PATIENT: dict[str, list[tuple[str, set[tuple[str | None, str | None]]]]] = {}
"""An in-memory index: per subject reference, each Observation's id and its (system, code) pairs."""

app = FHIRStarter(title="bench peer")
provider = FHIRProvider()


@provider.create(Observation)
async def observation_create(context: InteractionContext, resource: Observation) -> str:
    id_ = str(uuid.uuid4())
    resource.id = id_
    STORE[id_] = resource.model_dump_json()
    subject = resource.subject.reference if resource.subject else None
    codes = {(c.system, c.code) for c in resource.code.coding or []}
    BY_PATIENT.setdefault(subject or "", []).append((id_, codes))
    return id_


@provider.read(Observation)
async def observation_read(context: InteractionContext, id_: str) -> Observation:
    stored = STORE.get(id_)
    if stored is None:
        raise FHIRResourceNotFoundError
    return Observation.model_validate_json(stored)


@provider.search_type(Observation)
async def observation_search(
    context: InteractionContext, patient: str | None, code: str | None, _count: str | None = None
) -> Bundle:
    limit = int(_count) if _count else 10
    system, _, value = (code or "").rpartition("|")
    matches = [
        id_
        for id_, codes in BY_PATIENT.get(patient or "", [])
        if code is None or any(c == value and (not system or s == system) for s, c in codes)
    ]
    found = [Observation.model_validate_json(STORE[id_]) for id_ in matches[:limit]]
    entries = [{"resource": o} for o in found] or None
    return Bundle(type="searchset", total=len(matches), entry=entries)


app.add_providers(provider)


@app.get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
