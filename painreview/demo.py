"""``pain-review demo [--url URL]``: the whole pathway against a running system, step by step.

GP refers (BaRS) -> eligible -> invited -> consents -> enrolled -> CareTeam and plan -> GP record read ->
review (OME, flags) -> taper plan -> GP approves step 1 in the simulator -> new prescription in the GP
record -> plan summary in the practice's MESH mailbox. Each step waits (with a deadline) for what the
services do by themselves through events, and says what it waited for when it is not there.

The embedded system serves every service under one URL (``<url>/referral/fhir``, ``<url>/gp-simulator``);
in production each runs alone with its FHIR API at ``<base>/fhir``: ``--services
referral=http://127.0.0.1:8001,careplan=...,gp-simulator=http://127.0.0.1:8005`` names those bases (a
service not named is looked for under ``--url``).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import httpx

from shared.fhir import NHS_NUMBER_SYSTEM, bundle_resources, format_instant, nhs_number_identifier

__all__ = ["SERVICE_NAMES", "DemoFailed", "demo", "mesh_of_running_system", "parse_services", "run_demo"]

FHIR = "application/fhir+json"
# What the demo calls: the four services' FHIR APIs and the GP practice simulator.
SERVICE_NAMES = ("referral", "careplan", "medreview", "gpconnect", "gp-simulator")
DEFAULT_MESH = "http://127.0.0.1:8700"  # where `pain-review up` starts mesh-sandbox unless told otherwise


class DemoFailed(RuntimeError):
    pass


def _params(**values: Any) -> dict[str, Any]:
    parts = []
    for name, value in values.items():
        key = {bool: "valueBoolean", str: "valueString"}.get(type(value), "valueString")
        if name in ("start", "date"):
            key = "valueDate"
        parts.append({"name": name, key: value})
    # R4 JSON has no empty arrays: Parameters without parameters leaves the element out.
    return {"resourceType": "Parameters", **({"parameter": parts} if parts else {})}


def _entries(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return list(bundle_resources(bundle))


def refusal(what: str, response: httpx.Response) -> str:
    """One line: what was refused, why (the OperationOutcome's diagnostics), and what to do."""
    try:
        why = str(response.json()["issue"][0].get("diagnostics") or response.json()["issue"][0]["code"])
    except (ValueError, KeyError, IndexError, TypeError):
        why = " ".join(response.text.split())[:200] or response.reason_phrase
    advice = {
        401: "run the demo in the folder `pain-review up` runs in (its var/ holds the key), or pass --token",
        403: "mint a token with --scope 'system/*.cruds' and pass it with --token",
        404: "check --url (the system `pain-review up` serves) or --services",
    }.get(response.status_code, "")
    line = f"{what} answered {response.status_code}: {why}"
    return f"{line}; {advice}" if advice else line


def mesh_of_running_system(url: str | None) -> str | None:
    """The MESH mailbox server the running embedded system sends documents to (its index says)."""
    if not url:
        return None
    try:
        index = httpx.get(f"{url.rstrip('/')}/", timeout=10).json()
    except (httpx.HTTPError, ValueError):
        return None
    mesh = index.get("mesh") if isinstance(index, dict) else None
    return str(mesh) if mesh else None


def parse_services(text: str | None) -> dict[str, str]:
    """``referral=http://h:8001,careplan=http://h:8002`` -> ``{"referral": "http://h:8001", ...}``."""
    found: dict[str, str] = {}
    for item in (text or "").replace(" ", ",").split(","):
        if not item:
            continue
        name, sep, base = item.partition("=")
        if not sep or not base.startswith(("http://", "https://")):
            raise ValueError(f"{item!r}: give service=http://host:port")
        if name not in SERVICE_NAMES:
            raise ValueError(f"{name!r} is not one of {', '.join(SERVICE_NAMES)}")
        found[name] = base.rstrip("/")
    return found


class Pathway:
    def __init__(
        self,
        url: str | None,
        token: str,
        practice: str,
        mesh_url: str,
        echo: Callable[[str], None],
        services: Mapping[str, str] | None = None,
        sim_token: str = "",
        prefer: str | None = None,
    ) -> None:
        self.url, self.practice, self.mesh_url, self.echo = (url or "").rstrip("/"), practice, mesh_url, echo
        self.services = {name: base.rstrip("/") for name, base in (services or {}).items()}
        self.http = httpx.Client(timeout=30, headers={"Authorization": f"Bearer {token}", "Accept": FHIR})
        # The GP practice simulator has a token of its own (GPSIM_TOKEN, or <var>/gp-simulator.token).
        self.gp = httpx.Client(timeout=30, headers={"Authorization": f"Bearer {sim_token}"})
        self.sim = f"{self.base('gp-simulator')}/practices/{practice}"
        self.facts: dict[str, Any] = {}
        self.prefer = prefer  # a medicine: a patient taking it alone is chosen when there is one
        self.bars_destination = os.environ.get(
            "REFERRAL_BARS_ENDPOINT", "https://fhir.nhs.uk/Id/dos-service-id|2000099999"
        )

    def base(self, service: str) -> str:
        """Where ``service`` is served: its own base URL when given, else under the embedded URL."""
        if service in self.services:
            return self.services[service]
        if not self.url:
            raise DemoFailed(f"no URL for {service}: give --url or --services {service}=http://...")
        return f"{self.url}/{service}"

    def address(self, path: str) -> str:
        """``referral/fhir/Task`` -> the URL of ``fhir/Task`` on the referral service."""
        service, _, rest = path.lstrip("/").partition("/")
        return f"{self.base(service)}/{rest}"

    def close(self) -> None:
        self.http.close()
        self.gp.close()

    def fhir(self, method: str, path: str, body: Any = None, **headers: str) -> httpx.Response:
        if body is not None:
            headers.setdefault("Content-Type", FHIR)
        response = self.http.request(method, self.address(path), json=body, headers=headers)
        if response.status_code >= 400:
            raise DemoFailed(refusal(f"{method} {path}", response))
        return response

    def wait(self, what: str, probe: Callable[[], Any], deadline_s: float = 120.0) -> Any:
        started = time.monotonic()
        while time.monotonic() - started < deadline_s:
            found = probe()
            if found:
                return found
            time.sleep(0.5)
        raise DemoFailed(f"waited {deadline_s:.0f} s for {what}")

    # ---- the steps --------------------------------------------------------------------------------
    def choose_patient(self) -> str:
        patients = self.gp.get(
            f"{self.sim}/patients", params={"group": "cohort", "limit": 200}, timeout=30
        ).json()
        # One the referral service does not hold yet, so that every run of the demo walks the pathway
        # anew (a patient referred before has a plan open).
        candidates = [p for p in patients if any(m["status"] == "active" for m in p["medications"])]
        if self.prefer:  # e.g. a regimen whose steps need two strengths
            alone = [
                p
                for p in candidates
                if {m["medicine"] for m in p["medications"] if m["status"] == "active"} == {self.prefer}
            ]
            candidates = alone + [p for p in candidates if p not in alone]
        patient = next((p for p in candidates if not self._referred(p["nhsNumber"])), None)
        if patient is None:
            raise DemoFailed(
                f"every cohort patient of practice {self.practice} has been referred already: start the"
                " system on an empty folder (pain-review up --var-dir <folder>) or pass another --practice"
            )
        self.facts["nhs"] = patient["nhsNumber"]
        self.facts["birthDate"], self.facts["gender"] = patient["birthDate"], patient["gender"]
        opioids = ", ".join(m["medicine"] for m in patient["medications"])
        return f"NHS number {patient['nhsNumber']} on {opioids}"

    def _referred(self, nhs: str) -> bool:
        found = self.fhir(
            "GET", f"referral/fhir/Patient?identifier={NHS_NUMBER_SYSTEM}|{nhs}&_summary=count"
        ).json()
        return bool(found.get("total"))

    def refer(self) -> str:
        nhs, sr_id, pat_id, header_id = (
            self.facts["nhs"],
            str(uuid.uuid4()),
            str(uuid.uuid4()),
            str(uuid.uuid4()),
        )
        now = format_instant(datetime.now(UTC))
        message = {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "type": "message",
            "timestamp": now,
            "entry": [
                {
                    "fullUrl": f"urn:uuid:{header_id}",
                    "resource": {
                        "resourceType": "MessageHeader",
                        "id": header_id,
                        "eventCoding": {
                            "system": "https://fhir.nhs.uk/CodeSystem/message-events-bars",
                            "code": "servicerequest-request",
                        },
                        "reason": {
                            "coding": [
                                {
                                    "system": "https://fhir.nhs.uk/CodeSystem/message-reason-bars",
                                    "code": "new",
                                }
                            ]
                        },
                        "source": {"endpoint": f"https://gp.example/{self.practice}", "name": self.practice},
                        "destination": [{"endpoint": self.bars_destination}],
                        "focus": [{"reference": f"urn:uuid:{sr_id}"}],
                    },
                },
                {
                    "fullUrl": f"urn:uuid:{sr_id}",
                    "resource": {
                        "resourceType": "ServiceRequest",
                        "id": sr_id,
                        "status": "active",
                        "intent": "order",
                        "subject": {"reference": f"urn:uuid:{pat_id}"},
                        "authoredOn": now,
                        "reasonCode": [{"text": "Chronic non-cancer pain, long-term opioids"}],
                    },
                },
                {
                    "fullUrl": f"urn:uuid:{pat_id}",
                    "resource": {
                        "resourceType": "Patient",
                        "id": pat_id,
                        "identifier": [nhs_number_identifier(nhs)],
                    },
                },
            ],
        }
        response = self.fhir(
            "POST", "referral/fhir/$process-message", message, **{"X-Request-Id": str(uuid.uuid4())}
        )
        self.facts["location"] = response.headers.get("Location", "")
        return f"answered {response.status_code} {self.facts['location']}"

    def _medicines(self, patient_id: str) -> list[dict[str, Any]]:
        """The GP record's medicines as the referral carries them (R4, urn:uuid references)."""
        from services.gpconnect.fhir_mapping import map_structured_record

        body = {
            "resourceType": "Parameters",
            "parameter": [
                {
                    "name": "patientNHSNumber",
                    "valueIdentifier": {"system": NHS_NUMBER_SYSTEM, "value": self.facts["nhs"]},
                }
            ],
        }
        record = self.gp.post(f"{self.sim}/Patient/$gpc.getstructuredrecord", json=body, timeout=30).json()
        patient = {
            "resourceType": "Patient",
            "id": patient_id,
            "identifier": [nhs_number_identifier(self.facts["nhs"])],
        }
        mapped = _entries(map_structured_record(record, patient=patient))[1:]
        ids = {f"{r['resourceType']}/{r['id']}": str(uuid.uuid4()) for r in mapped}
        text = json.dumps(mapped)
        for old, new in ids.items():
            text = text.replace(f'"{old}"', f'"urn:uuid:{new}"')
        text = text.replace(f'"Patient/{patient_id}"', f'"urn:uuid:{patient_id}"')
        resources = json.loads(text)
        entries = []
        for resource in resources:
            new_id = ids[f"{resource['resourceType']}/{resource['id']}"]
            entries.append({"fullUrl": f"urn:uuid:{new_id}", "resource": {**resource, "id": new_id}})
        return entries

    def referred_patient(self) -> str:
        """The id of the Patient the referral service holds for the NHS number referred; the demo stops
        when there is none (or more than one) rather than go on with someone else's Task."""
        nhs = self.facts["nhs"]
        found = _entries(
            self.fhir("GET", f"referral/fhir/Patient?identifier={NHS_NUMBER_SYSTEM}|{nhs}").json()
        )
        if len(found) != 1:
            raise DemoFailed(
                f"the referral service holds {len(found)} patients with NHS number {nhs}, where the"
                " referral it accepted should have stored one: the demo stops rather than go on with"
                " another patient's Task"
            )
        return str(found[0]["id"])

    def eligible(self) -> str:
        patient = self.referred_patient()

        def probe() -> Any:
            tasks = _entries(self.fhir("GET", f"referral/fhir/Task?patient=Patient/{patient}").json())
            for task in tasks:
                status = str((task.get("businessStatus") or {}).get("text") or "") + str(
                    task.get("businessStatus")
                )
                if "eligible" in status and "ineligible" not in status:
                    return task
                if "needs-review" in status:  # the project worker reviews it and finds it eligible
                    self.fhir(
                        "POST", f"referral/fhir/Task/{task['id']}/$transition", _params(status="eligible")
                    )
            return None

        task = self.wait("the referral Task to reach eligible", probe)
        self.facts["task"] = task["id"]
        self.facts["patient"] = str(task.get("for", {}).get("reference", "")).removeprefix("Patient/")
        return f"Task/{task['id']} eligible for Patient/{self.facts['patient']}"

    def invite(self) -> str:
        self.fhir("POST", f"referral/fhir/Task/{self.facts['task']}/$invite", _params())
        return "invitation letter sent"

    def consent(self) -> str:
        self.fhir("POST", f"referral/fhir/Task/{self.facts['task']}/$record-consent", _params(consented=True))
        return "consent recorded"

    def enrol(self) -> str:
        start = datetime.now(UTC).date().isoformat()
        self.fhir("POST", f"referral/fhir/Task/{self.facts['task']}/$enrol", _params(start=start))
        return f"enrolled from {start}"

    def _search(self, path: str) -> list[dict[str, Any]]:
        return _entries(self.fhir("GET", path).json())

    def care_team(self) -> str:
        pid = self.facts["patient"]
        team = self.wait(
            "careplan's CareTeam", lambda: self._search(f"careplan/fhir/CareTeam?patient=Patient/{pid}")
        )
        plans = self.wait(
            "careplan's draft plan", lambda: self._search(f"careplan/fhir/CarePlan?patient=Patient/{pid}")
        )
        self.facts["careplan"] = plans[0]["id"]
        return f"CareTeam/{team[0]['id']}, CarePlan/{plans[0]['id']} ({plans[0].get('status')})"

    def record_read(self) -> str:
        pid = self.facts["patient"]
        meds = self.wait(
            "medreview's medication list from the GP record (medication.list-synced)",
            lambda: self._search(f"medreview/fhir/MedicationRequest?patient=Patient/{pid}&_count=100"),
        )
        return f"{len(meds)} MedicationRequests from the GP record"

    def review(self) -> str:
        result = self.fhir(
            "POST", f"medreview/fhir/Patient/{self.facts['patient']}/$medication-review", _params()
        ).json()
        total: dict[str, Any] = next(
            (p.get("valueQuantity") for p in result.get("parameter", ()) if p["name"] == "totalDailyOME"), {}
        )
        issues = [p for p in result.get("parameter", ()) if p["name"] == "issue"]
        return f"total {total.get('value')} {total.get('unit', 'mg/d')} OME, {len(issues)} flag(s)"

    def taper(self) -> str:
        plan = self.fhir(
            "POST", f"medreview/fhir/Patient/{self.facts['patient']}/$propose-taper", _params()
        ).json()
        self.facts["taper"] = plan.get("id")
        return f"taper CarePlan/{plan.get('id')} with {len(plan.get('activity', ()))} steps"

    def activate_plan(self) -> str:
        path = f"careplan/fhir/CarePlan/{self.facts['careplan']}"
        agreed = format_instant(datetime.now(UTC))
        body = {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "patientAgreement", "valueDateTime": agreed},
                {"name": "projectWorkerAgreement", "valueDateTime": agreed},
                {"name": "sendSummary", "valueBoolean": True},
            ],
        }
        # The plan also changes under us (the taper's progress lands in it): on 412, read again and retry.
        for _attempt in range(5):
            version = self.fhir("GET", path).headers["etag"]
            response = self.http.post(
                self.address(f"{path}/$activate"),
                json=body,
                headers={"Content-Type": FHIR, "If-Match": version},
            )
            if response.status_code != 412:
                break
        if response.status_code >= 400:
            raise DemoFailed(f"POST {path}/$activate answered {response.status_code}: {response.text[:300]}")
        return "pain management plan agreed by patient and project worker (summary to the GP)"

    def approve(self) -> str:
        def probe() -> Any:
            inbox = self.gp.get(f"{self.sim}/inbox", timeout=30).json()
            return next((t for t in inbox if t["nhsNumber"] == self.facts["nhs"]), None)

        task = self.wait("the approval Task in the GP system's inbox", probe)
        self.gp.post(
            f"{self.sim}/inbox/{task['id']}/approve", json={"reason": "Agreed with the patient"}, timeout=30
        )
        return f"GP approved {task['id']}: {task['subject']}"

    def new_prescription(self) -> str:
        def probe() -> Any:
            meds = self.gp.get(f"{self.sim}/patients/{self.facts['nhs']}", timeout=30).json()["medications"]
            return next((m for m in meds if m["replaces"] and m["status"] == "active"), None)

        med = self.wait("the new prescription in the GP record", probe)
        # A step in several strengths is one order per strength (one change group): wait for all of them.
        plan = self.fhir("GET", f"medreview/fhir/CarePlan/{self.facts['taper']}").json()
        orders = len(next((a.get("outcomeReference") or [] for a in plan.get("activity", ())), []) or [1])

        def written() -> Any:
            meds = self.gp.get(f"{self.sim}/patients/{self.facts['nhs']}", timeout=30).json()["medications"]
            active = [m for m in meds if m["status"] == "active" and m["group"] == med["group"]]
            return meds if len(active) >= orders else None

        meds = self.wait(f"the step's {orders} prescription(s) in the GP record", written)
        active = [m for m in meds if m["status"] == "active" and m["group"] == med["group"]]
        sets = {m.get("changeGroup") or m["authorisationId"] for m in active}
        if len(sets) != 1 or len(active) != orders:  # the change must replace the GP's authorisation
            names = ", ".join(f"{m['authorisationId']} {m['medicine']}" for m in active)
            raise DemoFailed(f"{len(active)} active {med['group']} authorisations in the GP record: {names}")
        self.facts["active_per_opioid"] = {  # authorisation sets: one step's orders together are one
            group: len(
                {
                    m.get("changeGroup") or m["authorisationId"]
                    for m in meds
                    if m["status"] == "active" and m["group"] == group
                }
            )
            for group in {m["group"] for m in meds if m["status"] == "active"}
        }
        self.facts["step_orders"] = orders
        return "; ".join(
            f"{m['authorisationId']}: {m['medicine']}, {m['dosage']} (replaces {m['replaces']})"
            for m in active
        )

    def mesh_document(self) -> str:
        from mesh_client import MeshClient

        if not self.mesh_url:
            raise DemoFailed(
                "the running system has no MESH mailbox server (started with --no-mesh?): start it with"
                " mesh-sandbox (pain-review up) or pass --mesh-url http://host:port"
            )
        url = self.mesh_url

        def probe() -> Any:
            try:
                with MeshClient(url, "X26ABC2", "password", shared_key=b"TestKey", max_retries=0) as client:
                    for message_id in client.list_messages():
                        with client.retrieve_message(message_id) as message:
                            if message.workflow_id == "PAIN_REVIEW_PLAN_SUMMARY":
                                return f"{message.filename} ({message.subject})"
            except Exception as exc:  # mesh_client raises requests' errors and its own
                raise DemoFailed(
                    f"the MESH mailbox server at {url} did not answer ({type(exc).__name__}):"
                    " pass --mesh-url with the address `pain-review up` printed for mesh"
                ) from None
            return None

        return str(self.wait("the plan summary in MESH mailbox X26ABC2", probe))

    def steps(self) -> list[tuple[str, Callable[[], str]]]:
        return [
            ("patient chosen in the GP practice", self.choose_patient),
            ("GP refers (BaRS $process-message)", self.refer),
            ("referral eligible", self.eligible),
            ("invited", self.invite),
            ("consents", self.consent),
            ("enrolled", self.enrol),
            ("CareTeam and plan", self.care_team),
            ("medication record read from the GP system", self.record_read),
            ("review: OME and flags", self.review),
            ("taper plan proposed", self.taper),
            ("plan agreed", self.activate_plan),
            ("GP approves step 1 in the simulator", self.approve),
            ("new prescription in the GP record", self.new_prescription),
            ("plan summary in the MESH mailbox", self.mesh_document),
        ]


