"""Who is calling: the verified identity the FHIR kernel filters every read and write by."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

Interaction = Literal["c", "r", "u", "d", "s"]
INTERACTIONS: tuple[Interaction, ...] = ("c", "r", "u", "d", "s")

# Roles: a GP practice system acts for its own practice, and so does a prescriber there (a clinician
# who may sign prescriptions); service staff (project workers, specialists) act for the practices they
# are assigned to; auditors read AuditEvent; "service" is another service of ours (event consumers),
# never a client of the public API.
Role = Literal["gp-system", "prescriber", "project-worker", "specialist", "auditor", "service"]

STAFF_ROLES: frozenset[str] = frozenset({"project-worker", "specialist"})

_ALL: frozenset[Interaction] = frozenset(INTERACTIONS)
_READ: frozenset[Interaction] = frozenset({"r", "s"})
_NONE: frozenset[Interaction] = frozenset()

ROLE_ACCESS: dict[str, dict[str, frozenset[Interaction]]] = {
    # role:           {resource type ("*": any other): interactions the role may ever do}
    "gp-system": {"*": _ALL, "AuditEvent": _NONE},
    "prescriber": {"*": _ALL, "AuditEvent": _NONE},
    "project-worker": {"*": _ALL, "AuditEvent": _NONE},
    "specialist": {"*": _ALL, "AuditEvent": _NONE},
    "auditor": {"AuditEvent": _READ, "Provenance": _READ},
    "service": {"*": _ALL, "AuditEvent": _NONE},
}
"""Least privilege, role by role: the most a role may do, whatever its token's scopes (which narrow it
further). The auditor reads the audit trail and the Provenance of writes it names (who wrote which
version, when, for which practice), nothing else, and writes nothing. The one place roles are enforced:
``Principal.refusal`` reads it for every route, operation and resource a response contains. Operations
are checked as the interaction on the type their scope names (``$screen`` is a ``Patient`` search)."""


def role_permits(role: str, resource_type: str, interaction: Interaction) -> bool:
    access = ROLE_ACCESS.get(role, {})
    return interaction in access.get(resource_type, access.get("*", _NONE))


UNAUTHENTICATED_TENANT = "#unauthenticated"
"""Where refused authentications are audited: not an ODS code, so no caller ever acts for it; only
auditors' tenancy includes it (the only resources filed under it are AuditEvents)."""


class Tenancy(frozenset[str]):
    """The tenants (practice ODS codes) a caller may see, and how much of them.

    ``enrolled_only`` (service staff): of the resources that belong to a patient, only those of patients
    enrolled, and not discharged, with one of the tenants; resources without a patient (Organization,
    PlanDefinition, CodeSystem...) stay visible by practice. Set operations keep the flag, so a derived set
    of tenants (``tenants | {SHARED_TENANT}``) never widens what a staff caller sees; ``frozenset(t)`` does
    not, so code that copies tenants must use ``Tenancy.of``. The store and the repositories take only a
    Tenancy (typed, and checked where the filter starts: a plain set is a ``TypeError``, not whole-practice).
    """

    __slots__ = ("enrolled_only",)
    enrolled_only: bool

    def __new__(cls, practices: Iterable[str] = (), *, enrolled_only: bool = False) -> Tenancy:
        tenancy = super().__new__(cls, practices)
        tenancy.enrolled_only = enrolled_only
        return tenancy

    @classmethod
    def of(cls, tenants: Iterable[str], *extra: str) -> Tenancy:
        """``tenants`` (a Tenancy keeps its flag; any other collection is whole-practice) plus ``extra``."""
        return cls([*tenants, *extra], enrolled_only=bool(getattr(tenants, "enrolled_only", False)))

    def __repr__(self) -> str:
        return f"Tenancy({sorted(self)!r}, enrolled_only={self.enrolled_only})"

    def __reduce__(self) -> tuple[object, ...]:
        return (_tenancy, (tuple(self), self.enrolled_only))

    def _same(self, practices: Iterable[str]) -> Tenancy:
        return Tenancy(practices, enrolled_only=self.enrolled_only)

    def __or__(self, other: object) -> Tenancy:
        return self._same(frozenset.__or__(self, other))  # type: ignore[operator]

    __ror__ = __or__

    def __and__(self, other: object) -> Tenancy:
        return self._same(frozenset.__and__(self, other))  # type: ignore[operator]

    __rand__ = __and__

    def __sub__(self, other: object) -> Tenancy:
        return self._same(frozenset.__sub__(self, other))  # type: ignore[operator]

    def union(self, *others: Iterable[object]) -> Tenancy:
        return self._same(frozenset.union(self, *others))  # type: ignore[arg-type]

    def intersection(self, *others: Iterable[object]) -> Tenancy:
        return self._same(frozenset.intersection(self, *others))

    def difference(self, *others: Iterable[object]) -> Tenancy:
        return self._same(frozenset.difference(self, *others))

    def copy(self) -> Tenancy:
        return self._same(self)


