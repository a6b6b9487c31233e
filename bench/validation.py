"""R4 validation: ``fhir.resources`` (what the hot path ran until 2026-12-06) against HL7's R4 JSON Schema
compiled by ``jsonschema-rs`` (what it runs now), on one corpus of valid and invalid resources, timed in
the same run.

The corpus (``corpus()``): every entry of the two BaRS example messages in ``tests/fixtures`` (and the
message Bundles without their entries, as intake validates them), the BaRS OperationOutcome and
CapabilityStatement examples, and the medreview bench's pain-score Observation, as valid; and
hand-made invalid variants of them (wrong JSON types, unknown elements, missing required elements,
codes outside required bindings, bad dates, bad ids, an integer with a fraction, empty strings, nulls).

"current" is ``shared.fhir.models.validate_model`` (the R4B model plus the required-bindings table);
"schema" is ``shared.fhir.models.validate_resource`` (the tightened schema plus the same table: the hot
path, messages and all). For each it reports µs per resource over the
valid corpus and over the invalid one (median of ``BENCH_VALIDATION_ROUNDS`` rounds), the ratio, and a
table of every case where the two disagree. Prints and writes ``bench/results-validation.json``.

    .venv/bin/python -m bench validation
"""

from __future__ import annotations

import copy
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import loadavg, print_table

RESULTS = Path(__file__).with_name("results-validation.json")
ROUNDS = int(os.environ.get("BENCH_VALIDATION_ROUNDS", "7"))
EXAMPLES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "bars-examples"

Case = tuple[str, dict[str, Any]]


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    return data


def _observation() -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
        "subject": {"reference": "Patient/00000000-0000-0000-0000-000000000001"},
        "effectiveDateTime": "2026-03-04T09:00:00Z",
        "valueQuantity": {
            "value": 6,
            "unit": "score",
            "system": "http://unitsofmeasure.org",
            "code": "{score}",
        },
    }


def valid_corpus() -> list[Case]:
    cases: list[Case] = []
    for name in ("ValidationRequest_POST.json", "POST-body.json"):
        message = _load(name)
        cases.append((f"{name} Bundle (no entries)", {k: v for k, v in message.items() if k != "entry"}))
        for i, entry in enumerate(message["entry"]):
            cases.append((f"{name} entry[{i}] {entry['resource']['resourceType']}", entry["resource"]))
    for name in ("201_POST.json", "400-REC_BAD_REQUEST-invariant.json", "BaRS_API_Capability_Statement.json"):
        cases.append((name, _load(name)))
    cases.append(("pain-score Observation", _observation()))
    return cases


def _entry(message: str, resource_type: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        e["resource"] for e in _load(message)["entry"] if e["resource"]["resourceType"] == resource_type
    )
    return copy.deepcopy(found)


