"""Training-step time and peak memory: SAID (and DID) against a full fine-tune, side by side.

    python benchmarks/bench_step.py                 # minilm-l6, d = 1000, both shapes
    python benchmarks/bench_step.py --shapes 16x64 --rounds 5
    python benchmarks/bench_step.py --device cuda --bf16 --model roberta-large@random-init --shapes 16x128,32x128

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

On a GPU (``--device cuda``) the peak is ``torch.cuda.max_memory_allocated`` of one child per
method: the caching allocator's count of live tensors, so there is no second reading.
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


def load(args: argparse.Namespace) -> torch.nn.Module:
    return load_model(parse_model_ref(args.model), 2).to(args.device)


def build(method: str, args: argparse.Namespace, loaded: torch.nn.Module | None = None):
    loaded = loaded if loaded is not None else load(args)
    wrapped = get_method(method).build(loaded, None if method == "full" else SubspaceConfig(d=args.d), args.model)
    wrapped.model.train()
    return wrapped, torch.optim.AdamW(wrapped.trainable_parameters(), lr=1e-4 if method == "full" else 1e-2)


def batch(shape: str, vocab: int, device: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tokens (past the first 1,000 ids, BERT's special and unused ones, when the vocabulary has room)."""
    size, length = map(int, shape.split("x"))
    g = torch.Generator().manual_seed(seed)
    tensors = {"input_ids": torch.randint(1000 if vocab > 2000 else 0, vocab, (size, length), generator=g),
               "attention_mask": torch.ones(size, length, dtype=torch.long),
               "labels": torch.randint(0, 2, (size,), generator=g)}
    return {name: t.to(device) for name, t in tensors.items()}


def step(wrapped, optimizer, b: dict[str, torch.Tensor], args: argparse.Namespace) -> None:
    """One training step, as the training loop runs it (``loss.item()`` waits for the GPU)."""
    train_step(wrapped, optimizer, b, autocast_dtype=torch.bfloat16 if args.bf16 else None)


def _peak_rss_mib() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024


def child(method: str, args: argparse.Namespace, steps: int = 3) -> None:
    """Run ``steps`` steps of one method and print its peak memory in MiB (RSS, or GPU memory on CUDA).

    The peak is reset after the weights are loaded (Linux ``clear_refs``): loading
    briefly holds extra copies, a transient that would otherwise hide the training peak.
    """
    loaded = load(args)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    wrapped, optimizer = build(method, args, loaded)
    b = batch(args.shapes, loaded.config.vocab_size, args.device)
    for _ in range(steps):
        step(wrapped, optimizer, b, args)
    peak = torch.cuda.max_memory_allocated() / 2**20 if args.device == "cuda" else _peak_rss_mib()
    print(json.dumps({"peak_mib": peak}))


LIVE_ENV = {"MALLOC_MMAP_THRESHOLD_": str(4 << 20)}  # blocks >= 4 MiB go back to the system when freed


def peak_memory(method: str, args: argparse.Namespace, shape: str, env: dict[str, str] | None = None) -> float:
    """Peak memory in MiB of one child running ``method`` (glibc's defaults unless `env` says otherwise)."""
    command = [sys.executable, __file__, "--child", method, "--model", args.model, "--d", str(args.d),
               "--shapes", shape, "--device", args.device, *(["--bf16"] if args.bf16 else [])]
    out = subprocess.run(command, capture_output=True, text=True, check=True, env={**os.environ, **(env or {})})
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"]


def peaks(method: str, args: argparse.Namespace, shape: str) -> tuple[float, float | None]:
    """(median peak over ``--memory-runs`` children, peak with large blocks returned; None on a GPU)."""
    default = statistics.median(peak_memory(method, args, shape) for _ in range(args.memory_runs))
    return default, None if args.device == "cuda" else peak_memory(method, args, shape, LIVE_ENV)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="minilm-l6")
    p.add_argument("--d", type=int, default=1000)
    p.add_argument("--methods", default="said,did", help="subspace methods compared with full")
    p.add_argument("--shapes", default="16x64,32x128", help="batch x length, comma-separated")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--memory-runs", type=int, default=3, help="children per method for the glibc-default peak")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast, as `raydim train --bf16`")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: no CUDA device here")
    if args.child:
        child(args.child, args)
        return

    methods = ["full", *args.methods.split(",")]
    built = {m: build(m, args) for m in methods}
    memory = "GPU memory" if args.device == "cuda" else "peak RSS"
    print(f"model {args.model}, d = {args.d}, {args.device}{' bf16' if args.bf16 else ''}, {args.threads} threads, "
          f"{args.rounds} interleaved rounds (medians)")
    vocab = built["full"][0].model.config.vocab_size
    for shape in args.shapes.split(","):
        b = batch(shape, vocab, args.device)
        for m in methods:  # warm-up: numba compile, allocator, first-touch page faults
            for _ in range(2):
                step(*built[m], b, args)
        times: dict[str, list[float]] = {m: [] for m in methods}
        for _ in range(args.rounds):
            for m in methods:
                start = time.perf_counter()
                step(*built[m], b, args)
                times[m].append(time.perf_counter() - start)
        full_time = statistics.median(times["full"])
        full_peak, full_live = peaks("full", args, shape)
        live_note = "" if full_live is None else f" ({full_live:.0f} MiB with large blocks returned)"
        print(f"\nbatch {shape}: full step {full_time:.3f} s, {memory} {full_peak:.0f} MiB{live_note}")
        for m in methods[1:]:
            t, (peak, live) = statistics.median(times[m]), peaks(m, args, shape)
            live_note = "" if live is None else (
                f" ({live:.0f} MiB = {live / full_live:.2f}x with large blocks returned)")
            print(f"  {m}: step {t:.3f} s = {t / full_time:.2f}x full; {memory} {peak:.0f} MiB = "
                  f"{peak / full_peak:.2f}x full{live_note}")


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
