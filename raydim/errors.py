"""The one exception type for mistakes a user can make and fix.

Anything raised as :class:`RaydimError` is reported by the CLI as a single line
(``raydim: error: ...``) with exit code 2; every other exception is a bug and
keeps its traceback. It subclasses :class:`ValueError` so library callers can
treat it like any other bad-argument error.
"""


class RaydimError(ValueError):
    """A bad input: the message says what is wrong and how to fix it."""
