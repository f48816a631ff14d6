"""Numba CPU kernels: the Walsh–Hadamard transform and the fused Fastfood block, forward and transpose.

Private: `fwht.py` and `fastfood.py` import this module lazily and fall back to pure torch when
numba is missing. Arrays are float32 NumPy views of contiguous CPU tensors (zero copy). Everything
lives in one file because numba's on-disk cache is invalidated by the caller's source file only: a
kernel cached in another file would keep running a stale copy of an edited `fwht_inplace`.

Why LLVM intrinsics instead of plain loops: numba leaves the strides-1, 2, 4, 8 butterflies scalar
(LLVM will not vectorise their interleaved access), and loops over 16..64 elements mostly run in the
vectoriser's scalar remainder. Written on 16-lane `<16 x float>` values instead, the first four stages
are a shuffle + FMA each inside one register, fused with the next three into one pass, and every
later radix-16/8 pass touches each element once per four or three stages; the ±1 diagonals are
applied 16 bits at a time as a sign-bit XOR. The permutation Π stays a scalar gather (forward) and
scatter (transpose): AVX-512's own gather and scatter instructions, measured, won at one d what
they lost at another. Written as intrinsics, though, its loads and stores lose numba's
negative-index fix-up, the diagonals around it run on 16 lanes, and the forward's gathered vectors
go from registers straight into the next H's first pass. LLVM lowers `<16 x float>` to whatever the
CPU has (one AVX-512 register, two AVX2, four SSE or NEON), so nothing here is x86-specific. What
each step gained: docs/benchmarks.md.
"""

import sys

import numpy as np
from llvmlite import ir
from numba import get_num_threads, njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

LANES = 16  # floats per vector value; transforms of n >= LANES take the vector path
_LITTLE_ENDIAN = sys.byteorder == "little"
_VEC = ir.VectorType(ir.FloatType(), LANES)
_MASK = ir.VectorType(ir.IntType(32), LANES)


def kernel(func):
    """`njit(parallel, fastmath)`, cached on disk when numba finds a writable cache directory.

    Numba tries NUMBA_CACHE_DIR, then `__pycache__` beside the source, then the user-wide cache;
    when none is writable it raises at decoration time, and we compile once per process instead.
    """
    try:
        return njit(parallel=True, fastmath=True, cache=True)(func)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return njit(parallel=True, fastmath=True, cache=False)(func)


def _is_float32_vector(array) -> bool:
    """Typing guard for the intrinsics: they address raw float32 memory with unit stride."""
    return isinstance(array, types.Array) and array.dtype == types.float32 and array.ndim == 1 and array.layout == "C"


def _vector_pointer(context, builder, array_type, array, index):
    """Pointer to the `LANES` floats array[index : index + LANES] as one vector value."""
    data = context.make_array(array_type)(context, builder, array).data
    return builder.bitcast(cgutils.gep(builder, data, index), _VEC.as_pointer())


def _lane_stages(builder, v):
    """v·H_16 for one 16-lane value: the stages of stride 1, 2, 4, 8, done inside the register.

    Per stage h, lane l pairs with lane l^h; lanes with bit h clear keep x_l + x_{l^h}, the others
    x_{l^h} − x_l: both are partner + s_l·x_l with s_l = ±1, one shuffle and one fused multiply-add
    per stage (exact: s_l·x_l is, and the FMA rounds the sum once, like the add or subtract would).
    Computing both sums and picking lanes by a second shuffle costs twice the shuffles, and the
    shuffle port is what these four stages wait on.
    """
    fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_VEC, [_VEC] * 3), "llvm.fma.v16f32")
    for h in (1, 2, 4, 8):
        partner = builder.shuffle_vector(v, v, ir.Constant(_MASK, [lane ^ h for lane in range(LANES)]))
        signs = ir.Constant(_VEC, [-1.0 if lane & h else 1.0 for lane in range(LANES)])
        v = builder.call(fma, [v, signs, partner])
    return v


def _cross_stages(builder, v):
    """The len(v) = 2^k values combined by H_{2^k} across values (k stages of radix-2 butterflies)."""
    v = list(v)
    step = 1
    while step < len(v):
        for t in range(len(v)):
            if not t & step:
                v[t], v[t + step] = builder.fadd(v[t], v[t + step]), builder.fsub(v[t], v[t + step])
        step *= 2
    return v


