"""gpconnect's delivery: what the consumers recorded, sent to the far end and its answer recorded here.

* ``worker.py``: claims due deliveries (retries, backoff, a circuit breaker per practice, dead letters);
* ``dispatch.py``: what each kind of delivery does at the far end and records when it is done;
* ``writeback.py``: a prescription change as the GP system must see it (pure);
* ``credentials.py``: a practice's GP system credentials, from the operator's secret store;
* ``adapters/``: the far end itself: one interface per kind (:class:`GpSystemAdapter`,
  :class:`DocumentChannel`), one implementation per GP system style, MESH, and fakes for unit tests.
"""