def _tenancy(practices: tuple[str, ...], enrolled_only: bool) -> Tenancy:
    return Tenancy(practices, enrolled_only=enrolled_only)


_V2 = re.compile(r"^(system|user|patient)/(\*|[A-Z][A-Za-z]+)\.([cruds]+)$")
_V1 = re.compile(r"^(system|user|patient)/(\*|[A-Z][A-Za-z]+)\.(read|write|\*)$")
_V1_EXPANSION = {"read": "rs", "write": "cud", "*": "cruds"}


@dataclass(frozen=True)
class Scope:
    """One SMART scope, e.g. ``system/Patient.rs`` (v2) or ``system/Patient.read`` (v1)."""

    resource_type: str  # "*" for every type
    interactions: frozenset[Interaction]

    @classmethod
    def parse(cls, text: str) -> Scope | None:
        """Parse one scope; ``None`` for scopes that grant nothing here (e.g. ``launch``)."""
        text = text.split("?", 1)[0]  # v2 granular constraints are not supported: ignore them
        if match := _V2.match(text):
            letters = match.group(3)
            if list(letters) != sorted(set(letters), key="cruds".index):
                return None  # v2 requires c,r,u,d,s in order, no repeats
            return cls(match.group(2), frozenset(letters))  # type: ignore[arg-type]
        if match := _V1.match(text):
            return cls(match.group(2), frozenset(_V1_EXPANSION[match.group(3)]))  # type: ignore[arg-type]
        return None

    def grants(self, resource_type: str, interaction: Interaction) -> bool:
        return self.resource_type in ("*", resource_type) and interaction in self.interactions


def parse_scopes(text: str) -> frozenset[Scope]:
    return frozenset(s for part in text.split() if (s := Scope.parse(part)) is not None)


@dataclass(frozen=True)
class Principal:
    """The verified caller. ``practices`` are the ODS codes whose data it may see."""

    client_id: str
    practice: str
    role: Role
    scopes: frozenset[Scope]
    practices: frozenset[str] = field(default_factory=frozenset)
    token_id: str | None = None

    @property
    def tenants(self) -> Tenancy:
        """Every practice this caller acts for: its own, plus assignments for service staff, who see only
        enrolled patients' data; auditors also see the audit of refused authentications."""
        extra = {UNAUTHENTICATED_TENANT} if self.role == "auditor" else set()
        return Tenancy({self.practice, *self.practices, *extra}, enrolled_only=self.role in STAFF_ROLES)

    def allows(self, resource_type: str, interaction: Interaction) -> bool:
        return self.refusal(resource_type, interaction) is None

    def refusal(self, resource_type: str, interaction: Interaction) -> str | None:
        """Why this caller may not do ``interaction`` on ``resource_type`` (``None``: it may). The one
        check behind every route, every operation and every resource a search response contains."""
        if not role_permits(self.role, resource_type, interaction):
            if resource_type == "AuditEvent":
                return "The audit trail is readable by auditors only"
            if self.role == "auditor":
                return "The auditor role reads AuditEvent and Provenance only"
            return f"The {self.role} role may not do this to {resource_type}"
        if not any(scope.grants(resource_type, interaction) for scope in self.scopes):
            return f"This call needs the scope system/{resource_type}.{interaction}"
        return None
