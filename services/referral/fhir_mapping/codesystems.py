"""The CodeSystems the referral service publishes to every practice (eligibility reasons, screening
signals, referral workflow states), from ``data/codesystem-*.json``: seeded into the kernel's store
as published resources, so every practice reads, vreads and searches them like any other resource."""

from __future__ import annotations

from typing import Any

from services.referral.domain.eligibility import load_data

__all__ = ["CODE_SYSTEM_FILES", "published_code_systems"]

CODE_SYSTEM_FILES = (
    "codesystem-eligibility-reason.json",
    "codesystem-screening-signal.json",
    "codesystem-referral-status.json",
)


def published_code_systems() -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = []
    for name in CODE_SYSTEM_FILES:
        resource = dict(load_data(name))
        resource.pop("meta", None)
        resources.append(resource)
    return resources
