"""Training-step time and peak memory: SAID (and DID) against a full fine-tune, side by side.

    python benchmarks/bench_step.py                 # minilm-l6, d = 1000, both shapes
    python benchmarks/bench_step.py --shapes 16x64 --rounds 5

Time: one process holds a full fine-tune and a subspace fine-tune of the same model
and alternates their steps (``raydim.train.loop.train_step``, the loop's own code)
on the same random batch, so machine noise hits both; medians and their ratio.
Memory: each method runs a few steps in a fresh child process and reports its peak
resident set size (``VmHWM``, Linux), since peaks cannot be told apart inside one process.
Two readings per method:

* glibc's defaults (the median of ``--memory-runs`` children): what a user sees. Freed
  activations stay in glibc's heap, and how it reuses the holes varies from run to run by
  ±100 MiB at 32 × 128, which is why one child is not enough;
* ``MALLOC_MMAP_THRESHOLD_`` = 4 MiB (one child): every block of 4 MiB or more is mapped
  on allocation and returned on free, so the peak follows what is live, not the heap's
  history. It compares what each method holds; the steps are slower (page faults), so the
  times above never use it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch

from raydim.methods import get_method
from raydim.models import load_model, parse_model_ref
from raydim.subspace.projected import SubspaceConfig
from raydim.train.loop import train_step


def build(method: str, model: str, d: int, lr: float, loaded: torch.nn.Module | None = None):
    loaded = loaded if loaded is not None else load_model(parse_model_ref(model), 2)
    wrapped = get_method(method).build(loaded, None if method == "full" else SubspaceConfig(d=d), model)
    wrapped.model.train()
    return wrapped, torch.optim.AdamW(wrapped.trainable_parameters(), lr=lr)


def batch(shape: str, vocab: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tokens (past the first 1,000 ids, BERT's special and unused ones, when the vocabulary has room)."""
    size, length = map(int, shape.split("x"))
    g = torch.Generator().manual_seed(seed)
    return {"input_ids": torch.randint(1000 if vocab > 2000 else 0, vocab, (size, length), generator=g),
            "attention_mask": torch.ones(size, length, dtype=torch.long),
            "labels": torch.randint(0, 2, (size,), generator=g)}


def _peak_rss_mib() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024


def child(method: str, model: str, d: int, shape: str, steps: int) -> None:
    """Run ``steps`` steps of one method and print its peak RSS in MiB.

    The peak is reset after the weights are loaded (Linux ``clear_refs``): loading
    briefly holds extra copies, a transient that would otherwise hide the training peak.
    """
    loaded = load_model(parse_model_ref(model), 2)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    wrapped, optimizer = build(method, model, d, 1e-4 if method == "full" else 1e-2, loaded)
    b = batch(shape, loaded.config.vocab_size)
    for _ in range(steps):
        train_step(wrapped, optimizer, b)
    print(json.dumps({"peak_mib": _peak_rss_mib()}))


LIVE_ENV = {"MALLOC_MMAP_THRESHOLD_": str(4 << 20)}  # blocks >= 4 MiB go back to the system when freed


def peak_memory(method: str, args: argparse.Namespace, shape: str, env: dict[str, str] | None = None) -> float:
    """Peak RSS in MiB of one child running ``method`` (glibc's defaults unless `env` says otherwise)."""
    out = subprocess.run([sys.executable, __file__, "--child", method, "--model", args.model, "--d", str(args.d),
                          "--shapes", shape], capture_output=True, text=True, check=True,
                         env={**os.environ, **(env or {})})
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"]


def peaks(method: str, args: argparse.Namespace, shape: str) -> tuple[float, float]:
    """(median peak over ``--memory-runs`` children with glibc's defaults, peak with large blocks returned)."""
    default = statistics.median(peak_memory(method, args, shape) for _ in range(args.memory_runs))
    return default, peak_memory(method, args, shape, LIVE_ENV)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="minilm-l6")
    p.add_argument("--d", type=int, default=1000)
    p.add_argument("--methods", default="said,did", help="subspace methods compared with full")
    p.add_argument("--shapes", default="16x64,32x128", help="batch x length, comma-separated")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--memory-runs", type=int, default=3, help="children per method for the glibc-default peak")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.child:
        child(args.child, args.model, args.d, args.shapes, steps=3)
        return

    methods = ["full", *args.methods.split(",")]
    built = {m: build(m, args.model, args.d, 1e-4 if m == "full" else 1e-2) for m in methods}
    print(f"model {args.model}, d = {args.d}, {args.threads} threads, {args.rounds} interleaved rounds (medians)")
    vocab = built["full"][0].model.config.vocab_size
    for shape in args.shapes.split(","):
        b = batch(shape, vocab)
        for m in methods:  # warm-up: numba compile, allocator, first-touch page faults
            for _ in range(2):
                train_step(*built[m], b)
        times: dict[str, list[float]] = {m: [] for m in methods}
        for _ in range(args.rounds):
            for m in methods:
                start = time.perf_counter()
                train_step(*built[m], b)
                times[m].append(time.perf_counter() - start)
        full_time = statistics.median(times["full"])
        full_peak, full_live = peaks("full", args, shape)
        print(f"\nbatch {shape}: full step {full_time:.3f} s, peak RSS {full_peak:.0f} MiB "
              f"({full_live:.0f} MiB with large blocks returned)")
        for m in methods[1:]:
            t, (peak, live) = statistics.median(times[m]), peaks(m, args, shape)
            print(f"  {m}: step {t:.3f} s = {t / full_time:.2f}x full; peak RSS {peak:.0f} MiB = "
                  f"{peak / full_peak:.2f}x full ({live:.0f} MiB = {live / full_live:.2f}x with large blocks returned)")


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
