"""Plain-text views of a running and a finished search: one line per key, then the d90 table; and of a search
as ``raydim status`` reads it from the results store."""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Sequence

from raydim.search import KeyProgress, KeyResult
from raydim.store.status import SearchStatus
from raydim.table import format_interval, format_table


def _num(value: float | None, spec: str = ".4f") -> str:
    return "-" if value is None else format(value, spec)


def format_progress(rows: Sequence[KeyProgress]) -> str:
    """Each key's phase, bracket, current d90 interval, trials (running ``?`` where unknown) and best score."""
    lines = []
    for r in rows:
        bracket = f"d in ({r.lo or '?'}, {r.hi or '?'}]" if r.lo is not None or r.hi is not None else "no bracket yet"
        interval = format_interval(r.d90_low, r.d90_high, r.level)
        estimate = f", d90 {_num(r.d90, ',.0f')} {interval}" if interval != "-" else ""
        running = "?" if r.trials_running is None else r.trials_running
        lines.append(f"  {r.key}: {r.phase}, {bracket}{estimate}, {r.trials_done} done / {running} running"
                     + (f" / {r.trials_failed} failed" if r.trials_failed else "")
                     + f", best {_num(r.best_metric)} vs threshold {_num(r.threshold)}")
    return "\n".join(lines)


def print_progress(rows: list[KeyProgress]) -> None:
    """The ``on_progress`` the CLI gives :class:`~raydim.tune.searcher.D90Searcher`: prints after every trial."""
    print(f"[raydim {time.strftime('%H:%M:%S')}] search progress\n{format_progress(rows)}", file=sys.stdout,
          flush=True)


def format_d90_table(results: Sequence[KeyResult]) -> str:
    """The d90 of every key with its interval, the threshold it was measured against and which kind that was."""
    headers = ("key", "status", "d90", "interval", "baseline", "chance", "threshold", "trials", "flags")
    rows = [(r.key, r.status, _num(r.d90, ",.0f"), format_interval(r.d90_low, r.d90_high, r.level),
             _num(r.baseline), _num(r.chance),
             f"{_num(r.threshold)} ({r.threshold_used})" if r.threshold is not None else "-",
             f"{r.trials_used}" + (f" ({r.trials_failed} failed)" if r.trials_failed else ""),
             ", ".join(r.flags) or "-") for r in results]
    return format_table(headers, rows)


def format_status(status: SearchStatus) -> str:
    """A search as ``raydim status`` shows it: a header, its progress, and its d90 table once it has finished."""
    header = (f"{status.experiment}: {status.rows} trials ended, the last at "
              f"{status.last_finished.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC; "
              f"{'finished' if status.finished else 'running'}")
    lines = [header, format_progress(status.progress)]
    if status.finished:
        lines.append(format_d90_table(status.results))
    return "\n".join(lines)
