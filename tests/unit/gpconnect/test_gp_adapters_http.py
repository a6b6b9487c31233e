"""The HTTP adapters against respx (the recorded GP Connect payloads) and against the simulator's real
endpoints (over httpx's ASGI transport): request shapes, error classes, idempotency at the far end."""

from __future__ import annotations

import httpx
import pytest
import respx

from painreview.simulator import SimulatorSettings, create_simulator_app
from services.gpconnect.delivery.adapters import (
    EmisStyleAdapter,
    FakeDocumentChannel,
    GpConnectFhirAdapter,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from services.gpconnect.delivery.adapters.gpconnect_fhir import GP_CONNECT_INTERACTION
from services.gpconnect.delivery.writeback import naming_gp_authorisation, new_orders, order_change
from services.gpconnect.domain.practices import PracticeConfig
from tests.unit.gpconnect.deliveries import prescription_changed, task_requested
from tests.unit.gpconnect.records import load_fixture

pytestmark = pytest.mark.anyio
BASE = "https://gp.example/A81001/fhir"


@pytest.fixture
def anyio_backend():
    return "asyncio"


def fhir_adapter(client: httpx.AsyncClient, base: str = BASE, supplier: str = "gpconnect-fhir"):
    practice = PracticeConfig("A81001", supplier, base, "UNIT_SIMULATOR", mesh_mailbox="X26ABC2")
    cls = GpConnectFhirAdapter if supplier == "gpconnect-fhir" else EmisStyleAdapter
    return cls(practice, client, lambda url, p: None, FakeDocumentChannel())


@respx.mock
async def test_the_structured_record_is_asked_for_with_medications_issues_and_the_spine_headers():
    route = respx.post(f"{BASE}/Patient/$gpc.getstructuredrecord").mock(
        return_value=httpx.Response(200, json=load_fixture("gpc-structured-opioid-record.json"))
    )
    async with httpx.AsyncClient() as client:
        record = await fhir_adapter(client).read_record("9990000018", trace_id="trace-1")
    assert record["type"] == "collection"
    request = route.calls.last.request
    assert request.headers["Ssp-InteractionID"] == GP_CONNECT_INTERACTION
    assert request.headers["Ssp-TraceID"] == "trace-1" and request.headers["Ssp-To"] == "A81001"
    body = httpx.Response(200, content=request.content).json()
    names = [p["name"] for p in body["parameter"]]
    assert names == ["patientNHSNumber", "includeMedication", "includeProblems"]
    assert body["parameter"][0]["valueIdentifier"]["value"] == "9990000018"
    assert body["parameter"][1]["part"] == [{"name": "includePrescriptionIssues", "valueBoolean": True}]


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (httpx.Response(500), TransientDeliveryError),
        (httpx.Response(503), TransientDeliveryError),
        (httpx.Response(429), TransientDeliveryError),
        (httpx.Response(404, json={"resourceType": "OperationOutcome"}), PermanentDeliveryError),
        (httpx.Response(422, json={}), PermanentDeliveryError),
        (httpx.Response(200, text="not json"), PermanentDeliveryError),
        (httpx.ReadTimeout("slow"), TransientDeliveryError),
        (httpx.ConnectError("refused"), TransientDeliveryError),
    ],
)
@respx.mock
async def test_answers_and_network_failures_become_transient_or_permanent_errors(answer, error):
    route = respx.post(f"{BASE}/Patient/$gpc.getstructuredrecord")
    if isinstance(answer, Exception):
        route.mock(side_effect=answer)
    else:
        route.mock(return_value=answer)
    async with httpx.AsyncClient() as client:
        with pytest.raises(error):
            await fhir_adapter(client).read_record("9990000018", trace_id="t")


async def test_a_url_outside_the_registered_endpoints_is_refused_before_any_call():
    from services.gpconnect.delivery.adapters import default_guard

    practice = PracticeConfig("A81001", "gpconnect-fhir", "http://127.0.0.1:1/fhir")
    adapter = GpConnectFhirAdapter(practice, httpx.AsyncClient(), default_guard(False), FakeDocumentChannel())
    with pytest.raises(PermanentDeliveryError, match="refused"):
        await adapter.read_record("9990000018", trace_id="t")  # plain http outside development
    await adapter.client.aclose()


