"""What tests share. Tests import from here, never from a ``conftest.py`` or from another test module
(``tests/unit/test_suite_layout.py`` checks it); a conftest.py holds fixtures only.

- ``polling``: the one poller (``eventually``, ``eventually_async``) for effects that happen
  asynchronously (events crossing a bus, a worker's next pass, a process starting);
- ``auth``: the one fake authenticator (``HeaderAuthenticator``) and ``as_practice``;
- ``clock``: the one fake clock (``Clock``: start, now, advance, utc);
- ``kernel``: a FHIR kernel and its test client (``build_kernel``, ``kernel_app``, ``kernel_client``,
  ``make_client``);
- ``tokens``, ``access``, ``listener``: hand-made tokens, the access matrix's helpers, a recording
  HTTP server (security tiers);
- ``careplan``, ``medreview``, ``referral``: each service in the embedded system, driven as its
  contract tests drive it; ``medicines``, ``observability``: helpers of those unit tests.
"""

from tests.support.polling import eventually, eventually_async

__all__ = ["eventually", "eventually_async"]
