"""FHIR resources built from and read into the careplan domain."""
