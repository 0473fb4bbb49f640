"""Double-word ("double-float") arithmetic: a value carried as an unevaluated sum ``hi + lo``.

XLA contracts ``a * b + c`` into a fused multiply-add inside ``jit``, and it may do so in one
fusion and not in another that recomputes the same value. An error-free sum fed two different
roundings of one value returns garbage. So every product here is either exact by construction
(operands split by *masking* mantissa bits, so each partial product fits in one word) or rounded
on its own with `mul`, which XLA cannot contract. Results are then bit-for-bit the same with and
without ``jit``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

Pair = tuple[jax.Array, jax.Array]

# Mantissa bits cleared by `split`: the high part keeps 12 of float32's 24 bits and 26 of
# float64's 53, so high * high, high * low and (for float32) low * low are exact.
_SPLIT_BITS = {jnp.dtype(jnp.float32): 12, jnp.dtype(jnp.float64): 27}
_UINT = {jnp.dtype(jnp.float32): jnp.uint32, jnp.dtype(jnp.float64): jnp.uint64}
_INT = {jnp.dtype(jnp.float32): jnp.int32, jnp.dtype(jnp.float64): jnp.int64}
_MANTISSA_BITS = {jnp.dtype(jnp.float32): 23, jnp.dtype(jnp.float64): 52}
_EXPONENT_BIAS = {jnp.dtype(jnp.float32): 127, jnp.dtype(jnp.float64): 1023}


def mul(a: jax.Array, b: jax.Array | float) -> jax.Array:
    """``fl(a * b)``, kept rounded: a select on the product stops its contraction into an add."""
    p = a * b
    return jnp.where(jnp.isnan(p), jnp.nan, p)


def constant(value: float, like: jax.Array) -> jax.Array:
    """``value`` shaped like ``like`` that XLA cannot constant-fold.

    XLA rewrites ``(x + 1) - 1`` to ``x``, which erases the error word of an error-free sum with a
    literal operand. NaN propagates from ``like``, as it would through the sum anyway.
    """
    return jnp.where(jnp.isnan(like), jnp.nan, jnp.asarray(value, like.dtype))


def two_sum(a: jax.Array, b: jax.Array) -> Pair:
    """Knuth's error-free sum: ``s + e == a + b`` exactly, ``s = fl(a + b)``."""
    s = a + b
    b_virtual = s - a
    a_virtual = s - b_virtual
    return s, (a - a_virtual) + (b - b_virtual)


def fast_two_sum(a: jax.Array, b: jax.Array) -> Pair:
    """Dekker's error-free sum, valid when ``|a| >= |b|`` (or ``a`` is zero)."""
    s = a + b
    return s, b - (s - a)


def split(a: jax.Array) -> Pair:
    """``a = high + low`` with ``high`` holding the leading half of the mantissa bits."""
    dtype = a.dtype
    mask = ~((1 << _SPLIT_BITS[dtype]) - 1) & (2 ** (8 * dtype.itemsize) - 1)
    bits = lax.bitcast_convert_type(a, _UINT[dtype])
    high = lax.bitcast_convert_type(bits & jnp.asarray(mask, _UINT[dtype]), dtype)
    return high, a - high


def two_product(a: jax.Array, b: jax.Array) -> Pair:
    """``p + e == a * b`` (exactly in float32) from exact partial products of the split operands."""
    p = mul(a, b)
    a_high, a_low = split(a)
    b_high, b_low = split(b)
    return p, ((a_high * b_high - p) + a_high * b_low + a_low * b_high) + a_low * b_low