def _radix_butterfly(log2_radix, lanes_first=False):
    """Intrinsic combining the 2^k vectors x[start + t·h : start + t·h + 16], t < 2^k, by H_{2^k}:
    k stages of stride h, 2h, … done on 16 lanes at once with each vector loaded and stored once.

    With `lanes_first` each vector first gets the in-register stages of stride 1 … 8 (`_lane_stages`;
    H's stages commute, so any order gives H), sparing the transform one pass over its block.
    """
    radix = 1 << log2_radix

    @intrinsic
    def butterfly(typingctx, array, start, h):
        def codegen(context, builder, signature, args):
            array_type, _, _ = signature.args
            array, start, h = args
            offsets = [builder.add(start, builder.mul(h, ir.Constant(h.type, t))) for t in range(radix)]
            ptrs = [_vector_pointer(context, builder, array_type, array, offset) for offset in offsets]
            v = [builder.load(p, align=4) for p in ptrs]
            if lanes_first:
                v = [_lane_stages(builder, value) for value in v]
            for p, value in zip(ptrs, _cross_stages(builder, v)):
                builder.store(value, p, align=4)
            return context.get_dummy_value()

        return (types.void(array, start, h), codegen) if _is_float32_vector(array) else None

    return butterfly


_butterfly2, _butterfly4, _butterfly8, _butterfly16 = (_radix_butterfly(k) for k in range(1, 5))
_hadamard16, _lanes_butterfly2, _lanes_butterfly4, _lanes_butterfly8 = (
    _radix_butterfly(k, lanes_first=True) for k in range(4)
)


_RADIX16_MAX_STRIDE = 1024  # floats; 16 vectors ≥ 4 KiB apart share an L1 set (12-way 48 KiB): misses


@njit(fastmath=True, inline="always")
def _radix_passes(x, n, h):
    """Stages of stride h, 2h, …, n/2 on x[:n] (h >= LANES): radix-16 passes while their vectors are
    close, radix-8 while three stages remain, then one radix-4 or radix-2 pass; each pass reads and
    writes every element once."""
    while h < n:
        if 16 * h <= n and h < _RADIX16_MAX_STRIDE:
            for i in range(0, n, 16 * h):
                for j in range(i, i + h, LANES):
                    _butterfly16(x, j, h)
            h *= 16
        elif 8 * h <= n:
            for i in range(0, n, 8 * h):
                for j in range(i, i + h, LANES):
                    _butterfly8(x, j, h)
            h *= 8
        elif 4 * h <= n:
            for i in range(0, n, 4 * h):
                for j in range(i, i + h, LANES):
                    _butterfly4(x, j, h)
            h *= 4
        else:
            for j in range(0, h, LANES):
                _butterfly2(x, j, h)
            h *= 2


@njit(fastmath=True, inline="always")
def fwht_inplace(x, n):
    """x[:n] ← x[:n]·H_n for one contiguous float32 vector, n = 2^k (any k >= 0).

    Passes, not cache blocking, are what cost: running the strides below 1024…8192 sub-block by
    sub-block in L1 before the wider ones measured no faster for n up to 2^17 (L2 keeps up), while
    each pass saved (strides 1 … 64 in one, radix 16) did (docs/benchmarks.md).
    """
    if n < LANES:  # tiny transforms: plain radix-2 loops, speed irrelevant
        h = 1
        while h < n:
            for i in range(0, n, 2 * h):
                for j in range(i, i + h):
                    x[j], x[j + h] = x[j] + x[j + h], x[j] - x[j + h]
            h *= 2
        return
    if n >= 8 * LANES:  # strides 1 … 64 in one pass, then the rest
        for i in range(0, n, 8 * LANES):
            _lanes_butterfly8(x, i, LANES)
        _radix_passes(x, n, 8 * LANES)
    elif n == 4 * LANES:
        _lanes_butterfly4(x, 0, LANES)
    elif n == 2 * LANES:
        _lanes_butterfly2(x, 0, LANES)
    else:
        _hadamard16(x, 0, LANES)


@kernel
def fwht_rows(x):
    """In place: every row of the C-contiguous (rows, n) float32 array x ← x·H_n, rows over threads."""
    rows, n = x.shape
    for r in prange(rows):
        fwht_inplace(x[r], n)


