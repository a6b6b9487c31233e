"""What a handler reads through its unit of work: ``within`` narrows the tenancy of reads and updates (the
same transaction and events), ``vread`` reads a past version within it, and ``call.parameters`` is the
operation's ``Parameters`` read once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection

from shared.core.errors import BadRequest, NotFound
from shared.core.principal import Principal, Tenancy, parse_scopes
from shared.db import make_engine
from shared.fhir import FhirKernel, OperationCall, Parameters, RequestContext, UnitOfWork, kernel_metadata
from shared.fhir.kernel import Operation
from tests.support.kernel import build_kernel

OWN, OTHER = "A81001", "B82002"


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[FhirKernel]:
    engine = make_engine(f"sqlite:///{tmp_path / 'uow.db'}")
    kernel_metadata.create_all(engine)
    yield build_kernel(engine)
    engine.dispose()


def _ctx() -> RequestContext:
    principal = Principal(
        client_id="c", practice=OWN, role="gp-system", scopes=parse_scopes("system/*.cruds"),
        practices=frozenset({OTHER}),
    )  # fmt: skip
    return RequestContext(principal, "req-1", "corr-1", "test")


def _observation(text: str) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "code": {"text": text}}


def _stored(kernel: FhirKernel, conn: Connection, practice: str, text: str) -> dict[str, Any]:
    return kernel.store.create(conn, _observation(text), practice=practice)


def test_within_reads_and_updates_only_among_its_tenants(kernel: FhirKernel) -> None:
    with kernel.engine.begin() as conn:
        theirs = _stored(kernel, conn, OTHER, "theirs")
        uow = UnitOfWork(kernel, conn, _ctx())
        assert uow.read("Observation", theirs["id"])["id"] == theirs["id"]  # the caller acts for both
        own = uow.within(uow.tenants & {OWN})
        with pytest.raises(NotFound):
            own.read("Observation", theirs["id"])
        with pytest.raises(NotFound):
            own.update({**theirs, "status": "amended"}, create=False)
        assert own.events is uow.events and own.conn is uow.conn  # the same unit of work


def test_vread_reads_a_past_version_within_the_tenancy(kernel: FhirKernel) -> None:
    with kernel.engine.begin() as conn:
        uow = UnitOfWork(kernel, conn, _ctx())
        first = uow.create(_observation("v1"), activity=None)
        uow.update({**first, "code": {"text": "v2"}}, activity=None)
        assert uow.vread(f"Observation/{first['id']}", 1)["code"] == {"text": "v1"}
        assert uow.vread(f"Observation/{first['id']}", 2)["code"] == {"text": "v2"}
        with pytest.raises(NotFound):
            uow.within(Tenancy({OTHER})).vread(f"Observation/{first['id']}", 1)


def _call(kernel: FhirKernel, body: Any) -> OperationCall:
    operation = Operation("look", lambda call: None, "system", None, ("Observation", "r"))  # type: ignore[arg-type,return-value]
    return OperationCall(kernel, _ctx(), None, body, None, operation)  # type: ignore[arg-type]


def test_call_parameters_are_read_once(kernel: FhirKernel) -> None:
    body = {"resourceType": "Parameters", "parameter": [{"name": "month", "valueString": "2026-03"}]}
    call = _call(kernel, body)
    assert isinstance(call.parameters, Parameters)
    assert call.parameters is call.parameters
    assert call.parameters.text("month") == "2026-03"
    assert _call(kernel, None).parameters.value("month") is None


def test_call_parameters_refuse_a_body_that_is_not_parameters(kernel: FhirKernel) -> None:
    with pytest.raises(BadRequest):
        _ = _call(kernel, {"resourceType": "Patient"}).parameters
