"""The projection benchmark still runs against the current engine (its padded contender once broke silently when
Fastfood's tables changed shape): a tiny D, one round, every contender's row printed."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_projection_benchmark_runs_every_contender():
    out = subprocess.run([sys.executable, "benchmarks/bench_projection.py", "--D", "65536", "--d", "64", "128",
                          "--reps", "1", "--slow-reps", "1", "--segments", "4"],
                         cwd=REPO, capture_output=True, text=True, timeout=300, check=True).stdout
    rows = [line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| 64 ") or line.startswith("| 128 ")]
    assert len(rows) == 2
    for row in rows:
        assert len(row) == 10 and all(cell.strip() not in ("", "–") for cell in row)  # all contenders timed
