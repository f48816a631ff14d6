"""Plain-text views of a running and a finished search: one line per key, then the d90 table."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from raydim.search import KeyProgress, KeyResult
from raydim.table import format_table


def _num(value: float | None, spec: str = ".4f") -> str:
    return "-" if value is None else format(value, spec)


def format_progress(rows: Sequence[KeyProgress]) -> str:
    """Each key's phase, bracket, trials and best score against its threshold."""
    lines = []
    for r in rows:
        bracket = f"d in ({r.lo or '?'}, {r.hi or '?'}]" if r.lo is not None or r.hi is not None else "no bracket yet"
        lines.append(f"  {r.key}: {r.phase}, {bracket}, {r.trials_done} done / {r.trials_running} running"
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
    rows = [(r.key, r.status, _num(r.d90, ".0f"),
             f"({r.d90_low or '-'}, {r.d90_high or '-'}]" if r.d90_low or r.d90_high else "-",
             _num(r.baseline), _num(r.chance),
             f"{_num(r.threshold)} ({r.threshold_used})" if r.threshold is not None else "-",
             f"{r.trials_used}" + (f" ({r.trials_failed} failed)" if r.trials_failed else ""),
             ", ".join(r.flags) or "-") for r in results]
    return format_table(headers, rows)