def reciprocal(d: jax.Array) -> jax.Array:
    """``1 / d`` to about an ulp for positive normal ``d`` whose reciprocal is normal, from
    multiplies, adds and bit operations.

    ``d = D 2**(E + 1)`` with ``D`` in ``[1/2, 1)``; ``1 / D`` from the linear seed
    ``48/17 - 32/17 D`` (relative error at most 1/17) and four Newton steps, each squaring the
    error. XLA:CPU will not recompute a division inside a fused loop, so a quotient used twice
    is written out and read back; this can be fused like any product.
    """
    dtype = d.dtype
    shift = _MANTISSA_BITS[dtype]
    bits = lax.bitcast_convert_type(d, _INT[dtype])
    mantissa = (1 << shift) - 1
    half_bits = (_EXPONENT_BIAS[dtype] - 1) << shift  # the exponent field of [1/2, 1)
    D = lax.bitcast_convert_type((bits & mantissa) | half_bits, dtype)
    r = 48 / 17 - (32 / 17) * D
    for _ in range(4):
        r = r + r * (1 - D * r)
    exponent = (bits >> shift) - _EXPONENT_BIAS[dtype] + 1  # E + 1
    return r * lax.bitcast_convert_type((_EXPONENT_BIAS[dtype] - exponent) << shift, dtype)


def divide(num: Pair, den: Pair) -> Pair:
    """``num / den`` for double words with ``den`` positive, normalised; relative error about
    ``eps**2``.

    A quotient ``q`` within an ulp or two of ``n / d`` is corrected by the remainder ``n - q d``,
    which is formed exactly from partial products of the split operands.
    """
    n_hi, n_lo = num
    d_hi, d_lo = den
    inverse = reciprocal(d_hi)
    q = mul(n_hi, inverse)
    q_high, q_low = split(q)
    d_high, d_low = split(d_hi)
    remainder = (n_hi - q_high * d_high) - q_high * d_low
    remainder = (remainder - q_low * d_high) - q_low * d_low
    remainder = remainder + n_lo - mul(q, d_lo)
    return fast_two_sum(q, mul(remainder, inverse))


def nearest_integer(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``round(x)`` (ties to even) for ``0 <= x < 2**(p - 2)``: as a float, and as the integer
    bits of ``x + 1.5 * 2**p``, whose low bits are the rounded value's (no float-to-integer
    conversion, which float64 lacks on AVX2)."""
    shifter = constant(1.5 * 2.0 ** _MANTISSA_BITS[x.dtype], x)
    shifted = x + shifter
    return shifted - shifter, lax.bitcast_convert_type(shifted, _INT[x.dtype])


def pow2(k: jax.Array, dtype: jnp.dtype) -> jax.Array:
    """``2.0 ** k`` for integer-valued ``k`` in the normal exponent range, built from its bits.

    ``k + 1.5 * 2**p`` holds ``k`` in its low mantissa bits, so no float-to-integer conversion
    is needed (float64's has no vector instruction on AVX2).
    """
    dtype = jnp.dtype(dtype)
    shift = _MANTISSA_BITS[dtype]
    shifter = 1.5 * 2.0**shift
    shifter_bits = lax.bitcast_convert_type(jnp.asarray(shifter, dtype), _INT[dtype])
    integer = lax.bitcast_convert_type(k.astype(dtype) + shifter, _INT[dtype]) - shifter_bits
    return lax.bitcast_convert_type((integer + _EXPONENT_BIAS[dtype]) << shift, dtype)


def scale(x: jax.Array, k: jax.Array) -> jax.Array:
    """``x * 2.0 ** -k`` for integer-valued ``0 <= k`` up to twice the exponent bias.

    Two normal factors keep every intermediate representable; the product is exact unless it is
    subnormal.
    """
    half = jnp.floor(k / 2)
    return x * pow2(-half, x.dtype) * pow2(half - k, x.dtype)


def round_to_odd(pair: Pair) -> jax.Array:
    """``hi`` rounded to odd in the direction of ``lo``.

    Rounding to odd at 24 bits and then to nearest at 11 (float16) or 8 (bfloat16) bits equals one
    correct rounding of ``hi + lo`` (Boldo and Melquiond, 2008): no double-rounding error.
    """
    hi, lo = pair
    bits = lax.bitcast_convert_type(hi, _INT[hi.dtype])
    even = (bits & 1) == 0
    step = jnp.where(jnp.sign(lo) == jnp.sign(hi), 1, -1).astype(bits.dtype)
    inexact = (lo != 0) & (hi != 0) & jnp.isfinite(hi) & even
    return lax.bitcast_convert_type(jnp.where(inexact, bits + step, bits), hi.dtype)
