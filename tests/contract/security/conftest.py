"""The embedded system in-process, plus hand-made tokens: valid ones and every kind of forgery
(``tests/support/tokens.py``)."""

from tests.support.tokens import secured

__all__ = ["secured"]
