"""What HL7's R4 JSON Schema does not say about an element, read off the ``fhir.resources`` models once.

The generated schema lists only complex elements in ``required`` (a required *primitive* such as
``Observation.status`` or ``Extension.url`` may be carried by its ``_status`` sibling in FHIR JSON, so
the generator left them out), and it has no notion of a choice element (``value[x]``: at most one of
``valueString``, ``valueQuantity``...; ``MessageHeader.event[x]``: exactly one). The ``fhir.resources``
R4B models, which refused both until the schema replaced them on the hot path, carry that knowledge on
each field (``element_required``, ``one_of_many``, ``one_of_many_required``). ``derive`` walks the
schema's definitions alongside those models and writes, for every definition, its required primitive
elements and its choice groups, and marks the elements of datatypes that R4 types as ``Element`` (no
modifier extensions: ``Timing.repeat``, ``Dosage.doseAndRate``) where the generated schema gave them a
``modifierExtension``; ``data/element-rules.json`` is its output, kept in the repository so a
service does not import 680 model classes at start-up, and ``tests/unit/kernel/test_element_rules.py``
derives it again and compares, so an upgrade of ``fhir.resources`` that changes a rule shows there.

Only elements the R4 schema itself defines are kept (R4B-only elements are not R4). Regenerate with
``.venv/bin/python -m shared.fhir.element_rules``.
"""

from __future__ import annotations

import json
import sys
import typing
from pathlib import Path
from typing import Any

RULES_PATH = Path(__file__).parent / "data" / "element-rules.json"

Rules = dict[str, dict[str, Any]]


def _model_of(annotation: Any) -> Any:
    """The model class inside a field's annotation (``Optional[List[abc.BundleEntryType]]``), or None."""
    for arg in (annotation, *typing.get_args(annotation)):
        klass = getattr(arg, "get_model_klass", None)
        if klass is not None:
            return klass()
        if typing.get_args(arg) and arg is not annotation:
            inner = _model_of(arg)
            if inner is not None:
                return inner
    return None


def _ref(spec: dict[str, Any]) -> str | None:
    ref = spec.get("$ref") or spec.get("items", {}).get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def derive(definitions: dict[str, Any]) -> Rules:
    """``{definition: {"required": [...], "choices": {group: [...]}, "required_choices": [...],
    "no_modifier_extension": true}}`` for
    every definition of ``definitions`` whose ``fhir.resources`` R4B model has such a rule."""
    from fhir.resources.R4B import get_fhir_model_class

    pairs: dict[str, Any] = {}
    queue: list[tuple[str, Any]] = []
    for name in definitions:
        if "_" in name or "properties" not in definitions[name]:
            continue
        try:
            queue.append((name, get_fhir_model_class(name)))
        except (KeyError, ValueError, AttributeError):
            continue  # an R4 type R4B dropped (EffectEvidenceSynthesis...): the schema alone checks it
    while queue:
        name, model = queue.pop()
        if name in pairs:
            continue
        pairs[name] = model
        by_alias = {field.alias or key: field for key, field in model.model_fields.items()}
        for element, spec in definitions[name]["properties"].items():
            target, field = _ref(spec), by_alias.get(element)
            if target and field is not None and target in definitions and target not in pairs:
                child = _model_of(field.annotation)
                if child is not None and "properties" in definitions[target]:
                    queue.append((target, child))
    rules: Rules = {}
    for name in sorted(pairs):
        properties = definitions[name]["properties"]
        required: list[str] = []
        choices: dict[str, list[str]] = {}
        required_choices: set[str] = set()
        for key, field in pairs[name].model_fields.items():
            element, extra = field.alias or key, field.json_schema_extra
            if element not in properties or not isinstance(extra, dict):
                continue
            if extra.get("element_required"):
                required.append(element)
            group = extra.get("one_of_many")
            if group:
                choices.setdefault(str(group), []).append(element)
                if extra.get("one_of_many_required"):
                    required_choices.add(str(group))
        rule: dict[str, Any] = {}
        aliases = {field.alias or key for key, field in pairs[name].model_fields.items()}
        if "modifierExtension" in properties and "modifierExtension" not in aliases:
            rule["no_modifier_extension"] = True
        if required:
            rule["required"] = sorted(required)
        kept = {g: sorted(m) for g, m in sorted(choices.items()) if len(m) > 1 or g in required_choices}
        if kept:
            rule["choices"] = kept
        if required_choices:
            rule["required_choices"] = sorted(required_choices)
        if rule:
            rules[name] = rule
    return rules


def load() -> Rules:
    rules: Rules = json.loads(RULES_PATH.read_text(encoding="utf-8"))["definitions"]
    return rules


def render(rules: Rules) -> str:
    document = {
        "source": "derived by shared/fhir/element_rules.py from the fhir.resources R4B models' field "
        "metadata, restricted to the elements of HL7's R4 JSON Schema (data/fhir.schema.json.gz)",
        "definitions": rules,
    }
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


def main() -> int:
    from shared.fhir.jsonschema_r4 import raw_definitions

    RULES_PATH.write_text(render(derive(raw_definitions())), encoding="utf-8")
    print(f"wrote {RULES_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
