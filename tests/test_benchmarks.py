"""The benchmarks still run against the current engine (the projection's padded contender once broke silently
when Fastfood's tables changed shape): tiny sizes, one round, every contender's row printed."""

import subprocess
import sys
from pathlib import Path

from tests.tiny import write_tiny_model_dir

REPO = Path(__file__).resolve().parents[1]


def test_projection_benchmark_runs_every_contender():
    out = subprocess.run([sys.executable, "benchmarks/bench_projection.py", "--D", "65536", "--d", "64", "128",
                          "--reps", "1", "--slow-reps", "1", "--segments", "4"],
                         cwd=REPO, capture_output=True, text=True, timeout=300, check=True).stdout
    rows = [line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| 64 ") or line.startswith("| 128 ")]
    assert len(rows) == 2
    for row in rows:
        assert len(row) == 10 and all(cell.strip() not in ("", "–") for cell in row)  # all contenders timed


def test_step_benchmark_compares_every_method(tmp_path):
    model = write_tiny_model_dir(tmp_path / "model", pretrain_steps=0)
    out = subprocess.run([sys.executable, "benchmarks/bench_step.py", "--model", str(model), "--d", "32",
                          "--shapes", "4x8", "--rounds", "1", "--memory-runs", "1"],
                         cwd=REPO, capture_output=True, text=True, timeout=300, check=True).stdout
    assert "batch 4x8: full step" in out
    for method in ("said", "did"):
        [line] = [line for line in out.splitlines() if line.strip().startswith(f"{method}:")]
        assert line.count("x full") == 2 and "with large blocks returned" in line
