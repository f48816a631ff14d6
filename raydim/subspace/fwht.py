"""Unnormalised fast Walsh–Hadamard transform (FWHT): y = x·H_n over the last dimension.

H_n is the Sylvester Hadamard matrix (`scipy.linalg.hadamard(n)`), n a power of two; entries ±1 and
no 1/√n, so H_n·H_n = n·I and the Fastfood module owns all normalisation. H_n is symmetric, hence
the gradient of x ↦ x·H_n is g ↦ g·H_n — not g·H_n/√n, the bug in the original intrinsic-dimension
CUDA code that silently reweighted layers.

Three interchangeable implementations, same result up to float rounding:

* `fwht_butterfly` — log₂n radix-2 stages of torch ops; any device, any dtype (float64 included).
* `fwht_kronecker` — H_n = H_a ⊗ H_b ⊗ …: small dense Hadamard matmuls, what a GPU is good at.
* the numba kernel (`_fwht_numba.fwht_rows`) — CPU float32, vectorised and cache-resident.

`fwht` picks one per call (the kernel for contiguous float32 CPU tensors when numba imports, else
`fwht_torch`: matmuls on CUDA, butterflies elsewhere) and is differentiable through `FWHTFunction`.
"""

import functools
import importlib
import warnings
from types import ModuleType

import torch

_MAX_KRONECKER_FACTOR = 256  # H_256 is a 256×256 matmul: large enough to fill GPU tiles, few stages


def check_power_of_two(n: int, what: str) -> None:
    """Raise ValueError unless n is a positive power of two (the only sizes H_n exists for here)."""
    if n < 1 or n & (n - 1):
        padded = 1 << max(n - 1, 0).bit_length()
        raise ValueError(f"{what} must be a power of two for the Hadamard transform, got {n}; zero-pad it to {padded}")


@functools.cache
def native_kernels() -> ModuleType | None:
    """The numba kernel module, or None (with one warning) when numba is missing or broken.

    Imported on first use, so importing raydim never pays for numba, and a missing or broken numba
    install only costs speed.
    """
    try:
        return importlib.import_module("raydim.subspace._fwht_numba")
    except ImportError as err:
        warnings.warn(f"raydim: numba kernels unavailable ({err}); using torch (slower)", RuntimeWarning, stacklevel=2)
        return None


def uses_native(*tensors: torch.Tensor) -> bool:
    """True when every tensor is a contiguous float32 CPU tensor and the numba kernels import."""
    cpu_float32 = all(t.device.type == "cpu" and t.dtype == torch.float32 and t.is_contiguous() for t in tensors)
    return cpu_float32 and native_kernels() is not None


def fwht_butterfly(x: torch.Tensor) -> torch.Tensor:
    """x·H_n by log₂n radix-2 stages of torch ops (the portable reference path)."""
    n = x.shape[-1]
    check_power_of_two(n, "the last dimension of x")
    if n == 1:  # H_1 = [1]; copy anyway, so that the result never aliases x
        return x.clone()
    y = x.reshape(-1, n)  # (N, n)
    h = 1
    while h < n:
        pairs = y.view(y.shape[0], n // (2 * h), 2, h)  # (N, n/2h, 2, h): element j pairs with j + h
        a, b = pairs[:, :, 0], pairs[:, :, 1]
        y = torch.stack((a + b, a - b), dim=2).view(y.shape[0], n)
        h *= 2
    return y.view(x.shape)


@functools.cache
def hadamard(n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Dense Sylvester H_n (n ≤ a few hundred), cached per (n, dtype, device) for the matmul path."""
    h = torch.ones(1, 1, dtype=dtype, device=device)
    while h.shape[0] < n:
        h = torch.cat((torch.cat((h, h), 1), torch.cat((h, -h), 1)), 0)
    return h


def fwht_kronecker(x: torch.Tensor, max_factor: int = _MAX_KRONECKER_FACTOR) -> torch.Tensor:
    """x·H_n as a few batched matmuls, using H_n = H_{m₁} ⊗ … ⊗ H_{m_k} with each m_i ≤ max_factor.

    View the last dim as (m₁, …, m_k) (index i = ((i₁·m₂ + i₂)·m₃ + …)); multiplying the last axis
    by H_{m_k} and rotating it to the front, k times, applies every factor and restores the order.
    The matmuls run in x's dtype even under autocast: a bf16 autocast (`raydim train --bf16`) would
    otherwise compute P·θ_d in bf16 in the forward but in float32 when backward recomputes it. On
    GPUs with TF32 matmuls enabled the result carries TF32 rounding; leave
    `torch.backends.cuda.matmul.allow_tf32` off when exact float32 matters.
    """
    n = x.shape[-1]
    check_power_of_two(n, "the last dimension of x")
    check_power_of_two(max_factor, "max_factor")
    log_n, log_m = n.bit_length() - 1, max(max_factor.bit_length() - 1, 1)
    num_factors = max(1, -(-log_n // log_m))
    factors = [1 << (log_n // num_factors + (i < log_n % num_factors)) for i in range(num_factors)]
    y = x.reshape(-1, n)  # (N, n)
    with torch.autocast(x.device.type, enabled=False):
        for m in reversed(factors):
            y = y.view(y.shape[0], n // m, m) @ hadamard(m, x.dtype, x.device)  # (N, n/m, m)
            y = y.transpose(1, 2).reshape(y.shape[0], n)  # last factor axis moved to the front
    return y.view(x.shape)


def fwht_torch(x: torch.Tensor) -> torch.Tensor:
    """x·H_n with torch ops only: Kronecker matmuls on CUDA, radix-2 butterflies elsewhere."""
    return fwht_kronecker(x) if x.device.type == "cuda" else fwht_butterfly(x)


def fwht_raw(x: torch.Tensor) -> torch.Tensor:
    """x·H_n on the fastest path for x's device and dtype, outside autograd (x is not modified)."""
    check_power_of_two(x.shape[-1], "the last dimension of x")
    if x.numel() > 0 and uses_native(x):
        y = x.clone()
        native_kernels().fwht_rows(y.view(-1, x.shape[-1]).numpy())
        return y
    return fwht_torch(x)


class FWHTFunction(torch.autograd.Function):
    """Autograd for y = x·H_n: the backward is g·H_n because H_n = H_nᵀ (no 1/√n)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return fwht_raw(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return FWHTFunction.apply(grad)


def fwht(x: torch.Tensor) -> torch.Tensor:
    """Differentiable x·H_n over the last dim (n a power of two, any leading batch dims)."""
    return FWHTFunction.apply(x)
