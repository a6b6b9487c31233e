"""``$screen`` holds no database transaction while the client streams its (possibly large) input in:
the input is read and screened in the operation's ``prepare`` step, before the kernel's transaction
(which only records the AuditEvent) opens."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from sqlalchemy import event


def test_no_transaction_is_open_while_the_input_streams_in(referral: Any) -> None:
    engine = referral.system.services["referral"].engine
    open_now = 0
    seen: list[int] = []

    def began(_conn: Any) -> None:
        nonlocal open_now
        open_now += 1

    def ended(_conn: Any) -> None:
        nonlocal open_now
        open_now -= 1

    def body() -> Iterator[bytes]:
        for n in range(20):
            seen.append(open_now)  # asked for the next chunk: is a transaction open meanwhile?
            patient = {"resourceType": "Patient", "id": f"p{n}", "birthDate": "1970-01-01"}
            yield orjson.dumps(patient) + b"\n"

    hooks = (("begin", began), ("commit", ended), ("rollback", ended))
    for name, hook in hooks:
        event.listen(engine, name, hook)
    try:
        headers = {**referral.headers(), "content-type": "application/fhir+ndjson"}
        response = referral.client.post("/referral/fhir/$screen", content=body(), headers=headers)
    finally:
        for name, hook in hooks:
            event.remove(engine, name, hook)
    assert response.status_code == 200, response.text
    assert len(seen) == 20
    assert set(seen) == {0}, seen
