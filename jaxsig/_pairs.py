"""Sigmoid functions in double-word arithmetic, rounded once: the float64 path, and TPUs' path.

``sigmoid`` and ``log_sigmoid`` and the loss reduce to ``t = exp(-|x|)`` in ``(0, 1]``,
evaluated in double words (``jaxsig._doubleword``) of float32, or float64 for float64 inputs:

.. math::

    \\sigma(x) = 1 / (1 + t) \\; (x \\ge 0), \\qquad \\sigma(x) = t / (1 + t) \\; (x < 0),
    \\qquad \\log\\sigma(x) = \\min(x, 0) - \\operatorname{log1p}(t).

The pair is rounded once: to nearest for float32 and float64, and to odd and then to nearest for
float16 and bfloat16, which makes the half-precision results correctly rounded. Nothing
overflows: ``t`` is never larger than one. Each function here takes and returns the input's
dtype.
"""

from __future__ import annotations

import decimal
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxsig import _doubleword as dw

_F32 = jnp.dtype(jnp.float32)
_F64 = jnp.dtype(jnp.float64)

# exp(-a) = 2**(-k / N) exp(-r), k = round(a N / ln 2): a table of 2**(-j / N), j < N, leaves
# |r| <= ln(2) / (2N). float64 takes N = 128; float32 (TPUs) N = 1, no table.
_TABLE_SIZE = {_F32: 1, _F64: 128}
# Cody-Waite split of ln 2: LN2_HI has enough trailing zero bits that k * LN2_HI / N is exact
# for every k the clamp below allows (float32: 16 significant bits; float64: fdlibm's 21).
_LN2_HI = {_F32: 0.693145751953125, _F64: 6.93147180369123816490e-01}
_LN2_LO = {_F32: 1.4286068203094172e-06, _F64: 1.90821492927058770002e-10}
# exp(-X_MAX) is below half the smallest subnormal, so clamping |x| there changes no result.
_X_MAX = {_F32: 110.0, _F64: 750.0}
# Taylor coefficients 1/(j+3)! of (exp(r) - 1 - r - r**2/2) / r**3 on |r| <= ln(2)/(2N),
# truncated below 2**-32 (float32) and 2**-66 (float64) relative to exp(r).
_EXPM1_TERMS = {_F32: 7, _F64: 4}
# Terms 1/(2j+3) of (atanh(f) - f) / f**3 for |f| <= 1/32, truncated below 2**-36 (float32)
# and 2**-64 (float64) relative to atanh(f).
_ATANH_TERMS = {_F32: 3, _F64: 6}


def _double_words(values: list[decimal.Decimal], dtype: jnp.dtype) -> tuple[np.ndarray, ...]:
    """``values`` as double words of ``dtype``: ``(hi, lo)`` with ``hi + lo`` within
    ``eps**2`` of each."""
    hi = np.array([float(v) for v in values], dtype)
    lo = [float(v - decimal.Decimal(float(h))) for v, h in zip(values, hi, strict=True)]
    return hi, np.array(lo, dtype)


@functools.cache
def _powers(dtype: jnp.dtype) -> tuple[np.ndarray, np.ndarray]:
    """``2**(-j / N)`` for ``j < N`` as double words ``(hi, lo)``, from 40-digit decimals."""
    size = _TABLE_SIZE[dtype]
    with decimal.localcontext(prec=40):
        return _double_words(
            [decimal.Decimal(2) ** (decimal.Decimal(-j) / size) for j in range(size)], dtype
        )


