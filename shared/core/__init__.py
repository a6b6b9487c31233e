"""What both the FHIR kernel (``shared.fhir``) and authentication (``shared.auth``) build on.

``errors`` holds the FHIR-shaped refusals (each becomes an ``OperationOutcome`` with its status) and
``principal`` who is calling and what their role may do. Neither imports anything of the project, so
``shared.auth`` and ``shared.fhir`` can both depend on them without depending on each other.
"""
