"""/metrics: request series by route template and status, pools, dead letters, consumer lag."""

from __future__ import annotations

import asyncio
import gc
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import Engine

from shared.db import make_engine
from shared.observability import (
    record_consumer_lag,
    sample_jetstream_consumer_lag,
    watch_dead_letters,
    watch_engine_pool,
)
from shared.outbox import dead_letter
from shared.outbox import metadata as outbox_metadata
from tests.support.observability import PRACTICE, SERVICE, make_app

PATIENT = {
    "resourceType": "Patient",
    "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000018"}],
    "name": [{"family": "Nightingale", "given": ["Florence"]}],
}


def requests_total(route: str, status: str, method: str = "GET", service: str = SERVICE) -> float:
    labels = {"service": service, "method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("painreview_http_requests_total", labels) or 0.0


def latency_count(route: str, status: str, method: str = "GET", service: str = SERVICE) -> float:
    labels = {"service": service, "method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("painreview_http_request_duration_seconds_count", labels) or 0.0


def test_a_read_is_counted_and_timed_under_its_route_template(client: TestClient) -> None:
    created = client.post("/fhir/Patient", json=PATIENT)
    assert created.status_code == 201
    patient_id = created.json()["id"]
    before = requests_total("/fhir/Patient/{resource_id}", "200")
    timed_before = latency_count("/fhir/Patient/{resource_id}", "200")

    assert client.get(f"/fhir/Patient/{patient_id}").status_code == 200

    assert requests_total("/fhir/Patient/{resource_id}", "200") == before + 1
    assert latency_count("/fhir/Patient/{resource_id}", "200") == timed_before + 1
    assert requests_total("/fhir/Patient", "201", method="POST") >= 1


def test_metrics_page_is_open_and_shows_the_series_without_ids_or_patient_data(client: TestClient) -> None:
    patient_id = client.post("/fhir/Patient", json=PATIENT).json()["id"]
    client.get(f"/fhir/Patient/{patient_id}")

    page = TestClient(client.app).get("/metrics")  # no credentials at all

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain")
    text = page.text
    assert 'painreview_http_requests_total{method="GET",route="/fhir/Patient/{resource_id}"' in text
    assert "painreview_http_request_duration_seconds_bucket" in text
    assert patient_id not in text
    assert "9990000018" not in text and "Nightingale" not in text


def test_an_unknown_path_is_labelled_unmatched_not_by_its_raw_path(client: TestClient) -> None:
    before = requests_total("<unmatched>", "404")

    assert client.get("/no/such/place/9990000018").status_code == 404

    assert requests_total("<unmatched>", "404") == before + 1
    assert "9990000018" not in client.get("/metrics").text


def test_a_search_is_labelled_by_its_route_and_never_by_its_query(client: TestClient) -> None:
    before = requests_total("/fhir/Patient", "200")

    client.get("/fhir/Patient", params={"identifier": "9990000018"})

    assert requests_total("/fhir/Patient", "200") == before + 1


def test_a_service_mounted_in_the_embedded_app_keeps_its_own_labels(engine: Engine) -> None:
    outer = FastAPI()
    outer.mount("/mounted", make_app(engine, service="mounted-test"))
    client = TestClient(outer, headers=PRACTICE)
    metadata_before = requests_total("/fhir/metadata", "200", service="mounted-test")
    unmatched_before = requests_total("<unmatched>", "404", service="mounted-test")

    assert client.get("/mounted/fhir/metadata").status_code == 200
    assert client.get("/mounted/nowhere").status_code == 404

    assert requests_total("/fhir/metadata", "200", service="mounted-test") == metadata_before + 1
    assert requests_total("<unmatched>", "404", service="mounted-test") == unmatched_before + 1
    assert requests_total("/mounted", "404", service="mounted-test") == 0


def test_in_flight_requests_drain_to_zero(client: TestClient) -> None:
    client.get("/healthz")
    assert REGISTRY.get_sample_value("painreview_http_requests_in_flight", {"service": SERVICE}) == 0


def test_metrics_are_not_part_of_the_fhir_openapi_document(client: TestClient) -> None:
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def test_the_database_pool_of_each_service_is_reported(engine: Engine, client: TestClient) -> None:
    client.get("/readyz")
    size = REGISTRY.get_sample_value("painreview_db_pool_size", {"service": SERVICE})
    checked_out = REGISTRY.get_sample_value("painreview_db_pool_checked_out", {"service": SERVICE})
    assert size == engine.pool.size()  # type: ignore[attr-defined]
    assert checked_out == 0


def test_outstanding_dead_letters_are_counted_at_scrape_time(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'consumer.db'}")
    outbox_metadata.create_all(engine)
    watch_dead_letters("obs-consumer", engine)
    row = {
        "consumer": "careplan",
        "type": "referral.accepted.v1",
        "practice": "A81001",
        "payload": "{}",
        "error": "boom",
        "attempts": 5,
        "dead_lettered_at": datetime.now(UTC),
    }
    with engine.begin() as conn:
        conn.execute(dead_letter.insert(), [{**row, "event_id": "e1"}, {**row, "event_id": "e2"}])
        replayed = dead_letter.update().where(dead_letter.c.event_id == "e2")
        conn.execute(replayed.values(replayed_at=datetime.now(UTC)))

    labels = {"database": "obs-consumer"}
    assert REGISTRY.get_sample_value("painreview_events_dead_letters_outstanding", labels) == 1
    engine.dispose()


def test_a_database_without_the_dead_letter_table_gives_no_sample(engine: Engine) -> None:
    watch_dead_letters("obs-no-table", engine)
    labels = {"database": "obs-no-table"}
    assert REGISTRY.get_sample_value("painreview_events_dead_letters_outstanding", labels) is None


def test_jetstream_consumer_lag_is_recorded_per_durable_consumer() -> None:
    infos = [
        SimpleNamespace(name="careplan--referral_accepted_v1", num_pending=7, num_ack_pending=2),
        SimpleNamespace(name="medreview--taper_approved_v1", num_pending=None, num_ack_pending=None),
    ]

    class FakeJetStream:
        async def consumers_info(self, stream: str) -> list[SimpleNamespace]:
            assert stream == "PAINREVIEW"
            return infos

    asyncio.run(sample_jetstream_consumer_lag(FakeJetStream(), "PAINREVIEW"))

    lag = {"consumer": "careplan", "durable": "careplan--referral_accepted_v1"}
    assert REGISTRY.get_sample_value("painreview_events_consumer_lag", lag) == 7
    assert REGISTRY.get_sample_value("painreview_events_consumer_ack_pending", lag) == 2
    idle = {"consumer": "medreview", "durable": "medreview--taper_approved_v1"}
    assert REGISTRY.get_sample_value("painreview_events_consumer_lag", idle) == 0


def test_consumer_lag_can_be_recorded_by_any_transport() -> None:
    record_consumer_lag("gpconnect", "gpconnect--gp_task-requested_v1", 3)
    labels = {"consumer": "gpconnect", "durable": "gpconnect--gp_task-requested_v1"}
    assert REGISTRY.get_sample_value("painreview_events_consumer_lag", labels) == 3


def test_a_disposed_and_dropped_engine_leaves_the_pool_gauges(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'gone.db'}")
    watch_engine_pool("obs-gone", engine)
    assert REGISTRY.get_sample_value("painreview_db_pool_size", {"service": "obs-gone"}) is not None
    engine.dispose()
    del engine
    gc.collect()
    assert REGISTRY.get_sample_value("painreview_db_pool_size", {"service": "obs-gone"}) is None