def _horner(x: jax.Array, coefficients: list[float]) -> jax.Array:
    result = jnp.full_like(x, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        result = dw.mul(result, x) + c
    return result


def _exp_neg_abs(x: jax.Array) -> tuple[dw.Pair, jax.Array]:
    """``exp(-|x|) = (hi + lo) * 2**-m``, ``hi + lo`` in ``[0.7, 1.42]``: the pair and m.

    With ``k = N m + j``: ``exp(-|x|) = 2**-m * T_j * (1 + e)``, ``T_j = 2**(-j / N)`` from
    `_powers`, ``e = expm1(-r)`` as a double word, and the product ``T_j (1 + e)`` formed
    exactly but for the last word.
    """
    dtype = x.dtype
    size = _TABLE_SIZE[dtype]
    a = jnp.minimum(jnp.abs(x), _X_MAX[dtype])
    k, k_bits = dw.nearest_integer(dw.mul(a, size / math.log(2)))
    m = jnp.floor(k * (1 / size))
    # r = a - k ln2 / N as an exact double word; exp(-r) = exp(v) exp(-r_lo) with v = -r_hi.
    r = dw.two_sum(a - k * (_LN2_HI[dtype] / size), dw.mul(-k, _LN2_LO[dtype] / size))
    v = -r[0]
    coefficients = [1 / math.factorial(j + 3) for j in range(_EXPM1_TERMS[dtype])]
    cubic_tail = dw.mul(dw.mul(v, v), dw.mul(v, _horner(v, coefficients)))
    square_hi, square_lo = dw.two_product(v, v)  # v**2 / 2 exactly: halving is exact
    e_hi, e_lo = dw.two_sum(v, 0.5 * square_hi)
    expm1_v = e_hi + cubic_tail
    e_lo = e_lo + (0.5 * square_lo + cubic_tail - dw.mul(r[1], 1 + expm1_v))
    e_hi, e_lo = dw.fast_two_sum(e_hi, e_lo)
    if size == 1:
        hi, lo = dw.fast_two_sum(dw.constant(1.0, v), e_hi)
        return dw.fast_two_sum(hi, lo + e_lo), m
    j = k_bits & (size - 1)
    t_hi, t_lo = (jnp.asarray(t)[j] for t in _powers(dtype))
    p_hi, p_lo = dw.two_product(t_hi, e_hi)
    hi, lo = dw.fast_two_sum(t_hi, p_hi)
    lo = lo + (p_lo + dw.mul(t_hi, e_lo) + dw.mul(t_lo, 1 + e_hi))
    return dw.fast_two_sum(hi, lo), m


def log1p_exp_neg_abs(x: jax.Array) -> tuple[dw.Pair, jax.Array]:
    """``log1p(exp(-|x|)) = (hi + lo) * 2**-k``.

    With ``t = exp(-|x|)`` and a centre ``c``: ``log1p(t) = log(c) + 2 atanh(f)``,
    ``f = (1 + t - c) / (1 + t + c)``. For ``t < 1/16``, ``c = 1`` and ``f = t / (2 + t)``, kept
    scaled by ``2**k`` so that a tiny ``t`` keeps its bits; otherwise ``c = 1 + (i + 1/2) / 16``
    with ``i = round(16 t - 1/2)`` and k = 0, where ``t - (c - 1)`` is exact (Sterbenz).
    Everywhere ``|f| <= 1/32``, so the series' tail, rounded a few times, is at most 0.03%
    of the result.
    """
    dtype = x.dtype
    e, k = _exp_neg_abs(x)
    t_hi, t_lo = dw.scale(e[0], k), dw.scale(e[1], k)
    i, i_bits = dw.nearest_integer(16 * t_hi - 0.5)
    centred = i > 0
    c_minus_one = jnp.where(centred, (i + 0.5) * (1 / 16), 0.0)
    num = dw.two_sum(jnp.where(centred, t_hi - c_minus_one, e[0]), jnp.where(centred, t_lo, e[1]))
    shift = jnp.where(centred, 0.0, k)
    den_hi, den_lo = dw.two_sum(dw.constant(2.0, t_hi) + c_minus_one, t_hi)
    den = dw.fast_two_sum(den_hi, den_lo + t_lo)
    g = dw.divide(num, den)  # f = g * 2**-shift
    f = dw.scale(g[0], shift)
    f2 = dw.mul(f, f)
    coefficients = [1 / (2 * j + 3) for j in range(_ATANH_TERMS[dtype])]
    tail = dw.mul(dw.mul(g[0], f2), _horner(f2, coefficients))
    atanh_hi, atanh_lo = dw.fast_two_sum(2 * g[0], 2 * (g[1] + tail))
    log_c_hi, log_c_lo = (jnp.asarray(c)[i_bits & 31] for c in _log_centres(dtype))
    s_hi, s_lo = dw.two_sum(log_c_hi, atanh_hi)
    s_lo = s_lo + (log_c_lo + atanh_lo)
    return dw.fast_two_sum(s_hi, s_lo), shift


@functools.cache
def _log_centres(dtype: jnp.dtype) -> tuple[np.ndarray, np.ndarray]:
    """``log(1 + (i + 1/2) / 16)`` for ``0 < i <= 16`` (0 at ``i = 0``, the centre 1), as double
    words, padded to 32 entries, from 40-digit decimals."""
    with decimal.localcontext(prec=40):
        half = decimal.Decimal("0.5")
        logs = [(1 + (decimal.Decimal(i) + half) / 16).ln() for i in range(1, 32)]
        return _double_words([decimal.Decimal(0), *logs], dtype)


# Beyond t = 2**-CAP, 1 + t is one to the precision of a double word: t's scale is capped there,
# so one normal power of two scales it.
_T_CAP = {_F32: 60.0, _F64: 120.0}


def _sigmoid_pair(x: jax.Array) -> dw.Pair:
    e, k = _exp_neg_abs(x)
    factor = dw.pow2(-jnp.minimum(k, _T_CAP[x.dtype]), x.dtype)
    one_plus_t = dw.two_sum(dw.constant(1.0, e[0]), e[0] * factor)
    den = dw.fast_two_sum(one_plus_t[0], one_plus_t[1] + e[1] * factor)
    negative = x < 0
    num = (jnp.where(negative, e[0], 1.0), jnp.where(negative, e[1], 0.0))
    q_hi, q_lo = dw.divide(num, den)
    shift = jnp.where(negative, k, 0.0)
    return dw.scale(q_hi, shift), dw.scale(q_lo, shift)


def _log_sigmoid_pair(x: jax.Array) -> dw.Pair:
    (l_hi, l_lo), shift = log1p_exp_neg_abs(x)
    l_hi, l_lo = dw.scale(l_hi, shift), dw.scale(l_lo, shift)
    s_hi, s_lo = dw.two_sum(jnp.minimum(x, 0.0), -l_hi)
    # TwoSum of an infinity leaves NaN in the error word; the infinite sum is exact.
    s_lo = jnp.where(jnp.isfinite(s_hi), s_lo - l_lo, 0.0)
    return dw.fast_two_sum(s_hi, s_lo)


def round_pair(pair: dw.Pair, dtype: jnp.dtype) -> jax.Array:
    """Rounds a double word once to ``dtype``: correctly for half precisions (via round-to-odd)."""
    if jnp.dtype(dtype) == pair[0].dtype:
        return pair[0]
    return dw.round_to_odd(pair).astype(dtype)


def _loss_pair(z: jax.Array, y: jax.Array) -> dw.Pair:
    # softplus(z) - y z = softplus(-|z|) + |z| * (1 - y if z > 0 else y): two non-negative terms,
    # so nothing cancels, and softplus(-|z|) = log1p(exp(-|z|)) never overflows.
    (l_hi, l_lo), shift = log1p_exp_neg_abs(z)
    l_hi, l_lo = dw.scale(l_hi, shift), dw.scale(l_lo, shift)
    a = jnp.abs(z)
    one_minus_y = dw.two_sum(dw.constant(1.0, y), -y)
    positive = z > 0
    w_hi = jnp.where(positive, one_minus_y[0], y)
    w_lo = jnp.where(positive, one_minus_y[1], 0.0)
    finite = jnp.isfinite(a)
    p_hi, p_lo = dw.two_product(jnp.where(finite, a, 0.0), w_hi)
    s_hi, s_lo = dw.two_sum(l_hi, p_hi)
    s_lo = s_lo + (l_lo + p_lo + dw.mul(jnp.where(finite, a, 0.0), w_lo))
    # |z| = inf: the loss is inf unless the label agrees exactly (weight 0), where it is 0.
    s_hi = jnp.where(finite | (w_hi == 0), s_hi, jnp.inf)
    s_lo = jnp.where(jnp.isfinite(s_hi), s_lo, 0.0)
    return dw.fast_two_sum(s_hi, s_lo)


def compute_dtype(dtype: jnp.dtype) -> jnp.dtype:
    """float64 for float64, float32 for everything narrower."""
    return _F64 if dtype == _F64 else _F32


def _in_pairs(pair_fn):
    """``pair_fn`` of arguments widened to the compute dtype, rounded back once."""

    def evaluate(*args: jax.Array) -> jax.Array:
        dtype = args[0].dtype
        return round_pair(pair_fn(*(a.astype(compute_dtype(dtype)) for a in args)), dtype)

    return evaluate


sigmoid = _in_pairs(_sigmoid_pair)
log_sigmoid = _in_pairs(_log_sigmoid_pair)
loss = _in_pairs(_loss_pair)


def sigmoid_derivative(x: jax.Array) -> jax.Array:
    """``e / (1 + e)**2`` with ``e = exp(-|x|)`` (the backend's ``exp``, about an ulp) and
    ``1 + e = hi + lo`` exact, so ``(1 + e)**2 = hi**2 (1 + 2 lo / hi)`` to first order: within 2.8
    ulp in float32 and float64, a sixth of the cost of a double-word sigmoid. A derivative needs
    no correct rounding; nothing cancels, and the tails are those of ``e``."""
    dtype = x.dtype
    e = jnp.exp(-jnp.abs(x.astype(compute_dtype(dtype))))
    hi, lo = dw.fast_two_sum(dw.constant(1.0, e), e)
    return ((e / dw.mul(hi, hi)) * (1 - 2 * lo / hi)).astype(dtype)


def loss_gradient(z: jax.Array, y: jax.Array) -> jax.Array:
    """``(1 - y) - q`` for ``z >= 0``, else ``q - y``, with ``q = sigmoid(-|z|)`` rounded."""
    dtype = z.dtype
    z, y = z.astype(compute_dtype(dtype)), y.astype(compute_dtype(dtype))
    q = sigmoid(-jnp.abs(z))
    return jnp.where(z >= 0, (1 - y) - q, q - y).astype(dtype)
