"""The one exception type for mistakes a user can make and fix, and the warning for damage found and worked around.

Anything raised as :class:`RaydimError` is reported by the CLI as a single line
(``raydim: error: ...``) with exit code 2; every other exception is a bug and
keeps its traceback. It subclasses :class:`ValueError` so library callers can
treat it like any other bad-argument error. A :class:`DamagedStoreWarning` is
printed by the CLI as one line, ``raydim: warning: ...``, and the command goes on.
"""


class RaydimError(ValueError):
    """A bad input: the message says what is wrong and how to fix it."""


class DamagedStoreWarning(UserWarning):
    """Part of the results store could not be read and was left out; the message names the files."""


DIVERGED = "the training loss became"  # how a diverged run's error starts: the results store tells divergences by it