def _token(var_dir: Path, practice: str) -> str:
    from shared.auth import AuthSettings, mint_local_token

    return mint_local_token(AuthSettings(var_dir=var_dir), practice=practice, scope="system/*.cruds")


def run_demo(
    url: str | None,
    *,
    token: str,
    practice: str = "A81001",
    mesh_url: str = "http://127.0.0.1:8700",
    echo: Callable[[str], None] = print,
    services: Mapping[str, str] | None = None,
    sim_token: str | None = None,
    prefer: str | None = None,
) -> dict[str, Any]:
    """Run every step; raises :class:`DemoFailed` naming the step and what it waited for.

    ``url``: the embedded system (every service under ``<url>/<service>``); ``services``: service name ->
    base URL of a service served alone (production), which wins over ``url`` for that service;
    ``sim_token``: the GP practice simulator's own token (default ``GPSIM_TOKEN``); ``prefer``: a medicine
    (its name in the GP record): a patient taking it and nothing else is chosen when there is one.
    """
    sim = sim_token or os.environ.get("GPSIM_TOKEN", "")
    pathway = Pathway(url, token, practice, mesh_url, echo, services, sim_token=sim, prefer=prefer)
    try:
        steps = pathway.steps()
        for n, (title, step) in enumerate(steps, start=1):
            started = time.monotonic()
            echo(f"[{n:>2}/{len(steps)}] {title} ...")
            try:
                detail = step()
            except DemoFailed as exc:
                raise DemoFailed(f"step {n} ({title}): {exc}") from None
            except httpx.HTTPError as exc:
                where = exc.request.url if isinstance(exc, httpx.RequestError) else "the system"
                raise DemoFailed(
                    f"step {n} ({title}): nothing answered at {where} ({type(exc).__name__}): start the"
                    " system (pain-review up) or pass --url / --services with where it runs"
                ) from None
            echo(f"        ok in {time.monotonic() - started:.1f} s: {detail}")
        return pathway.facts
    finally:
        pathway.close()


