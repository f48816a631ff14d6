"""Fastfood P: the standard block construction, exact transpose, seeds, normalisation, validation."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest
import scipy.linalg
import torch

from raydim.subspace import fastfood
from raydim.subspace.fastfood import Fastfood, draw_blocks, fastfood_project, unpack_signs
from raydim.subspace.fwht import native_kernels

needs_numba = pytest.mark.skipif(native_kernels() is None, reason="numba not importable")
# (d, D, segments): n < 16 and n >= 16 kernel paths, segments straddling blocks, a truncated last block, d = 1
CASES = [
    (5, 37, [10, 1, 26]),
    (20, 1000, [100, 3, 297, 600]),
    (300, 5000, None),
    (17, 17, None),
    (1, 9, [4, 5]),
    (64, 64 * 9 + 5, [64 * 9 + 5]),
    (200, 3000, [1000, 24, 1976]),  # n = 256: fused first passes, blocks inside and across segments
]


def _explicit_matrix(ff: Fastfood) -> torch.Tensor:
    """P (D, d) column by column: P·e_j for each unit vector, in float64 through the torch path."""
    reference = Fastfood(ff.seed, ff.d, ff.D, ff.segments, ff.normalization, backend="torch")
    unit_vectors = torch.eye(ff.d, dtype=torch.float64)
    return torch.stack([reference.forward_into(e, torch.empty(ff.D, dtype=torch.float64)) for e in unit_vectors], 1)


def _definition_matrix(seed: int, d: int, D: int, segments: list[int]) -> torch.Tensor:
    """P from the formula: stacked V_b = H·G_b·Π_b·H·B_b, first d columns and D rows, row r ×1/√(n·D_i),
    with B_b's d signs, Π_b = π_{b mod K} and G_b = σ_b ⊙ γ_{b mod K} from the drawn tables."""
    n = 1 << (d - 1).bit_length()
    num_blocks = -(-D // n)
    signs, gauss_signs, perm, gauss = draw_blocks(seed, n, num_blocks, d)
    H = torch.tensor(scipy.linalg.hadamard(n), dtype=torch.float64)
    pool = torch.arange(num_blocks) % perm.shape[0]  # (blocks,)
    Pi = torch.eye(n, dtype=torch.float64)[perm.long()[pool]]  # (blocks, n, n): (Π_b x)_i = x[π_b(i)]
    G = torch.diag_embed(unpack_signs(gauss_signs, n).double() * gauss[pool].double())  # (blocks, n, n)
    B = torch.diag_embed(torch.cat([unpack_signs(signs, d).double(), torch.zeros(num_blocks, n - d)], 1))
    blocks = H @ G @ Pi @ H @ B  # (blocks, n, n); columns ≥ d are zero and dropped below
    scales = torch.cat([torch.full((length,), (n * length) ** -0.5, dtype=torch.float64) for length in segments])
    return blocks.reshape(-1, n)[:D, :d] * scales[:, None]  # (D, d)


@pytest.mark.parametrize("d, D, segments", CASES)
def test_fastfood_is_the_stacked_block_construction(d: int, D: int, segments: list[int] | None) -> None:
    ff = Fastfood(seed=11, d=d, D=D, segments=segments)
    theta = torch.randn(d, dtype=torch.float64)
    got = ff.forward_into(theta, torch.empty(D, dtype=torch.float64))
    torch.testing.assert_close(got, _definition_matrix(11, d, D, segments or [D]) @ theta)


def test_fastfood_is_linear() -> None:
    ff = Fastfood(seed=0, d=40, D=3000, segments=[1000, 2000])
    a, b = torch.randn(40), torch.randn(40)

    def project(v: torch.Tensor) -> torch.Tensor:
        return ff.forward_into(v, torch.empty(3000))

    torch.testing.assert_close(project(2.0 * a - 3.0 * b), 2.0 * project(a) - 3.0 * project(b), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("backend", ["torch", pytest.param("numba", marks=needs_numba)])
def test_fastfood_backward_is_explicit_transpose(backend: str) -> None:
    ff = Fastfood(seed=3, d=5, D=37, segments=[10, 1, 26], backend=backend)
    P = _explicit_matrix(ff).float()  # (37, 5)
    theta = torch.randn(5, requires_grad=True)
    g = torch.randn(37)
    out = fastfood_project(theta, ff)
    torch.testing.assert_close(out, P @ theta.detach(), rtol=1e-5, atol=1e-6)
    out.backward(g)
    torch.testing.assert_close(theta.grad, P.t() @ g, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ff.transpose_into(g, torch.empty(5)), P.t() @ g, rtol=1e-5, atol=1e-6)


def test_fastfood_gradcheck_float64() -> None:
    ff = Fastfood(seed=5, d=6, D=29, segments=[7, 22])
    theta = torch.randn(6, dtype=torch.float64, requires_grad=True)
    base = torch.randn(29, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t, b: fastfood_project(t, ff, base=b), (theta, base))


# n = 2^16 > 2^15: Π stored as int32 (int16 below), read by the kernels' own gather and scatter;
# too large for the explicit matrix, so only here.
INT32_PERM_CASE = (40_000, 150_000, [70_000, 5, 79_995])


@needs_numba
@pytest.mark.parametrize("d, D, segments", [*CASES, INT32_PERM_CASE])
def test_numba_kernel_equals_torch_path(d: int, D: int, segments: list[int] | None) -> None:
    fast, slow = (Fastfood(seed=7, d=d, D=D, segments=segments, backend=b) for b in ("numba", "torch"))
    theta, grad, base = torch.randn(d), torch.randn(D), torch.randn(D)
    for args in ((), (base,)):
        expected = slow.forward_into(theta, torch.empty(D), *args)
        torch.testing.assert_close(fast.forward_into(theta, torch.empty(D), *args), expected)
    expected = slow.transpose_into(grad, torch.empty(d))
    torch.testing.assert_close(fast.transpose_into(grad, torch.empty(d)), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", ["torch", pytest.param("numba", marks=needs_numba)])
def test_weights_scale_each_segment_of_the_offset(backend: str) -> None:
    """SAID's λ folded into the row scales: base + w ⊙ P·θ_d, w expanded over each segment's rows."""
    segments = [10, 1, 26, 300, 63]
    ff = Fastfood(seed=3, d=20, D=400, segments=segments, backend=backend)
    theta, base, weights = torch.randn(20), torch.randn(400), torch.tensor([0.5, -2.0, 1.5, 0.0, 3.0])
    expected = base + weights.repeat_interleave(torch.tensor(segments)) * (_explicit_matrix(ff).float() @ theta)
    got = ff.forward_into(theta, torch.empty(400), base=base, weights=weights)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", ["torch", pytest.param("numba", marks=needs_numba)])
@pytest.mark.parametrize("start, stop", [(0, 37), (0, 10), (10, 11), (11, 37), (3, 29), (36, 37)])
def test_transpose_of_a_row_range_is_those_rows_of_p(backend: str, start: int, stop: int) -> None:
    """One tensor's gradient pulled back alone (rows straddling blocks and segments included);
    the pieces sum to the whole transpose."""
    ff = Fastfood(seed=3, d=5, D=37, segments=[10, 1, 26], backend=backend)
    P = _explicit_matrix(ff).float()  # (37, 5)
    g = torch.randn(37)
    got = ff.transpose_into(g[start:stop].clone(), torch.empty(5), start=start)
    torch.testing.assert_close(got, P[start:stop].t() @ g[start:stop], rtol=1e-5, atol=1e-5)


@needs_numba
@pytest.mark.parametrize("start, stop", [(0, 3000), (256, 768), (300, 1300), (1024, 3000), (2900, 3000)])
def test_numba_row_range_transpose_equals_torch_for_blocks_of_128_and_more(start: int, stop: int) -> None:
    """n = 256: whole blocks inside one segment take the kernel's fused path (scale applied last, the
    first FWHT pass reading grad at the range's offset), the others the general one."""
    fast, slow = (Fastfood(seed=4, d=200, D=3000, segments=[1000, 24, 1976], backend=b) for b in ("numba", "torch"))
    g = torch.randn(stop - start)
    expected = slow.transpose_into(g, torch.empty(200), start=start)
    torch.testing.assert_close(fast.transpose_into(g, torch.empty(200), start=start), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", ["torch", pytest.param("numba", marks=needs_numba)])
@pytest.mark.parametrize("start, stop", [(0, 37), (0, 10), (10, 11), (11, 37), (3, 29), (36, 37)])
def test_forward_of_a_row_range_is_those_rows_of_the_whole(backend: str, start: int, stop: int) -> None:
    """One layer's slice of θ = θ₀ + w ⊙ P·θ_d, bit for bit the rows of the whole-D forward."""
    ff = Fastfood(seed=3, d=5, D=37, segments=[10, 1, 26], backend=backend)
    theta, base, weights = torch.randn(5), torch.randn(37), torch.tensor([0.5, 2.0, 1.5])
    whole = ff.forward_into(theta, torch.empty(37), base=base, weights=weights)
    rows = ff.forward_into(theta, torch.empty(stop - start), base=base[start:stop], weights=weights, start=start)
    assert torch.equal(rows, whole[start:stop])
    with pytest.raises(ValueError, match="out must be a 1-D tensor of rows \\[start, start \\+ len\\) within"):
        ff.forward_into(theta, torch.empty(37 - start + 1), start=start)  # past the last row


def test_blocks_cycle_through_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """With more blocks than the pool holds, block b uses π and γ number b mod K; both paths agree
    with the formula."""
    monkeypatch.setattr(fastfood, "_POOL_ELEMENTS", 3 * 8)  # K = 3 pool entries of n = 8 for 13 blocks
    ff = Fastfood(seed=9, d=6, D=100, segments=[40, 60])
    assert ff.perm.shape == ff.gauss.shape == (3, 8) and ff.num_blocks == 13
    theta = torch.randn(6, dtype=torch.float64)
    expected = _definition_matrix(9, 6, 100, [40, 60]) @ theta
    torch.testing.assert_close(ff.forward_into(theta, torch.empty(100, dtype=torch.float64)), expected)
    if native_kernels() is not None:
        fast = Fastfood(seed=9, d=6, D=100, segments=[40, 60], backend="numba")
        torch.testing.assert_close(fast.forward_into(theta.float(), torch.empty(100)), expected.float())


def test_unpack_signs_is_least_significant_bit_first() -> None:
    packed = torch.tensor([[0b00000101, 0b1]], dtype=torch.uint8)
    assert unpack_signs(packed, 10).tolist() == [[-1, 1, -1, 1, 1, 1, 1, 1, -1, 1]]


def test_stored_diagonals_are_a_fraction_of_a_byte_per_row() -> None:
    """(d/n + 1)/8 bytes per row for B and the signs of G, plus a pool of ≈2^20 entries for Π and |G|."""
    ff = Fastfood(seed=0, d=1000, D=1 << 22)
    stored = sum(t.numel() * t.element_size() for t in (ff.signs, ff.gauss_signs, ff.perm, ff.gauss))
    assert stored <= ff.D * (1000 / 1024 + 1) / 8 + 6 * (1 << 20) + 8 * ff.num_blocks


def test_fastfood_project_reuses_the_given_buffer_and_adds_base() -> None:
    ff = Fastfood(seed=1, d=8, D=100)
    theta0, out = torch.randn(100), torch.empty(100)
    theta_d = torch.randn(8, requires_grad=True)
    theta = fastfood_project(theta_d, ff, out=out, base=theta0)
    assert theta.data_ptr() == out.data_ptr()
    torch.testing.assert_close(theta, theta0 + ff.forward_into(theta_d.detach(), torch.empty(100)))
    theta.sum().backward()
    torch.testing.assert_close(theta_d.grad, ff.transpose_into(torch.ones(100), torch.empty(8)))


_FINGERPRINT = """
import hashlib, sys, torch
from raydim.subspace.fastfood import Fastfood
ff = Fastfood(seed=int(sys.argv[1]), d=50, D=777, segments=[77, 700], backend="torch")
out = ff.forward_into(torch.linspace(-1, 1, 50), torch.empty(777))
print(hashlib.sha256(b"".join(t.numpy().tobytes() for t in (ff.signs, ff.gauss_signs, ff.perm, ff.gauss, out))).hexdigest())
"""


def _fingerprint(seed: int) -> str:
    ff = Fastfood(seed=seed, d=50, D=777, segments=[77, 700], backend="torch")
    out = ff.forward_into(torch.linspace(-1, 1, 50), torch.empty(777))
    return hashlib.sha256(b"".join(t.numpy().tobytes() for t in (ff.signs, ff.gauss_signs, ff.perm, ff.gauss, out))).hexdigest()


def test_same_seed_gives_bit_identical_projection_in_another_process() -> None:
    torch.manual_seed(123)  # the global RNG state must not matter
    result = subprocess.run([sys.executable, "-c", _FINGERPRINT, "4"], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == _fingerprint(4)


def test_different_seeds_give_different_projections() -> None:
    assert _fingerprint(4) != _fingerprint(5)
    a, b = (Fastfood(seed=s, d=5, D=37) for s in (0, 1))
    assert not torch.equal(_explicit_matrix(a), _explicit_matrix(b))


def test_per_tensor_normalisation_keeps_each_segment_at_the_norm_of_theta() -> None:
    """E‖(P·θ)_i‖² = ‖θ‖² for every segment i, whatever its length or position among the blocks.

    Seeds are fixed, so this never flakes; over 300 draws the mean of a chi-square-like ratio
    sits within ±0.2 of 1 (several standard errors even for the 3-row segment).
    """
    segments = [3, 61, 200, 36, 700]  # lengths across and inside the 64-row blocks
    theta = torch.randn(40, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ratios = torch.zeros(len(segments), dtype=torch.float64)
    for seed in range(300):
        ff = Fastfood(seed=seed, d=40, D=1000, segments=segments)
        out = ff.forward_into(theta, torch.empty(1000, dtype=torch.float64))
        ratios += torch.stack([part.square().sum() for part in out.split(segments)]) / theta.square().sum()
    ratios /= 300
    assert torch.all((ratios - 1).abs() < 0.2), ratios


def test_global_normalisation_keeps_the_whole_offset_at_the_norm_of_theta() -> None:
    theta = torch.randn(40, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ratios = [
        Fastfood(seed=seed, d=40, D=1000, segments=[3, 997], normalization="global")
        .forward_into(theta, torch.empty(1000, dtype=torch.float64)).square().sum() / theta.square().sum()
        for seed in range(100)
    ]  # fmt: skip
    assert abs(sum(ratios) / len(ratios) - 1) < 0.1


def test_scalar_normalisation_scales_every_row() -> None:
    unit, doubled = (Fastfood(seed=2, d=9, D=50, normalization=s) for s in (1.0, 2.0))
    theta = torch.randn(9)
    expected = 2 * unit.forward_into(theta, torch.empty(50))
    torch.testing.assert_close(doubled.forward_into(theta, torch.empty(50)), expected)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"d": 38, "D": 37}, "d=38 exceeds D=37.*use d <= 37"),
        ({"d": 0, "D": 37}, "d \\(subspace dimension\\) must be a positive int, got 0"),
        ({"d": -4, "D": 37}, "got -4"),
        ({"d": 5, "D": 0}, "D \\(number of model parameters\\) must be a positive int, got 0"),
        ({"d": 5, "D": 37, "segments": [10, 20]}, "segments must sum to D=37, got 30"),
        ({"d": 5, "D": 37, "segments": [37, 0]}, "segments must be positive ints"),
        ({"d": 5, "D": 37, "normalization": "l2"}, "normalization must be one of \\('per_tensor', 'global'\\)"),
        ({"d": 5, "D": 37, "normalization": -1.0}, "scalar normalization must be a positive number"),
        ({"d": 5, "D": 37, "backend": "cuda"}, "backend must be one of"),
        ({"d": 5, "D": 37, "seed": "0"}, "seed must be an int"),
    ],
)
def test_bad_arguments_are_value_errors_naming_the_fix(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Fastfood(**{"seed": 0, **kwargs})


def test_all_argument_errors_are_reported_together() -> None:
    with pytest.raises(ValueError, match="d=50 exceeds D=37.*segments must sum to D=37"):
        Fastfood(seed=0, d=50, D=37, segments=[1])


def test_wrong_buffers_are_value_errors() -> None:
    ff = Fastfood(seed=0, d=5, D=37)
    with pytest.raises(ValueError, match="out must be a \\(37,\\) torch.float32 tensor on cpu, got \\(36,\\)"):
        ff.forward_into(torch.randn(5), torch.empty(36))
    with pytest.raises(ValueError, match="theta_d must be a \\(5,\\)"):
        ff.forward_into(torch.randn(6), torch.empty(37))
    with pytest.raises(ValueError, match="out_d must be a \\(5,\\) torch.float32"):
        ff.transpose_into(torch.randn(37), torch.empty(5, dtype=torch.float64))


@needs_numba
def test_forcing_numba_on_float64_is_a_value_error() -> None:
    ff = Fastfood(seed=0, d=5, D=37, backend="numba")
    with pytest.raises(ValueError, match="backend='numba'\\) needs numba and contiguous float32 CPU tensors"):
        ff.forward_into(torch.randn(5, dtype=torch.float64), torch.empty(37, dtype=torch.float64))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_torch_path_equals_cpu() -> None:
    cpu = Fastfood(seed=9, d=300, D=70_000, segments=[30_000, 40_000])
    gpu = Fastfood(seed=9, d=300, D=70_000, segments=[30_000, 40_000], device="cuda")
    theta, grad = torch.randn(300), torch.randn(70_000)
    on_gpu = gpu.forward_into(theta.cuda(), torch.empty(70_000, device="cuda")).cpu()
    torch.testing.assert_close(on_gpu, cpu.forward_into(theta, torch.empty(70_000)), rtol=1e-4, atol=1e-5)
    on_gpu = gpu.transpose_into(grad.cuda(), torch.empty(300, device="cuda")).cpu()
    torch.testing.assert_close(on_gpu, cpu.transpose_into(grad, torch.empty(300)), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("backend", ["torch", pytest.param("numba", marks=needs_numba)])
def test_forward_into_accepts_a_parameter_and_records_no_graph(backend: str) -> None:
    ff = Fastfood(seed=0, d=5, D=37, backend=backend)
    theta_d = torch.nn.Parameter(torch.randn(5))
    out = ff.forward_into(theta_d, torch.empty(37))
    assert not out.requires_grad
    torch.testing.assert_close(out, ff.forward_into(theta_d.detach(), torch.empty(37)))
