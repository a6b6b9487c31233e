"""Documents to a practice through MESH with ``mesh-client`` (NHS England's ``mesh-sandbox`` locally).

Idempotent at the far end: the idempotency key travels as the MESH local id (``Mex-LocalID``), and before
sending, the sender asks MESH's outbox tracking whether a message with that local id already went (a
retry after a lost answer), in which case it is not sent again.
"""

from __future__ import annotations

from urllib.parse import quote

import requests
from mesh_client import MeshClient, MeshError

from services.gpconnect.delivery.adapters.base import Document, PermanentDeliveryError, TransientDeliveryError
from shared.fhir import off_loop

__all__ = ["MeshChannel", "NoMeshChannel"]


class MeshChannel:
    def __init__(
        self, url: str, mailbox: str, password: str, shared_key: str, *, timeout_s: float = 10.0
    ) -> None:
        self.url, self.mailbox, self._password = url.rstrip("/"), mailbox, password
        self._shared_key, self._timeout = shared_key.encode(), timeout_s

    def _client(self) -> MeshClient:
        return MeshClient(
            self.url,
            self.mailbox,
            self._password,
            shared_key=self._shared_key,
            max_retries=0,  # the delivery worker retries, with its own budget and backoff
            timeout=self._timeout,
            application_name="pain-review-gpconnect",
        )

    def _already_sent(self, client: MeshClient, local_id: str) -> str | None:
        session = client._session  # mesh-client has no call for tracking by local id
        url = f"{client.mailbox_url}/outbox/tracking/{quote(local_id, safe='')}"
        response = session.get(url, timeout=self._timeout)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        message_id = response.json().get("messageId")
        return str(message_id) if message_id else None

    def _send(self, recipient: str, document: Document, local_id: str) -> str:
        with self._client() as client:
            existing = self._already_sent(client, local_id)
            if existing is not None:
                return existing
            return str(
                client.send_message(
                    recipient,
                    document.content,
                    workflow_id=document.workflow_id,
                    filename=document.filename,
                    local_id=local_id,
                    subject=document.subject,
                    content_type=document.content_type,
                )
            )

    async def send(self, mailbox: str, document: Document, *, idempotency_key: str) -> str:
        try:
            return await off_loop(self._send, mailbox, document, idempotency_key)
        except MeshError as exc:
            raise PermanentDeliveryError(f"MESH refused the message: {type(exc).__name__}") from None
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status in (400, 401, 403, 404, 417, 422):
                raise PermanentDeliveryError(f"MESH answered {status}") from None
            raise TransientDeliveryError(f"MESH answered {status}") from None
        except requests.RequestException as exc:
            raise TransientDeliveryError(f"{type(exc).__name__} calling MESH") from None


class NoMeshChannel:
    """No MESH configured: a document cannot be sent (it waits in the retry budget, then dead-letters)."""

    async def send(self, mailbox: str, document: Document, *, idempotency_key: str) -> str:
        raise TransientDeliveryError("no MESH endpoint is configured (GPCONNECT_MESH_URL)")