@respx.mock
async def test_writes_carry_the_idempotency_key_and_the_patients_nhs_number():
    route = respx.post(f"{BASE}/Task").mock(
        return_value=httpx.Response(201, json={"resourceType": "Task", "id": "T1"})
    )
    async with httpx.AsyncClient() as client:
        remote = await fhir_adapter(client).write_task(
            task_requested().data, "9990000018", idempotency_key="k-1"
        )
    assert remote == "T1"
    request = route.calls.last.request
    assert request.headers["Idempotency-Key"] == "k-1"
    sent = httpx.Response(200, content=request.content).json()
    assert sent["for"]["identifier"]["value"] == "9990000018"


# ---- against the simulator's real endpoints -------------------------------------------------------
SIM_TOKEN = "unit-test-simulator-token"
SIM_AUTH = {"Authorization": f"Bearer {SIM_TOKEN}"}


@pytest.fixture(scope="module")
def simulator():
    settings = SimulatorSettings(practices="A81001,A81002", patients_per_practice=40, token=SIM_TOKEN)
    return create_simulator_app(settings)


@pytest.fixture(autouse=True)
def simulator_credentials(monkeypatch):
    monkeypatch.setenv("GPCONNECT_SECRET_UNIT_SIMULATOR", SIM_TOKEN)


def cohort_patient(simulator, ods: str):
    state = simulator.state.simulator.practice(ods)
    return next(p for p in state.patients.values() if p.group == "cohort" and p.opioids)


@pytest.mark.parametrize("supplier", ["gpconnect-fhir", "emis-style"])
async def test_both_supplier_styles_read_task_and_prescribe_against_the_simulator(simulator, supplier):
    ods = "A81001" if supplier == "gpconnect-fhir" else "A81002"
    patient = cohort_patient(simulator, ods)
    base = f"http://sim/practices/{ods}"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=simulator)) as client:
        adapter = fhir_adapter(client, base, supplier)
        record = await adapter.read_record(patient.nhs_number, trace_id="t")
        assert any(e["resource"]["resourceType"] == "MedicationRequest" for e in record["entry"])
        task_id = await adapter.write_task(
            task_requested().data, patient.nhs_number, idempotency_key=f"{supplier}-t"
        )
        assert await adapter.task_decision(task_id) is None
        await client.post(f"{base}/inbox/{task_id}/approve", json={"reason": "Agreed"}, headers=SIM_AUTH)
        decision = await adapter.task_decision(task_id)
        assert decision is not None and decision.business_status == "approved" and decision.reason == "Agreed"
        current = patient.opioids[0].id  # the GP system's own authorisation, as read over GP Connect
        change = naming_gp_authorisation(prescription_changed(7).data, current)
        first = await adapter.write_prescription_change(
            change, patient.nhs_number, idempotency_key=f"{supplier}-p"
        )
        again = await adapter.write_prescription_change(
            change, patient.nhs_number, idempotency_key=f"{supplier}-p"
        )
        assert first == again
        changes = (await client.get(f"{base}/prescription-changes", headers=SIM_AUTH)).json()
        assert changes["duplicates"] == {}
        assert [c["authorisationId"] for c in changes["changes"]].count(first) == 1
        meds = (await client.get(f"{base}/patients/{patient.nhs_number}", headers=SIM_AUTH)).json()[
            "medications"
        ]
        assert any(m["authorisationId"] == first and m["status"] == "active" for m in meds)
        assert next(m for m in meds if m["authorisationId"] == current)["status"] == "stopped"
        # The same authorisation again (it is stopped now), or one this system never issued: refused, so the
        # record never ends with the old and the new both active.
        for stale in (current, "MR-MORPH"):
            with pytest.raises(PermanentDeliveryError):
                await adapter.write_prescription_change(
                    naming_gp_authorisation(prescription_changed(8).data, stale),
                    patient.nhs_number,
                    idempotency_key=f"{supplier}-{stale}",
                )


def _group_change(n: int, strengths: tuple[int, ...], group: str) -> dict:
    """A step's change in several strengths: one order per strength, sharing ``group``."""
    change = prescription_changed(n).data
    first, replaced_entry = change["entry"]
    orders = []
    for k, mg in enumerate(strengths):
        order = {
            **first["resource"],
            "id": f"mr-{n}-{mg}",
            "groupIdentifier": {"value": group},
            "medicationCodeableConcept": {"text": f"Morphine {mg}mg modified-release tablets"},
            "dosageInstruction": [{"text": f"{mg} mg morphine twice a day ({2 * mg} mg a day)"}],
        }
        orders.append({"fullUrl": f"MedicationRequest/mr-{n}-{k}", "resource": order})
    return {**change, "entry": [*orders, replaced_entry]}


