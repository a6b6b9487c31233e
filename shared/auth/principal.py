"""Who is calling: the verified identity the FHIR kernel filters every read and write by."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Interaction = Literal["c", "r", "u", "d", "s"]
INTERACTIONS: tuple[Interaction, ...] = ("c", "r", "u", "d", "s")

# Roles: a GP practice system acts for its own practice; service staff (project workers,
# specialists) act for the practices they are assigned to; auditors read AuditEvent; "service" is
# another service of ours (event consumers), never a client of the public API.
Role = Literal["gp-system", "project-worker", "specialist", "auditor", "service"]

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
    def tenants(self) -> frozenset[str]:
        """Every practice this caller acts for: its own, plus assignments for service staff."""
        return frozenset({self.practice}) | self.practices

    def allows(self, resource_type: str, interaction: Interaction) -> bool:
        return any(scope.grants(resource_type, interaction) for scope in self.scopes)
