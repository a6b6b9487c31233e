"""``pain-review demo`` finds the referral Task of the patient it referred, and only theirs: by the
patient's NHS number (``Patient?identifier=``), then ``Task?patient=Patient/<id>``. It looked Tasks up with
``Task?patient:identifier=...``, which the server silently answered with nothing, and fell back to the
latest Tasks of anyone: the demo went on to enrol another patient. A patient not found now stops it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from painreview.demo import DemoFailed, Pathway
from painreview.embedded import EmbeddedSystem
from tests.support.referral_records import nhs_number_for


class _Authed:
    """The embedded app's test client, sending the demo's bearer token (as the demo's own client does)."""

    def __init__(self, client: TestClient, token: str, sent: list[str]) -> None:
        self.client, self.token, self.sent = client, token, sent

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.token}", "accept": "application/fhir+json"}
        headers.update(kwargs.pop("headers", None) or {})
        self.sent.append(url)
        return self.client.request(method, url, headers=headers, **kwargs)


def _pathway(embedded: tuple[EmbeddedSystem, TestClient, str], sent: list[str]) -> Pathway:
    _system, client, token = embedded
    pathway = Pathway("http://testserver", token, "A81001", "http://mesh.invalid", echo=lambda _line: None)
    pathway.http = _Authed(client, token, sent)  # type: ignore[assignment]

    def wait(what: str, probe: Any, deadline_s: float = 0.0) -> Any:  # a few probes, no sleeping
        for _ in range(5):
            if found := probe():
                return found
        raise DemoFailed(f"waited for {what}")

    pathway.wait = wait  # type: ignore[method-assign]
    return pathway


def test_the_demo_takes_the_task_of_the_patient_it_referred(
    embedded: tuple[EmbeddedSystem, TestClient, str],
) -> None:
    sent: list[str] = []
    pathway = _pathway(embedded, sent)
    first, second = nhs_number_for(4101), nhs_number_for(4102)
    for nhs in (first, second):  # the second referral's Task is the latest
        pathway.facts["nhs"] = nhs
        pathway.refer()
    pathway.facts["nhs"] = first
    pathway.eligible()
    patient = pathway.fhir("GET", f"referral/fhir/Patient/{pathway.facts['patient']}").json()
    assert [i["value"] for i in patient["identifier"] if i["system"].endswith("nhs-number")] == [first]
    searches = [url for url in sent if "?" in url]
    assert all(":" not in url.split("?", 1)[1].split("=", 1)[0] for url in searches)  # no modifiers


def test_the_demo_stops_when_the_referred_patient_is_not_found(
    embedded: tuple[EmbeddedSystem, TestClient, str],
) -> None:
    pathway = _pathway(embedded, [])
    pathway.facts["nhs"] = nhs_number_for(4103)  # never referred
    with pytest.raises(DemoFailed, match=nhs_number_for(4103)):
        pathway.eligible()
