"""``LiveProgress``: the running trials' epoch, step and time left, printed by the driver while Tune runs.

Between a search's start and its first finished trial a CPU run can take ten
minutes or more, and Tune hears from a trial only after each epoch. Trials write
their step to the results store (:mod:`raydim.store.running`); this callback reads
the search back as ``raydim status`` does and prints the running part of it.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from ray.tune import Callback

from raydim.errors import RaydimError
from raydim.store.status import search_status
from raydim.tune.progress import format_running


class LiveProgress(Callback):
    """Every ``every_s`` seconds, the search ``experiment`` of ``storage``'s running trials and time left.

    Tune calls ``on_step_end`` on the driver after every pass of its control loop
    (many a second); all but one call per ``every_s`` return at once.
    """

    def __init__(self, storage: str | None, experiment: str, every_s: float = 60.0) -> None:
        self.storage, self.experiment, self.every_s = storage, experiment, every_s
        self.printed_at = time.monotonic()

    def setup(self, **info: Any) -> None:
        """A run starts (or is restored in a new process, whose clock this one's time means nothing to)."""
        self.printed_at = time.monotonic()

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        if time.monotonic() - self.printed_at < self.every_s:
            return
        self.printed_at = time.monotonic()
        try:
            [status] = search_status(self.storage, self.experiment)
        except (RaydimError, OSError):  # the store out of reach for a moment: the next print tries again
            return
        lines = format_running(status)
        if lines:
            print(f"[raydim {time.strftime('%H:%M:%S')}] running\n{lines}", file=sys.stdout, flush=True)
