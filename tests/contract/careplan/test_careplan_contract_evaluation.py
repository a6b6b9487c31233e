"""The service evaluation over the API: the paper's cohort shape (34 enrolled patients, interventions in
the paper's proportions) gives the paper's percentages in the MeasureReport, to the whole percent."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from xml.etree import ElementTree

from services.careplan.domain.catalogue import interventions
from shared.contracts import (
    MEDREVIEW_COMPLETED_V1,
    PATIENT_DISCHARGED_V1,
    PATIENT_ENROLLED_V1,
    PATIENT_INVITED_V1,
    REFERRAL_ACCEPTED_V1,
    REFERRAL_RECEIVED_V1,
)
from shared.fhir import validate_resource
from tests.support import eventually
from tests.support.careplan import Careplan, community_referral, enrolment
from tests.support.careplan_cohort import COHORT_SIZE, PAPER_PERCENT, received_by

REFERRED, ELIGIBLE, INVITED = 45, 42, 40


def _referral(n: int) -> dict[str, Any]:
    request = {
        "resourceType": "ServiceRequest",
        "id": f"referral-{n}",
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/ev{n}"},
        "authoredOn": "2017-08-15",
    }
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"ServiceRequest/referral-{n}", "resource": request}],
    }


def _ome(patient: str, n: int, when: str, mg: int) -> dict[str, Any]:
    observation = {
        "resourceType": "Observation",
        "id": f"ome-{patient}-{n}",
        "status": "final",
        "code": {"text": "Total daily oral morphine equivalent"},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": when,
        "valueQuantity": {"value": mg, "unit": "mg/d", "system": "http://unitsofmeasure.org", "code": "mg/d"},
    }
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"Observation/{observation['id']}", "resource": observation}],
    }


def _seed_cohort(careplan: Careplan) -> None:
    for n in range(REFERRED):
        careplan.publish("referral", REFERRAL_RECEIVED_V1, f"ServiceRequest/referral-{n}", _referral(n))
    for n in range(INVITED):
        letter = {
            "resourceType": "Communication",
            "id": f"invite-{n}",
            "status": "completed",
            "subject": {"reference": f"Patient/ev{n}"},
            "sent": "2017-08-20T09:00:00Z",
            "payload": [{"contentString": "An invitation from your GP practice"}],
        }
        careplan.publish("referral", PATIENT_INVITED_V1, f"Communication/invite-{n}", letter)
    for n in range(ELIGIBLE):
        careplan.publish("referral", REFERRAL_ACCEPTED_V1, f"ServiceRequest/referral-{n}", _referral(n))
    for n in range(COHORT_SIZE):
        start = f"2017-{9 + n % 4:02d}-{1 + n % 28:02d}"
        bundle = enrolment(f"ev{n}", f"ep-ev{n}", start=start)
        # each enrolment carries the patient's Consent: dated at enrolment, but ev33's before the period
        for entry in bundle["entry"]:
            if entry["resource"]["resourceType"] == "Consent" and n == COHORT_SIZE - 1:
                entry["resource"]["dateTime"] = "2017-07-20"
        careplan.publish("referral", PATIENT_ENROLLED_V1, f"EpisodeOfCare/ep-ev{n}", bundle)
    # Two patients left early.
    for n in (0, 1):
        finished = {
            "resourceType": "EpisodeOfCare",
            "id": f"ep-ev{n}",
            "status": "finished",
            "patient": {"reference": f"Patient/ev{n}"},
            "period": {"start": "2017-09-01", "end": "2018-02-01"},
        }
        careplan.publish("referral", PATIENT_DISCHARGED_V1, f"EpisodeOfCare/ep-ev{n}", finished)
    # Medication reviews (enrolments: ev2 2017-11-03, ev3 2017-12-04, ev4 2017-09-05):
    # ev2 120 at baseline (2017-11-10), 90 at 6 months (day 182 is 2018-05-04; review 2018-05-01);
    # ev3 60 at baseline (2017-12-04), 40 at 6 months (day 182 is 2018-06-04; review 2018-06-10);
    # ev4 200 at baseline (2017-09-10) and nothing after.
    series = {
        "ev2": [("2017-11-10", 120), ("2018-05-01", 90)],
        "ev3": [("2017-12-04", 60), ("2018-06-10", 40)],
        "ev4": [("2017-09-10", 200)],
    }
    for patient, reviews in series.items():
        for i, (day, mg) in enumerate(reviews):
            careplan.publish(
                "medreview",
                MEDREVIEW_COMPLETED_V1,
                f"Observation/ome-{patient}-{i}",
                _ome(patient, i, f"{day}T10:00:00Z", mg),
            )


def _plans(careplan: Careplan) -> list[dict[str, Any]] | None:
    plans = careplan.search("CarePlan", _count=100)
    enrolled = [p for p in plans if p["subject"]["reference"].startswith("Patient/ev")]
    discharged = [p for p in enrolled if p["status"] == "revoked"]
    return enrolled if len(enrolled) == COHORT_SIZE and len(discharged) == 2 else None


def test_the_papers_cohort_shape_reproduces_its_percentages_in_the_measure_report(careplan: Careplan) -> None:
    _seed_cohort(careplan)
    plans = eventually(lambda: _plans(careplan), within=20)
    catalogue = interventions()
    for plan in plans:
        index = int(plan["subject"]["reference"].removeprefix("Patient/ev"))
        received = received_by(index)
        within = [c for c in received if catalogue[c].setting == "within-session"]
        activities = [
            {
                "id": code,
                "detail": {
                    "code": catalogue[code].concept(),
                    "status": "completed" if i % 2 else "in-progress",
                },
            }
            for i, code in enumerate(within)
        ]
        activities.append(
            {
                "id": "goal-setting",
                "detail": {"code": catalogue["goal-setting"].concept(), "status": "not-started"},
            }
        )
        etag = f'W/"{plan["meta"]["versionId"]}"'
        edited = careplan.put(
            f"/CarePlan/{plan['id']}", {**plan, "activity": activities}, **{"if-match": etag}
        )
        assert edited.status_code == 200, edited.text
        for code in (c for c in received if catalogue[c].setting == "community"):
            made = careplan.post(
                "/ServiceRequest", community_referral(f"ev{index}", code, "50.00", progress="started")
            )
            assert made.status_code == 201, made.text
    eventually(lambda: _reviews_seen(careplan), within=10)

    response = careplan.get(
        "/Measure/service-evaluation/$evaluate-measure", periodStart="2017-08-01", periodEnd="2018-08-31"
    )
    assert response.status_code == 200
    report = response.json()
    validate_resource(report, "MeasureReport")
    groups = {g["code"]["coding"][0]["code"]: g for g in report["group"]}
    recruitment = _counts(groups["recruitment"])
    assert (recruitment["referred"], recruitment["invited"]) == (REFERRED, INVITED)
    assert (recruitment["enrolled"], recruitment["retained"]) == (COHORT_SIZE, COHORT_SIZE - 2)
    assert recruitment["discharged"] == 2
    # 42 referrals accepted; 33 consents dated in the period (ev33's was 2017-07-20)
    assert (recruitment["eligible"], recruitment["consented"]) == (ELIGIBLE, COHORT_SIZE - 1)
    by_code = {
        s["value"]["coding"][0]["code"]: s for s in groups["intervention-share"]["stratifier"][0]["stratum"]
    }
    reproduced = {}
    for code in PAPER_PERCENT:
        counts = {p["code"]["coding"][0]["code"]: p["count"] for p in by_code[code]["population"]}
        exact = Decimal(100 * counts["numerator"]) / counts["denominator"]
        reproduced[code] = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
        assert round(by_code[code]["measureScore"]["value"]) == reproduced[code]
    assert reproduced == PAPER_PERCENT
    assert by_code["goal-setting"]["population"][2]["count"] == 0  # planned, not yet received
    # baseline: ev2 120, ev3 60, ev4 200 -> mean 380 / 3 = 126.7, median 120; 31 others have no reading
    baseline = groups["ome-baseline"]
    assert baseline["measureScore"]["value"] == 126.7
    assert _counts(baseline)["measure-population"] == 3 and _counts(baseline)["no-reading-in-window"] == 31
    # 6 months: ev2 90 - 120 = -30, ev3 40 - 60 = -20 -> mean -25.0; falls 25% and 33.3%: both >= 15%
    change = groups["ome-change-6-months"]
    assert change["measureScore"]["value"] == -25.0 and _counts(change)["measure-population"] == 2
    strata = groups["ome-reduction-6-months"]["stratifier"][0]["stratum"]
    assert [s["population"][1]["count"] for s in strata] == [2, 0, 0]

    before = careplan.get(
        "/Measure/service-evaluation/$evaluate-measure", periodStart="2016-01-01", periodEnd="2016-12-31"
    ).json()
    assert _counts(before["group"][0])["enrolled"] == 0
    mine = careplan.get(
        "/Measure/service-evaluation/$evaluate-measure",
        periodStart="2017-08-01",
        periodEnd="2018-08-31",
        practice="A81001",
    )
    assert mine.status_code == 200 and _counts(mine.json()["group"][0])["enrolled"] == COHORT_SIZE
    assert mine.json()["reporter"]["identifier"]["value"] == "A81001"
    elsewhere = careplan.get(
        "/Measure/service-evaluation/$evaluate-measure",
        periodStart="2017-08-01",
        periodEnd="2018-08-31",
        practice="B82002",
    )
    assert elsewhere.status_code == 403

    chart = careplan.get(
        "/Measure/service-evaluation/$evaluate-measure",
        periodStart="2017-08-01",
        periodEnd="2018-08-31",
        _format="svg",
    )
    assert chart.headers["content-type"].startswith("image/svg+xml")
    root = ElementTree.fromstring(chart.text)
    texts = " ".join("".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert all(f"{percent}% (" in texts for percent in PAPER_PERCENT.values())
    png = careplan.get(
        "/Measure/service-evaluation/$evaluate-measure",
        periodStart="2017-08-01",
        periodEnd="2018-08-31",
        _format="png",
    )
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    page = careplan.get(
        "/Measure/service-evaluation/$evaluate-measure",
        periodStart="2017-08-01",
        periodEnd="2018-08-31",
        _format="html",
        practice="A81001",
    )
    assert page.headers["content-type"].startswith("text/html")
    assert "<svg" in page.text and "(practice A81001)" in page.text and "126.7 mg/d" in page.text


def _counts(group: dict[str, Any]) -> dict[str, int]:
    return {p["code"]["coding"][0]["code"]: p["count"] for p in group.get("population", [])}


def _reviews_seen(careplan: Careplan) -> bool:
    report = careplan.get(
        "/Measure/service-evaluation/$evaluate-measure", periodStart="2017-08-01", periodEnd="2018-08-31"
    ).json()
    groups = {g["code"]["coding"][0]["code"]: g for g in report["group"]}
    return _counts(groups["ome-6-months"])["measure-population"] == 2


def test_evaluate_measure_needs_a_period_and_only_knows_the_service_evaluation(careplan: Careplan) -> None:
    assert careplan.get("/Measure/service-evaluation/$evaluate-measure").status_code == 400
    assert (
        careplan.get(
            "/Measure/service-evaluation/$evaluate-measure", periodStart="2018-13-01", periodEnd="2018-12-31"
        ).status_code
        == 400
    )
    assert (
        careplan.get(
            "/Measure/nope/$evaluate-measure", periodStart="2018-01-01", periodEnd="2018-12-31"
        ).status_code
        == 404
    )


def test_acceptability_answers_outside_1_to_5_are_refused_and_the_questionnaire_is_published(
    careplan: Careplan,
) -> None:
    questionnaire = careplan.get("/Questionnaire/pain-review-acceptability")
    assert questionnaire.status_code == 200
    assert len(questionnaire.json()["item"]) == 7

    def answered(score: int) -> dict[str, Any]:
        return {
            "resourceType": "QuestionnaireResponse",
            "status": "completed",
            "questionnaire": "https://pain-review.example.org/fhir/Questionnaire/pain-review-acceptability",
            "subject": {"reference": "Patient/acc1"},
            "authored": "2024-05-01T10:00:00Z",
            "item": [{"linkId": "burden", "answer": [{"valueInteger": score}]}],
        }

    refused = careplan.post("/QuestionnaireResponse", answered(6))
    assert refused.status_code == 422 and "Burden is answered 1" in refused.text
    assert careplan.post("/QuestionnaireResponse", answered(2)).status_code == 201
