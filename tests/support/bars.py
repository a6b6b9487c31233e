"""BaRS messages for tests: the real example adapted to our endpoint, and synthetic referrals."""

from __future__ import annotations

import copy
import json
import re
import uuid
from datetime import date
from typing import Any

from tests.fixtures import BARS_EXAMPLES
from tests.support.referral_records import CHRONIC_BACK_PAIN, monthly, patient

EXAMPLES = BARS_EXAMPLES
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def example(name: str = "ValidationRequest_POST.json") -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text())


def addressed_to(message: dict[str, Any], endpoint: str) -> dict[str, Any]:
    """The message with only its destination changed to ours (the one adaptation BaRS allows us)."""
    adapted = copy.deepcopy(message)
    adapted["entry"][0]["resource"]["destination"][0]["endpoint"] = endpoint
    return adapted


def fresh(message: dict[str, Any]) -> dict[str, Any]:
    """The same message as if sent again for another referral: every uuid (ids, fullUrls) renewed."""
    text = json.dumps(message)
    for old in set(UUID.findall(text)):
        text = text.replace(old, str(uuid.uuid4()))
    return json.loads(text)  # type: ignore[no-any-return]


def header(message: dict[str, Any]) -> dict[str, Any]:
    return message["entry"][0]["resource"]  # type: ignore[no-any-return]


def focus(message: dict[str, Any]) -> dict[str, Any]:
    url = header(message)["focus"][0]["reference"]
    return next(e["resource"] for e in message["entry"] if e["fullUrl"] == url)  # type: ignore[no-any-return]


def as_update(message: dict[str, Any], timestamp: str, **service_request: Any) -> dict[str, Any]:
    """A later message about the same referral: same fullUrls, a new Bundle id and timestamp."""
    update = copy.deepcopy(message)
    update["id"] = str(uuid.uuid4())
    update["timestamp"] = timestamp
    header(update)["reason"]["coding"][0]["code"] = "update"
    focus(update).update(service_request)
    return update


def eligible_referral(endpoint: str, serial: int = 7) -> dict[str, Any]:
    """A BaRS message referring an eligible patient: a year of monthly codeine, chronic back pain."""
    message = fresh(addressed_to(example(), endpoint))
    patient_url = focus(message)["subject"]["reference"]
    focus(message)["authoredOn"] = "2024-06-15"
    entries = []
    for resource in [*monthly(date(2023, 6, 1), 12, serial=serial), dict(CHRONIC_BACK_PAIN)]:
        resource = {k: v for k, v in resource.items() if k != "id"}
        resource["subject"] = {"reference": patient_url}
        entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": resource})
    message["entry"] += entries
    person = next(e["resource"] for e in message["entry"] if e["fullUrl"] == patient_url)
    person["identifier"] = patient(serial=serial)["identifier"]
    person["birthDate"] = "1971-03-09"
    return message
