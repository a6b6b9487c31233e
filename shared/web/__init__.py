"""What turns a FHIR kernel into a service app: error rendering, correlation, health, settings."""

from shared.web.app import ReadinessCheck, service_app
from shared.web.errors import install_error_handlers
from shared.web.events import Consumer, ServiceEvents
from shared.web.service import READ_ONLY, LifespanPart, ServiceParts, build_service
from shared.web.settings import ServiceSettings

__all__ = [
    "READ_ONLY",
    "Consumer",
    "LifespanPart",
    "ReadinessCheck",
    "ServiceEvents",
    "ServiceParts",
    "ServiceSettings",
    "build_service",
    "install_error_handlers",
    "service_app",
]