def num_chunks(num_blocks: int) -> int:
    """How many block ranges a Fastfood kernel call splits into: 4 per numba thread evens out a
    slow (shared) core, and each range costs only two n-float buffers and one d-float partial sum."""
    return min(num_blocks, 4 * get_num_threads())


@njit(inline="always")
def _first_segment(bounds, start):
    """Index k of the segment [bounds[k], bounds[k+1]) that contains position `start`."""
    return np.searchsorted(bounds, start, side="right") - 1


def _flip_value(context, builder, bits_type, bits, start, v):
    """The 16-lane value v with its sign bit flipped where bits start … start+15 of the packed ±1
    diagonal are set (start a multiple of 16, so they are two whole bytes).

    One 16-bit load becomes the lane mask, shifted into the float sign position and XORed in: exact
    (−x, like x·(−1)), and on AVX-512 a handful of instructions per 16 floats where unpacking a bit
    at a time cost ≈0.4 cycles per float, a quarter of the whole kernel (docs/benchmarks.md). Bit t
    of the 16-bit word is lane t on little-endian CPUs only (`_LITTLE_ENDIAN`).
    """
    data = context.make_array(bits_type)(context, builder, bits).data
    word = cgutils.gep(builder, data, builder.lshr(start, ir.Constant(start.type, 3)))
    mask = builder.load(builder.bitcast(word, ir.IntType(16).as_pointer()), align=1)
    lanes = builder.zext(builder.bitcast(mask, ir.VectorType(ir.IntType(1), LANES)), _MASK)
    flips = builder.shl(lanes, ir.Constant(_MASK, [31] * LANES))
    return builder.bitcast(builder.xor(builder.bitcast(v, _MASK), flips), _VEC)


def _is_packed_bits(bits) -> bool:
    return isinstance(bits, types.Array) and bits.dtype == types.uint8 and bits.ndim == 1 and bits.layout == "C"


@intrinsic
def _flip16(typingctx, bits, start, values, out):
    """out[start : start+16] ← ±1 diagonal (packed `bits`) ⊙ values[start : start+16] (`_flip_value`)."""

    def codegen(context, builder, signature, args):
        bits_type, _, values_type, out_type = signature.args
        bits, start, values, out = args
        v = builder.load(_vector_pointer(context, builder, values_type, values, start), align=4)
        flipped = _flip_value(context, builder, bits_type, bits, start, v)
        builder.store(flipped, _vector_pointer(context, builder, out_type, out, start), align=4)
        return context.get_dummy_value()

    if _is_packed_bits(bits) and _is_float32_vector(values) and _is_float32_vector(out):
        return types.void(bits, start, values, out), codegen
    return None


def _first_pass_codegen(context, builder, load, dst_type, dst, dst_start, flip=None):
    """dst[dst_start : +128] ← strides 1 … 64 of H on the 128 floats `load(t)` returns 16 at a time
    (t < 8), optionally after the ±1 bits (bits_type, bits) at dst_start …: the first pass of a
    transform fused with what fed it."""
    dst_offsets = [builder.add(dst_start, ir.Constant(dst_start.type, LANES * t)) for t in range(8)]
    values = []
    for t, dst_offset in enumerate(dst_offsets):
        v = load(t)
        if flip is not None:
            v = _flip_value(context, builder, *flip, dst_offset, v)
        values.append(_lane_stages(builder, v))
    for dst_offset, value in zip(dst_offsets, _cross_stages(builder, values)):
        builder.store(value, _vector_pointer(context, builder, dst_type, dst, dst_offset), align=4)
    return context.get_dummy_value()


def _loader(context, builder, src_type, src, src_start):
    """load(t) for `_first_pass_codegen`: the t-th 16 floats of src from src_start."""

    def load(t):
        offset = builder.add(src_start, ir.Constant(src_start.type, LANES * t))
        return builder.load(_vector_pointer(context, builder, src_type, src, offset), align=4)

    return load


def _perm_index(context, builder, perm_type, perm, i):
    """perm[i] as a 64-bit index: a plain load, without the negative-index wraparound numba adds to
    every `x[perm[i]]` (four instructions per element in a loop that is all loads and stores)."""
    data = context.make_array(perm_type)(context, builder, perm).data
    return builder.sext(builder.load(cgutils.gep(builder, data, i)), ir.IntType(64))