@click.command("demo")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="The running system.")
@click.option(
    "--services",
    envvar="PAINREVIEW_DEMO_SERVICES",
    default=None,
    help="Services served alone (production): referral=http://127.0.0.1:8001,careplan=...,"
    "gp-simulator=http://127.0.0.1:8005; the others are looked for under --url.",
)
@click.option("--practice", default="A81001", show_default=True)
@click.option(
    "--mesh-url",
    default=lambda: os.environ.get("GPCONNECT_MESH_URL", ""),
    help="The MESH mailbox server (default: the one the running system at --url names, else :8700).",
)
@click.option(
    "--token", envvar="PAINREVIEW_TOKEN", default=None, help="Bearer token (default: minted locally)."
)
@click.option(
    "--var-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="PAINREVIEW_VAR_DIR",
    default=Path("var"),
    show_default=True,
)
@click.option(
    "--sim-token",
    envvar="GPSIM_TOKEN",
    default=None,
    help="The GP simulator's token (default: <var-dir>/gp-simulator.token, as `pain-review up` keeps it).",
)
def demo(
    url: str,
    services: str | None,
    practice: str,
    mesh_url: str,
    token: str | None,
    var_dir: Path,
    sim_token: str | None,
) -> None:
    """Run the whole pathway against the running system, printing each step."""
    try:
        bases = parse_services(services)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--services") from None
    if not mesh_url:
        mesh_url = mesh_of_running_system(None if "gpconnect" in bases else url) or DEFAULT_MESH
        click.echo(f"MESH mailbox server: {mesh_url} (another: --mesh-url)")
    try:
        run_demo(
            url,
            token=token or _token(var_dir, practice),
            practice=practice,
            mesh_url=mesh_url,
            echo=click.echo,
            services=bases,
            sim_token=sim_token or _simulator_token(var_dir),
        )
    except DemoFailed as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("the whole pathway ran end to end")


def _simulator_token(var_dir: Path) -> str:
    from painreview.simulator_app import TOKEN_FILE

    path = var_dir / TOKEN_FILE
    return path.read_text(encoding="utf-8").strip() if path.exists() else ""
