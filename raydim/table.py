"""Plain-text tables for the terminal."""

from __future__ import annotations

import math
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
    if not _missing(gpu_hours) and gpu_hours > 0:
        return f"{gpu_hours:.2f} GPU-h"
    return "-" if _missing(cpu_hours) else f"{cpu_hours:.2f} CPU-h"


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
