"""One fake authenticator, at the same seam the real one plugs into: the practice and the scopes come
from request headers (``as_practice`` writes them); no practice header, no entry."""

from __future__ import annotations

from fastapi import Request

from shared.core.principal import Principal, parse_scopes
from shared.fhir import Unauthorized

__all__ = ["ALL", "PRACTICE_HEADER", "SCOPES_HEADER", "HeaderAuthenticator", "as_practice"]

ALL = "system/*.cruds"
PRACTICE_HEADER = "x-test-practice"
SCOPES_HEADER = "x-test-scopes"


class HeaderAuthenticator:
    """Test fake: the caller is a GP system of the practice named in ``x-test-practice``, with the
    scopes in ``x-test-scopes`` (every scope when absent)."""

    async def authenticate(self, request: Request) -> Principal:
        practice = request.headers.get(PRACTICE_HEADER)
        if not practice:
            raise Unauthorized("No credentials")
        scopes = parse_scopes(request.headers.get(SCOPES_HEADER, ALL))
        return Principal(client_id=f"client-{practice}", practice=practice, role="gp-system", scopes=scopes)


def as_practice(practice: str = "A81001", scopes: str | None = None) -> dict[str, str]:
    """The headers that make ``HeaderAuthenticator`` admit a caller of ``practice`` (with ``scopes``,
    or every scope)."""
    headers = {PRACTICE_HEADER: practice}
    if scopes is not None:
        headers[SCOPES_HEADER] = scopes
    return headers
