"""Where a practice's GP system credentials come from: the operator's secret store, never the database.

A practice's ``credentials_ref`` (registered by an operator with ``pain-review gp practices set``) is a
name in that store, not the name of an arbitrary environment variable: the bearer token is read from
``GPCONNECT_SECRET_<REF>`` or, when the operator names a directory with ``GPCONNECT_SECRETS_DIR`` (e.g.
a mounted Kubernetes secret), from the file ``<dir>/<REF>``. The prefix means no reference can reach
the service's own configuration (``GPCONNECT_DATABASE_URL``, the MESH password...), and the name's
grammar (capital letters, digits, ``_``) means no path can leave the directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from services.gpconnect.domain.practices import valid_credentials_ref

__all__ = ["SECRETS_DIR_ENV", "SECRET_ENV_PREFIX", "bearer_token"]

SECRET_ENV_PREFIX = "GPCONNECT_SECRET_"  # noqa: S105 (a name prefix, not a secret)
SECRETS_DIR_ENV = "GPCONNECT_SECRETS_DIR"


def bearer_token(ref: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """The secret ``ref`` names in the operator's store, or ``None`` (no reference, none stored)."""
    if not ref or not valid_credentials_ref(ref):
        return None
    value = environ.get(f"{SECRET_ENV_PREFIX}{ref}")
    if value:
        return value
    directory = environ.get(SECRETS_DIR_ENV)
    if directory:
        path = Path(directory) / ref
        try:
            value = path.read_text(encoding="utf-8").strip()
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            return None
        return value or None
    return None