def _is_perm(perm) -> bool:
    """Typing guard: one row of Π as `draw_blocks` stores it (int16 while n <= 2^15, else int32)."""
    is_row = isinstance(perm, types.Array) and perm.ndim == 1 and perm.layout == "C"
    return is_row and perm.dtype in (types.int16, types.int32)


@intrinsic
def _signed_first_pass(typingctx, src, bits, dst, start):
    """dst[start : +128] ← strides 1 … 64 of H on (±1 bits ⊙ src)[start : +128]: a ±1 diagonal and
    the first pass of the transform after it in one read of src (src may be dst)."""

    def codegen(context, builder, signature, args):
        src_type, bits_type, dst_type, _ = signature.args
        src, bits, dst, start = args
        load = _loader(context, builder, src_type, src, start)
        return _first_pass_codegen(context, builder, load, dst_type, dst, start, (bits_type, bits))

    if _is_float32_vector(src) and _is_packed_bits(bits) and _is_float32_vector(dst):
        return types.void(src, bits, dst, start), codegen
    return None


@intrinsic
def _copied_first_pass(typingctx, src, src_start, dst, dst_start):
    """dst[dst_start : +128] ← strides 1 … 64 of H on src[src_start : +128]: the copy into the work
    buffer and the transform's first pass in one."""

    def codegen(context, builder, signature, args):
        src_type, _, dst_type, _ = signature.args
        src, src_start, dst, dst_start = args
        load = _loader(context, builder, src_type, src, src_start)
        return _first_pass_codegen(context, builder, load, dst_type, dst, dst_start)

    if _is_float32_vector(src) and _is_float32_vector(dst):
        return types.void(src, src_start, dst, dst_start), codegen
    return None


@intrinsic
def _gathered_first_pass(typingctx, x, perm, gauss, bits, dst, start):
    """dst[start : +128] ← strides 1 … 64 of H on (±1 bits ⊙ gauss ⊙ x[perm])[start : +128]: the
    Fastfood block's middle G·Π and the first pass of the H after it, the gathered values going
    straight from registers into the butterflies (one pass over the block fewer)."""

    def codegen(context, builder, signature, args):
        x_type, perm_type, gauss_type, bits_type, dst_type, _ = signature.args
        x, perm, gauss, bits, dst, start = args
        x_data = context.make_array(x_type)(context, builder, x).data
        gauss_at = _loader(context, builder, gauss_type, gauss, start)

        def load(t):
            first = builder.add(start, ir.Constant(start.type, LANES * t))
            v = ir.Constant(_VEC, None)
            for lane in range(LANES):
                i = builder.add(first, ir.Constant(first.type, lane))
                value = builder.load(cgutils.gep(builder, x_data, _perm_index(context, builder, perm_type, perm, i)))
                v = builder.insert_element(v, value, ir.Constant(ir.IntType(32), lane))
            return builder.fmul(v, gauss_at(t))

        return _first_pass_codegen(context, builder, load, dst_type, dst, start, (bits_type, bits))

    if (
        _is_float32_vector(x)
        and _is_perm(perm)
        and _is_float32_vector(gauss)
        and _is_packed_bits(bits)
        and _is_float32_vector(dst)
    ):
        return types.void(x, perm, gauss, bits, dst, start), codegen
    return None


@intrinsic
def _scattered16(typingctx, x, bits, gauss, perm, y, start):
    """y[perm[i]] ← (±1 bits ⊙ gauss ⊙ x)[i] for i in start … start+15: the transpose's Πᵀ·G with the
    diagonal on 16 lanes at once and only the stores scalar."""

    def codegen(context, builder, signature, args):
        x_type, bits_type, gauss_type, perm_type, y_type, _ = signature.args
        x, bits, gauss, perm, y, start = args
        v = builder.load(_vector_pointer(context, builder, x_type, x, start), align=4)
        v = _flip_value(context, builder, bits_type, bits, start, v)
        v = builder.fmul(v, builder.load(_vector_pointer(context, builder, gauss_type, gauss, start), align=4))
        y_data = context.make_array(y_type)(context, builder, y).data
        for lane in range(LANES):
            index = _perm_index(context, builder, perm_type, perm, builder.add(start, ir.Constant(start.type, lane)))
            value = builder.extract_element(v, ir.Constant(ir.IntType(32), lane))
            builder.store(value, cgutils.gep(builder, y_data, index), align=4)
        return context.get_dummy_value()

    if (
        _is_float32_vector(x)
        and _is_packed_bits(bits)
        and _is_float32_vector(gauss)
        and _is_perm(perm)
        and _is_float32_vector(y)
    ):
        return types.void(x, bits, gauss, perm, y, start), codegen
    return None