def _with(resource: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(resource)
    for key, value in changes.items():
        if value is _DROP:
            out.pop(key, None)
        else:
            out[key] = value
    return out


_DROP = object()


def invalid_corpus() -> list[Case]:
    msg = "ValidationRequest_POST.json"
    patient, request = _entry(msg, "Patient"), _entry(msg, "ServiceRequest")
    observation, header = _observation(), _entry(msg, "MessageHeader")
    encounter, flag = _entry(msg, "Encounter"), _entry(msg, "Flag")
    return [
        ("Patient.gender 'bloke' (required binding)", _with(patient, gender="bloke")),
        ("Patient.gender 'Male' (case)", _with(patient, gender="Male")),
        ("Patient.birthDate month 13", _with(patient, birthDate="1990-13-01")),
        ("Patient.birthDate 31 Feb-like '2021-02-30'", _with(patient, birthDate="2021-02-30")),
        ("Patient.birthDate as a number", _with(patient, birthDate=19900101)),
        ("Patient.birthDate with a time", _with(patient, birthDate="1990-01-01T10:00:00Z")),
        ("Patient unknown element 'nickname'", _with(patient, nickname="Bob")),
        ("Patient.id with a space", _with(patient, id="a b")),
        ("Patient.id 65 characters", _with(patient, id="a" * 65)),
        ("Patient.id as a number", _with(patient, id=12)),
        ("Patient.active as a string", _with(patient, active="yes")),
        ("Patient.name not an array", _with(patient, name={"family": "Smith"})),
        ("Patient.name[0] unknown element", _with(patient, name=[{"family": "Smith", "nick": "x"}])),
        ("Patient.name[0].given a string", _with(patient, name=[{"given": "Ann"}])),
        ("Patient.identifier[0].value empty", _with(patient, identifier=[{"value": ""}])),
        ("Patient.gender null", _with(patient, gender=None)),
        (
            "Patient.deceasedBoolean and deceasedDateTime",
            _with(patient, deceasedBoolean=False, deceasedDateTime="2020-01-01"),
        ),
        (
            "Patient.meta.lastUpdated without zone",
            _with(patient, meta={"lastUpdated": "2021-11-26T15:00:00"}),
        ),
        ("Patient resourceType unknown", _with(patient, resourceType="Patiant")),
        ("ServiceRequest.status 'bogus' (required binding)", _with(request, status="bogus")),
        ("ServiceRequest.intent missing (1..1)", _with(request, intent=_DROP)),
        ("ServiceRequest.status missing (1..1)", _with(request, status=_DROP)),
        ("ServiceRequest.subject missing (1..1)", _with(request, subject=_DROP)),
        ("ServiceRequest.subject a string", _with(request, subject="Patient/1")),
        (
            "ServiceRequest.category[0].coding[0] unknown element",
            _with(request, category=[{"coding": [{"code": "x", "colour": "red"}]}]),
        ),
        ("ServiceRequest.authoredOn '26/11/2021'", _with(request, authoredOn="26/11/2021")),
        ("Observation.code missing (1..1)", _with(observation, code=_DROP)),
        ("Observation.status missing (1..1)", _with(observation, status=_DROP)),
        ("Observation.status 'done' (required binding)", _with(observation, status="done")),
        ("Observation.valueInteger 1.5", _with(observation, valueQuantity=_DROP, valueInteger=1.5)),
        ("Observation.valueInteger '6'", _with(observation, valueQuantity=_DROP, valueInteger="6")),
        ("Observation.valueQuantity.value '6'", _with(observation, valueQuantity={"value": "6"})),
        (
            "Observation.valueBoolean and valueInteger",
            _with(observation, valueQuantity=_DROP, valueBoolean=True, valueInteger=1),
        ),
        (
            "Observation.effectiveDateTime hour 25",
            _with(observation, effectiveDateTime="2026-03-04T25:00:00Z"),
        ),
        (
            "Observation.effectiveDateTime without zone",
            _with(observation, effectiveDateTime="2026-03-04T09:00:00"),
        ),
        (
            "Observation.code.coding[0].system ' ' (blank uri)",
            _with(observation, code={"coding": [{"system": " ", "code": "1"}]}),
        ),
        (
            "Observation.code.coding[0].code ' x' (leading space)",
            _with(observation, code={"coding": [{"code": " x"}]}),
        ),
        ("Observation.note[0].text empty", _with(observation, note=[{"text": ""}])),
        ("Observation.extension[0] without url", _with(observation, extension=[{"valueString": "x"}])),
        (
            "Observation.extension[0] two values",
            _with(observation, extension=[{"url": "http://x", "valueString": "x", "valueBoolean": True}]),
        ),
        ("MessageHeader.source missing (1..1)", _with(header, source=_DROP)),
        ("MessageHeader.eventCoding and eventUri", _with(header, eventUri="http://x")),
        ("Encounter.status 'triaged ' (trailing space)", _with(encounter, status="triaged ")),
        ("Encounter.class an array", _with(encounter, **{"class": [encounter["class"]]})),
        ("Flag.status 'on' (required binding)", _with(flag, status="on")),
        (
            "Flag._status with no status (primitive extension)",
            _with(flag, status=_DROP, _status={"extension": []}),
        ),
        ("not an object (a list)", [patient]),  # type: ignore[list-item]
        ("no resourceType", _with(patient, resourceType=_DROP)),
    ]


def _accepts(validate: Callable[[Any], Any]) -> Callable[[Any], bool]:
    from shared.core.errors import FhirError

    def accepts(resource: Any) -> bool:
        try:
            validate(resource)
        except FhirError:
            return False
        return True

    return accepts


def _current() -> Callable[[Any], bool]:
    from shared.fhir.models import validate_model

    return _accepts(validate_model)


def _schema() -> Callable[[Any], bool]:
    from shared.fhir.models import validate_resource

    return _accepts(validate_resource)


def verdicts() -> list[dict[str, Any]]:
    """Each case of the corpus with what it should be and what each validator said."""
    current, schema = _current(), _schema()
    out = []
    for expected, cases in (("valid", valid_corpus()), ("invalid", invalid_corpus())):
        for name, resource in cases:
            out.append(
                {"case": name, "expected": expected, "current": current(resource), "schema": schema(resource)}
            )
    return out


def _time(accepts: Callable[[Any], bool], cases: list[Case]) -> float:
    """µs per resource: the median over ROUNDS rounds of one pass over ``cases``."""
    resources = [r for _, r in cases]
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for resource in resources:
            accepts(resource)
        samples.append((time.perf_counter() - start) / len(resources) * 1e6)
    return round(statistics.median(samples), 1)


def main() -> dict[str, Any]:
    current, schema = _current(), _schema()
    valid, invalid = valid_corpus(), invalid_corpus()
    # warm both (compile the schema validators, build the pydantic models) outside the timing
    for _, resource in valid + invalid:
        current(resource)
        schema(resource)
    load_before = loadavg()
    timings: dict[str, Any] = {
        "valid": {"current": _time(current, valid), "schema": _time(schema, valid)},
        "invalid": {"current": _time(current, invalid), "schema": _time(schema, invalid)},
    }
    # schema first, fhir.resources after (the pair the hot path ran for a while before 2026-12-06), on
    # the valid resources the schema accepts (one it refuses would skip fhir.resources and flatter it)
    both: Callable[[Any], bool] = lambda r: schema(r) and current(r)  # noqa: E731
    accepted = [c for c in valid if schema(c[1])]
    timings["schema_accepts"] = {
        "resources": len(accepted),
        "current": _time(current, accepted),
        "schema_then_current": _time(both, accepted),
    }
    # one BaRS message as intake validates it: the Bundle without its entries, then each entry
    message = [c for c in valid if c[0].startswith("ValidationRequest_POST.json")]
    timings["bars_message_ms"] = {
        name: round(_time(accepts, message) * len(message) / 1000, 3)
        for name, accepts in (("current", current), ("schema", schema))
    }
    table = verdicts()
    disagree = [v for v in table if v["current"] != v["schema"]]
    wrong = {
        name: [v["case"] for v in table if v[name] != (v["expected"] == "valid")]
        for name in ("current", "schema")
    }
    rows = [
        ("valid corpus", len(valid), timings["valid"]["current"], timings["valid"]["schema"]),
        ("invalid corpus", len(invalid), timings["invalid"]["current"], timings["invalid"]["schema"]),
    ]
    print(f"R4 validation, µs per resource (median of {ROUNDS} rounds); /proc/loadavg {load_before}")
    print_table(
        ("corpus", "resources", "fhir.resources µs", "schema µs", "ratio"),
        [(*r, round(r[2] / r[3], 1) if r[3] else None) for r in rows],
    )
    pair = timings["schema_accepts"]
    print(
        f"on the {pair['resources']} valid resources the schema accepts: "
        f"fhir.resources {pair['current']} µs, "
        f"schema then fhir.resources {pair['schema_then_current']} µs"
    )
    per_message = timings["bars_message_ms"]
    print(
        f"one BaRS message ({len(message)} resources, as intake validates it): fhir.resources "
        f"{per_message['current']} ms, schema {per_message['schema']} ms"
    )
    print("\nwhere they disagree (accepts = True):")
    print_table(
        ("case", "expected", "fhir.resources", "schema"),
        [(v["case"], v["expected"], v["current"], v["schema"]) for v in disagree],
    )
    print(f"\nwrong verdicts: fhir.resources {len(wrong['current'])}, schema {len(wrong['schema'])}")
    report = {
        "loadavg": load_before,
        "rounds": ROUNDS,
        "timings_us_per_resource": timings,
        "disagreements": disagree,
        "wrong_verdicts": wrong,
        "rows": [
            {
                "benchmark": "validation",
                "database": "-",
                "metric": f"R4 validation, {name} corpus (µs/resource, fhir.resources vs schema)",
                "ours": timings[key]["current"],
                "baseline": timings[key]["schema"],
                "ratio": round(timings[key]["current"] / timings[key]["schema"], 2),
                "p50_ms": None,
                "p99_ms": None,
            }
            for name, key in (("valid", "valid"), ("invalid", "invalid"))
        ],
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
