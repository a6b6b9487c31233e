"""Medicines: the one dose reader, product recognition and oral morphine equivalent (OME) engine.

Every service that states an opioid dose (``$screen``, ``$medication-review``, CDS Hooks, taper planning,
the service evaluation) computes it here, from the product data in :mod:`shared.terminology`. Pure: plain
FHIR R4 dicts in, frozen dataclasses out; no I/O.
"""
