"""Plain-text tables for the terminal."""

from __future__ import annotations

from collections.abc import Sequence


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned plain-text columns."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)


def format_interval(low: int | None, high: int | None, level: float | None) -> str:
    """``[1,200, 4,800] (90%)``; an open end is ``–`` (both: the trials bound neither); ``-`` without a fit."""
    if level is None:
        return "-"

    def end(value: int | None) -> str:
        return "–" if value is None else f"{value:,}"

    return f"[{end(low)}, {end(high)}] ({level:.0%})"


def format_compute(cpu_hours: float | None, gpu_hours: float | None) -> str:
    """``1.20 GPU-h`` where the trials held GPUs, else ``3.40 CPU-h``; ``-`` where the rows do not say (None or NaN,
    as a data frame holds a missing value)."""
    if not missing(gpu_hours) and gpu_hours > 0:
        return f"{gpu_hours:.2f} GPU-h"
    return "-" if missing(cpu_hours) else f"{cpu_hours:.2f} CPU-h"


def missing(value: object) -> bool:
    """None, NaN or pandas' NA: a value the row does not have (a data frame holds a missing value as NaN or NA)."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN is the one value unequal to itself
    except TypeError:
        return True  # pandas' NA: its comparisons are NA, which has no truth value
