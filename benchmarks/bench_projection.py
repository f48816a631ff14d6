"""How long one Fastfood forward + transpose over D takes, against one copy of D floats.

    python benchmarks/bench_projection.py                       # all-MiniLM-L6-v2 + 2-label head
    python benchmarks/bench_projection.py --D 1000000 --d 1000 --reps 9

Per training step the subspace methods pay P·θ_d (forward) and Pᵀ·∂L/∂θ (transpose) over all D
parameters; the target is ≤ 10× the cost of `out.copy_(src)` over D floats, the floor for anything
that writes θ. Timed side by side, repetitions interleaved so a noisy shared machine hits all
contenders alike, medians reported:

* copy    — `out.copy_(src)` into a preallocated buffer;
* numba   — `Fastfood(backend="numba")`, the fused cache-blocked kernel;
* torch   — `Fastfood(backend="torch")`, the pure-torch fallback (fewer repetitions: slow);
* padded  — the older layout: one V = H·G·Π·H·B of size 2^⌈log₂D⌉ (fewer repetitions: slow);
* Π = I   — with `--identity-perm`: the numba kernel with every Π replaced by the identity. Not a P
  anyone trains with: a bound on what any faster permutation step could give.
"""

import argparse
import statistics
import time

import numba
import torch

from raydim.subspace.fastfood import Fastfood
from raydim.subspace.fwht import fwht_raw

MINILM_L6_2_LABELS = 22_713_216  # all-MiniLM-L6-v2 (22,713,216 trainable parameters with a 2-label head)
MINILM_L6_TENSORS = 105  # its parameter tensors, i.e. per-tensor normalisation segments


