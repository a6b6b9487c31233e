"""What turns a FHIR kernel into a service app: error rendering, correlation, health."""

from shared.web.app import ReadinessCheck, service_app
from shared.web.errors import install_error_handlers

__all__ = ["ReadinessCheck", "install_error_handlers", "service_app"]