@njit(inline="always")
def _sign(bits, i):
    """Entry i of a ±1 diagonal packed 8 to a byte, least significant bit first, a set bit meaning −1."""
    return np.float32(1 - 2 * ((bits[i >> 3] >> (i & 7)) & 1))


@njit(fastmath=True, inline="always")
def _signed(bits, values, out, count, first=0):
    """out[first:count] ← ±1 diagonal (packed `bits`) ⊙ values[first:count], 16 signs at a time
    (first a multiple of 16)."""
    whole = max(first, count - count % LANES) if _LITTLE_ENDIAN else first
    for i in range(first, whole, LANES):
        _flip16(bits, i, values, out)
    for i in range(whole, count):
        out[i] = values[i] * _sign(bits, i)


@njit(fastmath=True, inline="always")
def _signed_fwht(src, bits, dst, count, n):
    """dst[:n] ← H_n·(±1 diagonal ⊙ src[:count], zero-padded to n), the diagonal applied as the
    first pass reads src (src may be dst). Strides 1 … 64 need n >= 128; smaller n take two passes."""
    if n < 8 * LANES or not _LITTLE_ENDIAN:
        _signed(bits, src, dst, count)
        for i in range(count, n):
            dst[i] = 0.0
        fwht_inplace(dst, n)
        return
    group = 8 * LANES
    whole = count - count % group
    for i in range(0, whole, group):
        _signed_first_pass(src, bits, dst, i)
    if whole < count:  # the group count ends in: its tail is zero, not src
        _signed(bits, src, dst, count, whole)
        for i in range(count, whole + group):
            dst[i] = 0.0
        _lanes_butterfly8(dst, whole, LANES)
        whole += group
    for i in range(whole, n):  # groups of zeros stay zero
        dst[i] = 0.0
    _radix_passes(dst, n, group)


@njit(fastmath=True, inline="always")
def _permuted_fwht(x, perm, gauss, bits, y, n):
    """y[:n] ← H_n·(±1 diagonal ⊙ gauss ⊙ Π x) with (Π x)_i = x[perm[i]]: the forward's G·Π, fused
    into the first pass of the H after it where that pass is vectorised."""
    if n < 8 * LANES or not _LITTLE_ENDIAN:
        for i in range(n):
            y[i] = x[perm[i]] * gauss[i]
        _signed_fwht(y, bits, y, n, n)
        return
    for i in range(0, n, 8 * LANES):
        _gathered_first_pass(x, perm, gauss, bits, y, i)
    _radix_passes(y, n, 8 * LANES)


@njit(fastmath=True, inline="always")
def _scatter(x, bits, gauss, perm, y, n):
    """y[perm[i]] ← (±1 diagonal ⊙ gauss ⊙ x)[i] for i < n: the transpose's Πᵀ·G, x overwritten."""
    if n < LANES or not _LITTLE_ENDIAN:
        _signed(bits, x, x, n)
        for i in range(n):
            y[perm[i]] = x[i] * gauss[i]
        return
    for i in range(0, n, LANES):
        _scattered16(x, bits, gauss, perm, y, i)


