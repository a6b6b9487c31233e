"""The one tenancy filter: service staff see a patient's data only while the patient is enrolled with one
of their practices; everyone else sees their practices whole."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from shared.core.principal import UNAUTHENTICATED_TENANT, Principal, Tenancy, parse_scopes
from shared.db import make_engine
from shared.fhir import NotFound, ResourceStore, kernel_metadata
from shared.fhir.tenancy import (
    check_writable,
    enrolled_only,
    practice_of,
    record_discharge,
    record_enrolment,
    record_enrolment_event,
)

A, B, HOME = "A81001", "B82002", "Y01234"
NOW = datetime(2026, 3, 1, tzinfo=UTC)
STAFF = Tenancy({HOME, A}, enrolled_only=True)
GP = Tenancy({A})


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'tenancy.db'}")
    kernel_metadata.create_all(engine)
    yield engine
    engine.dispose()


STORE = ResourceStore(shared_types={"CodeSystem"})


def _patient(engine: Engine, practice: str = A) -> dict[str, Any]:
    with engine.begin() as conn:
        patient = STORE.create(conn, {"resourceType": "Patient"}, practice=practice)
        STORE.create(
            conn,
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "Pain score"},
                "subject": {"reference": f"Patient/{patient['id']}"},
            },
            practice=practice,
        )
    return patient


def _enrol(
    engine: Engine, patient: dict[str, Any], practice: str = A, episode: str = "EpisodeOfCare/1"
) -> None:
    with engine.begin() as conn:
        record_enrolment(
            conn, practice=practice, patient=f"Patient/{patient['id']}", episode=episode, enrolled_at=NOW
        )


def _seen(engine: Engine, resource_type: str, tenants: Tenancy) -> set[str]:
    with engine.connect() as conn:
        found = STORE.search(conn, STORE.query(resource_type, [], count=50), tenants=tenants)
    return {r["id"] for r in found.resources}


def _observations_of(engine: Engine, patient: dict[str, Any], tenants: Tenancy) -> int:
    query = STORE.query("Observation", [("subject", f"Patient/{patient['id']}")], count=50)
    with engine.connect() as conn:
        return STORE.search(conn, query, tenants=tenants).total


def test_staff_see_an_enrolled_patient_and_their_data_but_not_a_patient_who_is_not_enrolled(
    engine: Engine,
) -> None:
    enrolled, other = _patient(engine), _patient(engine)
    _enrol(engine, enrolled)
    assert _seen(engine, "Patient", STAFF) == {enrolled["id"]}
    assert _observations_of(engine, enrolled, STAFF) == 1
    assert _observations_of(engine, other, STAFF) == 0
    with engine.connect() as conn:
        assert STORE.read(conn, "Patient", enrolled["id"], tenants=STAFF)["id"] == enrolled["id"]
        for call in (
            lambda: STORE.read(conn, "Patient", other["id"], tenants=STAFF),
            lambda: STORE.vread(conn, "Patient", other["id"], 1, tenants=STAFF),
            lambda: STORE.history(conn, "Patient", other["id"], tenants=STAFF, count=10),
        ):
            with pytest.raises(NotFound):
                call()
        assert STORE.current_version(conn, "Patient", other["id"], tenants=STAFF) is None
        assert STORE.history(conn, "Patient", enrolled["id"], tenants=STAFF, count=10)[0] == 1


def test_a_gp_system_sees_every_patient_of_its_practice_enrolled_or_not(engine: Engine) -> None:
    enrolled, other = _patient(engine), _patient(engine)
    _enrol(engine, enrolled)
    assert _seen(engine, "Patient", GP) == {enrolled["id"], other["id"]}


def test_an_enrolment_with_a_practice_the_staff_member_is_not_assigned_to_grants_nothing(
    engine: Engine,
) -> None:
    patient = _patient(engine)
    _enrol(engine, patient, practice=B)
    assert _seen(engine, "Patient", STAFF) == set()


def test_discharge_ends_sight_and_a_later_duplicate_enrolment_does_not_bring_it_back(engine: Engine) -> None:
    patient = _patient(engine)
    _enrol(engine, patient)
    with engine.begin() as conn:
        record_discharge(
            conn, practice=A, patient=f"Patient/{patient['id']}", episode="EpisodeOfCare/1", discharged_at=NOW
        )
    assert _seen(engine, "Patient", STAFF) == set()
    _enrol(engine, patient)  # the same enrolment delivered again
    assert _seen(engine, "Patient", STAFF) == set()
    _enrol(engine, patient, episode="EpisodeOfCare/2")  # a new episode of care
    assert _seen(engine, "Patient", STAFF) == {patient["id"]}


def test_a_discharge_that_arrives_before_its_enrolment_keeps_the_episode_closed(engine: Engine) -> None:
    patient = _patient(engine)
    episode = {
        "resourceType": "EpisodeOfCare",
        "id": "9",
        "patient": {"reference": f"Patient/{patient['id']}"},
    }
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": episode}]}
    with engine.begin() as conn:
        assert record_enrolment_event(conn, practice=A, data=episode, at=NOW, discharged=True)
        assert record_enrolment_event(conn, practice=A, data=bundle, at=NOW)
    assert _seen(engine, "Patient", STAFF) == set()


def test_an_enrolment_event_without_a_patient_records_nothing(engine: Engine) -> None:
    with engine.begin() as conn:
        assert not record_enrolment_event(
            conn, practice=A, data={"resourceType": "Bundle", "entry": []}, at=NOW
        )


def test_resources_without_a_patient_stay_visible_to_staff_by_practice(engine: Engine) -> None:
    with engine.begin() as conn:
        mine = STORE.create(
            conn, {"resourceType": "CodeSystem", "status": "active", "content": "complete"}, practice=A
        )
        STORE.create(
            conn, {"resourceType": "CodeSystem", "status": "active", "content": "complete"}, practice=B
        )
    assert _seen(engine, "CodeSystem", STAFF) == {mine["id"]}


def test_tenants_widened_for_shared_resources_keep_the_staff_restriction() -> None:
    widened = STORE.visible("CodeSystem", STAFF)
    assert enrolled_only(widened) and "#shared" in widened
    assert (
        enrolled_only(STAFF | {"X"}) and enrolled_only(STAFF - {A}) and enrolled_only(Tenancy.of(STAFF, "Z"))
    )
    assert not enrolled_only(Tenancy.of({A}, "Z"))


@pytest.mark.parametrize("plain", [frozenset(STAFF), set(STAFF), [t for t in STAFF if t != HOME]])
def test_a_plain_set_of_practices_is_refused_not_read_as_whole_practice(engine: Engine, plain: Any) -> None:
    """Copying a staff Tenancy into a plain collection drops the flag: the filter refuses it rather than
    showing every patient of the practices."""
    with pytest.raises(TypeError, match="Tenancy"):
        enrolled_only(plain)
    with engine.connect() as conn, pytest.raises(TypeError, match="Tenancy"):
        STORE.search(conn, STORE.query("Observation", [], count=10), tenants=plain)


def test_staff_writes_to_a_patient_not_enrolled_are_refused_as_not_found(engine: Engine) -> None:
    enrolled, other = _patient(engine), _patient(engine)
    _enrol(engine, enrolled)
    plan = {"resourceType": "CarePlan", "status": "draft", "intent": "plan"}
    with engine.connect() as conn:
        check_writable(
            conn, STAFF, "CarePlan", None, {**plan, "subject": {"reference": f"Patient/{enrolled['id']}"}}
        )
        with pytest.raises(NotFound):
            check_writable(
                conn, STAFF, "CarePlan", None, {**plan, "subject": {"reference": f"Patient/{other['id']}"}}
            )
        with pytest.raises(NotFound):
            check_writable(conn, STAFF, "Patient", other["id"])
        check_writable(conn, GP, "Patient", other["id"])  # a GP system writes its own patients


def test_each_role_gets_the_tenancy_it_should() -> None:
    scopes = parse_scopes("system/*.rs")
    worker = Principal("w", HOME, "project-worker", scopes, practices=frozenset({A}))
    specialist = Principal("s", HOME, "specialist", scopes, practices=frozenset({A}))
    gp = Principal("g", A, "gp-system", scopes)
    auditor = Principal("a", A, "auditor", scopes)
    assert worker.tenants == {HOME, A} and worker.tenants.enrolled_only
    assert specialist.tenants.enrolled_only
    assert gp.tenants == {A} and not gp.tenants.enrolled_only
    assert auditor.tenants == {A, UNAUTHENTICATED_TENANT} and not auditor.tenants.enrolled_only


def test_the_practice_a_resource_is_filed_under_is_told_only_to_tenants_who_see_it(engine: Engine) -> None:
    """``practice_of`` (a write about a resource is filed under its owner): the owning practice for a GP
    of that practice and for staff while the patient is enrolled with one of theirs; ``None`` for a GP of
    another practice, for staff before enrolment, and for an id nobody holds."""
    patient = _patient(engine, practice=A)
    reference = f"Patient/{patient['id']}"
    with engine.connect() as conn:
        assert practice_of(conn, GP, reference) == A
        assert practice_of(conn, Tenancy({B}), reference) is None
        assert practice_of(conn, STAFF, reference) is None  # not enrolled yet
        assert practice_of(conn, GP, "Patient/nobody") is None
    _enrol(engine, patient)
    with engine.connect() as conn:
        assert practice_of(conn, STAFF, reference) == A
