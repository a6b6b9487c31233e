"""CDS Hooks 2.0 for prescribers: ``order-sign`` (the opioid dose with the new order) and ``patient-view``."""

from services.medreview.cds_hooks.cards import ORDER_SIGN, PATIENT_VIEW, discovery
from services.medreview.cds_hooks.router import CdsHooks

__all__ = ["ORDER_SIGN", "PATIENT_VIEW", "CdsHooks", "discovery"]
