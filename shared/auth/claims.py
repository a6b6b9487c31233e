"""The access-token claims we read, and the one place that turns verified claims into a ``Principal``.

Any issuer we trust (the embedded one, or an external one in production) must put these in the
access token besides the registered ``iss``, ``sub``, ``aud``, ``exp``, ``iat`` and ``jti``:

    client_id   the OAuth client that asked for the token (``sub`` is used when absent)
    scope       space-separated SMART scopes, v2 (``system/Patient.rs``) or v1 (``system/Patient.read``)
    practice    the ODS code of the organisation the client acts for: the tenant
    role        one of ``CLIENT_ROLES``
    practices   service staff only: ODS codes of the practices they are assigned to (a JSON list)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, get_args

from shared.core.principal import STAFF_ROLES as STAFF_ROLES  # defined beside Tenancy, which reads it
from shared.core.principal import Interaction, Principal, Role, Scope, parse_scopes

CLIENT_ID: Final = "client_id"
SCOPE: Final = "scope"
PRACTICE: Final = "practice"
ROLE: Final = "role"
PRACTICES: Final = "practices"

ALGORITHMS: Final = ("RS384", "ES384")
"""The only JWS algorithms we sign or accept, as SMART Backend Services asks."""

ROLES: Final[frozenset[str]] = frozenset(get_args(Role))
# "service" is another of our own services, never a client of the public API, so no token carries it.
CLIENT_ROLES: Final[frozenset[str]] = ROLES - {"service"}

# ODS organisation codes: GP practices are one letter and five digits (A81001); trusts, CCGs and
# the like are 3 to 5 alphanumerics. Anything else is a typo or an injection attempt.
_ODS = re.compile(r"^[A-Z0-9]{3,10}$")


class InvalidClaims(ValueError):
    """Verified claims that do not describe a caller we can serve; the message is safe to show."""


def is_ods_code(value: object) -> bool:
    return isinstance(value, str) and bool(_ODS.match(value))


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """The caller described by a verified token's claims; raises ``InvalidClaims``."""
    client_id = claims.get(CLIENT_ID, claims.get("sub"))
    if not isinstance(client_id, str) or not client_id:
        raise InvalidClaims("the access token names no client")
    practice = claims.get(PRACTICE)
    if not is_ods_code(practice):
        raise InvalidClaims("the access token carries no valid practice ODS code")
    role = claims.get(ROLE)
    if role not in CLIENT_ROLES:
        raise InvalidClaims("the access token carries no role this server accepts")
    scope = claims.get(SCOPE, "")
    if not isinstance(scope, str):
        raise InvalidClaims("the access token scope is not a space-separated string")
    assigned = claims.get(PRACTICES, [])
    if not isinstance(assigned, list) or not all(is_ods_code(code) for code in assigned):
        raise InvalidClaims("the access token practices claim is not a list of ODS codes")
    if assigned and role not in STAFF_ROLES:
        raise InvalidClaims("only service staff roles may carry assigned practices")
    jti = claims.get("jti")
    return Principal(
        client_id=client_id,
        practice=str(practice),
        role=role,
        scopes=parse_scopes(scope),
        practices=frozenset(assigned),
        token_id=jti if isinstance(jti, str) else None,
    )


def scope_text(scopes: Iterable[Scope]) -> str:
    """Render scopes as SMART v2 ``system/<Resource>.<cruds>``, merged per resource type and sorted."""
    merged: dict[str, set[Interaction]] = {}
    for scope in scopes:
        merged.setdefault(scope.resource_type, set()).update(scope.interactions)
    return " ".join(
        f"system/{resource}.{''.join(i for i in 'cruds' if i in letters)}"
        for resource, letters in sorted(merged.items())
        if letters
    )


def narrow_scopes(requested: str, registered: str) -> str:
    """What a client gets: the requested ``system/`` scopes intersected with those it was registered for.

    ``system/*.rs`` requested by a client registered for ``system/Patient.cruds`` gives
    ``system/Patient.rs``; scopes in ``user/`` or ``patient/`` context are never granted here.
    """
    wanted = parse_scopes(" ".join(s for s in requested.split() if s.startswith("system/")))
    allowed = parse_scopes(" ".join(s for s in registered.split() if s.startswith("system/")))
    granted: list[Scope] = []
    for ask in wanted:
        for have in allowed:
            if have.resource_type == "*":
                resource = ask.resource_type
            elif ask.resource_type in ("*", have.resource_type):
                resource = have.resource_type
            else:
                continue
            if common := ask.interactions & have.interactions:
                granted.append(Scope(resource, common))
    return scope_text(granted)
