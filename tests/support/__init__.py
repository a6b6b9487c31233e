"""What tests share: one poller for effects that happen asynchronously (events crossing a bus, a
worker's next pass, a process starting). Tests import from here, never from a ``conftest.py`` or from
another test module."""

from tests.support.polling import eventually, eventually_async

__all__ = ["eventually", "eventually_async"]