@pytest.mark.parametrize("supplier", ["gpconnect-fhir", "emis-style"])
async def test_the_simulator_takes_a_steps_orders_in_several_strengths_as_one_replacement(
    simulator, supplier
):
    """Step 1 (30 + 15 mg twice a day) replaces the GP's authorisation with two, one per strength, each
    naming it (the second after the first stopped it: same group); step 2 (one 30 mg) names both: exactly one
    set active each time. Naming an authorisation another group stopped is refused."""
    ods = "A81001" if supplier == "gpconnect-fhir" else "A81002"
    patient = cohort_patient(simulator, ods)
    base = f"http://sim/practices/{ods}"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=simulator)) as client:
        adapter = fhir_adapter(client, base, supplier)
        current = patient.opioids[0].id
        step1 = _group_change(21, (30, 15), f"{supplier}-plan-step-1")
        written = [
            await adapter.write_prescription_change(
                order_change(step1, order, [current]), patient.nhs_number, idempotency_key=f"{supplier}-1-{k}"
            )
            for k, order in enumerate(new_orders(step1))
        ]

        async def active() -> set[str]:
            meds = (await client.get(f"{base}/patients/{patient.nhs_number}", headers=SIM_AUTH)).json()
            return {m["authorisationId"] for m in meds["medications"] if m["status"] == "active"}

        assert set(written) <= await active() and current not in await active()
        step2 = _group_change(22, (30,), f"{supplier}-plan-step-2")
        [order] = new_orders(step2)
        latest = await adapter.write_prescription_change(
            order_change(step2, order, written), patient.nhs_number, idempotency_key=f"{supplier}-2"
        )
        now = await active()
        assert latest in now and not set(written) & now
        other = _group_change(23, (15,), "other")
        with pytest.raises(PermanentDeliveryError, match="422"):  # stopped by another group: refused
            await adapter.write_prescription_change(
                order_change(other, new_orders(other)[0], [written[1]]),
                patient.nhs_number,
                idempotency_key=f"{supplier}-3",
            )


async def test_a_poisoned_patients_writes_are_refused_for_good(simulator):
    patient = cohort_patient(simulator, "A81001")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=simulator)) as client:
        poison = {"poison_nhs_numbers": [patient.nhs_number]}
        await client.put("http://sim/admin/faults", json=poison, headers=SIM_AUTH)
        adapter = fhir_adapter(client, "http://sim/practices/A81001")
        with pytest.raises(PermanentDeliveryError):
            await adapter.write_prescription_change(
                prescription_changed().data, patient.nhs_number, idempotency_key="x"
            )
        await client.put("http://sim/admin/faults", json={}, headers=SIM_AUTH)


async def test_the_simulated_practice_holds_the_cohort_and_the_people_to_exclude(simulator):
    groups = {p.group for p in simulator.state.simulator.practice("A81001").patients.values()}
    big = create_simulator_app(
        SimulatorSettings(practices="A81001", patients_per_practice=2000, token=SIM_TOKEN)
    ).state.simulator
    patients = list(big.practice("A81001").patients.values())
    assert {"cohort", "no-opioid"} <= groups
    cohort = [p for p in patients if p.group == "cohort"]
    share = {
        g: sum(any(m.regimen.group == g for m in p.medications) for p in cohort) / len(cohort)
        for g in ("codeine", "morphine", "oxycodone", "buprenorphine", "tramadol", "benzodiazepine")
    }
    expected = {
        "codeine": 0.61,
        "morphine": 0.50,
        "oxycodone": 0.39,
        "buprenorphine": 0.22,
        "tramadol": 0.22,
        "benzodiazepine": 0.28,
    }
    for group, value in expected.items():
        assert abs(share[group] - value) < 0.07, group
    assert {p.group for p in patients} >= {"cancer", "palliative", "under-18"}
    assert all(p.nhs_number.startswith("999") for p in patients)
    under_18 = [p for p in patients if p.group == "under-18"]
    assert all((big.today - p.birth_date).days < 18 * 365.25 for p in under_18)