@kernel
def fastfood_forward(theta, first_row, signs, gauss_signs, perm, gauss, bounds, scales, base, out, num_chunks):
    """out ← base + scale ⊙ (rows first_row … first_row + len(out) of P)·θ, so only the blocks those
    rows touch run: block b holds rows [b·n, (b+1)·n) of P, (H·G_b·Π_b·H·B_b·θ_pad), truncated at D.

    theta (d,); signs (num_blocks, ⌈d/8⌉) and gauss_signs (num_blocks, ⌈n/8⌉) packed ±1 bits; perm
    and gauss (K, n), block b using row b mod K, so G_b = gauss_signs_b ⊙ gauss_{b mod K}; bounds
    (S+1,) segment edges over D, scales (S,); base like out, or (0,) for none. The blocks are cut
    into `num_chunks` contiguous ranges, each with its own n-float buffers that stay in L1/L2 while
    a block is transformed.
    """
    d = theta.shape[0]
    num_pool, n = gauss.shape
    last_row = first_row + out.shape[0]
    first_block = first_row // n
    num_blocks = (last_row - 1) // n + 1 - first_block
    has_base = base.shape[0] == out.shape[0]
    for c in prange(num_chunks):
        x = np.empty(n, np.float32)
        y = np.empty(n, np.float32)
        for b in range(first_block + (c * num_blocks) // num_chunks, first_block + ((c + 1) * num_blocks) // num_chunks):
            sb, qb, pb, gb = signs[b], gauss_signs[b], perm[b % num_pool], gauss[b % num_pool]
            _signed_fwht(theta, sb, x, d, n)  # H·B_b·θ_pad
            _permuted_fwht(x, pb, gb, qb, y, n)  # H·σ_b·|G_b|·Π_b·(…), G_b = σ_b ⊙ |G|
            start = max(b * n, first_row)
            stop = min(b * n + n, last_row)
            k = _first_segment(bounds, start)
            while k < scales.shape[0] and bounds[k] < stop:
                lo, hi, s = max(start, bounds[k]), min(stop, bounds[k + 1]), scales[k]
                o, yk = out[lo - first_row : hi - first_row], y[lo - b * n : hi - b * n]
                if has_base:
                    bk = base[lo - first_row : hi - first_row]
                    for i in range(hi - lo):
                        o[i] = bk[i] + s * yk[i]
                else:
                    for i in range(hi - lo):
                        o[i] = s * yk[i]
                k += 1


@kernel
def fastfood_transpose(grad, first_row, signs, gauss_signs, perm, gauss, bounds, scales, out, num_chunks):
    """out ← (rows first_row … first_row + len(grad) of P)ᵀ·grad = Σ_b (B_b·H·Π_bᵀ·G_b·H·(scale ⊙ g)_b)[:d],
    with g = grad placed at those rows and zero elsewhere, so only the blocks those rows touch run.

    Each chunk of blocks sums into its own float64 row of `partial`, reduced at the end, so threads
    never write the same d-vector and the sum over thousands of blocks keeps float32 accuracy. A
    block inside one segment (almost all of them) has a single scale, which by linearity is applied
    as the block is summed: its first FWHT pass then reads grad directly, one pass fewer.
    """
    d = out.shape[0]
    num_pool, n = gauss.shape
    last_row = first_row + grad.shape[0]
    first_block = first_row // n
    num_blocks = (last_row - 1) // n + 1 - first_block
    partial = np.zeros((num_chunks, d), np.float64)
    for c in prange(num_chunks):
        x = np.empty(n, np.float32)
        y = np.empty(n, np.float32)
        acc = partial[c]
        for b in range(first_block + (c * num_blocks) // num_chunks, first_block + ((c + 1) * num_blocks) // num_chunks):
            sb, qb, pb, gb = signs[b], gauss_signs[b], perm[b % num_pool], gauss[b % num_pool]
            start = b * n
            lo_block, hi_block = max(start, first_row), min(start + n, last_row)
            k = _first_segment(bounds, lo_block)
            one_segment = lo_block == start and hi_block == start + n and bounds[k + 1] >= hi_block
            if one_segment and n >= 8 * LANES:  # one segment, all rows: its scale comes last, H reads grad
                scale = np.float64(scales[k])
                for i in range(0, n, 8 * LANES):
                    _copied_first_pass(grad, start - first_row + i, x, i)
                _radix_passes(x, n, 8 * LANES)
            else:
                scale = 1.0
                for i in range(lo_block - start):
                    x[i] = 0.0
                for i in range(hi_block - start, n):
                    x[i] = 0.0
                while k < scales.shape[0] and bounds[k] < hi_block:
                    lo, hi, s = max(lo_block, bounds[k]), min(hi_block, bounds[k + 1]), scales[k]
                    xk, gk = x[lo - start : hi - start], grad[lo - first_row : hi - first_row]
                    for i in range(hi - lo):
                        xk[i] = s * gk[i]
                    k += 1
                fwht_inplace(x, n)
            _scatter(x, qb, gb, pb, y, n)  # Π_bᵀ·G_b: back to where the forward gathered from
            fwht_inplace(y, n)
            _signed(sb, y, y, d)
            for i in range(d):
                acc[i] += scale * y[i]
    for i in range(d):
        total = 0.0
        for c in range(num_chunks):
            total += partial[c, i]
        out[i] = total
