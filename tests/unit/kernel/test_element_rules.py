"""``data/element-rules.json``: the required primitives and choice groups the R4 JSON Schema is tightened
with (``jsonschema_r4._tighten``), derived from the ``fhir.resources`` R4B models (``element_rules``).

The file is derived again here and compared, so an upgrade of ``fhir.resources`` that changes a rule, or
a hand edit of the file, fails this test rather than changing what the hot path refuses unnoticed.
Spot checks are R4's own cardinalities (http://hl7.org/fhir/R4/observation.html and the other pages
named), not the derivation's output."""

from __future__ import annotations

from shared.fhir import element_rules
from shared.fhir.jsonschema_r4 import raw_definitions


def test_the_vendored_rules_are_what_the_models_say() -> None:
    derived = element_rules.render(element_rules.derive(raw_definitions()))
    assert derived == element_rules.RULES_PATH.read_text(encoding="utf-8")


def test_spot_checks_against_the_r4_specification() -> None:
    rules = element_rules.load()
    # Observation.status 1..1 (code); value[x] 0..1 with 11 types; effective[x] 0..1 with 4.
    assert "status" in rules["Observation"]["required"]
    assert len(rules["Observation"]["choices"]["value"]) == 11
    assert rules["Observation"]["choices"]["effective"] == [
        "effectiveDateTime",
        "effectiveInstant",
        "effectivePeriod",
        "effectiveTiming",
    ]
    # Extension.url 1..1 (uri); Extension.value[x] 0..1 over R4's open types: the 49 this schema build
    # names (it has no valueMeta, so the schema refuses that one as an unknown element).
    assert rules["Extension"]["required"] == ["url"]
    assert len(rules["Extension"]["choices"]["value"]) == 49
    assert "valueQuantity" in rules["Extension"]["choices"]["value"]
    # MessageHeader.event[x] 1..1: Coding or uri (http://hl7.org/fhir/R4/messageheader.html).
    assert rules["MessageHeader"]["choices"]["event"] == ["eventCoding", "eventUri"]
    assert rules["MessageHeader"]["required_choices"] == ["event"]
    # ServiceRequest.status and .intent 1..1; Task.status and .intent 1..1; Bundle.type 1..1.
    assert {"intent", "status"} <= set(rules["ServiceRequest"]["required"])
    assert {"intent", "status"} <= set(rules["Task"]["required"])
    assert rules["Bundle"]["required"] == ["type"]
    # A backbone element: Bundle.entry.request.method and .url 1..1 (definition Bundle_Request).
    assert rules["Bundle_Request"]["required"] == ["method", "url"]
    # Patient.deceased[x] and multipleBirth[x]: two choices, neither required.
    assert set(rules["Patient"]["choices"]) == {"deceased", "multipleBirth"}
    assert "required_choices" not in rules["Patient"]


def test_only_elements_the_r4_schema_defines() -> None:
    definitions = raw_definitions()
    for name, rule in element_rules.load().items():
        properties = definitions[name]["properties"]
        members = [m for group in rule.get("choices", {}).values() for m in group]
        assert set(rule.get("required", ())) | set(members) <= set(properties), name
