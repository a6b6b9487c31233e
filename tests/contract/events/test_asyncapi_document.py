"""The committed AsyncAPI document is current, valid AsyncAPI 3.0.0, and agrees with the runtime models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from shared.contracts import EVENT_TYPES, new_event, to_json
from shared.contracts.asyncapi import asyncapi_document, component_id, render_yaml

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = ROOT / "docs" / "asyncapi.yaml"
SPEC_SCHEMA = Path(__file__).with_name("asyncapi-3.0.0.schema.json")


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    return yaml.safe_load(COMMITTED.read_text())


def test_committed_document_is_not_stale() -> None:
    assert COMMITTED.read_text() == render_yaml(), (
        "docs/asyncapi.yaml is stale: run `python -m shared.contracts.asyncapi > docs/asyncapi.yaml`"
    )


def test_committed_document_validates_against_the_asyncapi_3_0_0_schema(committed: dict[str, Any]) -> None:
    schema = json.loads(SPEC_SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(committed), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_every_reference_in_the_document_resolves(committed: dict[str, Any]) -> None:
    refs = _refs(committed)
    assert refs
    for ref in refs:
        _resolve(committed, ref)


def test_every_registered_type_has_a_channel_a_send_operation_and_a_message(
    committed: dict[str, Any],
) -> None:
    assert committed["asyncapi"] == "3.0.0"
    for event_type in EVENT_TYPES.values():
        cid = component_id(event_type)
        assert committed["channels"][cid]["address"] == f"painreview.{event_type.type}"
        operation = committed["operations"][f"send{cid[0].upper()}{cid[1:]}"]
        assert operation["action"] == "send"
        assert operation["channel"] == {"$ref": f"#/channels/{cid}"}
        assert committed["components"]["messages"][cid]["name"] == event_type.type


def _validator_for(document: dict[str, Any], schema_id: str) -> jsonschema.Draft7Validator:
    root = {"$ref": f"#/components/schemas/{schema_id}", "components": document["components"]}
    return jsonschema.Draft7Validator(root, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


@pytest.mark.parametrize("type_name", sorted(EVENT_TYPES))
def test_an_event_built_by_the_runtime_model_matches_its_published_schema(
    committed: dict[str, Any], type_name: str
) -> None:
    event_type = EVENT_TYPES[type_name]
    event = new_event(
        event_type,
        source="/painreview/test",
        subject=f"{event_type.resource_types[0]}/1",
        practice="A81001",
        data={"resourceType": event_type.resource_types[0], "id": "1"},
    )
    _validator_for(committed, component_id(event_type)).validate(json.loads(to_json(event)))


@pytest.mark.parametrize("type_name", sorted(EVENT_TYPES))
def test_the_published_example_is_accepted_by_the_runtime_model(
    committed: dict[str, Any], type_name: str
) -> None:
    cid = component_id(EVENT_TYPES[type_name])
    example = committed["components"]["messages"][cid]["examples"][0]["payload"]
    _validator_for(committed, cid).validate(example)
    event = new_event(
        example["type"],
        source=example["source"],
        subject=example["subject"],
        practice=example["practice"],
        data=example["data"],
        correlationid=example["correlationid"],
        traceparent=example["traceparent"],
    )
    assert event.type == type_name


def test_the_schema_rejects_data_of_the_wrong_resource_type(committed: dict[str, Any]) -> None:
    example = committed["components"]["messages"]["taperProposedV1"]
    payload = dict(example["examples"][0]["payload"], data={"resourceType": "Patient"})
    with pytest.raises(jsonschema.ValidationError):
        _validator_for(committed, "taperProposedV1").validate(payload)


def test_the_generator_is_deterministic() -> None:
    assert asyncapi_document() == asyncapi_document()