class PaddedFastfood:
    """The older layout, for comparison only: one N = 2^⌈log₂D⌉ transform, θ_d padded to N.

    Its FWHT of 2^25 floats runs as Kronecker halves (rows, transpose, rows, transpose back) on the
    numba row kernel so both cores work; the permutation is a gather over all N floats, far out of
    cache, which is what the block layout avoids.
    """

    def __init__(self, seed: int, d: int, D: int) -> None:
        self.d, self.D = d, D
        self.N = 1 << (D - 1).bit_length()
        gen = torch.Generator().manual_seed(seed)  # its own diagonals: it is timed, never compared with raydim's P
        self.signs = torch.randint(0, 2, (d,), generator=gen).float().mul_(2).sub_(1)  # (d,) ±1
        self.perm = torch.randperm(self.N, generator=gen)  # (N,)
        self.gauss = torch.randn(self.N, generator=gen)  # (N,)
        self.scale = (self.N * D) ** -0.5
        self.x, self.y = torch.empty(self.N), torch.empty(self.N)  # reused work buffers

    def _fwht(self, x: torch.Tensor) -> torch.Tensor:
        half = 1 << ((self.N.bit_length() - 1) // 2)
        rows = fwht_raw(x.view(-1, half))  # (N/half, half)
        return fwht_raw(rows.t().contiguous()).t().reshape(-1)  # (N,)

    def forward_into(self, theta_d: torch.Tensor, out: torch.Tensor) -> None:
        self.x.zero_()
        self.x[: self.d] = theta_d * self.signs
        torch.index_select(self._fwht(self.x), 0, self.perm, out=self.y)
        self.y.mul_(self.gauss)
        torch.mul(self._fwht(self.y)[: self.D], self.scale, out=out)

    def transpose_into(self, grad: torch.Tensor, out_d: torch.Tensor) -> None:
        self.x[self.D :].zero_()
        torch.mul(grad, self.scale, out=self.x[: self.D])
        self.y.zero_()
        self.y.index_add_(0, self.perm, self._fwht(self.x) * self.gauss)
        torch.mul(self._fwht(self.y)[: self.d], self.signs, out=out_d)


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def without_permutation(ff: Fastfood) -> Fastfood:
    """`ff` with Π_b = I in every block (same table shapes and dtypes, so the same kernel runs)."""
    ff.perm = torch.arange(ff.n, dtype=ff.perm.dtype).expand_as(ff.perm).contiguous()
    return ff


def bench(D: int, d: int, reps: int, slow_reps: int, segments: int, identity_perm: bool = False) -> dict[str, float]:
    """Median seconds per contender for one (D, d); the slow ones run on the first `slow_reps` rounds."""
    lengths = [D // segments + (i < D % segments) for i in range(segments)]
    src, dst = torch.randn(D), torch.empty(D)
    theta, grad, out, out_d = torch.randn(d), torch.randn(D), torch.empty(D), torch.empty(d)
    contenders = {"numba": Fastfood(0, d, D, lengths, backend="numba")}
    if identity_perm:
        contenders["Π = I"] = without_permutation(Fastfood(0, d, D, lengths, backend="numba"))
    if slow_reps:
        contenders["torch"] = Fastfood(0, d, D, lengths, backend="torch")
        contenders["padded"] = PaddedFastfood(0, d, D)
    for ff in contenders.values():  # warm-up: numba compilation, first-touch page faults
        ff.forward_into(theta, out)
        ff.transpose_into(grad, out_d)
    times: dict[str, list[float]] = {"copy": [], "numba fwd": [], "numba T": []}
    for r in range(reps):
        times["copy"].append(_timed(lambda: dst.copy_(src)))
        times["numba fwd"].append(_timed(lambda: contenders["numba"].forward_into(theta, out)))
        times["numba T"].append(_timed(lambda: contenders["numba"].transpose_into(grad, out_d)))
        if identity_perm:
            ff = contenders["Π = I"]
            both = _timed(lambda: ff.forward_into(theta, out)) + _timed(lambda: ff.transpose_into(grad, out_d))
            times.setdefault("Π = I fwd+T", []).append(both)
        for name in ("torch", "padded") if r < slow_reps else ():
            ff = contenders[name]
            both = _timed(lambda: ff.forward_into(theta, out)) + _timed(lambda: ff.transpose_into(grad, out_d))
            times.setdefault(f"{name} fwd+T", []).append(both)
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    medians["numba fwd+T"] = medians["numba fwd"] + medians["numba T"]
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--D", type=int, default=MINILM_L6_2_LABELS, help="parameters (rows of P)")
    parser.add_argument("--d", type=int, nargs="+", default=[1000, 10_000, 100_000], help="subspace dimensions")
    parser.add_argument("--reps", type=int, default=15, help="rounds for copy and the numba kernel")
    parser.add_argument("--slow-reps", type=int, default=3, help="rounds for the torch and padded paths (0: skip)")
    parser.add_argument("--segments", type=int, default=MINILM_L6_TENSORS, help="per-tensor normalisation segments")
    parser.add_argument("--threads", type=int, default=2, help="torch and numba threads")
    parser.add_argument("--identity-perm", action="store_true", help="also time the kernel with Π = I (a bound)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)
    print(f"D={args.D:,}, {args.threads} threads, medians of {args.reps} rounds ({args.slow_reps} for torch/padded)")
    columns = ["numba fwd", "numba T", "numba fwd+T", "torch fwd+T", "padded fwd+T"]
    columns += ["Π = I fwd+T"] if args.identity_perm else []
    ratio_columns = columns[2:]
    print("| d | copy ms | " + " | ".join(f"{c} ms" for c in columns) + " | "
          + " | ".join(f"{c.removesuffix(' fwd+T')} ×copy" for c in ratio_columns) + " |")
    print("|---:" * (len(columns) + len(ratio_columns) + 2) + "|")
    for d in args.d:
        medians = bench(args.D, d, args.reps, args.slow_reps, args.segments, args.identity_perm)
        ms = {name: 1e3 * t for name, t in medians.items()}
        cells = [f"{ms[c]:.1f}" if c in ms else "–" for c in columns]
        ratios = [f"{ms[c] / ms['copy']:.1f}×" if c in ms else "–" for c in ratio_columns]
        print(f"| {d:,} | {ms['copy']:.2f} | " + " | ".join(cells + ratios) + " |")


if __name__ == "__main__":
    main()
