"""The Walsh–Hadamard transform: every implementation is x·H_n, and its gradient is H_n·g."""

from __future__ import annotations

import sys

import pytest
import scipy.linalg
import torch

from raydim.subspace.fwht import fwht, fwht_butterfly, fwht_kronecker, fwht_raw, native_kernels

SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 512, 1024, 2048]
IMPLEMENTATIONS = {
    "butterfly": fwht_butterfly,
    "kronecker": fwht_kronecker,
    "kronecker_small_factors": lambda x: fwht_kronecker(x, max_factor=4),
    "dispatch": fwht_raw,
    "autograd": fwht,
}
needs_numba = pytest.mark.skipif(native_kernels() is None, reason="numba not importable")


def _hadamard(n: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.tensor(scipy.linalg.hadamard(n), dtype=dtype)


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
@pytest.mark.parametrize("n", SIZES)
def test_fwht_equals_scipy_hadamard_product(name: str, n: int) -> None:
    x = torch.randn(3, 2, n, generator=torch.Generator().manual_seed(n))  # batched leading dims
    expected = x.double() @ _hadamard(n)
    got = IMPLEMENTATIONS[name](x)
    assert got.shape == x.shape and got.dtype == x.dtype
    torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-5 * n**0.5)


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
def test_fwht_is_exact_in_float64(name: str) -> None:
    x = torch.randn(4, 256, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(IMPLEMENTATIONS[name](x), x @ _hadamard(256), rtol=1e-12, atol=1e-12)


@needs_numba
@pytest.mark.parametrize("n", [1, 8, 16, 32, 64, 128, 4096, 1 << 15, 1 << 17])
def test_numba_kernel_equals_torch_butterfly(n: int) -> None:
    x = torch.randn(5, n, generator=torch.Generator().manual_seed(1))
    y = x.clone()
    native_kernels().fwht_rows(y.numpy())
    torch.testing.assert_close(y, fwht_butterfly(x), rtol=1e-5, atol=1e-5 * n**0.5)


def test_kronecker_matmuls_ignore_autocast() -> None:
    """The GPU path's matmuls keep float32 under a bf16 autocast (as `--bf16` trains), so P·θ_d is the
    same in the forward (inside autocast) and when backward recomputes it (outside)."""
    x = torch.randn(3, 1024)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = fwht_kronecker(x)
    assert y.dtype == torch.float32
    torch.testing.assert_close(y, fwht_butterfly(x), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("max_factor", [2, 16, 256])
def test_kronecker_matmuls_equal_butterfly_for_large_n(max_factor: int) -> None:
    x = torch.randn(2, 1 << 14, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(fwht_kronecker(x, max_factor), fwht_butterfly(x), rtol=1e-12, atol=1e-9)


def test_fwht_twice_is_n_times_identity() -> None:
    x = torch.randn(7, 64, dtype=torch.float64)
    torch.testing.assert_close(fwht(fwht(x)), 64 * x)


def test_fwht_does_not_modify_its_input() -> None:
    x = torch.randn(3, 128)
    before = x.clone()
    fwht(x)
    assert torch.equal(x, before)


def test_fwht_on_non_contiguous_input() -> None:
    x = torch.randn(64, 6)
    torch.testing.assert_close(fwht(x.t()), fwht(x.t().contiguous()))


def test_fwht_backward_is_unnormalised_hadamard() -> None:
    """∂(x·H)/∂x applied to g is g·H — the authors' CUDA code returned g·H/√n."""
    x = torch.randn(2, 32, requires_grad=True)
    g = torch.randn(2, 32)
    fwht(x).backward(g)
    torch.testing.assert_close(x.grad, (g.double() @ _hadamard(32)).float(), rtol=1e-5, atol=1e-4)


def test_fwht_gradcheck_float64() -> None:
    x = torch.randn(3, 16, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(fwht, (x,))
    assert torch.autograd.gradgradcheck(fwht, (x,))


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
def test_non_power_of_two_is_a_value_error(name: str) -> None:
    with pytest.raises(ValueError, match="must be a power of two .* got 12; zero-pad it to 16"):
        IMPLEMENTATIONS[name](torch.randn(2, 12))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_kronecker_path_equals_cpu() -> None:
    x = torch.randn(4, 1 << 12)
    torch.testing.assert_close(fwht(x.cuda()).cpu(), fwht_butterfly(x), rtol=1e-4, atol=1e-3)


def test_missing_numba_falls_back_to_torch_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    from raydim.subspace.fastfood import Fastfood

    monkeypatch.setitem(sys.modules, "numba", None)  # makes `import numba` raise ImportError
    monkeypatch.delitem(sys.modules, "raydim.subspace._fwht_numba", raising=False)
    native_kernels.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="numba kernels unavailable"):
            assert native_kernels() is None
        x = torch.randn(3, 64)
        torch.testing.assert_close(fwht(x), fwht_butterfly(x))
        ff = Fastfood(seed=0, d=5, D=37)
        assert ff.forward_into(torch.randn(5), torch.empty(37)).isfinite().all()
    finally:
        native_kernels.cache_clear()
