"""Invitation letters: the practice adapts its template, wording that upset patients is refused with
every offending phrase listed, and each letter is readable as text and as PDF."""

from __future__ import annotations

from typing import Any

from shared.auth import mint_local_token
from tests.support.bars import eligible_referral
from tests.support.referral import Referral

TEMPLATE_OP = "Communication/$invitation-template"


def template_params(template: str, **details: str) -> dict[str, Any]:
    parameter = [{"name": "template", "valueString": template}]
    parameter += [{"name": name, "valueString": value} for name, value in details.items()]
    return {"resourceType": "Parameters", "parameter": parameter}


def values(parameters: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["valueString"] for p in parameters["parameter"]}


def invited(referral: Referral) -> dict[str, Any]:
    location = referral.post("$process-message", eligible_referral(referral.endpoint)).headers["location"]
    task = referral.task_for(location.rsplit("/", 1)[1])
    response = referral.post(f"Task/{task['id']}/$invite", {"resourceType": "Parameters"})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_practice_without_a_template_of_its_own_sees_the_default_letter(referral: Referral) -> None:
    held = values(referral.get(TEMPLATE_OP).json())
    assert "Taking part is your choice" in held["template"]
    assert held["practiceName"] == f"Your GP practice ({referral.practice})"


def test_a_template_with_offending_wording_is_refused_with_one_issue_per_phrase(referral: Referral) -> None:
    template = (
        "Dear $patient_name,\n\nWe help people with opioid addiction. If you do not attend we will stop your "
        "prescription. Our partner Battle Against Tranquillisers runs groups.\n\n$gp_name"
    )
    response = referral.post(TEMPLATE_OP, template_params(template))
    assert response.status_code == 422
    issues = response.json()["issue"]
    assert len(issues) == 4
    assert all(i["details"]["coding"][0]["code"] == "REC_UNPROCESSABLE_ENTITY" for i in issues)
    quoted = [i["diagnostics"].split("'")[1].lower() for i in issues]
    assert quoted == [
        "addiction",
        "if you do not attend",
        "stop your prescription",
        "battle against tranquillisers",
    ]
    assert "Taking part" in values(referral.get(TEMPLATE_OP).json())["template"]  # nothing stored


def test_offending_wording_in_the_practice_details_is_refused_too(referral: Referral) -> None:
    response = referral.post(
        TEMPLATE_OP, template_params("Dear $patient_name", projectWorkerName="the addict team")
    )
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == ["project_worker_name"]


def test_a_template_using_a_placeholder_nobody_fills_is_refused(referral: Referral) -> None:
    response = referral.post(TEMPLATE_OP, template_params("Dear $patient_name, see you on $appointment_day"))
    assert response.status_code == 422
    assert "appointment_day" in response.json()["issue"][0]["diagnostics"]


def test_an_adapted_template_is_stored_and_the_next_letter_uses_it(referral: Referral) -> None:
    template = "Dear $patient_name,\n\n$practice_name would like to offer you support with pain.\n\n$gp_name"
    stored = referral.post(
        TEMPLATE_OP, template_params(template, practiceName="Riverside Surgery", gpName="Dr Shah")
    )
    assert stored.status_code == 200, stored.text
    assert values(stored.json())["practiceName"] == "Riverside Surgery"
    letter = invited(referral)
    assert letter["payload"][0]["contentString"] == (
        "Dear Mrs Julie Jones,\n\nRiverside Surgery would like to offer you support with pain.\n\nDr Shah"
    )
    assert letter["sender"] == {
        "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": referral.practice},
        "display": "Riverside Surgery",
    }


def test_changing_the_template_needs_the_update_scope(referral: Referral) -> None:
    token = referral.token(scope="system/Communication.rs")
    response = referral.client.post(
        f"/referral/fhir/{TEMPLATE_OP}",
        json=template_params("Dear $patient_name"),
        headers={"authorization": f"Bearer {token}"},
    )
    assert response.status_code == 403


def test_the_letter_is_rendered_as_pdf_and_as_text(referral: Referral) -> None:
    letter = invited(referral)
    pdf = referral.client.get(
        f"/referral/fhir/Communication/{letter['id']}/$letter", headers=referral.headers()
    )
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    text = referral.client.get(
        f"/referral/fhir/Communication/{letter['id']}/$letter",
        params={"_format": "text"},
        headers=referral.headers(),
    )
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text == letter["payload"][0]["contentString"]


def test_another_practice_cannot_read_the_letter(referral: Referral) -> None:
    letter = invited(referral)
    stranger = referral.token(practice="Z99999")
    response = referral.client.get(
        f"/referral/fhir/Communication/{letter['id']}/$letter",
        headers={"authorization": f"Bearer {stranger}"},
    )
    assert response.status_code == 404


def test_a_project_worker_adapts_the_template_of_a_practice_they_work_for_and_no_other(
    referral: Referral,
) -> None:
    worker = mint_local_token(
        referral.system.auth,
        practice="Y01234",
        scope="system/*.cruds",
        role="project-worker",
        practices=[referral.practice],
    )
    headers = {"authorization": f"Bearer {worker}"}
    url = f"/referral/fhir/{TEMPLATE_OP}"
    body = template_params("Dear $patient_name,\n\n$practice_name", practiceName="Hillside Practice")
    stored = referral.client.post(url, params={"practice": referral.practice}, json=body, headers=headers)
    assert stored.status_code == 200, stored.text
    assert values(referral.get(TEMPLATE_OP).json())["practiceName"] == "Hillside Practice"
    refused = referral.client.post(url, params={"practice": "Z99999"}, json=body, headers=headers)
    assert refused.status_code == 403
