"""Per-practice configuration: which GP system a practice runs and where to reach it. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["SUPPLIERS", "InvalidPracticeConfig", "PracticeConfig", "valid_credentials_ref"]

SUPPLIERS = ("gpconnect-fhir", "emis-style")
"""The adapter styles: GP Connect/FHIR-speaking systems, and an EMIS-style JSON API for tasks and
prescription changes (each GP Connect read is FHIR in both)."""

_ODS = re.compile(r"^[A-Z0-9]{3,12}$")
_MAILBOX = re.compile(r"^[A-Z0-9]{3,20}$")
_CREDENTIALS_REF = re.compile(r"^[A-Z0-9][A-Z0-9_]{0,63}$")


def valid_credentials_ref(ref: str) -> bool:
    """A secret's name in the operator's store: capital letters, digits and ``_`` (so never a path)."""
    return bool(_CREDENTIALS_REF.match(ref))


class InvalidPracticeConfig(ValueError):
    """A practice configuration that cannot be used; the message names the field."""


@dataclass(frozen=True)
class PracticeConfig:
    """Set by an operator only (``pain-review gp practices set`` or the simulator's settings), never
    through the API. ``credentials_ref`` names the GP system's bearer token in the operator's secret
    store (``services/gpconnect/delivery/credentials.py``): secrets never live in the database.
    ``mesh_mailbox`` is the practice's MESH mailbox.
    ``bars_endpoint``: where BaRS ``servicerequest-response`` messages to the referrer go (its receiver's
    base URL); empty means the practice takes none. ``allow_private``: the endpoint is on a private
    network (e.g. HSCN) and the SSRF guard may let it resolve to a private address."""

    ods: str
    supplier: str
    endpoint: str
    credentials_ref: str = ""
    mesh_mailbox: str = ""
    bars_endpoint: str = ""
    allow_private: bool = False

    def __post_init__(self) -> None:
        if not _ODS.match(self.ods):
            raise InvalidPracticeConfig("ods: an ODS code is 3 to 12 capital letters or digits")
        if self.supplier not in SUPPLIERS:
            raise InvalidPracticeConfig(f"supplier: one of {', '.join(SUPPLIERS)}")
        for name, url in (("endpoint", self.endpoint), ("bars_endpoint", self.bars_endpoint)):
            if url and not url.startswith(("https://", "http://")):
                raise InvalidPracticeConfig(f"{name}: an http(s) base URL")
        if not self.endpoint:
            raise InvalidPracticeConfig("endpoint: the GP system's base URL is required")
        if self.credentials_ref and not valid_credentials_ref(self.credentials_ref):
            raise InvalidPracticeConfig(
                "credentials_ref: a secret's NAME in the store (capital letters, digits, _), not a secret"
            )
        if self.mesh_mailbox and not _MAILBOX.match(self.mesh_mailbox):
            raise InvalidPracticeConfig("mesh_mailbox: a MESH mailbox id, e.g. X26ABC2")
