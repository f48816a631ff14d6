"""Fastfood projection P ∈ R^{D×d}: the random map θ = θ₀ + P·θ_d of intrinsic-dimension training.

Standard construction (Le et al. 2013; Li et al. 2018; Aghajanyan et al. 2021): with n = 2^⌈log₂d⌉,
P stacks ⌈D/n⌉ independent n×n blocks V_b = H·G_b·Π_b·H·B_b (H the unnormalised Hadamard matrix,
B_b a ±1 diagonal, Π_b a permutation, G_b a Gaussian diagonal), keeps the first d columns (θ_d is
zero-padded to n) and truncates the last block so the rows cover exactly D. Blocks of size n, not
one transform padded to 2^⌈log₂D⌉, keep each block cache-resident and waste < n rows instead of up
to D. P itself is never stored: its diagonals are rebuilt from (seed, d, D) in ≈(d/n + 1)/8 bytes
per row, far below the optimiser state a full fine-tune keeps (8 bytes per parameter), so that a
subspace fine-tune fits in less memory than a full one:

* B_b and the signs of G_b are stored as bits, B_b for the first d columns only (the only ones
  θ_d reaches);
* Π_b and the magnitudes of G_b come from a pool of K = min(blocks, max(1, 2²⁰/n)) uniform
  permutations π_k and standard Gaussian vectors γ_k: block b uses Π_b = π_{b mod K} and
  G_b = diag(σ_b ⊙ γ_{b mod K}) with σ_b its own uniform ±1 signs. Since σ_b ⊙ γ has i.i.d.
  N(0, 1) entries, every block is exactly a standard Fastfood block; blocks that share a pool
  entry are uncorrelated (their B_b and σ_b are independent and symmetric), though not
  independent: they share |G| and Π. A column of V_b, H·(Π_b·h_j ⊙ G_b), is Gaussian whatever
  Π_b is; Π only decorrelates the columns within a block.

Normalisation multiplies row r of P by a factor s_r. Since E_G‖V_b·x‖² = n²‖x‖² with every row
contributing n‖x‖², a slice of D_i rows has E‖(P·θ)_i‖² = ‖θ‖² exactly when s = 1/√(n·D_i):

* "per_tensor" — one slice per parameter tensor (`segments`), so every tensor moves by ≈‖θ_d‖
  whatever its size; without `segments` the whole of D is one slice, same as "global";
* "global" (Li et al. 2018) — one slice of D rows, so the whole offset P·θ_d has norm ≈‖θ_d‖;
* a float — that factor on every row.
"""

import bisect
import numbers
from collections.abc import Sequence

import torch

from raydim.subspace.fwht import fwht_torch, native_kernels, uses_native

NORMALIZATIONS = ("per_tensor", "global")
BACKENDS = ("auto", "numba", "torch")
_POOL_ELEMENTS = 1 << 20  # the pool of Π and |G| holds about this many elements per table
_TORCH_CHUNK_ELEMENTS = {"cpu": 1 << 18, "cuda": 1 << 24}  # torch path: blocks per pass × n


def draw_blocks(
    seed: int, n: int, num_blocks: int, d: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The random diagonals of every block, a pure function of (seed, n, num_blocks, d).

    Exactly, from one CPU `torch.Generator` seeded with `seed`, in this order, with
    K = min(num_blocks, max(1, 2**20 // n)):
    1. B: `torch.randint(0, 256, (num_blocks, ceil(d / 8)), dtype=uint8)`, bit i % 8 (least
       significant first) of byte i // 8 set meaning B_b[i] = −1 (see `unpack_signs`);
    2. σ, the signs of G, the same way: `(num_blocks, ceil(n / 8))` bytes;
    3. Π: `torch.rand((K, n), dtype=float64).argsort(dim=1, stable=True)`, row k being π_k with
       (Π x)_i = x[π_k(i)];
    4. γ: `torch.randn((K, n), dtype=float32)`.
    Block b uses B_b, Π_b = π_{b mod K} and G_b = σ_b ⊙ γ_{b mod K}. CPU generation makes P
    bit-identical across processes, thread counts and devices (for a given torch version).
    Returns signs, gauss_signs (uint8), perm (K, n) int16 or int32 (int16 while n ≤ 2^15, halving
    its memory traffic), gauss (K, n) float32.
    """
    gen = torch.Generator(device="cpu").manual_seed(seed)
    signs = torch.randint(0, 256, (num_blocks, -(-d // 8)), generator=gen, dtype=torch.uint8)  # (blocks, ⌈d/8⌉)
    gauss_signs = torch.randint(0, 256, (num_blocks, -(-n // 8)), generator=gen, dtype=torch.uint8)  # (blocks, ⌈n/8⌉)
    pool = min(num_blocks, max(1, _POOL_ELEMENTS // n))
    uniforms = torch.rand((pool, n), generator=gen, dtype=torch.float64)  # (K, n)
    perm = uniforms.argsort(dim=1, stable=True).to(torch.int16 if n <= 1 << 15 else torch.int32)  # (K, n)
    gauss = torch.randn((pool, n), generator=gen, dtype=torch.float32)  # (K, n)
    return signs, gauss_signs, perm, gauss


def unpack_signs(packed: torch.Tensor, width: int) -> torch.Tensor:
    """(rows, ⌈width/8⌉) uint8 bits → (rows, width) int8 ±1: bit i % 8 of byte i // 8 set means −1."""
    shifts = torch.arange(8, dtype=torch.uint8, device=packed.device)
    bits = (packed.unsqueeze(-1) >> shifts) & 1  # (rows, ⌈width/8⌉, 8)
    return (1 - 2 * bits.to(torch.int8)).flatten(1)[:, :width]  # (rows, width)


def _as_int(value: object) -> int | None:
    """value as a Python int when it is integral (int, NumPy integer; not bool), else None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return None
    return int(value)


def _validate(
    seed: object, d: object, D: object, segments: Sequence[int] | None, normalization: object, backend: str
) -> list[str]:
    """Every problem with the constructor arguments, so that one error reports them all."""
    errors = []
    if _as_int(seed) is None:
        errors.append(f"seed must be an int, got {seed!r}")
    if _as_int(D) is None or D <= 0:
        errors.append(f"D (number of model parameters) must be a positive int, got {D!r}")
    if _as_int(d) is None or d <= 0:
        errors.append(f"d (subspace dimension) must be a positive int, got {d!r}")
    elif _as_int(D) is not None and d > D:
        errors.append(f"d={d} exceeds D={D}: a subspace cannot have more dimensions than the parameters; use d <= {D}")
    if segments is not None:
        lengths = [_as_int(s) for s in segments]
        if any(length is None or length <= 0 for length in lengths):
            errors.append(f"segments must be positive ints (one length per parameter tensor), got {list(segments)}")
        elif sum(lengths) != D:
            errors.append(
                f"segments must sum to D={D}, got {sum(lengths)}; pass one length per parameter tensor, "
                "e.g. [p.numel() for p in params]"
            )
    if isinstance(normalization, str):
        if normalization not in NORMALIZATIONS:
            errors.append(f"normalization must be one of {NORMALIZATIONS} or a positive float, got {normalization!r}")
    elif isinstance(normalization, bool) or not isinstance(normalization, numbers.Real) or not normalization > 0:
        errors.append(f"a scalar normalization must be a positive number, got {normalization!r}")
    if backend not in BACKENDS:
        errors.append(f"backend must be one of {BACKENDS}, got {backend!r}")
    return errors


class Fastfood:
    """P ∈ R^{D×d} as stored random diagonals; `forward_into` computes P·θ_d, `transpose_into` Pᵀ·g.

    Rebuilt identically from (seed, d, D) anywhere; `segments`/`normalization` only set row scales.
    backend: "auto" runs the fused numba kernel for contiguous float32 CPU tensors and torch ops
    otherwise (any dtype, CUDA); "numba" or "torch" force one (for benchmarks and tests).
    """

    def __init__(
        self,
        seed: int,
        d: int,
        D: int,
        segments: Sequence[int] | None = None,
        normalization: str | float = "per_tensor",
        device: torch.device | str = "cpu",
        backend: str = "auto",
    ) -> None:
        errors = _validate(seed, d, D, segments, normalization, backend)
        if errors:
            raise ValueError("Fastfood: " + "; ".join(errors))
        self.seed, self.d, self.D, self.backend = int(seed), int(d), int(D), backend
        self.segments = None if segments is None else tuple(int(s) for s in segments)
        self.normalization = normalization
        self.n = 1 << (self.d - 1).bit_length()
        self.num_blocks = -(-self.D // self.n)
        self.signs, self.gauss_signs, self.perm, self.gauss = draw_blocks(self.seed, self.n, self.num_blocks, self.d)
        lengths = list(self.segments) if self.segments is not None else [self.D]
        if not isinstance(normalization, str):
            scales = [float(normalization)] * len(lengths)
        elif normalization == "per_tensor":
            scales = [(self.n * length) ** -0.5 for length in lengths]
        else:
            scales = [(self.n * self.D) ** -0.5] * len(lengths)
        self.bounds = [0]  # segment edges over the D rows: segment k is rows [bounds[k], bounds[k+1])
        for length in lengths:
            self.bounds.append(self.bounds[-1] + length)
        self._bounds_cpu = torch.tensor(self.bounds, dtype=torch.int64)  # (S+1,) for the kernel
        self.scales = torch.tensor(scales, dtype=torch.float32)  # (S,)
        self.to(device)

    @property
    def device(self) -> torch.device:
        return self.gauss.device

    @property
    def num_segments(self) -> int:
        return len(self.bounds) - 1

    def to(self, device: torch.device | str) -> "Fastfood":
        """Move the stored diagonals (≈(d/n + 1)/8 bytes per row of P) to `device`; returns self."""
        self.signs, self.gauss_signs = self.signs.to(device), self.gauss_signs.to(device)
        self.perm, self.gauss = self.perm.to(device), self.gauss.to(device)
        self.scales = self.scales.to(device)
        return self

    @torch.no_grad()
    def forward_into(
        self,
        theta_d: torch.Tensor,
        out: torch.Tensor,
        base: torch.Tensor | None = None,
        weights: torch.Tensor | None = None,
        start: int | None = None,
    ) -> torch.Tensor:
        """out ← P·θ_d, or base + w ⊙ P·θ_d (θ = θ₀ + λ ⊙ P·θ_d in one pass); returns out.

        theta_d (d,); out and base (D,), or, given `start`, (len,): the rows [start, start + len)
        of P, so one layer's slice of θ costs only the blocks its rows touch; weights (S,),
        one factor per segment (SAID's λ of each tensor's group), folded into the row scales so
        no D-sized P·θ_d is ever held. All on this Fastfood's device. `out` is written in place,
        so a buffer allocated once can be reused. No autograd graph is recorded;
        `fastfood_project` is the differentiable form.
        """
        if start is None:
            start, rows = 0, self.D
        else:
            self._check_rows("out", out, start)
            rows = out.numel()
        self._check("theta_d", theta_d, self.d, theta_d.dtype)
        self._check("out", out, rows, theta_d.dtype)
        if base is not None:
            self._check("base", base, rows, theta_d.dtype)
        scales = self.scales
        if weights is not None:
            self._check("weights", weights, self.num_segments, theta_d.dtype)
            scales = self.scales.to(theta_d.dtype) * weights.detach()  # (S,): float32 stays float32 for the kernel
        stop = start + rows
        if self._native(theta_d, out, *(() if base is None else (base,))):
            kernels = native_kernels()
            base_or_empty = out[:0] if base is None else base  # the kernel reads a (0,) base as "none"
            chunks = kernels.num_chunks((stop - 1) // self.n + 1 - start // self.n)
            theta_np, base_np, out_np = (t.detach().numpy() for t in (theta_d, base_or_empty, out))  # Parameters too
            kernels.fastfood_forward(theta_np, start, *self._tables(scales), base_np, out_np, chunks)
            return out
        for lo, hi, blocks in self._torch_chunks(start, stop):
            x = theta_d.new_zeros(blocks.stop - blocks.start, self.n)  # (k, n)
            x[:, : self.d] = unpack_signs(self.signs[blocks], self.d).to(theta_d.dtype) * theta_d
            x = fwht_torch(x)  # (k, n): H·B_b·θ_pad
            pool = self._pool(blocks)
            y = torch.gather(x, 1, self.perm[pool].long()) * self._gauss(blocks, pool, theta_d.dtype)  # (k, n)
            first = lo - blocks.start * self.n
            y = fwht_torch(y).view(-1)[first : first + hi - lo] * self._row_scales(scales, lo, hi, theta_d.dtype)
            out[lo - start : hi - start] = y if base is None else base[lo - start : hi - start] + y  # (rows,)
        return out

    @torch.no_grad()
    def transpose_into(self, grad: torch.Tensor, out_d: torch.Tensor, start: int = 0) -> torch.Tensor:
        """out_d ← Pᵀ·grad, the chain rule for θ_d given ∂L/∂θ; returns out_d.

        grad (D,), or the rows [start, start + len(grad)) only (one parameter tensor's gradient,
        zero elsewhere): then only the blocks those rows touch are transformed, so a model's
        gradient can be pulled back tensor by tensor as backward produces it. out_d (d,).
        """
        self._check_rows("grad", grad, start)
        self._check("grad", grad, grad.numel(), grad.dtype)
        self._check("out_d", out_d, self.d, grad.dtype)
        stop = start + grad.numel()
        if self._native(grad, out_d):
            kernels = native_kernels()
            chunks = kernels.num_chunks((stop - 1) // self.n + 1 - start // self.n)
            np_grad, np_out = grad.detach().numpy(), out_d.detach().numpy()
            kernels.fastfood_transpose(np_grad, start, *self._tables(self.scales), np_out, chunks)
            return out_d
        acc_dtype = torch.float64 if grad.dtype in (torch.float32, torch.float64) else grad.dtype
        acc = torch.zeros(self.d, dtype=acc_dtype, device=grad.device)  # (d,)
        for lo, hi, blocks in self._torch_chunks(start, stop):
            x = grad.new_zeros(blocks.stop - blocks.start, self.n)  # (k, n): grad rows, zero-padded
            first = lo - blocks.start * self.n
            x.view(-1)[first : first + hi - lo] = grad[lo - start : hi - start] * self._row_scales(
                self.scales, lo, hi, grad.dtype)
            pool = self._pool(blocks)
            x = fwht_torch(x) * self._gauss(blocks, pool, grad.dtype)  # (k, n): G_b·H·g_b
            y = fwht_torch(torch.zeros_like(x).scatter_(1, self.perm[pool].long(), x))  # (k, n): H·Π_bᵀ·…
            acc += (y[:, : self.d] * unpack_signs(self.signs[blocks], self.d)).sum(0, dtype=acc_dtype)  # (d,)
        return out_d.copy_(acc)

    def _check_rows(self, name: str, t: torch.Tensor, start: int) -> None:
        """`t` must be a 1-D tensor of rows [start, start + len) within P's D rows."""
        if not 0 <= start < self.D or t.dim() != 1 or not 0 < t.numel() <= self.D - start:
            raise ValueError(
                f"Fastfood(d={self.d}, D={self.D}): {name} must be a 1-D tensor of rows [start, start + len) "
                f"within [0, {self.D}), got {tuple(t.shape)} at start={start}"
            )

    def _check(self, name: str, t: torch.Tensor, size: int, dtype: torch.dtype) -> None:
        if t.shape != (size,) or t.dtype != dtype or t.device != self.device:
            raise ValueError(
                f"Fastfood(d={self.d}, D={self.D}): {name} must be a ({size},) {dtype} tensor on {self.device}, "
                f"got {tuple(t.shape)} {t.dtype} on {t.device}"
            )

    def _native(self, *tensors: torch.Tensor) -> bool:
        """Whether this call runs the numba kernel (raises if backend="numba" cannot)."""
        if self.backend == "torch":
            return False
        native = uses_native(*tensors)
        if self.backend == "numba" and not native:
            raise ValueError(
                "Fastfood(backend='numba') needs numba and contiguous float32 CPU tensors; "
                "use backend='auto' to fall back to torch"
            )
        return native

    def _tables(self, scales: torch.Tensor) -> tuple:
        """The stored diagonals, segment bounds and scales as zero-copy NumPy views for the kernels."""
        tables = (self.signs, self.gauss_signs, self.perm, self.gauss, self._bounds_cpu, scales)
        return tuple(t.numpy() for t in tables)

    def _pool(self, blocks: slice) -> torch.Tensor:
        """(k,) int64: the pool entry b mod K of each block b of the slice."""
        return torch.arange(blocks.start, blocks.stop, device=self.device) % self.perm.shape[0]

    def _gauss(self, blocks: slice, pool: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """(k, n): G_b = σ_b ⊙ γ_{b mod K} for each block b of the slice."""
        return unpack_signs(self.gauss_signs[blocks], self.n).to(dtype) * self.gauss[pool].to(dtype)

    def _torch_chunks(self, start: int, stop: int):
        """(first row, end row, block slice) per pass of the torch path over rows [start, stop),
        a bounded temporary each."""
        per_pass = max(1, _TORCH_CHUNK_ELEMENTS.get(self.device.type, 1 << 18) // self.n)
        last_block = (stop - 1) // self.n + 1
        for b in range(start // self.n, last_block, per_pass):
            blocks = slice(b, min(b + per_pass, last_block))
            yield max(start, b * self.n), min(blocks.stop * self.n, stop), blocks

    def _row_scales(self, scales: torch.Tensor, start: int, stop: int, dtype: torch.dtype) -> torch.Tensor:
        """The per-row factors s_r for rows [start, stop), expanded from the segment table."""
        first, last = bisect.bisect_right(self.bounds, start) - 1, bisect.bisect_left(self.bounds, stop)
        counts = [min(self.bounds[k + 1], stop) - max(self.bounds[k], start) for k in range(first, last)]
        repeats = torch.tensor(counts, device=self.device)
        return torch.repeat_interleave(scales[first:last].to(dtype), repeats, output_size=stop - start)  # (rows,)


class FastfoodProjection(torch.autograd.Function):
    """θ = base + P·θ_d written into a caller-owned buffer; backward is exactly Pᵀ (and I for base)."""

    @staticmethod
    def forward(ctx, theta_d: torch.Tensor, out: torch.Tensor, base: torch.Tensor | None, ff: Fastfood) -> torch.Tensor:
        ff.forward_into(theta_d.detach(), out, None if base is None else base.detach())
        ctx.ff = ff
        ctx.mark_dirty(out)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: torch.Tensor):
        ff = ctx.ff
        grad_theta = None
        if ctx.needs_input_grad[0]:
            grad_theta = ff.transpose_into(grad_out.contiguous(), grad_out.new_empty(ff.d))
        grad_base = grad_out if ctx.needs_input_grad[2] else None
        return grad_theta, None, grad_base, None


def fastfood_project(
    theta_d: torch.Tensor, ff: Fastfood, out: torch.Tensor | None = None, base: torch.Tensor | None = None
) -> torch.Tensor:
    """Differentiable P·θ_d (or base + P·θ_d); pass a preallocated `out` (D,) to reuse one buffer.

    The returned tensor is `out` itself: reusing the buffer overwrites the previous step's θ.
    """
    if out is None:
        out = theta_d.new_empty(ff.D)
    return FastfoodProjection.apply(theta_d, out, base, ff)
